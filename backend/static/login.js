// Sign-in: POST the form as JSON, then go to ?next= (a local path only) or the role's page.
(function () {
  "use strict";
  const form = document.getElementById("login-form");
  const error = document.getElementById("error");
  const submit = document.getElementById("submit");

  function nextPath() {
    const next = new URLSearchParams(window.location.search).get("next");
    // Only a path on this server: never "//host", "/\\host" or "https://..." (open redirect).
    return next && /^\/(?![\/\\])/.test(next) ? next : null;
  }

  // Bilingual words for the errors staff can fix themselves; otherwise the server's message.
  const MESSAGES = {
    invalid_credentials: "Wrong username or password. 用户名或密码错误。",
  };

  function showError(text) {
    error.textContent = text;
    error.hidden = false;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    submit.disabled = true;
    try {
      const response = await fetch("/v1/auth/login", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        credentials: "same-origin",
        body: JSON.stringify({
          username: form.username.value,
          password: form.password.value,
        }),
      });
      const body = await response.json().catch(() => ({}));
      if (response.ok) {
        window.location.assign(nextPath() || body.home || "/");
        return;
      }
      form.password.value = "";
      form.password.focus();
      if (body.error === "account_locked") {
        // The server's message says for how long.
        showError(`${body.message}. 登录失败次数过多，账户已暂时锁定。`);
      } else {
        showError(MESSAGES[body.error] || body.message || "Sign-in failed. 登录失败。");
      }
    } catch (err) {
      showError("The server cannot be reached. 无法连接服务器。");
    } finally {
      submit.disabled = false;
    }
  });
})();
