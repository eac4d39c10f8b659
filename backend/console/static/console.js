/* Officer lane console: the hall's open referrals, live over a websocket; decisions in one tap.
   Everything from the server is put on the page with textContent (never as HTML). */
(function () {
  "use strict";

  var TEXTS = {
    en: {
      title: "bordergate · Officer lane console", hall: "Hall", desk: "Desk", no_desk: "(choose)",
      open_desk: "Open my desk", close_desk: "Close my desk", connecting: "connecting",
      live: "live", offline: "reconnecting", sign_out: "Sign out",
      refused: "This page is for officers and supervisors.", prompts: "Lane commands",
      queue: "Open referrals", queue_empty: "No travellers waiting for an officer.",
      detail_empty: "Choose a referral on the left.", lane: "Lane", opened: "Opened",
      chip_photo: "Chip photo (DG2)", live_photo: "Live photo", no_photo: "no photo",
      face: "Face", score: "Match score", liveness: "Liveness", why: "Why referred",
      stay: "Permitted stay until (00:00, China time)", note: "Note (optional)",
      admit: "Admit", refuse: "Refuse", secondary: "Secondary inspection", document: "Document",
      policy: "Policy", scheme: "Scheme tried", rule: "Rule", result: "Result", detail: "Detail",
      journey: "Onward journey / cruise manifest", pass: "passed", fail: "failed",
      matched: "match", not_matched: "no match", none: "none", kiosk: "kiosk referred",
      backend: "backend referred", stay_fixed: "The stay the policy computed; a supervisor can change it.",
      stay_none: "The policy computed no stay.", stay_edit: "You may change the date.",
      decided: "Decision recorded", already: "Already decided by another officer",
      admit_until: "Admit until", desk_open: "open", desk_closed: "closed",
      surname: "Surname", given_names: "Given names", nationality: "Nationality",
      document_number: "Document number", document_type: "Type", issuing_state: "Issuing state",
      birth_date: "Date of birth", expiry_date: "Expiry", sex: "Sex",
      check_digits_valid: "Check digits", chip_authenticated: "Chip authenticated",
      arrived_from: "Arrived from", onward_to: "Onward to", onward_departure: "Departs",
      onward_confirmed: "Confirmed", ship: "Ship", agency_licence: "Agency licence",
      agency_licensed: "Agency licensed", group_size: "Group size", on_manifest: "On manifest",
      ship_departs: "Ship departs", leaves_with_ship: "Leaves with ship", evidence: "Presented",
      yes: "yes", no: "no", not_read: "The document was not read."
    },
    zh: {
      title: "bordergate · 查验台控制台", hall: "大厅", desk: "柜台", no_desk: "(选择)",
      open_desk: "开放我的柜台", close_desk: "关闭我的柜台", connecting: "连接中",
      live: "实时", offline: "重新连接中", sign_out: "退出",
      refused: "此页面仅供查验员和主管使用。", prompts: "通道指令",
      queue: "待处理转人工", queue_empty: "暂无等待人工查验的旅客。",
      detail_empty: "请在左侧选择一条转人工记录。", lane: "通道", opened: "转入时间",
      chip_photo: "芯片照片 (DG2)", live_photo: "现场照片", no_photo: "无照片",
      face: "人脸", score: "比对分数", liveness: "活体检测", why: "转人工原因",
      stay: "允许停留至(北京时间 00:00)", note: "备注(可选)",
      admit: "准予入境", refuse: "拒绝入境", secondary: "二次查验", document: "证件",
      policy: "政策", scheme: "尝试的政策", rule: "规则", result: "结果", detail: "说明",
      journey: "后续行程 / 邮轮名单", pass: "通过", fail: "未通过",
      matched: "一致", not_matched: "不一致", none: "无", kiosk: "自助通道转人工",
      backend: "系统判定转人工", stay_fixed: "政策计算的停留期限;主管可修改。",
      stay_none: "政策未计算停留期限。", stay_edit: "您可以修改日期。",
      decided: "决定已记录", already: "已由其他查验员处理",
      admit_until: "准予入境至", desk_open: "开放", desk_closed: "关闭",
      surname: "姓", given_names: "名", nationality: "国籍", document_number: "证件号码",
      document_type: "类型", issuing_state: "签发国", birth_date: "出生日期", expiry_date: "有效期至",
      sex: "性别", check_digits_valid: "校验位", chip_authenticated: "芯片认证",
      arrived_from: "来自", onward_to: "前往", onward_departure: "出发时间", onward_confirmed: "已确认",
      ship: "邮轮", agency_licence: "旅行社许可证", agency_licensed: "旅行社有资质",
      group_size: "团组人数", on_manifest: "在名单上", ship_departs: "邮轮离港",
      leaves_with_ship: "随船离境", evidence: "出示", yes: "是", no: "否",
      not_read: "未能读取证件。"
    }
  };
  var STAY_ROLES = { supervisor: true, admin: true };
  var $ = function (id) { return document.getElementById(id); };

  var state = {
    lang: "en", principal: null, hall: null, desk: null, referrals: [], selected: null,
    desks: [], prompts: [], socket: null, retry: 1000, fresh: {}, shown: null
  };

  function t(key) { return (TEXTS[state.lang] || TEXTS.en)[key] || TEXTS.en[key] || key; }

  function translatePage() {
    document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
    document.querySelectorAll("[data-t]").forEach(function (el) { el.textContent = t(el.dataset.t); });
    $("photo-document").alt = t("chip_photo");
    $("photo-live").alt = t("live_photo");
  }

  function cst(iso, withDate) {
    if (!iso) { return "-"; }
    var d = new Date(iso);
    var opts = { timeZone: "Asia/Shanghai", hour: "2-digit", minute: "2-digit", hour12: false };
    if (withDate) { opts.year = "numeric"; opts.month = "2-digit"; opts.day = "2-digit"; }
    return new Intl.DateTimeFormat("en-GB", opts).format(d);
  }

  function cstDay(iso) {  // YYYY-MM-DD of an instant in China Standard Time
    var d = new Date(new Date(iso).getTime() + 8 * 3600 * 1000);
    return d.toISOString().slice(0, 10);
  }

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    if (cls) { e.className = cls; }
    return e;
  }

  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } }

  function toast(text, bad) {
    var box = $("toast");
    box.textContent = text;
    box.className = bad ? "error" : "notice";
    box.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(function () { box.hidden = true; }, 4000);
  }

  function yesNo(v) { return v === true ? t("yes") : v === false ? t("no") : "-"; }

  function desknum(id) { var m = /-(\d+)$/.exec(id || ""); return m ? String(parseInt(m[1], 10)) : id; }

  // ---- the queue -------------------------------------------------------------------------

  function renderList() {
    var list = $("referral-list");
    clear(list);
    $("count").textContent = String(state.referrals.length);
    $("queue-empty").hidden = state.referrals.length > 0;
    state.referrals.forEach(function (r) {
      var li = el("li");
      li.dataset.id = r.referral_id;
      if (state.fresh[r.referral_id]) { li.className = "fresh"; }
      var b = el("button");
      b.type = "button";
      b.setAttribute("aria-current", String(r.referral_id === state.selected));
      b.appendChild(el("span", t("lane") + " " + r.lane_id + " · " + cst(r.opened_at)));
      var first = r.reasons.length ? r.reasons[0].text : "";
      b.appendChild(el("span", first + (r.reasons.length > 1 ? " (+" + (r.reasons.length - 1) + ")" : ""), "sub"));
      b.addEventListener("click", function () { select(r.referral_id); });
      li.appendChild(b);
      list.appendChild(li);
    });
  }

  function find(id) {
    for (var i = 0; i < state.referrals.length; i++) {
      if (state.referrals[i].referral_id === id) { return state.referrals[i]; }
    }
    return null;
  }

  function select(id) {
    state.selected = id;
    renderList();
    renderDetail(true);
  }

  function setReferrals(list) {
    state.referrals = list.slice().sort(function (a, b) { return a.opened_at < b.opened_at ? -1 : 1; });
    if (state.selected && !find(state.selected)) { state.selected = null; }
    if (!state.selected && state.referrals.length) { state.selected = state.referrals[0].referral_id; }
    renderList();
    renderDetail(false);
  }

  function upsert(r, isNew) {
    var at = -1;
    for (var i = 0; i < state.referrals.length; i++) {
      if (state.referrals[i].referral_id === r.referral_id) { at = i; }
    }
    if (at >= 0) { state.referrals[at] = r; } else { state.referrals.push(r); }
    if (isNew) {
      state.fresh[r.referral_id] = true;
      setTimeout(function () { delete state.fresh[r.referral_id]; }, 1500);
    }
    var keep = state.selected;
    setReferrals(state.referrals);
    if (keep === r.referral_id) { renderDetail(true); }
  }

  function remove(id) {
    state.referrals = state.referrals.filter(function (r) { return r.referral_id !== id; });
    if (state.selected === id) { state.selected = null; }
    setReferrals(state.referrals);
  }

  // ---- one referral ----------------------------------------------------------------------

  function kvRows(table, pairs) {
    clear(table);
    pairs.forEach(function (p) {
      var tr = el("tr");
      tr.appendChild(el("th", p[0]));
      tr.appendChild(el("td", p[1]));
      table.appendChild(tr);
    });
  }

  function photo(kind, r) {
    var img = $("photo-" + kind);
    var has = r.photos.indexOf(kind) >= 0;
    img.hidden = !has;
    $("nophoto-" + kind).hidden = has;
    if (has) {
      var src = "/v1/referrals/" + encodeURIComponent(r.referral_id) + "/photos/" + kind;
      if (img.dataset.src !== src) { img.dataset.src = src; img.src = src; }
    } else {
      img.removeAttribute("src");
      delete img.dataset.src;
    }
  }

  function renderDetail(resetInputs) {
    var r = state.selected ? find(state.selected) : null;
    $("detail-empty").hidden = !!r;
    $("referral").hidden = !r;
    if (!r) { state.shown = null; return; }
    if (state.shown !== r.referral_id) { resetInputs = true; state.shown = r.referral_id; }
    $("referral").dataset.id = r.referral_id;
    $("r-lane").textContent = r.lane_id;
    $("r-opened").textContent = cst(r.opened_at, true);
    $("r-source").textContent = t(r.source);
    photo("document", r);
    photo("live", r);
    $("r-score").textContent = r.face_score === null ? "-" : r.face_score.toFixed(2);
    var m = $("r-matched");
    m.textContent = r.face_matched === null ? "-" : r.face_matched ? t("matched") : t("not_matched");
    m.className = "badge " + (r.face_matched ? "ok" : "bad");
    var lv = $("r-liveness");
    lv.textContent = r.liveness || "-";
    lv.className = "badge " + (r.liveness === "passed" ? "ok" : r.liveness === "failed" ? "bad" : "warn");

    var reasons = $("r-reasons");
    clear(reasons);
    r.reasons.forEach(function (x) { reasons.appendChild(el("li", x.text)); });
    $("r-detail").textContent = r.detail || "";

    var doc = r.document;
    if (doc) {
      kvRows($("r-document"), [
        [t("surname"), doc.surname], [t("given_names"), doc.given_names],
        [t("nationality"), doc.nationality], [t("document_number"), doc.document_number],
        [t("document_type"), doc.document_type], [t("issuing_state"), doc.issuing_state],
        [t("birth_date"), doc.birth_date], [t("expiry_date"), doc.expiry_date], [t("sex"), doc.sex],
        [t("check_digits_valid"), yesNo(doc.check_digits_valid)],
        [t("chip_authenticated"), yesNo(doc.chip_authenticated)]
      ]);
    } else {
      kvRows($("r-document"), [[t("document"), t("not_read")]]);
    }

    var policy = (r.explanation && r.explanation.policy) || {};
    $("r-scheme").textContent = r.scheme || policy.scheme || t("none");
    var body = $("r-rules").tBodies[0];
    clear(body);
    (r.explanation.rules || []).forEach(function (rule) {
      var tr = el("tr");
      tr.appendChild(el("td", rule.scheme));
      tr.appendChild(el("td", rule.rule));
      tr.appendChild(el("td", rule.passed ? t("pass") : t("fail"), rule.passed ? "pass" : "fail"));
      tr.appendChild(el("td", rule.detail));
      body.appendChild(tr);
    });
    var notes = $("r-notes");
    clear(notes);
    ["journey_problems", "journey_missing", "journey_findings"].forEach(function (k) {
      (r.explanation[k] || []).forEach(function (n) { notes.appendChild(el("li", n)); });
    });

    var rows = [];
    var j = r.facts.journey, c = r.facts.cruise;
    if (j) {
      rows.push([t("arrived_from"), j.arrived_from], [t("onward_to"), j.onward_to],
        [t("onward_departure"), cst(j.onward_departure, true)], [t("onward_confirmed"), yesNo(j.onward_confirmed)]);
    }
    if (c) {
      rows.push([t("ship"), c.ship], [t("agency_licence"), c.agency_licence],
        [t("agency_licensed"), yesNo(c.agency_licensed)], [t("group_size"), c.group_size],
        [t("on_manifest"), yesNo(c.on_manifest)], [t("ship_departs"), cst(c.ship_departs, true)],
        [t("leaves_with_ship"), yesNo(c.leaves_with_ship)]);
    }
    (r.journey || []).forEach(function (e) { rows.push([t("evidence"), e.kind]); });
    if (!rows.length) { rows.push([t("journey"), t("none")]); }
    kvRows($("r-journey"), rows);

    if (resetInputs) {
      var canEdit = !!(state.principal && STAY_ROLES[state.principal.role]);
      var stay = $("stay");
      stay.value = r.policy_permitted_until ? cstDay(r.policy_permitted_until) : "";
      stay.disabled = !canEdit;
      stay.dataset.initial = stay.value;
      $("stay-note").textContent = canEdit ? t("stay_edit") : r.policy_permitted_until ? t("stay_fixed") : t("stay_none");
      $("note").value = "";
    }
    $("admit").textContent = r.policy_permitted_until
      ? t("admit_until") + " " + cst(r.policy_permitted_until, true).slice(0, 10)
      : t("admit");
  }

  // ---- decisions -------------------------------------------------------------------------

  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-Bordergate-Console": "1" },
      body: JSON.stringify(body)
    });
  }

  function decide(decision) {
    var r = state.selected ? find(state.selected) : null;
    if (!r) { return; }
    var body = { decision: decision, note: $("note").value.trim() };
    var stay = $("stay");
    if (decision === "admit" && !stay.disabled && stay.value && stay.value !== stay.dataset.initial) {
      body.permitted_until = stay.value + "T00:00:00+08:00";
    }
    ["admit", "refuse", "secondary"].forEach(function (id) { $(id).disabled = true; });
    post("/v1/referrals/" + encodeURIComponent(r.referral_id) + "/decision", body).then(function (res) {
      if (res.ok) {
        toast(t("decided") + ": " + t(decision));
        remove(r.referral_id);
      } else if (res.status === 409) {
        toast(t("already"), true);
        remove(r.referral_id);
      } else if (res.status === 401) {
        window.location.href = "/login?next=/console";
      } else {
        return res.json().then(function (e) { toast((e && (e.message || e.detail)) || res.statusText, true); });
      }
    }).catch(function () { toast(t("offline"), true); }).then(function () {
      ["admit", "refuse", "secondary"].forEach(function (id) { $(id).disabled = false; });
    });
  }

  // ---- desks and prompts -----------------------------------------------------------------

  function renderDesks() {
    var sel = $("desk");
    var keep = state.desk;
    clear(sel);
    var none = el("option", t("no_desk"));
    none.value = "";
    sel.appendChild(none);
    state.desks.forEach(function (d) {
      var o = el("option", t("desk") + " " + desknum(d.lane_id) + " · " + (d.status === "open" ? t("desk_open") : d.status));
      o.value = d.lane_id;
      sel.appendChild(o);
    });
    sel.value = keep || "";
    var mine = null;
    state.desks.forEach(function (d) { if (d.lane_id === keep) { mine = d; } });
    var badge = $("desk-state"), button = $("desk-toggle");
    if (!mine) {
      badge.textContent = "-"; badge.className = "badge warn"; button.disabled = true;
    } else {
      var open = mine.status === "open";
      badge.textContent = (open ? t("desk_open") : mine.status) + (mine.officer ? " · " + mine.officer : "");
      badge.className = "badge " + (open ? "ok" : "warn");
      button.disabled = false;
      button.textContent = open ? t("close_desk") : t("open_desk");
      button.className = open ? "danger" : "ok";
      button.dataset.action = open ? "close" : "open";
    }
    renderPrompts();
  }

  function deskStatus(id) {
    for (var i = 0; i < state.desks.length; i++) { if (state.desks[i].lane_id === id) { return state.desks[i].status; } }
    return null;
  }

  function renderPrompts() {
    var list = $("prompt-list");
    clear(list);
    var shown = state.prompts.slice(-8).reverse();
    $("prompts").hidden = shown.length === 0;
    shown.forEach(function (p) {
      var li = el("li", p.text);
      var status = deskStatus(p.lane_id);
      var done = (p.action === "open" && status === "open") || (p.action === "close" && status === "closed");
      li.className = (p.lane_id === state.desk ? "mine" : "") + (done ? " done" : "");
      li.dataset.lane = p.lane_id;
      if (p.reason) { li.appendChild(el("span", p.reason, "why")); }
      list.appendChild(li);
    });
  }

  function toggleDesk() {
    var action = $("desk-toggle").dataset.action;
    if (!state.desk || !action) { return; }
    post("/v1/console/desks/" + encodeURIComponent(state.hall) + "/" + encodeURIComponent(state.desk), { action: action })
      .then(function (res) {
        if (!res.ok) { return res.json().then(function (e) { toast((e && (e.message || e.detail)) || res.statusText, true); }); }
        return res.json().then(function (data) {
          state.desks = state.desks.map(function (d) {
            return d.lane_id === data.desk.lane_id ? Object.assign({}, data.desk, { officer: data.officer }) : d;
          });
          renderDesks();
        });
      }).catch(function () { toast(t("offline"), true); });
  }

  // ---- the live feed ---------------------------------------------------------------------

  function setConn(ok) {
    var c = $("conn");
    c.textContent = ok ? t("live") : t("offline");
    c.className = "badge " + (ok ? "ok" : "warn");
  }

  function onMessage(msg) {
    switch (msg.type) {
      case "snapshot":
        state.principal = msg.principal;
        state.lang = msg.principal.language === "zh" ? "zh" : "en";
        translatePage();
        $("who").textContent = msg.principal.display_name + " (" + msg.principal.role + ")";
        state.prompts = msg.prompts;
        state.desks = msg.desks;
        renderDesks();
        setReferrals(msg.referrals);
        renderDetail(true);
        setConn(true);
        break;
      case "referrals": setReferrals(msg.referrals); break;
      case "referral.opened": upsert(msg.referral, true); break;
      case "referral.photos": upsert(msg.referral, false); break;
      case "referral.closed": remove(msg.referral_id); break;
      case "desks": state.desks = msg.desks; renderDesks(); break;
      case "prompts": state.prompts = state.prompts.concat(msg.prompts).slice(-50); renderPrompts(); break;
    }
  }

  function connect() {
    var proto = window.location.protocol === "https:" ? "wss:" : "ws:";
    var ws = new WebSocket(proto + "//" + window.location.host + "/ws/console?hall=" + encodeURIComponent(state.hall));
    state.socket = ws;
    ws.onmessage = function (ev) {
      if (ws !== state.socket) { return; }
      state.retry = 1000;
      try { onMessage(JSON.parse(ev.data)); } catch (e) { /* a bad message is skipped */ }
    };
    ws.onclose = function (ev) {
      if (ws !== state.socket) { return; }
      setConn(false);
      if (ev.code === 4401) { window.location.href = "/login?next=/console"; return; }
      if (ev.code === 4403) { $("refused").hidden = false; return; }
      setTimeout(connect, state.retry);
      state.retry = Math.min(state.retry * 2, 8000);
    };
  }

  function switchHall(hall) {
    state.hall = hall;
    state.referrals = []; state.selected = null; state.desks = []; state.prompts = [];
    try { localStorage.setItem("bordergate.console.hall", hall); } catch (e) { /* private mode */ }
    var old = state.socket;
    state.socket = null;
    if (old) { old.close(); }
    setReferrals([]);
    renderDesks();
    connect();
  }

  function init() {
    var params = new URLSearchParams(window.location.search);
    var hall = params.get("hall");
    var desk = params.get("desk");
    try {
      hall = hall || localStorage.getItem("bordergate.console.hall");
      desk = desk || localStorage.getItem("bordergate.console.desk");
    } catch (e) { /* private mode */ }
    state.hall = hall === "cruise" ? "cruise" : "airport";
    state.desk = desk || null;
    $("hall").value = state.hall;
    $("hall").addEventListener("change", function () { switchHall(this.value); });
    $("desk").addEventListener("change", function () {
      state.desk = this.value || null;
      try { localStorage.setItem("bordergate.console.desk", state.desk || ""); } catch (e) { /* private mode */ }
      renderDesks();
    });
    $("desk-toggle").addEventListener("click", toggleDesk);
    $("admit").addEventListener("click", function () { decide("admit"); });
    $("refuse").addEventListener("click", function () { decide("refuse"); });
    $("secondary").addEventListener("click", function () { decide("secondary"); });
    translatePage();
    connect();
  }

  init();
})();
