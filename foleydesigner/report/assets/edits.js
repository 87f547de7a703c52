// Part 4: a supervisor's edits: remove an event or restore a candidate, move an event or one onset, change its class,
// surface, layer or gain. They are listed in order and exported as edits.json (a download: the page has no server),
// which `foley run CLIP --out DIR2 --edits edits.json` applies, rendering only the stems that changed.
"use strict";
window.FoleyEdits = (function () {
  const FORMAT = "foleydesigner.edits/1";
  const V = D.vocabulary || { classes: [], candidates: [] };
  const ops = [];
  const byId = (id) => EVENTS.find((e) => e.id === id);
  const num = (v) => { const x = Number(String(v).trim()); return String(v).trim() === "" || !Number.isFinite(x) ? null : Number(x.toFixed(3)); };
  // The run folder the edits apply to: where this page lies (file://), else the folder's name at build time
  function runPath() {
    if (location.protocol === "file:") {
      let p = decodeURIComponent(location.pathname); p = p.slice(0, p.lastIndexOf("/"));
      return /^\/[A-Za-z]:\//.test(p) ? p.slice(1) : p;  // file:///C:/runs/x → C:/runs/x
    }
    return D.run_dir || null;
  }
  function file() { const f = { format: FORMAT, edits: ops.map((o) => ({ ...o })) }; const r = runPath(); if (r) f.run = r; return f; }
  function problem(text) { const p = $("#edit-error"); if (p) p.textContent = text || ""; return !text; }
  // the same checks the run makes, so a bad edit is refused here rather than by `foley run`
  function check(op) {
    const ev = byId(op.id);
    if (op.op === "restore") return (V.candidates || []).some((c) => c.id === op.id) ? "" : `no candidate ${op.id}`;
    if (!ev) return `no event ${op.id}`;
    if (op.op === "move") { const start = op.to_s ?? ev.start_s + op.by_s;
      if (!(start >= 0 && start < DUR)) return `${op.id} would start at ${fmt(start, 3)} s, outside the clip (0–${fmt(DUR, 3)} s)`; }
    if (op.op === "move_onset") { const t0 = ev.onsets_s[op.index]; if (t0 === undefined) return `${op.id} has no onset ${op.index}`;
      const t = op.to_s ?? t0 + op.by_s; if (!(t >= 0 && t < DUR)) return `onset ${op.index} of ${op.id} would be at ${fmt(t, 3)} s, outside the clip`; }
    if (op.op === "set") {
      if (op.label && !V.classes.some((c) => c.name === op.label)) return `unknown class ${op.label}`;
      if (op.layer && !["fg", "bg"].includes(op.layer)) return `layer must be fg or bg`;
      if (op.gain_db !== undefined && !(op.gain_db >= -40 && op.gain_db <= 20)) return "gain must be within -40 to +20 dB";
      if (Object.keys(op).length <= 2) return "nothing to set";
    }
    return "";
  }
  function add(op) {
    if (!problem(check(op))) return false;
    ops.push(op); render(); return true;
  }
  function drop(i) { ops.splice(i, 1); render(); }
  function render() {
    const list = $("#edit-list"); if (!list) return; list.innerHTML = "";
    ops.forEach((o, i) => list.append(el("li", { "data-op": o.op }, el("code", { text: JSON.stringify(o) }), " ",
      el("button", { class: "x", text: "×", title: "drop this edit", onclick: () => drop(i) }))));
    $("#edit-count").textContent = `${ops.length} edit${ops.length === 1 ? "" : "s"}`;
    const removed = new Set(ops.filter((o) => o.op === "remove").map((o) => o.id)), touched = new Set(ops.map((o) => o.id));
    document.querySelectorAll(".row.lane[data-event]").forEach((r) => { r.classList.toggle("removed", removed.has(r.dataset.event));
      r.classList.toggle("edited", touched.has(r.dataset.event) && !removed.has(r.dataset.event)); });
    document.querySelectorAll("#candidates li").forEach((li) => li.classList.toggle("restored", ops.some((o) => o.op === "restore" && o.id === li.dataset.candidate)));
    ghosts();
  }
  // where the moves put each event and onset, drawn dashed in its lane (the lanes are rebuilt on zoom: redrawn then)
  function ghosts() {
    document.querySelectorAll(".ghost").forEach((g) => g.remove());
    const shift = {}, onsets = {};
    for (const o of ops) { const ev = byId(o.id); if (!ev) continue;
      if (o.op === "move") { shift[o.id] = o.to_s !== undefined ? o.to_s - ev.start_s : (shift[o.id] || 0) + o.by_s; }
      if (o.op === "move_onset") { const was = onsets[o.id + ":" + o.index] ?? ev.onsets_s[o.index] + (shift[o.id] || 0);
        onsets[o.id + ":" + o.index] = o.to_s !== undefined ? o.to_s : was + o.by_s; } }
    for (const [id, by] of Object.entries(shift)) { const ev = byId(id), trk = document.querySelector(`.row.lane[data-event="${CSS.escape(id)}"] .trk`); if (!trk) continue;
      trk.append(el("div", { class: "ghost", style: `left:${(ev.start_s + by) * tl.px}px;width:${Math.max(3, (ev.end_s - ev.start_s) * tl.px)}px`, title: `${id} moved ${by >= 0 ? "+" : ""}${fmt(by, 3)} s` })); }
    for (const [key, t] of Object.entries(onsets)) { const id = key.slice(0, key.lastIndexOf(":")), trk = document.querySelector(`.row.lane[data-event="${CSS.escape(id)}"] .trk`); if (!trk) continue;
      trk.append(el("div", { class: "ghost tick", style: `left:${t * tl.px}px`, title: `${id} onset ${key.slice(key.lastIndexOf(":") + 1)} → ${fmt(t, 3)} s` })); }
  }
  hooks.redraw.push(ghosts);
  // fader moves in the Stems mixer become `set gain_db` edits: the offset from the plan's fader
  function faders() {
    let n = 0;
    for (const ev of EVENTS) { const st = audio.strips[ev.id]; if (!st) continue; const off = Number((st.level - st.plan).toFixed(1));
      if (Math.abs(off) >= 0.5) { for (let i = ops.length - 1; i >= 0; i--) if (ops[i].op === "set" && ops[i].id === ev.id && Object.keys(ops[i]).length === 3 && "gain_db" in ops[i]) ops.splice(i, 1);
        if (add({ op: "set", id: ev.id, gain_db: off })) n++; } }
    if (!n) problem("no fader is away from its plan value by 0.5 dB or more");
  }
  function init() {
    const box = $("#edits"); if (!box) return;
    const cands = el("ul", { id: "candidates" });
    for (const c of V.candidates || []) cands.append(el("li", { "data-candidate": c.id }, el("b", { text: c.id }),
      ` ${c.label} · ${c.layer} · ${fmt(c.start_s, 2)}–${fmt(c.end_s, 2)} s · ${c.onsets} onsets · confidence ${fmt(c.confidence, 2)} `,
      el("button", { text: "restore", onclick: () => add({ op: "restore", id: c.id }) }), c.evidence ? el("div", { class: "reason", text: c.evidence }) : null));
    if (!(V.candidates || []).length) cands.append(el("li", { class: "note", text: "no candidates: every spotted sound was rendered" }));
    box.append(el("div", { class: "cols" },
      el("div", {}, el("h4", {}, el("span", { id: "edit-count", text: "0 edits" }), el("span", { class: "note", text: "applied in this order by foley run … --edits edits.json" })),
        el("ol", { id: "edit-list" }), el("div", { id: "edit-error", class: "bad" }),
        el("button", { id: "export-edits", text: "Export edits.json", onclick: () => ops.length ? download("edits.json", JSON.stringify(file(), null, 2) + "\n") : problem("no edits to export") }),
        el("button", { id: "fader-edits", text: "Add fader moves", title: "each Stems fader away from its plan value becomes a gain edit", onclick: faders }),
        el("p", { class: "note", text: "Select an event (cue sheet or mixer) to edit it in the inspector above." })),
      el("div", {}, el("h4", { text: "Candidates (spotted, not rendered)" }), cands)));
    render();
  }
  // the selected event's edit controls, under its facts in the inspector
  function inspect(ev, ins) {
    const inp = (id, value, w, title) => el("input", { id, type: "text", value: value === undefined ? "" : String(value), size: String(w || 6), title: title || "" });
    const opts = (items, cur) => items.map(([v, t]) => { const o = el("option", { value: v, text: t }); if (v === cur) o.selected = true; return o; });
    const onsetSel = el("select", { id: "edit-onset" }, ...ev.onsets_s.map((t, i) => el("option", { value: String(i), text: `#${i} ${fmt(t, 3)} s` })));
    const classes = V.classes.length ? V.classes.map((c) => [c.name, `${c.name} (${c.layer})`]) : [[ev.label, ev.label]];
    if (!classes.some(([n]) => n === ev.label)) classes.unshift([ev.label, ev.label]);
    const st = audio.strips[ev.id] || { level: 0, plan: 0 };
    // only the surfaces the chosen class's generator takes (a footstep's, not a door's)
    const surfaceSel = el("select", { id: "edit-surface" });
    const surfaces = (name) => { const c = V.classes.find((x) => x.name === name), list = (c && c.surfaces) || [];
      surfaceSel.innerHTML = ""; surfaceSel.append(...opts([["", "–"], ...list.map((x) => [x, x])], name === ev.label ? (ev.surface || "") : ""));
      surfaceSel.disabled = !list.length; };
    surfaces(ev.label);
    const setBtn = () => { const op = { op: "set", id: ev.id }, lab = $("#edit-label").value, sur = $("#edit-surface").value, lay = $("#edit-layer").value, g = num($("#edit-gain").value);
      if (lab && lab !== ev.label) op.label = lab; if (sur && sur !== (ev.surface || "")) op.surface = sur; if (lay !== ev.layer) op.layer = lay; if (g !== null && g !== 0) op.gain_db = g;
      add(op); };
    const box = el("div", { class: "editbox", "data-edit-for": ev.id },
      el("div", {}, el("b", { text: "edit " }), el("button", { id: "edit-remove", text: "remove", onclick: () => add({ op: "remove", id: ev.id }) })),
      el("div", {}, "move by ", inp("edit-by", "0.5", 5, "seconds, + later"), " s ", el("button", { id: "edit-move", text: "move",
        onclick: () => { const by = num($("#edit-by").value); if (by === null) problem("give a number of seconds"); else add({ op: "move", id: ev.id, by_s: by }); } }),
        " ", el("button", { id: "edit-move-to", text: "start at playhead", onclick: () => add({ op: "move", id: ev.id, to_s: Number(clock.time.toFixed(3)) }) })),
      ev.onsets_s.length ? el("div", {}, "onset ", onsetSel, " by ", inp("edit-onset-by", "0.1", 5), " s ",
        el("button", { id: "edit-move-onset", text: "move onset", onclick: () => { const by = num($("#edit-onset-by").value);
          if (by === null) problem("give a number of seconds"); else add({ op: "move_onset", id: ev.id, index: Number(onsetSel.value), by_s: by }); } }),
        " ", el("button", { text: "to playhead", onclick: () => add({ op: "move_onset", id: ev.id, index: Number(onsetSel.value), to_s: Number(clock.time.toFixed(3)) }) })) : null,
      el("div", {}, "class ", el("select", { id: "edit-label", onchange: (e) => surfaces(e.target.value) }, ...opts(classes, ev.label)), " surface ", surfaceSel,
        " layer ", el("select", { id: "edit-layer" }, ...opts([["fg", "fg"], ["bg", "bg"]], ev.layer)),
        " gain ", inp("edit-gain", fmt(st.level - st.plan, 1), 4, "dB over the plan's fader (the Stems fader's offset)"), " dB ",
        el("button", { id: "edit-set", text: "set", onclick: setBtn })));
    // right under the event's facts and span, above its description and plan, so it is seen without scrolling
    const wrap = ins.firstElementChild, anchor = wrap && wrap.children[2];
    if (anchor) anchor.after(box); else ins.append(box);
  }
  return { init, inspect, add, drop, file, ops: () => ops.slice() };
})();
