// FoleyDesigner run report, part 1: data, DOM helpers, time in frames and timecode, the clock, loop and markers.
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
const DUR = Math.max(D.duration_s, 0.001);
const FPS = Number(D.video.fps) > 0 ? Number(D.video.fps) : 25;
// Timecode counts frames at the nominal rate (29.97 → 30, non-drop), as an NLE's does
const TC_FPS = Math.max(1, Math.round(FPS));
const frameOf = (t) => Math.floor(t * FPS + 1e-6);
const pad = (n, w = 2) => String(n).padStart(w, "0");
const tc = (t) => { const f = frameOf(Math.max(0, t)), s = Math.floor(f / TC_FPS);
  return `${pad(Math.floor(s / 3600))}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}:${pad(f % TC_FPS)}`; };
const EVENTS = D.events;
const HFOV = Number(D.hfov_deg) > 0 ? Number(D.hfov_deg) : 60;  // the run's --hfov, to place untracked sources
const colour = (i, layer) => `hsl(${(layer === "fg" ? 20 : 190) + (i * 47) % 120}, 70%, 60%)`;
EVENTS.forEach((e, i) => { e.colour = colour(i, e.layer); });
const state = { selected: null, mode: "stereo", zoom: 1, spectra: false, loop: { on: false, a: null, b: null }, markers: [] };
const hooks = { redraw: [] };  // views that draw markers or the loop register here

// ---- clock: the video is the master; without a playable video a wall clock stands in ------------------------
const video = $("#video");
const clock = { el: video, fake: !D.video.file, t0: 0, at: 0, paused: true,
  get time() { return this.fake ? (this.paused ? this.at : Math.min(DUR, this.at + (performance.now() - this.t0) / 1000)) : video.currentTime; },
  seek(t) { t = Math.max(0, Math.min(DUR, t)); if (this.fake) { this.at = t; this.t0 = performance.now(); audio.resync(); } else video.currentTime = t; },
  play() { if (this.fake) { this.paused = false; this.t0 = performance.now(); audio.start(); } else video.play().catch(() => {}); },
  pause() { if (this.fake) { this.at = this.time; this.paused = true; audio.stop(); } else video.pause(); },
  get isPaused() { return this.fake ? this.paused : video.paused; },
  // one frame: to the middle of the next (or previous) frame, so a rounding never lands on the same one
  step(n) { this.pause(); this.seek((frameOf(this.time) + n + 0.5) / FPS); } };

if (D.video.file) {
  video.src = D.video.url || D.video.file;  // url: ./-relative and percent-encoded (a '#' in a clip name is no fragment)
  video.addEventListener("error", () => { clock.fake = true; addWarning("the browser cannot play this video (" + (D.video.codec || "?") + "): the clock runs without picture"); });
  // a codec the browser cannot decode may still play its sound: no error, but no picture either
  video.addEventListener("loadedmetadata", () => { if (!video.videoWidth) addWarning("the browser plays this video's sound but not its picture (" + (D.video.delivered_codec || D.video.codec || "?") + "): rebuild the report (foley report DIR) to make a preview"); });
  video.addEventListener("play", () => audio.start());
  video.addEventListener("pause", () => audio.stop());
  video.addEventListener("seeked", () => audio.resync());
}
function addWarning(text) { $("#warnings").append(el("li", { text })); }

// ---- loop a region and markers with notes (kept in this browser's storage, per run) ----------------------------
const loop = {
  set(which) { const t = clock.time; state.loop[which] = t;
    const { a, b } = state.loop; if (a !== null && b !== null && b < a) { state.loop.a = b; state.loop.b = a; }
    if (state.loop.a !== null && state.loop.b !== null) state.loop.on = true; this.changed(); },
  toggle() { if (state.loop.a === null || state.loop.b === null) return; state.loop.on = !state.loop.on; this.changed(); },
  clear() { state.loop = { on: false, a: null, b: null }; this.changed(); },
  changed() { const l = state.loop, b = $("#loop");
    if (b) { b.classList.toggle("on", l.on); b.textContent = l.a !== null && l.b !== null ? `loop ${tc(l.a)}–${tc(l.b)}` : "loop: I / O"; }
    for (const f of hooks.redraw) f(); },
  // called every animation frame: back to the loop's start when the playhead passes its end
  tick(t) { const l = state.loop; if (l.on && !clock.isPaused && l.b - l.a > 1 / FPS && t >= l.b) clock.seek(l.a); },
};
const STORE = "foley-markers:" + (D.run_dir || D.clip);
const markers = {
  load() { try { state.markers = JSON.parse(localStorage.getItem(STORE) || "[]"); } catch (e) { state.markers = []; } },
  save() { try { localStorage.setItem(STORE, JSON.stringify(state.markers)); } catch (e) { /* file:// storage may be off */ } },
  add(note) { state.markers.push({ t: Number(clock.time.toFixed(3)), tc: tc(clock.time), note: note || "" });
    state.markers.sort((a, b) => a.t - b.t); this.save(); this.changed(); },
  remove(i) { state.markers.splice(i, 1); this.save(); this.changed(); },
  changed() { const list = $("#markers"); if (list) { list.innerHTML = "";
    state.markers.forEach((m, i) => list.append(el("li", {}, el("a", { href: "#", text: m.tc, onclick: (e) => { e.preventDefault(); clock.seek(m.t); } }),
      " " + m.note + " ", el("button", { class: "x", text: "×", title: "delete marker", onclick: () => this.remove(i) })))); }
    for (const f of hooks.redraw) f(); },
  download() { download("markers.json", JSON.stringify({ clip: D.clip, fps: FPS, markers: state.markers }, null, 2)); },
};
function download(name, text) {  // a browser download: the page has no server to talk to
  const a = el("a", { href: URL.createObjectURL(new Blob([text], { type: "application/json" })), download: name });
  document.body.append(a); a.click(); setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
}
