// The traveller's screen of one lane: views from the kiosk over a websocket, texts from the one
// translation table (/i18n.json). Every text is set with textContent, never as HTML.
"use strict";

(() => {
  const laneId = decodeURIComponent(location.pathname.replace(/\/+$/, "").split("/").pop());
  const PROMPT_ICONS = {
    move_closer: "icon-closer",
    move_back: "icon-back",
    face_camera: "icon-target",
    look_straight: "icon-target",
    hold_still: "icon-still",
    one_person_only: "icon-one-person",
    more_light: "icon-light",
    turn_left: "icon-left",
    turn_right: "icon-right",
    blink: "icon-blink",
    remove_glasses: "icon-glasses",
  };
  const $ = (id) => document.getElementById(id);

  let table = null; // {default, languages: {code: {name, locale, rtl}}, texts: {key: {code: text}}}
  let view = null; // the latest ScreenView
  let online = false;
  // A language the traveller touched: it lasts for their transaction only. Chosen on the
  // welcome screen (session null), it goes to the transaction that starts next.
  let chosen = null; // {lang, session}

  function language() {
    if (chosen) return chosen.lang;
    if (view && table.languages[view.language]) return view.language;
    return table.default;
  }

  function t(key, vars) {
    const entry = table.texts[key];
    if (!entry) return "";
    let s = entry[language()] ?? entry[table.default] ?? "";
    for (const [name, value] of Object.entries(vars || {})) s = s.split(`{${name}}`).join(value);
    return s;
  }

  function formatDay(isoDay) {
    const [y, m, d] = isoDay.split("-").map(Number);
    const locale = table.languages[language()].locale;
    const format = new Intl.DateTimeFormat(locale, {
      year: "numeric", month: "long", day: "numeric", timeZone: "UTC",
    });
    return format.format(new Date(Date.UTC(y, m - 1, d)));
  }

  function buildLanguageBar() {
    const bar = $("languages");
    for (const [code, info] of Object.entries(table.languages)) {
      const button = document.createElement("button");
      button.type = "button";
      button.lang = code;
      button.dataset.lang = code;
      button.textContent = info.name;
      button.addEventListener("click", () => {
        chosen = { lang: code, session: view ? view.session_id : null };
        render();
      });
      bar.appendChild(button);
    }
    // Before a passport is read the language is unknown: greet in all of them.
    const greetings = Object.keys(table.languages).map((code) => table.texts.welcome[code]);
    $("welcome-all").textContent = greetings.join("  ·  ");
  }

  function applyView(next) {
    if (chosen) {
      if (chosen.session === null && next.session_id !== null) chosen.session = next.session_id;
      else if (chosen.session !== null && chosen.session !== next.session_id) chosen = null;
    }
    view = next;
    render();
  }

  function render() {
    if (!table) return;
    const lang = language();
    const info = table.languages[lang];
    document.documentElement.lang = lang;
    document.documentElement.dir = info.rtl ? "rtl" : "ltr";
    document.title = t("app.title");
    $("languages").setAttribute("aria-label", t("language.choose"));
    for (const button of $("languages").children) {
      button.setAttribute("aria-pressed", String(button.dataset.lang === lang));
    }
    for (const el of document.querySelectorAll("[data-t]")) el.textContent = t(el.dataset.t);

    const state = !online || !view ? "offline" : view.state;
    const main = $("screen");
    main.dataset.state = state;
    for (const section of main.children) section.hidden = section.dataset.screen !== state;
    $("lane").textContent = t("lane.label", { lane: laneId });
    if (state === "offline") return;

    const prompt = view.prompt && table.texts[view.prompt] ? view.prompt : null;
    $("prompt").hidden = prompt === null;
    $("face-hint").hidden = prompt !== null;
    if (prompt !== null) {
      $("prompt-text").textContent = t(prompt);
      $("prompt-icon").setAttribute("href", `#${PROMPT_ICONS[prompt] || "icon-face"}`);
    }

    $("stay").hidden = !view.stay_until;
    $("stay").textContent = view.stay_until ? t("stay_until", { date: formatDay(view.stay_until) }) : "";

    $("refer-title").textContent = t("see_officer", { desk: view.desk });
    const reasons = $("reasons");
    reasons.replaceChildren(
      ...view.reasons.map((key) => {
        const li = document.createElement("li");
        li.textContent = t(key);
        return li;
      }),
    );
  }

  let retries = 0;
  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/ws/lanes/${encodeURIComponent(laneId)}`);
    socket.addEventListener("open", () => { online = true; retries = 0; });
    socket.addEventListener("message", (event) => applyView(JSON.parse(event.data)));
    socket.addEventListener("close", () => {
      // Never leave a traveller's screen up without a live feed behind it.
      online = false;
      view = null;
      chosen = null;
      render();
      retries += 1;
      setTimeout(connect, Math.min(5000, 250 * 2 ** retries));
    });
  }

  async function start() {
    for (;;) {
      try {
        const response = await fetch("/i18n.json", { cache: "no-store" });
        if (response.ok) { table = await response.json(); break; }
      } catch (_) { /* the kiosk is starting: try again */ }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    buildLanguageBar();
    render();
    connect();
  }

  start();
})();
