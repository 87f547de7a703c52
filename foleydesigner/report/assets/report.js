// Part 3: the views: header, transport, mixer, cue sheet, placement, overlay, inspector, and the frame loop.
"use strict";
// ---- header and warnings -------------------------------------------------------------------------------------
function header() {
  const m = D.mix || {}, dl = m.delivery || {}, st = dl.stereo || m.master || {}, s51 = dl.surround_5_1 || {};
  const b = (D.run && D.run.backends) || {}, fg = EVENTS.filter((e) => e.layer === "fg").length;
  const kv = (k, v) => el("span", { class: "kv" }, k + " ", el("b", { text: v }));
  $("#head").append(el("h1", { text: D.clip }), kv("duration", fmt(DUR, 2) + " s"), kv("events", `${EVENTS.length} (${fg} fg, ${EVENTS.length - fg} bg)`),
    kv("stereo", `${fmt(st.integrated_lufs)} LUFS / ${fmt(st.true_peak_dbtp)} dBTP`), kv("5.1", `${fmt(s51.integrated_lufs)} LUFS / ${fmt(s51.true_peak_dbtp)} dBTP`),
    ...Object.entries((D.immersive || {}).formats || {}).map(([k, f]) => kv(k, `${fmt(f.integrated_lufs)} LUFS / ${fmt(f.true_peak_dbtp)} dBTP`)),
    kv("target", fmt(m.target_lufs) + " LUFS"), kv("backends", `llm ${b.llm || "?"} · vision ${b.vision || "?"} · generator ${b.generator || "?"}`),
    kv("run", fmt(((D.run || {}).timings_s || {}).total) + " s"));
  (D.warnings || []).forEach(addWarning);
  if (D.media && D.media.audio_note) addWarning(D.media.audio_note);
}

// ---- transport: play, frames, loop, markers and the monitor switch ------------------------------------------
function transport() {
  const tr = $("#transport"), btn = (id, text, title, onclick) => el("button", { id, class: "tbtn", text, title, onclick });
  $("#play").addEventListener("click", () => (clock.isPaused ? clock.play() : clock.pause()));
  $("#play").after(btn("prev-frame", "\u25C0|", "previous frame (\u2190)", () => clock.step(-1)), btn("next-frame", "|\u25B6", "next frame (\u2192)", () => clock.step(1)));
  $("#clock").after(el("span", { id: "frame", class: "note", title: `frame number at ${fmt(FPS, 3)} fps` }));
  const keys = { Space: () => $("#play").click(), ArrowLeft: () => clock.step(-1), ArrowRight: () => clock.step(1),
    KeyI: () => loop.set("a"), KeyO: () => loop.set("b"), KeyL: () => loop.toggle(), KeyM: () => markers.add($("#marker-note").value) };
  document.addEventListener("keydown", (e) => { const tag = (e.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "select" || tag === "textarea" || e.ctrlKey || e.metaKey || e.altKey || !keys[e.code]) return;
    if (tag === "button" && e.code === "Space") return;
    e.preventDefault(); keys[e.code](); });
  const modes = [["stereo", "Stereo mix", "mix:stereo"], ["5.1", "5.1", "5.1:L_R"], ["binaural", "Binaural", "mix:binaural"],
    ["stems", "Stems", "stem:" + ((STRIPS[0] || {}).id)], ["video", "Video track", null]];
  for (const [mode, label, key] of modes) {
    if (mode === "binaural" && !audio.available(key)) continue;  // only when the run delivered it
    const b = el("button", { "data-mode": mode, text: label, onclick: () => audio.setMode(mode), title: mode === "binaural" ? "mix_binaural.wav: on headphones" : "" });
    if (key && !audio.available(key)) b.disabled = true;
    $("#monitor").append(b);
  }
  state.mode = audio.available("mix:stereo") ? "stereo" : "video";
  video.muted = state.mode !== "video";
  document.querySelectorAll("#monitor button").forEach((b) => b.classList.toggle("on", b.dataset.mode === state.mode));
  const spk = el("span", { id: "speakers", class: "seg", title: "5.1: solo a speaker" });
  for (const name of ["L", "R", "C", "LFE", "Ls", "Rs"]) {
    audio.speakers[name] = { solo: false };
    spk.append(el("button", { text: name, "data-speaker": name, onclick: (e) => { const sp = audio.speakers[name]; sp.solo = !sp.solo;
      e.target.classList.toggle("on", sp.solo); audio.applyGains(); } }));
  }
  tr.append(spk);
  $("#tools").append(btn("set-in", "I", "loop start at the playhead (I)", () => loop.set("a")), btn("set-out", "O", "loop end at the playhead (O)", () => loop.set("b")),
    btn("loop", "loop: I / O", "loop the region on / off (L)", () => loop.toggle()), btn("loop-clear", "\u00D7", "clear the loop", () => loop.clear()),
    el("span", { class: "sep" }), el("input", { id: "marker-note", type: "text", placeholder: "note for a marker", size: "22" }),
    btn("add-marker", "+ marker", "marker with the note at the playhead (M)", () => { markers.add($("#marker-note").value); $("#marker-note").value = ""; }),
    btn("export-markers", "markers.json", "download the markers and notes", () => markers.download()), el("ul", { id: "markers" }));
  markers.load(); markers.changed();
}

// ---- mixer strips: faders start at the plan's values; meters on a dBFS scale; the master with its loudness -------
const METER_FLOOR = -60;
const meterPct = (db) => Math.max(0, Math.min(100, (db - METER_FLOOR) / -METER_FLOOR * 100));
function mixer() {
  const strips = $("#strips");
  const scale = el("div", { class: "scale" }); for (const v of [-60, -40, -20, 0]) scale.append(el("span", { style: `left:${meterPct(v)}%`, text: String(v) }));
  strips.append(el("div", { class: "strip head" }, el("span"), el("span", { class: "note", text: POST_PLAN ? "post-plan stems" : "raw stems" }), el("span"), el("span"),
    el("span", { class: "note", text: "fader dB (plan)" }), el("span"), el("div", { class: "meterscale", title: "dBFS" }, scale)));
  const strip = (key, name, colourOf, target, isGroup) => {
    const meter = el("div", { class: "meter" }, el("i"));
    const db = el("span", { class: "db", text: fmt(target.level) + " dB" });
    const lo = Math.min(-40, target.level - 40), hi = Math.max(12, target.level + 20);
    const fader = el("input", { type: "range", min: String(lo), max: String(hi), step: "0.5", value: String(target.level),
      title: isGroup ? "layer offset, dB" : `level, dB (the plan: ${fmt(target.plan)} dB)`,
      oninput: (e) => { target.level = Number(e.target.value); db.textContent = fmt(target.level) + " dB"; touchMixer(); } });
    const row = el("div", { class: "strip" + (isGroup ? " group" : ""), "data-strip": key },
      el("span", { class: "chip", style: `background:${colourOf}` }),
      el("span", { class: "name", text: name, title: name, onclick: () => !isGroup && key !== RETURNS && select(key) }),
      el("button", { class: "mute", text: "M", title: "mute", onclick: () => { target.mute = !target.mute; touchMixer(); } }),
      el("button", { class: "solo", text: "S", title: "solo", onclick: () => { target.solo = !target.solo; touchMixer(); } }),
      fader, db, meter);
    strips.append(row);
  };
  for (const layer of ["fg", "bg", "fx"]) {
    const ss = STRIPS.filter((s) => s.layer === layer); if (!ss.length) continue;
    strip("layer:" + layer, { fg: "Foreground", bg: "Background", fx: "Returns" }[layer], { fg: "var(--fg)", bg: "var(--bgl)", fx: "#9d8cff" }[layer], audio.layers[layer], true);
    for (const s of ss) strip(s.id, s.name || s.id, s.colour, audio.strips[s.id], false);
  }
  strips.append(el("div", { class: "strip master", "data-strip": "__master__" }, el("span", { class: "chip", style: "background:#ddd" }), el("span", { class: "name", text: "Master" }),
    el("span"), el("span"), el("span", { id: "lufs", class: "lufs", title: "BS.1770 momentary (M) and short-term (S) loudness of the monitored mix; I: integrated" }), el("span", { class: "db", id: "master-db" }), el("div", { class: "meter" }, el("i"))));
}
function renderStripStates() {
  document.querySelectorAll(".strip").forEach((row) => {
    const key = row.dataset.strip, t = !key ? null : key.startsWith("layer:") ? audio.layers[key.slice(6)] : audio.strips[key];
    if (!t) return;
    row.querySelector(".mute").classList.toggle("on", t.mute); row.querySelector(".solo").classList.toggle("on", t.solo);
    row.classList.toggle("selected", key === state.selected);
  });
}

// ---- cue sheet --------------------------------------------------------------------------------------------------
const tl = { px: 1, width: 0 };
function timeline() {
  const box = $("#timeline"); box.innerHTML = "";
  const labW = 220, avail = Math.max(400, box.clientWidth - labW - 4);
  tl.px = (avail / DUR) * state.zoom; tl.width = Math.ceil(DUR * tl.px);
  const inner = el("div", { id: "tl-inner", style: `width:${labW + tl.width}px` }); box.append(inner);
  const seekAt = (e) => { const r = e.currentTarget.getBoundingClientRect(); clock.seek((e.clientX - r.left) / tl.px); };
  const row = (cls, label, h) => { const trk = el("div", { class: "trk", style: `width:${tl.width}px;height:100%`, onclick: seekAt });
    const r = el("div", { class: "row " + cls }, el("div", { class: "lab" }, ...(Array.isArray(label) ? label : [label])), trk); inner.append(r); return { r, trk, h }; };
  // ruler
  const ru = row("ruler", "time", 22), cv = canvasIn(ru.trk, 22), g = cv.getContext("2d");
  const step = niceStep(DUR / (tl.width / 90)); g.fillStyle = "#8a93a3"; g.strokeStyle = "#4a505c"; g.font = "10px monospace";
  for (let t = 0; t <= DUR + 1e-9; t += step) { const x = Math.round(t * tl.px) + 0.5; g.beginPath(); g.moveTo(x, 12); g.lineTo(x, 22); g.stroke(); g.fillText(step < 1 ? tc(t).slice(3) : tc(t).slice(3, 8), x + 3, 10); }
  // shots and cuts
  const sh = row("shots", "shots / cuts", 30);
  for (const s of D.shots || []) {
    sh.trk.append(el("div", { class: "shot", style: `left:${s.start_s * tl.px}px;width:${Math.max(1, (s.end_s - s.start_s) * tl.px - 2)}px`,
      title: `shot ${s.index}: ${fmt(s.start_s, 2)}–${fmt(s.end_s, 2)} s ${s.camera}`, text: `#${s.index} ${s.camera}` }));
  }
  if (!(D.shots || []).length) sh.r.querySelector(".lab").append(el("span", { class: "note", text: "one shot" }));
  // spectrogram and mix waveform
  if (D.media && D.media.spectrogram) {  // log-frequency rows: the axis is drawn in the label cell, beside the image
    const [f0, f1] = D.media.spectrogram_hz || [40, 20000], axis = el("span", { class: "faxis" });
    for (const [f, name] of [[100, "100"], [1000, "1k"], [10000, "10k"]]) axis.append(el("span", { style: `top:${(1 - Math.log(f / f0) / Math.log(f1 / f0)) * 100}%`, text: name + " –" }));
    const sp = row("spec", [el("span", { text: "mix spectrogram (Hz)" }), axis], 64);
    sp.trk.append(el("img", { src: D.media.spectrogram, alt: "spectrogram of the stereo mix", draggable: "false" }));
  }
  const env = (D.media && D.media.envelopes) || {};
  if (env.__mix__) { const mx = row("lane", "stereo mix", 30); drawEnvelope(canvasIn(mx.trk, 30), env.__mix__, "#9aa3b2"); }
  for (const layer of ["fg", "bg"]) {
    const evs = EVENTS.filter((e) => e.layer === layer); if (!evs.length) continue;
    row("group", layer === "fg" ? `Foreground (${evs.length})` : `Background (${evs.length})`, 20);
    for (const ev of evs) {
      const conf = ev.confidence;
      const badge = conf === null || conf === undefined ? null : el("span", { class: "conf " + (conf < 0.5 ? "low" : conf >= 0.8 ? "high" : ""), text: Math.round(conf * 100) + "%", title: "spotting confidence" });
      const ln = row("lane", [el("span", { class: "chip", style: `display:inline-block;width:8px;height:16px;border-radius:2px;background:${ev.colour}` }),
        el("span", { class: "lid", text: ev.id, title: ev.description || ev.label }), badge], 30);
      ln.r.dataset.event = ev.id; ln.r.querySelector(".lab").addEventListener("click", () => select(ev.id));
      const spec = state.spectra && ((D.media || {}).spectra || {})[ev.id];  // the stem's own spectrogram (as mixed)
      if (spec) { ln.r.classList.add("tall"); ln.trk.append(el("img", { class: "lanespec", src: spec, alt: `spectrogram of ${ev.id}`, draggable: "false" })); }
      const c = canvasIn(ln.trk, spec ? 48 : 30); drawLane(c, ev, spec ? null : env[ev.id]);
      const alpha = 0.25 + 0.45 * (conf ?? 1);
      const cue = el("div", { class: "cue" + (conf !== null && conf !== undefined && conf < 0.5 ? " lowconf" : ""), "data-event": ev.id,
        style: `left:${ev.start_s * tl.px}px;width:${Math.max(3, (ev.end_s - ev.start_s) * tl.px)}px;background:${ev.colour.replace("60%)", `60%, ${alpha})`).replace("hsl", "hsla")}`,
        title: `${ev.label}: ${fmt(ev.start_s, 2)}–${fmt(ev.end_s, 2)} s, ${ev.onsets_s.length} onsets${conf != null ? ", confidence " + fmt(conf, 2) : ""}\n${ev.description || ""}` });
      cue.addEventListener("click", (e) => { e.stopPropagation(); select(ev.id); clock.seek(ev.start_s); });
      ln.trk.append(cue);
    }
  }
  for (const s of D.shots || []) if (s.start_s > 0) inner.append(el("div", { class: "cut", style: `left:${labW + s.start_s * tl.px}px`, title: `cut at ${fmt(s.start_s, 2)} s` }));
  inner.append(el("div", { id: "playhead" }), el("div", { id: "tl-marks" }));
  for (const f of hooks.redraw) f();  // loop, markers and the edits' ghosts on the new lanes
}
function drawMarks() {  // the loop region and the markers over every lane
  const box = $("#tl-marks"); if (!box) return; box.innerHTML = ""; const l = state.loop;
  if (l.a !== null && l.b !== null) box.append(el("div", { class: "loopzone" + (l.on ? " on" : ""), style: `left:${220 + l.a * tl.px}px;width:${Math.max(1, (l.b - l.a) * tl.px)}px` }));
  for (const m of state.markers) box.append(el("div", { class: "marker", style: `left:${220 + m.t * tl.px}px`, title: `${m.tc} ${m.note}` }));
}
hooks.redraw.push(drawMarks);
function niceStep(raw) { const p = Math.pow(10, Math.floor(Math.log10(raw))); for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p; return 10 * p; }
function canvasIn(parent, h) { const c = el("canvas", { width: String(Math.max(1, tl.width)), height: String(h) }); c.style.width = tl.width + "px"; c.style.height = h + "px"; parent.append(c); return c; }
function drawEnvelope(c, env, col) {
  const g = c.getContext("2d"), h = c.height, mid = h / 2; g.fillStyle = col;
  const n = env.length; for (let i = 0; i < n; i++) { const a = (env[i] / 100) * (mid - 2); const x = (i / n) * c.width; g.fillRect(x, mid - a, Math.max(1, c.width / n), 2 * a || 0.5); }
}
function drawLane(c, ev, env) {
  const g = c.getContext("2d"), h = c.height, cl = (D.clues || {})[ev.id];
  if (cl) { g.fillStyle = "rgba(255,255,255,0.06)"; for (const [a, b] of cl.active) g.fillRect(a * tl.px, 0, (b - a) * tl.px, h); }
  if (env) { g.globalAlpha = 0.55; drawEnvelope(c, env, "#c9ced8"); g.globalAlpha = 1; }
  g.strokeStyle = "#ffffff"; g.lineWidth = 1.5;
  for (const t of ev.onsets_s) { const x = Math.round(t * tl.px) + 0.5; g.beginPath(); g.moveTo(x, 2); g.lineTo(x, h - 2); g.stroke(); }
}

// ---- placement: azimuth and depth over time, the radar and the picture overlay -----------------------------------
const plots = {};
function placement() {
  const mk = (id, title, key, lo, hi, unit) => {
    const W = 600, H = 230, L = 42, R = 8, T = 10, B = 22, box = $(id);
    box.append(el("div", { class: "ttl", text: title }));
    const s = svg("svg", { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none" }); box.append(s);
    const x = (t) => L + (t / DUR) * (W - L - R), y = (v) => T + (1 - (v - lo) / (hi - lo)) * (H - T - B);
    for (const v of ticks(lo, hi, 5)) { s.append(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: "#2c313a" }));
      const t = svg("text", { x: L - 4, y: y(v) + 3, fill: "#8a93a3", "font-size": 10, "text-anchor": "end" }); t.textContent = v + unit; s.append(t); }
    for (const t of ticks(0, DUR, 6)) { const tx = svg("text", { x: x(t), y: H - 6, fill: "#8a93a3", "font-size": 10, "text-anchor": "middle" }); tx.textContent = t + " s"; s.append(tx); }
    const lines = {};
    for (const ev of EVENTS) {
      const cl = (D.clues || {})[ev.id]; if (!cl) continue;
      const pts = cl.t.map((t, i) => `${x(t).toFixed(1)},${y(Math.max(lo, Math.min(hi, cl[key][i]))).toFixed(1)}`).join(" ");
      const pl = svg("polyline", { points: pts, fill: "none", stroke: ev.colour, "stroke-width": 1.2, opacity: 0.8, "data-event": ev.id, class: "curve" });
      pl.addEventListener("click", () => select(ev.id)); s.append(pl); lines[ev.id] = pl;
    }
    const ph = svg("line", { y1: T, y2: H - B, stroke: "#ffd166", "stroke-width": 1.5 }); s.append(ph);
    plots[id] = { x, ph, lines };
  };
  const all = Object.values(D.clues || {});
  const azMax = Math.max(90, ...all.map((c) => Math.max(...c.az.map(Math.abs))));
  const dMax = DEPTH_MAX;
  mk("#plot-az", "azimuth, degrees (negative = left)", "az", azMax > 90 ? -180 : -90, azMax > 90 ? 180 : 90, "°");
  mk("#plot-depth", "depth, metres from the camera", "depth", 0, Math.ceil(dMax * 1.1), " m");
}
// a robust scale (95th percentile of every depth): one glitch at 116 m must not bunch every source at the listener
const DEPTH_MAX = Number(D.depth_scale_m) > 0 ? Number(D.depth_scale_m) : 2;
function ticks(lo, hi, n) { const st = niceStep((hi - lo) / n), out = []; for (let v = Math.ceil(lo / st) * st; v <= hi + 1e-9; v += st) out.push(Number(v.toFixed(6))); return out; }
function sampleAt(cl, t) { let i = 0, lo = 0, hi = cl.t.length - 1; while (lo <= hi) { const m = (lo + hi) >> 1; if (cl.t[m] <= t) { i = m; lo = m + 1; } else hi = m - 1; } return i; }
function activeAt(ev, t) { const cl = (D.clues || {})[ev.id]; if (t < ev.start_s || t > ev.end_s) return false; return !cl || cl.active.some(([a, b]) => t >= a && t < b); }
const OBJECTS = ((D.immersive || {}).objects) || {};
const BEHIND = Object.values(D.clues || {}).some((c) => c.az.some((a) => Math.abs(a) > 90)) || Object.keys(OBJECTS).length > 0;
function drawRadar(t) {  // top view: the listener at the centre (a full circle when anything is behind), depth to scale
  const c = $("#radar"), r = c.getBoundingClientRect(); if (c.width !== Math.round(r.width)) { c.width = Math.round(r.width); c.height = 240; }
  const g = c.getContext("2d"), W = c.width, H = c.height, cx = W / 2, cy = BEHIND ? H / 2 : H - 16, R = BEHIND ? Math.min(W, H) / 2 - 14 : H - 30;
  g.clearRect(0, 0, W, H);
  const dMax = DEPTH_MAX;
  g.strokeStyle = "#2e333d"; for (const f of [0.25, 0.5, 0.75, 1]) { g.beginPath(); g.arc(cx, cy, R * f, BEHIND ? 0 : Math.PI, 2 * Math.PI); g.stroke(); }
  g.fillStyle = "rgba(255,209,102,0.07)"; g.beginPath(); g.moveTo(cx, cy);
  g.arc(cx, cy, R, -Math.PI / 2 - (HFOV / 2) * Math.PI / 180, -Math.PI / 2 + (HFOV / 2) * Math.PI / 180); g.fill();
  g.fillStyle = "#8a93a3"; g.font = "10px monospace"; g.fillText(`${fmt(dMax, 0)} m`, cx + 3, cy - R + 10); g.fillText("L", 4, cy); g.fillText("R", W - 10, cy);
  g.fillStyle = "#ffd166"; g.beginPath(); g.arc(cx, cy, 4, 0, 2 * Math.PI); g.fill();
  for (const ev of EVENTS) {
    const cl = (D.clues || {})[ev.id]; if (!cl || !activeAt(ev, t)) continue;
    const i = sampleAt(cl, t), ob = OBJECTS[ev.id], j = ob ? sampleAt(ob, t) : -1;
    const azDeg = ob ? ob.az[j] : cl.az[i], far = cl.depth[i] > dMax;
    const az = azDeg * Math.PI / 180, d = Math.min(1, cl.depth[i] / dMax) * R;
    const x = cx + Math.sin(az) * d, y = cy - Math.cos(az) * d;
    g.fillStyle = ev.colour; g.strokeStyle = ev.colour; g.beginPath();
    if (ob) { const k = ev.id === state.selected ? 7 : 5; g.moveTo(x, y - k); g.lineTo(x + k, y); g.lineTo(x, y + k); g.lineTo(x - k, y); g.closePath(); }
    else g.arc(x, y, ev.id === state.selected ? 6 : 4, 0, 2 * Math.PI);
    if (far) g.stroke(); else g.fill();  // hollow: farther than the scale (drawn on its rim)
    if (ev.id === state.selected || EVENTS.length <= 6 || ob) {
      g.fillStyle = "#d9dde4"; g.fillText(ob ? `${ev.id} ${fmt(azDeg, 0)}°/${ob.el[j] >= 0 ? "+" : ""}${fmt(ob.el[j], 0)}°` : ev.id, x + 6, y - 4);
    }
  }
}
function immersivePanel() {
  if (BEHIND) { const n = $("#radarbox .panel-title .note"); if (n) n.textContent = "top view, listener at the centre, front up"; }  // the immersive deliveries' levels, and what the top view's diamonds are
  const F = (D.immersive || {}).formats || {}; if (!Object.keys(F).length) return;
  const rows = Object.entries(F).map(([k, f]) => el("tr", {}, el("td", { text: k }), el("td", { class: "n", text: String(f.channels) }),
    el("td", { class: "n", text: fmt(f.integrated_lufs) }), el("td", { class: "n", text: fmt(f.true_peak_dbtp) })));
  rows.forEach((r, i) => { const f = Object.values(F)[i]; r.title = f.file + (f.hrtf ? ` (HRTF: ${f.hrtf})` : ""); });
  $("#radarbox").append(el("div", { id: "immersive" }, el("div", { class: "note", text: "◆ objects: azimuth / elevation as the immersive mixes place them" }),
    el("table", {}, el("thead", {}, el("tr", {}, ...["delivery", "ch", "LUFS", "dBTP"].map((h, i) => el("th", { class: i ? "n" : "", text: h })))), el("tbody", {}, ...rows))));
}
function drawOverlay(t) {
  const c = $("#overlay"), vb = $("#videobox").getBoundingClientRect(), vw = D.video.width || 16, vh = D.video.height || 9;
  const vr = video.getBoundingClientRect(), scale = Math.min(vr.width / vw, vr.height / vh), ox = (vr.width - vw * scale) / 2, oy = (vr.height - vh * scale) / 2;
  if (c.width !== Math.round(vb.width) || c.height !== Math.round(vr.height)) { c.width = Math.round(vb.width); c.height = Math.round(vr.height); }
  const g = c.getContext("2d"); g.clearRect(0, 0, c.width, c.height); g.font = "12px system-ui"; g.lineWidth = 2;
  const f = (vw / 2) / Math.tan((HFOV / 2) * Math.PI / 180), beds = [];  // the run's own --hfov
  for (const ev of EVENTS) {
    if (!activeAt(ev, t)) continue;
    const cl = (D.clues || {})[ev.id], tr = ev.source_track !== null && ev.source_track !== undefined ? (D.tracks || {})[String(ev.source_track)] : null;
    g.strokeStyle = ev.colour; g.fillStyle = ev.colour;
    if (tr && tr.t.length && t >= tr.t[0] - 0.2 && t <= tr.t[tr.t.length - 1] + 0.2) {
      const b = tr.box[sampleAt(tr, t)], x = ox + b[0] * scale, y = oy + b[1] * scale;
      g.strokeRect(x, y, b[2] * scale, b[3] * scale); g.fillText(ev.id, x + 2, y - 4);
    } else if (cl && cl.source !== "scene") {
      const az = cl.az[sampleAt(cl, t)];
      if (Math.abs(az) < HFOV / 2) { const x = ox + (vw / 2 + f * Math.tan(az * Math.PI / 180)) * scale, y = oy + vh * scale * 0.5;
        g.beginPath(); g.arc(x, y, 9, 0, 2 * Math.PI); g.stroke(); g.fillText(ev.id, x + 12, y + 4); }
      else { const left = az < 0, x = left ? ox + 8 : ox + vw * scale - 8, y = oy + vh * scale * 0.5;
        g.beginPath(); g.moveTo(x, y); g.lineTo(x + (left ? 14 : -14), y - 9); g.lineTo(x + (left ? 14 : -14), y + 9); g.fill();
        g.textAlign = left ? "left" : "right"; g.fillText(`${ev.id} ${fmt(az, 0)}°`, x + (left ? 18 : -18), y + 4); g.textAlign = "left"; }
    } else beds.push(ev.id);
  }
  if (beds.length) { g.fillStyle = "rgba(0,0,0,0.55)"; g.fillRect(ox + 4, oy + vh * scale - 22, Math.min(vw * scale - 8, 14 + 7 * beds.join(", ").length), 18);
    g.fillStyle = "#4aa3df"; g.fillText("beds: " + beds.join(", "), ox + 10, oy + vh * scale - 9); }
}

// ---- selection: one event in the lanes, the strips, the plots and the inspector -----------------------------------
function select(id) {
  state.selected = id; const ev = EVENTS.find((e) => e.id === id); if (!ev) return;
  document.querySelectorAll(".row.lane").forEach((r) => r.classList.toggle("selected", r.dataset.event === id));
  for (const p of Object.values(plots)) for (const [k, pl] of Object.entries(p.lines)) { pl.setAttribute("stroke-width", k === id ? 3 : 1.2); pl.setAttribute("opacity", k === id ? 1 : 0.35); }
  renderStripStates();
  const ops = ((D.mix || {}).plan || {})[id] || [], feat = ((D.mix || {}).features || []).find((f) => f.event_id === id) || {};
  const known = (v) => v !== null && v !== undefined && v !== "" && !Number.isNaN(v);
  // key · value pairs; a field the event does not have (a screenplay event has no track) is left out, never "null"
  const facts = [["label", ev.label], ["layer", ev.layer], ["surface", ev.surface], ["origin", ev.origin], ["intensity", known(ev.intensity) ? fmt(ev.intensity, 2) : null],
    ["track", ev.source_track], ["azimuth", known(ev.azimuth_deg) ? fmt(ev.azimuth_deg, 0) + "°" : null], ["depth", known(ev.depth_m) ? fmt(ev.depth_m, 1) + " m" : null],
    ["confidence", known(ev.confidence) ? fmt(ev.confidence, 2) : null]].filter(([, v]) => known(v));
  const line = (pairs) => el("div", {}, ...pairs.flatMap(([k, v], i) => [el("span", { class: "k", text: (i ? " · " : "") + k + " " }), String(v)]));
  const stem = [["LUFS", fmt(feat.integrated_lufs)], ["peak dBFS", fmt(feat.peak_dbfs)], ["masked by beds dB", fmt(feat.masked_by_bg_db)], ["plan fader dB", fmt(FADERS[id])]].filter(([, v]) => v !== "–");
  const ins = $("#inspector"); ins.innerHTML = "";
  // the DOM's append writes a null as the text "null": every optional part goes through el(), which skips them
  ins.append(el("div", {}, el("h3", { text: ev.id }), line(facts),
    el("div", {}, el("span", { class: "k", text: "span " }), `${fmt(ev.start_s, 2)}–${fmt(ev.end_s, 2)} s (${tc(ev.start_s)}), ${ev.onsets_s.length} onsets`),
    ev.description ? el("p", { text: ev.description }) : null, ev.evidence ? el("p", {}, el("span", { class: "k", text: "evidence: " }), ev.evidence) : null,
    stem.length ? el("div", {}, el("span", { class: "k", text: "stem " }), line(stem)) : null,
    ...ops.map((o) => el("div", {}, el("span", { class: "op", text: `${o.expert} ${opParams(o.params)}` }), el("span", { class: "reason", text: o.reason || "" })))));
  if (window.FoleyEdits) window.FoleyEdits.inspect(ev, ins);
}
function opParams(p) { return Object.entries(p || {}).filter(([, v]) => v !== null && v !== undefined)
  .map(([k, v]) => `${k}=${typeof v === "number" ? Number(v.toFixed(2)) : Array.isArray(v) ? v.length + "×" : v}`).join(" "); }

// ---- every animation frame: clock, playhead, loop, overlay, radar, meters -------------------------------------------
let lastLufs = "";
function frame() {
  const t = clock.time;
  $("#clock").textContent = tc(t); $("#frame").textContent = `frame ${frameOf(t)}`;
  $("#play").innerHTML = clock.isPaused ? "&#9654;" : "&#10074;&#10074;";
  const ph = $("#playhead"); if (ph) ph.style.left = (220 + t * tl.px) + "px";
  for (const p of Object.values(plots)) { const x = p.x(t); p.ph.setAttribute("x1", x); p.ph.setAttribute("x2", x); }
  loop.tick(t);
  drawOverlay(t); drawRadar(t);
  if (audio.started && !clock.isPaused && audio.ctx) {  // keep Web Audio within 80 ms of the picture
    const expect = audio.started.clockTime + (audio.ctx.currentTime - audio.started.ctxTime);
    if (audio.ctx.currentTime > audio.started.ctxTime + 0.5 && Math.abs(expect - t) > 0.08) audio.start();
  }
  if (clock.fake && !clock.paused && clock.time >= DUR) clock.pause();
  const levels = audio.meters();
  document.querySelectorAll(".strip[data-strip]").forEach((row) => { const k = row.dataset.strip; if (k.startsWith("layer:")) return;
    row.querySelector(".meter i").style.width = meterPct(levels[k]) + "%"; });
  const md = $("#master-db"); if (md) md.textContent = Number.isFinite(levels.__master__) ? fmt(levels.__master__) + " dB" : "";
  const L = audio.loudnessAt(t), m = D.mix || {}, dl = m.delivery || {};
  const integ = state.mode === "5.1" ? (dl.surround_5_1 || {}).integrated_lufs : state.mode === "binaural" ? (dl.binaural || {}).integrated_lufs : (dl.stereo || m.master || {}).integrated_lufs;
  const text = L ? `M ${fmt(L.momentary)} S ${fmt(L.short_term)} I ${fmt(integ)} LUFS` : "";
  if (text !== lastLufs) { const lu = $("#lufs"); if (lu) lu.textContent = text; lastLufs = text; }
  requestAnimationFrame(frame);
}

header(); transport(); mixer(); timeline(); placement(); immersivePanel();
if (window.FoleyDecisions) window.FoleyDecisions(D, el, svg, fmt);
if (window.FoleyEdits) window.FoleyEdits.init();
select((EVENTS.find((e) => e.layer === "fg") || EVENTS[0] || {}).id);
$("#zoom").addEventListener("input", (e) => { state.zoom = Number(e.target.value); timeline(); select(state.selected); });
$("#spectra").addEventListener("change", (e) => { state.spectra = e.target.checked; timeline(); select(state.selected); });
if (!Object.keys((D.media || {}).spectra || {}).length) $("#spectra").disabled = true;
window.addEventListener("resize", () => { timeline(); select(state.selected); });
$("#foot").textContent = `report built from the run's output files in ${fmt(D.built_s, 2)} s · FoleyDesigner ${(((D.run || {}).versions) || {}).foleydesigner || ""}`;
window.foleyReport = { data: D, seek: (t) => clock.seek(t), time: () => clock.time, play: () => clock.play(), pause: () => clock.pause(),
  mixer: () => audio.state(), meters: () => audio.meters(), setMode: (m) => audio.setMode(m), select, step: (n) => clock.step(n),
  loop, markers, state: () => state, timecode: tc, loudness: (t) => audio.loudnessAt(t), edits: () => window.FoleyEdits && window.FoleyEdits.file() };
document.body.dataset.ready = "1";
requestAnimationFrame(frame);
