// FoleyDesigner run report: picture, cue sheet, mixer (Web Audio), placement and the agents' decisions.
// Plain JS, no framework, no network: everything comes from the inline JSON and files beside the page.
"use strict";
const D = JSON.parse(document.getElementById("report-data").textContent);
const $ = (s) => document.querySelector(s);
const el = (tag, attrs, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else if (v !== null && v !== undefined) e.setAttribute(k, v);
  }
  for (const k of kids) if (k !== null && k !== undefined) e.append(k);
  return e;
};
const SVG = "http://www.w3.org/2000/svg";
const svg = (tag, attrs) => { const e = document.createElementNS(SVG, tag); for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v); return e; };
const fmt = (v, d = 1) => (v === null || v === undefined || Number.isNaN(v)) ? "–" : Number(v).toFixed(d);
const tc = (t) => { const ms = Math.round(t * 1000), h = Math.floor(ms / 3600000), m = Math.floor(ms / 60000) % 60, s = Math.floor(ms / 1000) % 60;
  return `${String(h).padStart(2, "0")}:${String(m).padStart(2, "0")}:${String(s).padStart(2, "0")}.${String(ms % 1000).padStart(3, "0")}`; };
const DUR = Math.max(D.duration_s, 0.001);
const EVENTS = D.events;
const HFOV = 60;  // degrees; the pipeline's default camera field of view (--hfov), used to place untracked sources
const colour = (i, layer) => `hsl(${(layer === "fg" ? 20 : 190) + (i * 47) % 120}, 70%, 60%)`;
EVENTS.forEach((e, i) => { e.colour = colour(i, e.layer); });
const state = { selected: null, mode: "stereo", zoom: 1 };

// ---- clock: the video is the master; without a playable video a wall clock stands in ------------------------
const video = $("#video");
const clock = { el: video, fake: !D.video.file, t0: 0, at: 0, paused: true,
  get time() { return this.fake ? (this.paused ? this.at : Math.min(DUR, this.at + (performance.now() - this.t0) / 1000)) : video.currentTime; },
  seek(t) { t = Math.max(0, Math.min(DUR, t)); if (this.fake) { this.at = t; this.t0 = performance.now(); audio.resync(); } else video.currentTime = t; },
  play() { if (this.fake) { this.paused = false; this.t0 = performance.now(); audio.start(); } else video.play().catch(() => {}); },
  pause() { if (this.fake) { this.at = this.time; this.paused = true; audio.stop(); } else video.pause(); },
  get isPaused() { return this.fake ? this.paused : video.paused; } };
if (D.video.file) {
  video.src = D.video.file;
  video.addEventListener("error", () => { clock.fake = true; addWarning("the browser cannot play this video (" + (D.video.codec || "?") + "): the clock runs without picture"); });
  video.addEventListener("play", () => audio.start());
  video.addEventListener("pause", () => audio.stop());
  video.addEventListener("seeked", () => audio.resync());
}

// ---- Web Audio: stereo mix, 5.1 (three channel pairs into a 6-channel merger) and the stems mixer ---------------
const audio = {
  ctx: null, master: null, buffers: {}, sources: [], started: null, loading: {},
  strips: {}, layers: { fg: { mute: false, solo: false, level: 0 }, bg: { mute: false, solo: false, level: 0 } }, speakers: {},
  available(key) { return !!(D.media && D.media.audio && D.media.audio[key]); },
  ensure() {
    if (this.ctx) return this.ctx;
    this.ctx = new AudioContext({ sampleRate: 48000, latencyHint: "playback" });
    const dest = this.ctx.destination;
    // a 6-channel destination plays 5.1 as is; a stereo one folds it down with the Web Audio "speakers" rule,
    // L + 0.707 (C + Ls): the ITU-R BS.775 downmix without the LFE
    if (dest.maxChannelCount >= 6) { dest.channelCount = 6; dest.channelInterpretation = "speakers"; }
    this.master = this.ctx.createGain();
    this.masterMeter = this.ctx.createAnalyser(); this.masterMeter.fftSize = 2048;
    this.master.connect(this.masterMeter); this.masterMeter.connect(dest);
    for (const ev of EVENTS) {
      const g = this.ctx.createGain(), a = this.ctx.createAnalyser(); a.fftSize = 2048;
      g.connect(a); a.connect(this.master);
      this.strips[ev.id] = Object.assign(this.strips[ev.id] || { mute: false, solo: false, level: 0 }, { gain: g, meter: a });
    }
    this.applyGains();
    return this.ctx;
  },
  keysFor(mode) {
    if (mode === "stereo") return ["mix:stereo"];
    if (mode === "5.1") return ["5.1:L_R", "5.1:C_LFE", "5.1:Ls_Rs"];
    if (mode === "stems") return EVENTS.map((e) => "stem:" + e.id).filter((k) => this.available(k));
    return [];
  },
  load(key) {  // a <script> tag: the only way a file:// page may read a neighbouring file
    if (this.buffers[key]) return Promise.resolve(this.buffers[key]);
    if (this.loading[key]) return this.loading[key];
    const src = D.media.audio[key].src;
    this.loading[key] = new Promise((resolve, reject) => {
      const s = el("script", { src }); s.onerror = () => reject(new Error("cannot load " + src));
      s.onload = () => {
        const b64 = (window.FOLEY_AUDIO || {})[key]; const bin = atob(b64), bytes = new Uint8Array(bin.length);
        for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
        delete window.FOLEY_AUDIO[key];
        this.ctx.decodeAudioData(bytes.buffer).then((buf) => { this.buffers[key] = buf; resolve(buf); }, reject);
      };
      document.head.append(s);
    });
    return this.loading[key];
  },
  async setMode(mode) {
    state.mode = mode; this.stop();
    video.muted = mode !== "video";
    document.querySelectorAll("#monitor button").forEach((b) => b.classList.toggle("on", b.dataset.mode === mode));
    if (mode !== "video") {
      this.ensure(); $("#monitor-note").textContent = "loading…";
      try { await Promise.all(this.keysFor(mode).map((k) => this.load(k))); $("#monitor-note").textContent = ""; }
      catch (err) { $("#monitor-note").textContent = String(err.message || err); }
    } else $("#monitor-note").textContent = "the video's own first audio track";
    if (!clock.isPaused) this.start();
  },
  stop() { for (const s of this.sources) { try { s.stop(); } catch (e) { /* already stopped */ } } this.sources = []; this.started = null; },
  start() {
    this.stop();
    if (state.mode === "video" || !this.ctx) return;
    const ctx = this.ctx; if (ctx.state === "suspended") ctx.resume();
    const t = clock.time, now = ctx.currentTime + 0.03;
    const play = (key, dest, output) => {
      const buf = this.buffers[key]; if (!buf) return;
      const off = D.media.audio[key].offset_s, pos = t - off;
      if (pos >= buf.duration) return;
      const s = ctx.createBufferSource(); s.buffer = buf;
      if (output === undefined) s.connect(dest); else s.connect(dest, 0, output);
      if (pos >= 0) s.start(now, pos); else s.start(now - pos, 0);
      this.sources.push(s);
    };
    if (state.mode === "stereo") play("mix:stereo", this.master);
    else if (state.mode === "5.1") {
      const merger = ctx.createChannelMerger(6); merger.channelInterpretation = "speakers";
      const names = ["L", "R", "C", "LFE", "Ls", "Rs"];
      ["5.1:L_R", "5.1:C_LFE", "5.1:Ls_Rs"].forEach((key, p) => {
        const split = ctx.createChannelSplitter(2);
        for (let c = 0; c < 2; c++) {
          const g = ctx.createGain(); const name = names[2 * p + c];
          g.gain.value = this.speakerOn(name) ? 1 : 0; split.connect(g, c); g.connect(merger, 0, 2 * p + c);
          this.speakers[name] = Object.assign(this.speakers[name] || {}, { gain: g });
        }
        play(key, split);
      });
      merger.connect(this.master);
    } else for (const ev of EVENTS) play("stem:" + ev.id, this.strips[ev.id].gain);
    this.started = { ctxTime: now, clockTime: t };
  },
  resync() { if (!clock.isPaused) this.start(); },
  speakerOn(name) { const sp = this.speakers, solo = Object.keys(sp).filter((k) => sp[k].solo);
    return solo.length ? solo.includes(name) : true; },
  audible(ev) {
    const st = this.strips[ev.id], ly = this.layers[ev.layer];
    const soloSet = EVENTS.filter((e) => this.strips[e.id].solo || this.layers[e.layer].solo);
    if (st.mute || ly.mute) return false;
    return soloSet.length ? soloSet.includes(ev) : true;
  },
  applyGains() {
    for (const ev of EVENTS) {
      const st = this.strips[ev.id], ly = this.layers[ev.layer];
      const g = this.audible(ev) ? Math.pow(10, (st.level + ly.level) / 20) : 0;
      st.effective = g; if (st.gain) st.gain.gain.setTargetAtTime(g, this.ctx.currentTime, 0.01), st.gain.gain.value = g;
    }
    for (const [name, sp] of Object.entries(this.speakers)) if (sp.gain) sp.gain.gain.value = this.speakerOn(name) ? 1 : 0;
  },
  level(analyser) {  // RMS of the last ~43 ms, dBFS
    if (!analyser || !this.started) return -Infinity;
    const buf = new Float32Array(analyser.fftSize); analyser.getFloatTimeDomainData(buf);
    let s = 0; for (const v of buf) s += v * v; return 10 * Math.log10(s / buf.length + 1e-20);
  },
  // what tests and developers read: the graph's state, and what each strip is passing right now
  state() {
    const stems = {};
    for (const ev of EVENTS) { const st = this.strips[ev.id] || {}; stems[ev.id] = { mute: !!st.mute, solo: !!st.solo, level_db: st.level || 0,
      gain: st.gain ? st.gain.gain.value : (st.effective ?? 1), audible: this.audible(ev) }; }
    return { mode: state.mode, context: this.ctx ? this.ctx.state : "none", sources: this.sources.length, stems,
      layers: JSON.parse(JSON.stringify(this.layers)), loaded: Object.keys(this.buffers) };
  },
  meters() { const out = {}; for (const ev of EVENTS) out[ev.id] = this.level(this.strips[ev.id] && this.strips[ev.id].meter); out.__master__ = this.level(this.masterMeter); return out; },
};
for (const ev of EVENTS) audio.strips[ev.id] = { mute: false, solo: false, level: 0 };

function touchMixer() { if (state.mode !== "stems" && audio.available("stem:" + (EVENTS[0] || {}).id)) audio.setMode("stems"); audio.applyGains(); renderStripStates(); }

// ---- header and warnings -------------------------------------------------------------------------------------
function addWarning(text) { $("#warnings").append(el("li", { text })); }
function header() {
  const m = D.mix || {}, dl = m.delivery || {}, st = dl.stereo || m.master || {}, s51 = dl.surround_5_1 || {};
  const b = (D.run && D.run.backends) || {}, fg = EVENTS.filter((e) => e.layer === "fg").length;
  const kv = (k, v) => el("span", { class: "kv" }, k + " ", el("b", { text: v }));
  $("#head").append(el("h1", { text: D.clip }), kv("duration", fmt(DUR, 2) + " s"), kv("events", `${EVENTS.length} (${fg} fg, ${EVENTS.length - fg} bg)`),
    kv("stereo", `${fmt(st.integrated_lufs)} LUFS / ${fmt(st.true_peak_dbtp)} dBTP`), kv("5.1", `${fmt(s51.integrated_lufs)} LUFS / ${fmt(s51.true_peak_dbtp)} dBTP`),
    kv("target", fmt(m.target_lufs) + " LUFS"), kv("backends", `llm ${b.llm || "?"} · vision ${b.vision || "?"} · generator ${b.generator || "?"}`),
    kv("run", fmt(((D.run || {}).timings_s || {}).total) + " s"));
  (D.warnings || []).forEach(addWarning);
  if (D.media && D.media.audio_note) addWarning(D.media.audio_note);
}

// ---- transport and monitor switch ------------------------------------------------------------------------------
function transport() {
  $("#play").addEventListener("click", () => (clock.isPaused ? clock.play() : clock.pause()));
  document.addEventListener("keydown", (e) => { if (e.code === "Space" && e.target === document.body) { e.preventDefault(); $("#play").click(); } });
  const modes = [["stereo", "Stereo mix", "mix:stereo"], ["5.1", "5.1", "5.1:L_R"], ["stems", "Stems", "stem:" + ((EVENTS[0] || {}).id)], ["video", "Video track", null]];
  for (const [mode, label, key] of modes) {
    const b = el("button", { "data-mode": mode, text: label, onclick: () => audio.setMode(mode) });
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
  $("#transport").append(spk);
}

// ---- mixer strips ---------------------------------------------------------------------------------------------
function mixer() {
  const strips = $("#strips");
  const strip = (key, name, colourOf, target, isGroup) => {
    const meter = el("div", { class: "meter" }, el("i"));
    const db = el("span", { class: "db", text: "0.0 dB" });
    const fader = el("input", { type: "range", min: "-40", max: "12", step: "0.5", value: "0", title: "level, dB",
      oninput: (e) => { target.level = Number(e.target.value); db.textContent = fmt(target.level) + " dB"; touchMixer(); } });
    const row = el("div", { class: "strip" + (isGroup ? " group" : ""), "data-strip": key },
      el("span", { class: "chip", style: `background:${colourOf}` }),
      el("span", { class: "name", text: name, title: name, onclick: () => !isGroup && select(key) }),
      el("button", { class: "mute", text: "M", title: "mute", onclick: () => { target.mute = !target.mute; touchMixer(); } }),
      el("button", { class: "solo", text: "S", title: "solo", onclick: () => { target.solo = !target.solo; touchMixer(); } }),
      fader, db, meter);
    strips.append(row);
  };
  for (const layer of ["fg", "bg"]) {
    const evs = EVENTS.filter((e) => e.layer === layer); if (!evs.length) continue;
    strip("layer:" + layer, layer === "fg" ? "Foreground" : "Background", layer === "fg" ? "var(--fg)" : "var(--bgl)", audio.layers[layer], true);
    for (const ev of evs) strip(ev.id, ev.id, ev.colour, audio.strips[ev.id], false);
  }
}
function renderStripStates() {
  document.querySelectorAll(".strip").forEach((row) => {
    const key = row.dataset.strip, t = key.startsWith("layer:") ? audio.layers[key.slice(6)] : audio.strips[key];
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
  for (let t = 0; t <= DUR + 1e-9; t += step) { const x = Math.round(t * tl.px) + 0.5; g.beginPath(); g.moveTo(x, 12); g.lineTo(x, 22); g.stroke(); g.fillText(tc(t).slice(3, step < 1 ? 10 : 8), x + 3, 10); }
  // shots and cuts
  const sh = row("shots", "shots / cuts", 30);
  for (const s of D.shots || []) {
    sh.trk.append(el("div", { class: "shot", style: `left:${s.start_s * tl.px}px;width:${Math.max(1, (s.end_s - s.start_s) * tl.px - 2)}px`,
      title: `shot ${s.index}: ${fmt(s.start_s, 2)}–${fmt(s.end_s, 2)} s ${s.camera}`, text: `#${s.index} ${s.camera}` }));
  }
  if (!(D.shots || []).length) sh.r.querySelector(".lab").append(el("span", { class: "note", text: "one shot" }));
  // spectrogram and mix waveform
  if (D.media && D.media.spectrogram) { const sp = row("spec", "mix spectrogram", 64); sp.trk.append(el("img", { src: D.media.spectrogram, alt: "spectrogram of the stereo mix", draggable: "false" })); }
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
      const c = canvasIn(ln.trk, 30); drawLane(c, ev, env[ev.id]);
      const alpha = 0.25 + 0.45 * (conf ?? 1);
      const cue = el("div", { class: "cue" + (conf !== null && conf !== undefined && conf < 0.5 ? " lowconf" : ""), "data-event": ev.id,
        style: `left:${ev.start_s * tl.px}px;width:${Math.max(3, (ev.end_s - ev.start_s) * tl.px)}px;background:${ev.colour.replace("60%)", `60%, ${alpha})`).replace("hsl", "hsla")}`,
        title: `${ev.label}: ${fmt(ev.start_s, 2)}–${fmt(ev.end_s, 2)} s, ${ev.onsets_s.length} onsets${conf != null ? ", confidence " + fmt(conf, 2) : ""}\n${ev.description || ""}` });
      cue.addEventListener("click", (e) => { e.stopPropagation(); select(ev.id); clock.seek(ev.start_s); });
      ln.trk.append(cue);
    }
  }
  for (const s of D.shots || []) if (s.start_s > 0) inner.append(el("div", { class: "cut", style: `left:${labW + s.start_s * tl.px}px`, title: `cut at ${fmt(s.start_s, 2)} s` }));
  inner.append(el("div", { id: "playhead" }));
}
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
  const dMax = Math.max(2, ...all.map((c) => Math.max(...c.depth)));
  mk("#plot-az", "azimuth, degrees (negative = left)", "az", azMax > 90 ? -180 : -90, azMax > 90 ? 180 : 90, "°");
  mk("#plot-depth", "depth, metres from the camera", "depth", 0, Math.ceil(dMax * 1.1), " m");
}
function ticks(lo, hi, n) { const st = niceStep((hi - lo) / n), out = []; for (let v = Math.ceil(lo / st) * st; v <= hi + 1e-9; v += st) out.push(Number(v.toFixed(6))); return out; }
function sampleAt(cl, t) { let i = 0, lo = 0, hi = cl.t.length - 1; while (lo <= hi) { const m = (lo + hi) >> 1; if (cl.t[m] <= t) { i = m; lo = m + 1; } else hi = m - 1; } return i; }
function activeAt(ev, t) { const cl = (D.clues || {})[ev.id]; if (t < ev.start_s || t > ev.end_s) return false; return !cl || cl.active.some(([a, b]) => t >= a && t < b); }
function drawRadar(t) {
  const c = $("#radar"), r = c.getBoundingClientRect(); if (c.width !== Math.round(r.width)) { c.width = Math.round(r.width); c.height = 240; }
  const g = c.getContext("2d"), W = c.width, H = c.height, cx = W / 2, cy = H - 16, R = H - 30;
  g.clearRect(0, 0, W, H);
  const all = Object.values(D.clues || {}), dMax = Math.max(2, ...all.map((cl) => Math.max(...cl.depth)));
  g.strokeStyle = "#2e333d"; for (const f of [0.25, 0.5, 0.75, 1]) { g.beginPath(); g.arc(cx, cy, R * f, Math.PI, 2 * Math.PI); g.stroke(); }
  g.fillStyle = "rgba(255,209,102,0.07)"; g.beginPath(); g.moveTo(cx, cy);
  g.arc(cx, cy, R, -Math.PI / 2 - (HFOV / 2) * Math.PI / 180, -Math.PI / 2 + (HFOV / 2) * Math.PI / 180); g.fill();
  g.fillStyle = "#8a93a3"; g.font = "10px monospace"; g.fillText(`${fmt(dMax, 0)} m`, cx + 3, cy - R + 10); g.fillText("L", 4, cy); g.fillText("R", W - 10, cy);
  g.fillStyle = "#ffd166"; g.beginPath(); g.arc(cx, cy, 4, 0, 2 * Math.PI); g.fill();
  for (const ev of EVENTS) {
    const cl = (D.clues || {})[ev.id]; if (!cl || !activeAt(ev, t)) continue;
    const i = sampleAt(cl, t), az = cl.az[i] * Math.PI / 180, d = Math.min(1, cl.depth[i] / dMax) * R;
    const x = cx + Math.sin(az) * d, y = cy - Math.cos(az) * d;
    g.fillStyle = ev.colour; g.beginPath(); g.arc(x, y, ev.id === state.selected ? 6 : 4, 0, 2 * Math.PI); g.fill();
    if (ev.id === state.selected || EVENTS.length <= 6) { g.fillStyle = "#d9dde4"; g.fillText(ev.id, x + 6, y - 4); }
  }
}
function drawOverlay(t) {
  const c = $("#overlay"), vb = $("#videobox").getBoundingClientRect(), vw = D.video.width || 16, vh = D.video.height || 9;
  const vr = video.getBoundingClientRect(), scale = Math.min(vr.width / vw, vr.height / vh), ox = (vr.width - vw * scale) / 2, oy = (vr.height - vh * scale) / 2;
  if (c.width !== Math.round(vb.width) || c.height !== Math.round(vr.height)) { c.width = Math.round(vb.width); c.height = Math.round(vr.height); }
  const g = c.getContext("2d"); g.clearRect(0, 0, c.width, c.height); g.font = "12px system-ui"; g.lineWidth = 2;
  const f = (vw / 2) / Math.tan((HFOV / 2) * Math.PI / 180), beds = [];
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
  const ins = $("#inspector"); ins.innerHTML = "";
  ins.append(el("h3", { text: ev.id }), el("div", {}, el("span", { class: "k", text: "label " }), ev.label, el("span", { class: "k", text: " · layer " }), ev.layer,
    el("span", { class: "k", text: " · origin " }), ev.origin || "–", el("span", { class: "k", text: " · intensity " }), fmt(ev.intensity, 2)),
  el("div", {}, el("span", { class: "k", text: "span " }), `${fmt(ev.start_s, 2)}–${fmt(ev.end_s, 2)} s, ${ev.onsets_s.length} onsets`,
    ev.source_track != null ? el("span", { class: "k", text: ` · track ${ev.source_track}` }) : null,
    ev.confidence != null ? el("span", {}, el("span", { class: "k", text: " · confidence " }), fmt(ev.confidence, 2)) : null),
  el("p", { text: ev.description || "" }), ev.evidence ? el("p", {}, el("span", { class: "k", text: "evidence: " }), ev.evidence) : null,
  el("div", {}, el("span", { class: "k", text: "stem " }), `${fmt(feat.integrated_lufs)} LUFS, peak ${fmt(feat.peak_dbfs)} dBFS, masked by beds ${fmt(feat.masked_by_bg_db)} dB`),
  ...ops.map((o) => el("div", {}, el("span", { class: "op", text: `${o.expert} ${opParams(o.params)}` }), el("span", { class: "reason", text: o.reason }))));
}
function opParams(p) { return Object.entries(p || {}).map(([k, v]) => `${k}=${typeof v === "number" ? Number(v.toFixed(2)) : Array.isArray(v) ? v.length + "×" : v}`).join(" "); }

// ---- the loop: playhead, clock, overlay, radar, meters -------------------------------------------------------------
function frame() {
  const t = clock.time;
  $("#clock").textContent = tc(t);
  $("#play").innerHTML = clock.isPaused ? "&#9654;" : "&#10074;&#10074;";
  const ph = $("#playhead"); if (ph) ph.style.left = (220 + t * tl.px) + "px";
  for (const p of Object.values(plots)) { const x = p.x(t); p.ph.setAttribute("x1", x); p.ph.setAttribute("x2", x); }
  drawOverlay(t); drawRadar(t);
  if (audio.started && !clock.isPaused && audio.ctx) {  // keep Web Audio within 80 ms of the picture
    const expect = audio.started.clockTime + (audio.ctx.currentTime - audio.started.ctxTime);
    if (audio.ctx.currentTime > audio.started.ctxTime + 0.5 && Math.abs(expect - t) > 0.08) audio.start();
  }
  if (clock.fake && !clock.paused && clock.time >= DUR) clock.pause();
  const levels = audio.meters();
  document.querySelectorAll(".strip").forEach((row) => { const k = row.dataset.strip; if (k.startsWith("layer:")) return;
    const db = levels[k]; row.querySelector(".meter i").style.width = Math.max(0, Math.min(100, (db + 60) / 60 * 100)) + "%"; });
  requestAnimationFrame(frame);
}

header(); transport(); mixer(); timeline(); placement();
if (window.FoleyDecisions) window.FoleyDecisions(D, el, svg, fmt);
select((EVENTS.find((e) => e.layer === "fg") || EVENTS[0] || {}).id);
$("#zoom").addEventListener("input", (e) => { state.zoom = Number(e.target.value); timeline(); select(state.selected); });
window.addEventListener("resize", () => { timeline(); select(state.selected); });
$("#foot").textContent = `report built from the run's output files in ${fmt(D.built_s, 2)} s · FoleyDesigner ${(((D.run || {}).versions) || {}).foleydesigner || ""}`;
window.foleyReport = { data: D, seek: (t) => clock.seek(t), time: () => clock.time, play: () => clock.play(), pause: () => clock.pause(),
  mixer: () => audio.state(), meters: () => audio.meters(), setMode: (m) => audio.setMode(m), select };
document.body.dataset.ready = "1";
requestAnimationFrame(frame);
