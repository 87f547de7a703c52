// Part 2: Web Audio monitors: the stereo mix, 5.1 (three channel pairs into a 6-channel merger), the binaural mix
// (headphones) and the Stems mixer. The stem files are post-plan (EQ, dynamics, fader and master gain as mixed),
// so a fader set to the plan's value plays the stem at its mix level, and all strips at their plan values sum
// to the stereo mix. A fader move is an offset from the plan (what an edit's gain_db records).
"use strict";
const POST_PLAN = !!(D.media && D.media.stems_post_plan);
const FADERS = (D.media && D.media.faders_db) || {};
const RETURNS = "__returns__";
// one strip per stem, and the reverb returns (a shared bus no stem owns) when the run has them
const STRIPS = EVENTS.map((e) => ({ id: e.id, layer: e.layer, colour: e.colour }));
if (D.media && D.media.audio && D.media.audio["stem:" + RETURNS]) STRIPS.push({ id: RETURNS, layer: "fx", colour: "#9d8cff", name: "reverb returns" });
const audio = {
  ctx: null, master: null, buffers: {}, sources: [], started: null, loading: {},
  strips: {}, layers: { fg: { mute: false, solo: false, level: 0 }, bg: { mute: false, solo: false, level: 0 }, fx: { mute: false, solo: false, level: 0 } }, speakers: {},
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
    for (const s of STRIPS) {
      const g = this.ctx.createGain(), a = this.ctx.createAnalyser(); a.fftSize = 2048;
      g.connect(a); a.connect(this.master);
      Object.assign(this.strips[s.id], { gain: g, meter: a });
    }
    this.applyGains();
    return this.ctx;
  },
  keysFor(mode) {
    if (mode === "stereo") return ["mix:stereo"];
    if (mode === "binaural") return ["mix:binaural"];
    if (mode === "5.1") return ["5.1:L_R", "5.1:C_LFE", "5.1:Ls_Rs"];
    if (mode === "stems") return STRIPS.map((s) => "stem:" + s.id).filter((k) => this.available(k));
    return [];
  },
  load(key) {  // a script element: the only way a file:// page may read a neighbouring file
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
    const note = { binaural: "binaural: listen on headphones", stems: POST_PLAN ? "stems post-plan: faders start at the plan" : "raw stems (no plan)" }[mode] || "";
    if (mode !== "video") {
      this.ensure(); $("#monitor-note").textContent = "loading…";
      try { await Promise.all(this.keysFor(mode).map((k) => this.load(k))); $("#monitor-note").textContent = note; }
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
    else if (state.mode === "binaural") play("mix:binaural", this.master);
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
    } else for (const s of STRIPS) play("stem:" + s.id, this.strips[s.id].gain);
    this.started = { ctxTime: now, clockTime: t };
  },
  resync() { if (!clock.isPaused) this.start(); },
  speakerOn(name) { const sp = this.speakers, solo = Object.keys(sp).filter((k) => sp[k].solo);
    return solo.length ? solo.includes(name) : true; },
  audible(s) {
    const st = this.strips[s.id], ly = this.layers[s.layer];
    const soloSet = STRIPS.filter((x) => this.strips[x.id].solo || this.layers[x.layer].solo);
    if (st.mute || ly.mute) return false;
    return soloSet.length ? soloSet.includes(s) : true;
  },
  // the strip's gain over its file: the fader's offset from the plan (the file already carries the plan's fader)
  offsetDb(id) { const st = this.strips[id]; return st.level - (POST_PLAN ? st.plan : 0) + this.layers[STRIPS.find((s) => s.id === id).layer].level; },
  applyGains() {
    for (const s of STRIPS) {
      const st = this.strips[s.id], g = this.audible(s) ? Math.pow(10, this.offsetDb(s.id) / 20) : 0;
      st.effective = g; if (st.gain) st.gain.gain.setTargetAtTime(g, this.ctx.currentTime, 0.01), st.gain.gain.value = g;
    }
    for (const [name, sp] of Object.entries(this.speakers)) if (sp.gain) sp.gain.gain.value = this.speakerOn(name) ? 1 : 0;
  },
  level(analyser) {  // RMS of the last ~43 ms, dBFS
    if (!analyser || !this.started) return -Infinity;
    const buf = new Float32Array(analyser.fftSize); analyser.getFloatTimeDomainData(buf);
    let s = 0; for (const v of buf) s += v * v; return 10 * Math.log10(s / buf.length + 1e-20);
  },
  // BS.1770 momentary and short-term loudness of the monitored deliverable at t (measured when the report was built;
  // the stems monitor reads the stereo mix's, which its strips sum to at their plan values)
  loudnessAt(t) {
    const L = (D.media && D.media.loudness) || {}, c = L[{ "5.1": "5.1", binaural: "binaural" }[state.mode] || "stereo"];
    if (!c) return null;
    const at = (arr, win) => arr.length ? arr[Math.max(0, Math.min(arr.length - 1, Math.floor((t - win) / c.hop_s)))] : null;
    return { momentary: at(c.momentary, 0.4), short_term: at(c.short_term, 3.0) };
  },
  // what tests and developers read: the graph's state, and what each strip is passing right now
  state() {
    const stems = {};
    for (const s of STRIPS) { const st = this.strips[s.id] || {}; stems[s.id] = { mute: !!st.mute, solo: !!st.solo, level_db: st.level, plan_db: st.plan,
      gain: st.gain ? st.gain.gain.value : (st.effective ?? 1), audible: this.audible(s) }; }
    return { mode: state.mode, context: this.ctx ? this.ctx.state : "none", sources: this.sources.length, stems, post_plan: POST_PLAN,
      layers: JSON.parse(JSON.stringify(this.layers)), loaded: Object.keys(this.buffers) };
  },
  meters() { const out = {}; for (const s of STRIPS) out[s.id] = this.level(this.strips[s.id] && this.strips[s.id].meter); out.__master__ = this.level(this.masterMeter); return out; },
};
for (const s of STRIPS) { const plan = Number(FADERS[s.id] || 0); audio.strips[s.id] = { mute: false, solo: false, level: plan, plan }; }
function touchMixer() { if (state.mode !== "stems" && audio.available("stem:" + (STRIPS[0] || {}).id)) audio.setMode("stems"); audio.applyGains(); renderStripStates(); }
