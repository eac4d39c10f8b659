/* Manager dashboard: one websocket (/ws/dashboard) keeps the page current; charts with uPlot.
   The socket sends {"kind": "state", "data": DashboardState} first, then live messages:
   wait_stats, lane_state, lane_decision, alert, alert_ack, forecast. Times are shown in China
   Standard Time. Text from the server is set with textContent only. */
"use strict";
(function () {
  const TZ = "Asia/Shanghai";
  const LIVE_POINT_S = 10;          // live points closer than this replace the last one
  const HORIZON_S = 3 * 3600;
  const timeFmt = new Intl.DateTimeFormat("en-GB", { timeZone: TZ, hour: "2-digit", minute: "2-digit" });
  const dayFmt = new Intl.DateTimeFormat("en-CA", { timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit" });

  const model = { targetS: 1500, chartStart: 0, day: null, halls: {}, alerts: new Map(), viewer: null };
  const $ = (sel, root) => (root || document).querySelector(sel);
  const secs = (iso) => (iso ? Date.parse(iso) / 1000 : null);
  const clock = (iso) => (iso ? timeFmt.format(new Date(iso)) : "");
  const pct = (x) => (x === null || x === undefined ? "–" : (100 * x).toFixed(1) + "%");
  const mins = (s) => (s === null || s === undefined ? "–" : (s / 60).toFixed(1) + " min");

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  // ---- model updates ---------------------------------------------------------------------------

  function hallModel(view) {
    const measured = view.history.map((s) => ({
      t: secs(s.at), p95: s.p95_wait_s, share: s.share_within_target,
      egates: s.egates_open, officers: s.officer_lanes_open,
    }));
    return {
      hall: view.hall, stats: view.stats, lanes: view.lanes, decision: view.decision,
      forecast: view.forecast, schedule: view.schedule, arrivals: view.arrivals,
      measured: measured, charts: null, node: null,
    };
  }

  function lanesOpen(lanes) {
    let egates = 0, officers = 0, egatesAll = 0, officersAll = 0;
    for (const lane of lanes || []) {
      const serving = lane.status === "open" || lane.status === "closing";
      if (lane.lane_type === "egate") { egatesAll++; if (serving) egates++; }
      else { officersAll++; if (serving) officers++; }
    }
    return { egates, officers, egatesAll, officersAll };
  }

  function addLivePoint(h, point) {
    const last = h.measured[h.measured.length - 1];
    if (last && last.live && point.t - last.prevT < LIVE_POINT_S) {
      Object.assign(last, point, { prevT: last.prevT });
    } else if (!last || point.t > last.t) {
      h.measured.push(Object.assign({ live: true, prevT: point.t }, point));
    }
  }

  function onWaitStats(stats) {
    const h = model.halls[stats.hall];
    if (!h) return;
    h.stats = stats;
    const open = lanesOpen(h.lanes);
    addLivePoint(h, { t: secs(stats.updated_at), p95: stats.p95_wait_s, share: stats.share_within_target,
      egates: open.egates, officers: open.officers });
    renderHall(h);
  }

  function onLaneState(data) {
    const h = model.halls[data.hall];
    if (!h) return;
    h.lanes = data.lanes;
    const open = lanesOpen(h.lanes);
    const last = h.measured[h.measured.length - 1];
    if (last && last.live) { last.egates = open.egates; last.officers = open.officers; }
    renderHall(h);
  }

  function upsertAlert(alert) {
    const known = model.alerts.get(alert.event_id);
    // An acknowledgement is never undone by an older copy of the alert.
    if (known && known.acked_at && !alert.acked_at) {
      alert = Object.assign({}, alert, { acked_by: known.acked_by, acked_by_name: known.acked_by_name, acked_at: known.acked_at });
    }
    model.alerts.set(alert.event_id, alert);
    if (alert.kind.endsWith("-cleared") && alert.data && alert.data.raised_event_id) {
      const raised = model.alerts.get(alert.data.raised_event_id);
      if (raised && !raised.cleared_at) raised.cleared_at = alert.raised_at;
    }
    renderAlerts();
  }

  // ---- charts ----------------------------------------------------------------------------------

  function xRange() {
    const now = Date.now() / 1000;
    return [model.chartStart, now + HORIZON_S];
  }

  function nowLine() {
    return {
      hooks: {
        draw: [(u) => {
          const x = Math.round(u.valToPos(Date.now() / 1000, "x", true));
          const ctx = u.ctx;
          ctx.save();
          ctx.strokeStyle = "#6b7280";
          ctx.setLineDash([4, 4]);
          ctx.beginPath();
          ctx.moveTo(x, u.bbox.top);
          ctx.lineTo(x, u.bbox.top + u.bbox.height);
          ctx.stroke();
          ctx.restore();
        }],
      },
    };
  }

  // Merge series given as [[t, v], ...] lists into uPlot's aligned columns.
  function aligned(lists) {
    const ts = new Set();
    lists.forEach((l) => l.forEach((p) => ts.add(p[0])));
    const xs = Array.from(ts).sort((a, b) => a - b);
    const index = new Map(xs.map((t, i) => [t, i]));
    const cols = lists.map((l) => {
      const col = new Array(xs.length).fill(null);
      l.forEach((p) => { col[index.get(p[0])] = p[1]; });
      return col;
    });
    return [xs].concat(cols);
  }

  function waitsData(h) {
    const m = h.measured.filter((p) => p.t !== null);
    const fc = (h.forecast && h.forecast.buckets) || [];
    const half = h.forecast ? (h.forecast.bucket_min * 30) : 0;
    const [x0, x1] = xRange();
    const target = model.targetS / 60;
    return aligned([
      m.map((p) => [p.t, p.p95 === null ? null : p.p95 / 60]),
      fc.map((b) => [secs(b.start) + half, b.p95_wait_s === null ? null : b.p95_wait_s / 60]),
      [[x0, target], [x1, target]],
      m.map((p) => [p.t, p.share === null ? null : 100 * p.share]),
      fc.map((b) => [secs(b.start) + half, 100 * b.share_within_target]),
    ]);
  }

  function lanesData(h) {
    const m = h.measured.filter((p) => p.t !== null);
    const fc = (h.forecast && h.forecast.buckets) || [];
    return aligned([
      (h.arrivals || []).map((b) => [secs(b.start), b.passengers]),
      m.map((p) => [p.t, p.officers]),
      m.map((p) => [p.t, p.egates]),
      fc.map((b) => [secs(b.start), b.officer_lanes]),
    ]);
  }

  function baseOpts(width, title) {
    return {
      title: title, width: width, height: 240,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), TZ),
      scales: { x: { time: true, range: () => xRange() } },
      cursor: { drag: { x: false, y: false } },
      legend: { live: true },
      plugins: [nowLine()],
    };
  }

  function makeCharts(h) {
    const box1 = $(".chart-waits", h.node), box2 = $(".chart-lanes", h.node);
    const width = Math.max(320, box1.clientWidth || 560);
    const stepped = uPlot.paths.stepped ? uPlot.paths.stepped({ align: 1 }) : undefined;
    const waits = new uPlot(Object.assign(baseOpts(width), {
      scales: { x: { time: true, range: () => xRange() }, min: { range: (u, lo, hi) => [0, Math.max(35, (hi || 0) * 1.1)] }, pct: { range: [0, 100] } },
      axes: [{}, { scale: "min", label: "minutes" }, { scale: "pct", side: 1, label: "% within 25 min", grid: { show: false } }],
      series: [
        {},
        { label: "p95 wait (measured)", scale: "min", stroke: "#0b5cad", width: 2, spanGaps: true },
        { label: "p95 wait (forecast)", scale: "min", stroke: "#7c3aed", width: 2, dash: [6, 4], spanGaps: true },
        { label: "25-min target", scale: "min", stroke: "#b91c1c", width: 1.5, dash: [10, 5], spanGaps: true, points: { show: false } },
        { label: "within 25 min (measured)", scale: "pct", stroke: "#0f7b3f", width: 1.5, spanGaps: true },
        { label: "within 25 min (forecast)", scale: "pct", stroke: "#65a30d", width: 1.5, dash: [6, 4], spanGaps: true },
      ],
    }), waitsData(h), box1);
    const lanes = new uPlot(Object.assign(baseOpts(width), {
      scales: { x: { time: true, range: () => xRange() }, pax: { range: (u, lo, hi) => [0, Math.max(10, (hi || 0) * 1.1)] }, lanes: { range: (u, lo, hi) => [0, Math.max(5, (hi || 0) + 1)] } },
      axes: [{}, { scale: "pax", label: "travellers / " + (h.forecast ? h.forecast.bucket_min : 15) + " min" }, { scale: "lanes", side: 1, label: "lanes", grid: { show: false } }],
      series: [
        {},
        { label: "arrivals (schedule)", scale: "pax", stroke: "#94a3b8", fill: "rgba(148,163,184,0.45)", paths: stepped, spanGaps: true, points: { show: false } },
        { label: "officer lanes open", scale: "lanes", stroke: "#b45309", width: 2, paths: stepped, spanGaps: true },
        { label: "e-gates open", scale: "lanes", stroke: "#0b5cad", width: 2, paths: stepped, spanGaps: true },
        { label: "officer lanes (plan)", scale: "lanes", stroke: "#b45309", width: 1.5, dash: [6, 4], paths: stepped, spanGaps: true },
      ],
    }), lanesData(h), box2);
    h.charts = { waits, lanes };
  }

  // ---- rendering -------------------------------------------------------------------------------

  function setValue(node, field, text, cls) {
    const v = $(`[data-field="${field}"]`, node);
    v.textContent = text;
    v.className = "value" + (cls ? " " + cls : "");
  }

  function renderHall(h) {
    if (!h.node) {
      h.node = $("#hall-template").content.firstElementChild.cloneNode(true);
      h.node.id = "hall-" + h.hall;
      h.node.dataset.hall = h.hall;
      $(".hall-title", h.node).textContent = h.hall === "airport" ? "Airport hall" : "Cruise terminal";
      $("#halls").appendChild(h.node);
    }
    const s = h.stats, open = lanesOpen(h.lanes);
    setValue(h.node, "p95", s ? mins(s.p95_wait_s) : "–",
      s && s.p95_wait_s !== null ? (s.p95_wait_s > model.targetS ? "bad" : "ok") : "");
    setValue(h.node, "share", s ? pct(s.share_within_target) : "–",
      s && s.share_within_target !== null ? (s.share_within_target < 0.95 ? "bad" : "ok") : "");
    setValue(h.node, "waiting", s ? String(s.waiting_now) : "–");
    setValue(h.node, "egates", `${open.egates} / ${open.egatesAll}`);
    setValue(h.node, "officers", `${open.officers} / ${open.officersAll}`);
    const fshare = h.forecast ? h.forecast.share_next_hour_planned : (h.decision ? h.decision.share_next_hour_planned : null);
    setValue(h.node, "forecast", pct(fshare), fshare !== null && fshare !== undefined ? (fshare < 0.95 ? "bad" : "ok") : "");
    const body = $(".arrivals tbody", h.node);
    body.replaceChildren();
    const now = Date.now() / 1000;
    const next = (h.schedule || []).filter((a) => secs(a.at) >= now - 3600).slice(0, 6);
    if (!next.length) {
      const row = el("tr"); const cell = el("td", "muted", "Nothing scheduled in the next hours"); cell.colSpan = 4;
      row.appendChild(cell); body.appendChild(row);
    }
    for (const a of next) {
      const row = el("tr");
      [clock(a.at), `${a.kind === "ship" ? "ship" : "flight"} ${a.ref}`, a.passengers, pct(a.egate_share)]
        .forEach((v) => row.appendChild(el("td", "", v)));
      body.appendChild(row);
    }
    if (!h.charts) makeCharts(h);
    else { h.charts.waits.setData(waitsData(h)); h.charts.lanes.setData(lanesData(h)); }
  }

  function alertItem(a) {
    const li = el("li", "alert " + a.severity + (a.acked_at ? " acked" : ""));
    li.dataset.alertId = a.event_id;
    const text = el("div", "msg");
    text.appendChild(el("strong", "", `${a.hall} · ${a.kind}`));
    text.appendChild(el("div", "", a.message));
    text.appendChild(el("div", "when", `raised ${clock(a.raised_at)} CST`));
    li.appendChild(text);
    if (a.acked_at) {
      li.appendChild(el("span", "acked-by", `Acknowledged by ${a.acked_by_name || a.acked_by} at ${clock(a.acked_at)}`));
    } else {
      const button = el("button", "ack", "Acknowledge");
      button.type = "button";
      button.addEventListener("click", () => acknowledge(a.event_id, button));
      li.appendChild(button);
    }
    return li;
  }

  function renderAlerts() {
    const all = Array.from(model.alerts.values()).sort((a, b) => secs(b.raised_at) - secs(a.raised_at));
    const active = all.filter((a) => !a.kind.endsWith("-cleared") && !a.cleared_at);
    active.sort((a, b) => (a.acked_at ? 1 : 0) - (b.acked_at ? 1 : 0));
    $("#active-alerts").replaceChildren(...active.map(alertItem));
    $("#no-alerts").hidden = active.length > 0;
    const body = $("#alert-history tbody");
    body.replaceChildren();
    for (const a of all) {
      const row = el("tr");
      row.dataset.alertId = a.event_id;
      row.appendChild(el("td", "", clock(a.raised_at)));
      row.appendChild(el("td", "", a.hall));
      const sev = el("td"); sev.appendChild(el("span", "badge " + (a.severity === "critical" ? "bad" : a.severity === "warning" ? "warn" : "ok"), a.severity));
      row.appendChild(sev);
      row.appendChild(el("td", "", `${a.kind}: ${a.message}`));
      const status = [];
      if (a.acked_at) status.push(`acknowledged by ${a.acked_by_name || a.acked_by} at ${clock(a.acked_at)}`);
      if (a.cleared_at) status.push(`cleared ${clock(a.cleared_at)}`);
      row.appendChild(el("td", a.acked_at ? "acked-by" : "", status.join("; ") || (a.kind.endsWith("-cleared") ? "" : "not acknowledged")));
      body.appendChild(row);
    }
  }

  async function acknowledge(id, button) {
    button.disabled = true;
    try {
      const response = await fetch(`/v1/alerts/${encodeURIComponent(id)}/ack`, {
        method: "POST", credentials: "same-origin", headers: { "Accept": "application/json" },
      });
      if (response.status === 401) { location.href = "/login?next=/dashboard"; return; }
      if (!response.ok) throw new Error(`acknowledge failed: ${response.status}`);
      const receipt = await response.json();
      upsertAlert(receipt.alert);
    } catch (err) {
      button.disabled = false;
      button.textContent = "Retry acknowledge";
      console.error(err);
    }
  }

  function applyState(state) {
    model.targetS = state.target_s;
    model.chartStart = secs(state.chart_start);
    model.day = state.day;
    model.viewer = state.viewer;
    $("#viewer").textContent = state.viewer ? `${state.viewer.display_name} (${state.viewer.role})` : "";
    model.alerts = new Map();
    state.alerts.slice().reverse().forEach((a) => model.alerts.set(a.event_id, a));
    for (const view of state.halls) {
      const old = model.halls[view.hall];
      const h = hallModel(view);
      if (old) { h.node = old.node; h.charts = old.charts; }
      model.halls[view.hall] = h;
      renderHall(h);
    }
    renderAlerts();
    const day = $("#export-day");
    if (!day.value) day.value = state.day;
    updateExportLinks();
  }

  function updateExportLinks() {
    const day = $("#export-day").value, hall = $("#export-hall").value;
    const q = new URLSearchParams();
    if (day) q.set("date", day);
    $("#export-clearances").href = "/v1/exports/clearances.csv?" + q.toString();
    if (hall) q.set("hall", hall);
    $("#export-waits").href = "/v1/exports/waits.csv?" + q.toString();
  }

  // ---- the socket ------------------------------------------------------------------------------

  let retry = 500;
  function setConn(text, cls) { const c = $("#conn"); c.textContent = text; c.className = "badge " + cls; }

  function connect() {
    const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/dashboard");
    ws.onopen = () => { retry = 500; setConn("live", "ok"); };
    ws.onmessage = (event) => {
      const msg = JSON.parse(event.data);
      switch (msg.kind) {
        case "state": applyState(msg.data); break;
        case "wait_stats": onWaitStats(msg.data); break;
        case "lane_state": onLaneState(msg.data); break;
        case "lane_decision": { const h = model.halls[msg.data.hall]; if (h) { h.decision = msg.data; renderHall(h); } break; }
        case "alert": upsertAlert(msg.data); break;
        case "alert_ack": upsertAlert(msg.data); break;
        case "forecast": { const h = model.halls[msg.data.hall]; if (h) { h.forecast = msg.data; renderHall(h); } break; }
        default: break;
      }
    };
    ws.onclose = (event) => {
      if (event.code === 4401) { location.href = "/login?next=/dashboard"; return; }
      if (event.code === 4403) { setConn("refused", "bad"); $("#refused").hidden = false; return; }
      setConn("reconnecting", "warn");
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 10000);
    };
  }

  function tick() {
    $("#clock").textContent = timeFmt.format(new Date()) + " CST";
    if (model.day && dayFmt.format(new Date()) !== model.day) {
      location.reload(); // a new day: start from its state
    }
  }

  window.addEventListener("resize", () => {
    for (const h of Object.values(model.halls)) {
      if (!h.charts) continue;
      const w = Math.max(320, $(".chart-waits", h.node).clientWidth);
      h.charts.waits.setSize({ width: w, height: 240 });
      h.charts.lanes.setSize({ width: w, height: 240 });
    }
  });
  $("#export-day").addEventListener("change", updateExportLinks);
  $("#export-hall").addEventListener("change", updateExportLinks);
  setInterval(tick, 1000);
  tick();
  connect();
})();
