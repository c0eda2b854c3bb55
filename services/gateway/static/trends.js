// The dashboard's trend view: tags picked by name, their history from GET /api/history drawn with uPlot,
// live values from /ws/values appended while the range ends now, BAD periods shaded.
//
// Why it is built this way:
// - One y scale (and axis) per unit, so several tags share a chart without a temperature flattening a
//   pressure; the series label carries the unit too.
// - The API answers raw values when the range holds no more than `points` (the chart's width in pixels),
//   otherwise buckets; a bucketed series is drawn as its average with a min..max band. A BAD value, an
//   empty bucket and a silence longer than the tag's group leaves between rows are nulls: a gap on the
//   chart, never a line drawn across it.
// - Zoom (drag across the chart) and pan (the arrows, or shift+wheel) ask the API again for the range shown,
//   so zooming into a bucketed day ends in raw values. Double-click or "reset" returns to the chosen range.
"use strict";
(() => {
  const $ = (sel) => document.querySelector(sel);
  const SPANS = { "10m": 600e3, "1h": 3600e3, "8h": 8 * 3600e3, "24h": 86400e3 };
  const COLORS = ["#2357c6", "#c4320a", "#18794e", "#8a3ffc", "#b26b00", "#007d79", "#d12771", "#6b7385"];
  const MAX_TAGS = 20; // the history API's limit
  const BAD_FILL = "rgba(196, 50, 10, 0.13)";

  const view = {
    tags: [],        // {plc_code, tag_name, address, unit, description, data_type}
    span: "10m",     // a key of SPANS, or "custom"
    custom: null,    // {from, to} Unix ms when span is "custom"
    zoom: null,      // {from, to} Unix ms while zoomed or panned
    series: [],      // drawn: {tag, label, unit, mode, ts, y, min, max, bad: [[from, to]...], lastTs}
    chart: null,
    sockets: new Map(), // plc_code -> WebSocket, while the range ends now
    loading: 0,
  };

  const esc = (text) => String(text ?? "").replace(/[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;" }[c]));
  const key = (t) => `${t.plc_code}/${t.tag_name}`;
  const status = (text, bad) => { const s = $("#trend-status"); s.textContent = text; s.classList.toggle("bad", !!bad); };

  // -- picking tags ---------------------------------------------------------------------------------------
  let searchTimer = 0;
  async function search() {
    const text = $("#trend-search").value.trim();
    const list = $("#trend-found");
    if (!text) { list.innerHTML = ""; list.hidden = true; return; }
    const response = await fetch(`/api/tags?search=${encodeURIComponent(text)}&limit=15`);
    const body = await response.json().catch(() => ({}));
    if (text !== $("#trend-search").value.trim()) return; // typed on meanwhile
    if (!response.ok) { list.innerHTML = `<li class="sub">${esc(body.detail ?? response.status)}</li>`; list.hidden = false; return; }
    list.innerHTML = body.tags.length ? body.tags.map((t, i) => `<li><button type="button" class="pick" data-i="${i}">
        <b>${esc(t.tag_name)}</b> <span class="sub">${esc(t.plc_code)} · ${esc(t.address)}${t.unit ? " · " + esc(t.unit) : ""}
        ${t.description ? " · " + esc(t.description) : ""}</span></button></li>`).join("")
        + (body.matched > body.count ? `<li class="sub">${body.matched - body.count} more: type more of the name</li>` : "")
      : `<li class="sub">no tag matches “${esc(text)}”</li>`;
    list.hidden = false;
    list.querySelectorAll("button.pick").forEach((b) => b.addEventListener("click", () => addTag(body.tags[+b.dataset.i])));
  }

  function addTag(tag) {
    $("#trend-found").hidden = true;
    $("#trend-search").value = "";
    if (view.tags.some((t) => key(t) === key(tag))) return;
    if (view.tags.length >= MAX_TAGS) { status(`at most ${MAX_TAGS} tags on one chart`, true); return; }
    view.tags.push(tag);
    renderChosen();
    load();
  }

  function removeTag(k) {
    view.tags = view.tags.filter((t) => key(t) !== k);
    renderChosen();
    load();
  }

  function renderChosen() {
    $("#trend-chosen").innerHTML = view.tags.map((t, i) => `<span class="chip" style="border-color:${COLORS[i % COLORS.length]}">
      ${esc(t.tag_name)}${t.unit ? ` <span class="sub">${esc(t.unit)}</span>` : ""}
      <button type="button" title="remove" data-key="${esc(key(t))}">×</button></span>`).join("");
    $("#trend-chosen").querySelectorAll("button").forEach((b) => b.addEventListener("click", () => removeTag(b.dataset.key)));
  }

  // -- the range ----------------------------------------------------------------------------------------------
  function range() {
    if (view.zoom) return { ...view.zoom, live: false };
    if (view.span === "custom" && view.custom) return { ...view.custom, live: false };
    const to = Date.now();
    return { from: to - SPANS[view.span], to, live: true, relative: `-${view.span}` };
  }

  function setSpan(span) {
    view.span = span;
    view.zoom = null;
    document.querySelectorAll("#trend-ranges button[data-span]").forEach((b) => b.classList.toggle("on", b.dataset.span === span));
    $("#trend-custom").hidden = span !== "custom";
    if (span !== "custom") load();
  }

  function applyCustom() {
    const from = Date.parse($("#trend-from").value), to = Date.parse($("#trend-to").value);
    if (!(from < to)) { status("custom range: pick a start before the end", true); return; }
    view.custom = { from, to };
    view.zoom = null;
    load();
  }

  function pan(fraction) {
    const r = range();
    const shift = (r.to - r.from) * fraction;
    view.zoom = { from: Math.round(r.from + shift), to: Math.round(r.to + shift) };
    load();
  }

  // -- history ------------------------------------------------------------------------------------------------
  async function load() {
    const ticket = ++view.loading;
    if (!view.tags.length) { draw([]); live(false); status("search a tag by name and pick it to see its trend"); return; }
    const r = range();
    const width = Math.max(200, Math.min(10000, Math.round($("#trend-chart").clientWidth || 1000)));
    const query = new URLSearchParams();
    for (const t of view.tags) query.append("tag", key(t));
    query.set("from", r.relative ?? new Date(r.from).toISOString());
    query.set("to", r.relative ? "now" : new Date(r.to).toISOString());
    query.set("points", String(width));
    status("loading…");
    let response, body;
    try {
      response = await fetch(`/api/history?${query}`);
      body = await response.json().catch(() => ({}));
    } catch (e) { if (ticket === view.loading) status(`history not loaded: ${e}`, true); return; }
    if (ticket !== view.loading) return; // a newer request is on its way
    if (!response.ok) {
      const detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail ?? response.statusText);
      status(`${response.status}: ${detail}`, true);
      return;
    }
    const series = body.series.map((s, i) => fromApi(s, view.tags[i], body.to_ms));
    draw(series, { from: body.from_ms, to: body.to_ms });
    live(r.live);
    const count = series.reduce((n, s) => n + s.ts.length, 0);
    const modes = [...new Set(series.map((s) => s.mode === "raw" ? "raw values" : `buckets of ${fmtMs(s.bucketMs)}`))];
    status(`${count.toLocaleString()} points (${modes.join(", ")}), ${new Date(body.from_ms).toLocaleString()} .. ${new Date(body.to_ms).toLocaleString()}${r.live ? ", live" : ""}`);
  }

  function fmtMs(ms) {
    return ms >= 3600e3 ? `${+(ms / 3600e3).toFixed(1)} h` : ms >= 60e3 ? `${+(ms / 60e3).toFixed(1)} min` : `${+(ms / 1e3).toFixed(1)} s`;
  }

  const numeric = (v) => (typeof v === "number" ? v : typeof v === "boolean" ? +v : null);

  function fromApi(s, tag, toMs) {
    const out = { tag, unit: s.unit ?? tag.unit ?? "", label: `${s.tag_name} (${s.plc_code})`, mode: s.mode,
                  bucketMs: s.bucket_ms, ts: s.ts.slice(), y: [], min: null, max: null, bad: [] };
    if (s.mode === "raw") {
      out.y = s.value.map(numeric);
      s.quality.forEach((q, i) => { if (q !== "GOOD") addBad(out, s.ts[i], s.ts[i + 1] ?? toMs); });
      breakSilences(out);
    } else {
      out.y = s.avg.map(numeric);
      out.min = s.min.map(numeric);
      out.max = s.max.map(numeric);
      if (out.y.every((v) => v === null)) out.y = s.last.map(numeric); // strings: last per bucket, not drawable
      s.good_share.forEach((g, i) => { if (g !== null && g < 1) addBad(out, s.ts[i], s.ts[i] + s.bucket_ms); });
    }
    out.lastTs = s.ts.length ? s.ts[s.ts.length - 1] : -Infinity;
    return out;
  }

  // A tag collected has a row at least every `expected_every_ms` (its group's interval, or the maximum
  // interval with a deadband); a longer silence means nothing was collected: a gap, never a line across it.
  const silence = (tag) => (tag.expected_every_ms ? 2.5 * tag.expected_every_ms + 1000 : Infinity);

  function breakSilences(s) {
    const limit = silence(s.tag);
    if (limit === Infinity) return;
    const ts = [], y = [];
    s.ts.forEach((t, i) => {
      if (i && t - s.ts[i - 1] > limit) { ts.push(s.ts[i - 1] + s.tag.expected_every_ms); y.push(null); }
      ts.push(t); y.push(s.y[i]);
    });
    s.ts = ts; s.y = y;
  }

  function addBad(series, from, to) {
    const last = series.bad[series.bad.length - 1];
    if (last && from <= last[1]) last[1] = Math.max(last[1], to);
    else series.bad.push([from, Math.max(to, from + 1)]);
  }

  // -- the chart ----------------------------------------------------------------------------------------------
  function draw(series, span) {
    view.series = series;
    const host = $("#trend-chart");
    if (view.chart) { view.chart.destroy(); view.chart = null; }
    host.innerHTML = "";
    if (!series.length) return;
    const units = [...new Set(series.map((s) => s.unit))];
    const scales = { x: { time: true, range: span ? () => [span.from, span.to] : undefined } };
    units.forEach((u) => { scales[`u:${u}`] = { auto: true }; });
    const axes = [{}].concat(units.map((u, i) => ({
      scale: `u:${u}`, label: u || "(no unit)", side: i % 2 ? 1 : 3, grid: { show: i === 0 }, size: 60,
    })));
    const uSeries = [{ label: "time" }];
    const bands = [];
    series.forEach((s, i) => {
      const color = COLORS[i % COLORS.length];
      const shown = `${s.label}${s.unit ? " [" + s.unit + "]" : ""}`;
      // a deadbanded tag holds its value until the next row: drawn as steps, not as a slope it never had
      const stepped = s.tag.deadband != null && s.mode === "raw" ? { paths: uPlot.paths.stepped({ align: 1 }) } : {};
      uSeries.push({ label: shown, scale: `u:${s.unit}`, stroke: color, width: 1.5, ...stepped,
                     points: { show: s.mode === "raw" && s.ts.length < 400 } });
      if (s.mode === "buckets") {
        const lo = uSeries.length, hi = lo + 1;
        uSeries.push({ label: `${shown} min`, scale: `u:${s.unit}`, stroke: color + "55", width: 0.5 });
        uSeries.push({ label: `${shown} max`, scale: `u:${s.unit}`, stroke: color + "55", width: 0.5 });
        bands.push({ series: [hi, lo], fill: color + "22" });
      }
    });
    const tables = [];
    series.forEach((s) => {
      tables.push([s.ts, s.y]);
      if (s.mode === "buckets") { tables.push([s.ts, s.min]); tables.push([s.ts, s.max]); }
    });
    // NULL_EXPAND (2): a null (BAD, an empty bucket, a silence) also hides the alignment points around it
    // that other series' timestamps add, or the line would be drawn across it in dashes
    const data = tables.length === 1 ? tables[0] : uPlot.join(tables, tables.map(() => [null, 2]));
    const opts = {
      width: host.clientWidth || 1000, height: 320, ms: 1, scales, axes, series: uSeries, bands,
      legend: { live: true }, cursor: { drag: { x: true, y: false } },
      hooks: {
        drawClear: [shadeBad],
        setSelect: [(u) => {
          if (u.select.width < 5) return;
          const from = u.posToVal(u.select.left, "x"), to = u.posToVal(u.select.left + u.select.width, "x");
          u.setSelect({ left: 0, width: 0 }, false);
          view.zoom = { from: Math.round(from), to: Math.round(to) };
          load();
        }],
      },
    };
    view.chart = new uPlot(opts, data, host);
    view.chart.over.addEventListener("dblclick", () => { view.zoom = null; load(); });
    view.chart.over.addEventListener("wheel", (e) => { if (e.shiftKey) { e.preventDefault(); pan(e.deltaY > 0 ? 0.25 : -0.25); } }, { passive: false });
    host.dataset.points = String(series.reduce((n, s) => n + s.ts.length, 0));
  }

  function shadeBad(u) {
    const { ctx } = u;
    const { top, height, left, width } = u.bbox;
    ctx.save();
    ctx.fillStyle = BAD_FILL;
    for (const s of view.series) {
      for (const [from, to] of s.bad) {
        const x0 = Math.max(left, u.valToPos(from, "x", true)), x1 = Math.min(left + width, u.valToPos(to, "x", true));
        if (x1 > x0) ctx.fillRect(x0, top, Math.max(1, x1 - x0), height);
      }
    }
    ctx.restore();
  }

  // -- live values --------------------------------------------------------------------------------------------
  let redrawPending = false;
  function live(on) {
    const wanted = on ? new Set(view.tags.map((t) => t.plc_code)) : new Set();
    for (const [plc, ws] of view.sockets) if (!wanted.has(plc)) { ws.onclose = null; ws.close(); view.sockets.delete(plc); }
    for (const plc of wanted) {
      if (view.sockets.has(plc)) continue;
      const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/values?plc=${encodeURIComponent(plc)}`);
      ws.onmessage = (event) => append(JSON.parse(event.data));
      ws.onclose = () => { view.sockets.delete(plc); setTimeout(() => live(range().live), 2000); };
      view.sockets.set(plc, ws);
    }
  }

  function append(message) {
    if (!view.chart || !range().live) return;
    let added = 0;
    for (const s of view.series) {
      for (const v of message.values) {
        if (v.plc_code !== s.tag.plc_code || v.tag_name !== s.tag.tag_name) continue;
        const ts = Date.parse(v.ts);
        if (!(ts > s.lastTs)) continue; // the same snapshot again, or older than what is drawn
        if (ts - s.lastTs > silence(s.tag) && s.ts.length) {
          s.ts.push(s.lastTs + s.tag.expected_every_ms); s.y.push(null);
          if (s.min) { s.min.push(null); s.max.push(null); }
        }
        s.lastTs = ts;
        s.ts.push(ts);
        s.y.push(v.quality === "GOOD" ? numeric(v.value) : null);
        if (s.min) { s.min.push(null); s.max.push(null); }
        if (v.quality !== "GOOD") addBad(s, ts, ts + 1000);
        added++;
      }
    }
    if (added && !redrawPending) {
      redrawPending = true;
      requestAnimationFrame(() => {
        redrawPending = false;
        const to = Date.now(), from = to - SPANS[view.span];
        for (const s of view.series) { // slide the window: drop what fell off its start
          let cut = 0;
          while (cut < s.ts.length && s.ts[cut] < from) cut++;
          if (cut) { s.ts.splice(0, cut); s.y.splice(0, cut); if (s.min) { s.min.splice(0, cut); s.max.splice(0, cut); } }
        }
        draw(view.series, { from, to });
        $("#trend-chart").dataset.live = String(+($("#trend-chart").dataset.live || 0) + added);
      });
    }
  }

  // -- wiring -------------------------------------------------------------------------------------------------
  $("#trend-search").addEventListener("input", () => { clearTimeout(searchTimer); searchTimer = setTimeout(search, 150); });
  $("#trend-search").addEventListener("keydown", (e) => {
    if (e.key === "Enter") { e.preventDefault(); const first = $("#trend-found button.pick"); if (first) first.click(); }
    if (e.key === "Escape") $("#trend-found").hidden = true;
  });
  document.querySelectorAll("#trend-ranges button[data-span]").forEach((b) => b.addEventListener("click", () => setSpan(b.dataset.span)));
  $("#trend-apply").addEventListener("click", applyCustom);
  $("#trend-left").addEventListener("click", () => pan(-0.5));
  $("#trend-right").addEventListener("click", () => pan(0.5));
  $("#trend-reset").addEventListener("click", () => { view.zoom = null; load(); });
  window.addEventListener("resize", () => { if (view.chart) view.chart.setSize({ width: $("#trend-chart").clientWidth, height: 320 }); });
  setSpan("10m");
})();
