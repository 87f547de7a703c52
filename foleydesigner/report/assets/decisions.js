// The agents' decisions: mix plan, Tree-of-Thought, FilmScribe rounds, agent timeline, run facts.
"use strict";
window.FoleyDecisions = function (D, el, svg, fmt) {
  const tabs = document.getElementById("tabs"), body = document.getElementById("tabbody");
  const table = (cols, rows) => { const t = el("table"), hr = el("tr");
    for (const [name, cls] of cols) hr.append(el("th", { class: cls || "", text: name }));
    t.append(el("thead", {}, hr)); const tb = el("tbody"); for (const r of rows) { const tr = el("tr"); r.forEach((v, i) => tr.append(el("td", { class: cols[i][1] || "" }, v))); tb.append(tr); }
    t.append(tb); return t; };
  const card = (k, v, cls) => el("div", { class: "card" }, el("div", { class: "note", text: k }), el("div", { class: "big " + (cls || ""), text: v }));
  const pages = {};

  pages["Mix plan"] = () => {
    const m = D.mix; if (!m) return el("p", { text: "no mix_plan.json in this run" });
    const last = (m.rounds || [])[m.rounds.length - 1] || {}, dl = m.delivery || {};
    const out = el("div", { id: "mixplan" });
    out.append(el("div", { class: "cards" }, card("target", `${fmt(m.target_lufs)} LUFS / ${fmt(m.true_peak_dbtp)} dBTP`),
      card("stereo", `${fmt((dl.stereo || m.master || {}).integrated_lufs)} LUFS`), card("5.1", `${fmt((dl.surround_5_1 || {}).integrated_lufs)} LUFS`),
      card("downmix correlation", (dl.downmix_correlation || []).map((c) => fmt(c, 3)).join(" / ") || "–"),
      card("verification", `${(m.rounds || []).length} round(s), ${last.passed ? "passed" : "missed"}`, last.passed ? "good" : "bad"),
      card("space", m.space && m.space.rt60_s ? `RT60 ${fmt(m.space.rt60_s, 2)} s` : "–"), card("planner", m.planner || "–")));
    const after = last.fg_masked_by_bg_db || {};
    const rows = (m.features || []).map((f) => {
      const ops = el("div"); for (const o of (m.plan || {})[f.event_id] || []) ops.append(el("span", { class: "op", text: `${o.expert} ${Object.entries(o.params || {}).map(([k, v]) => `${k}=${typeof v === "number" ? Number(v.toFixed(2)) : Array.isArray(v) ? v.join(",") : v}`).join(" ")}` }), el("span", { class: "reason", text: o.reason }));
      const a = after[f.event_id];
      return [f.event_id, f.layer, fmt(f.integrated_lufs), fmt(f.peak_dbfs), fmt(f.crest_db), fmt(f.masked_by_bg_db),
        el("span", { class: a === undefined ? "" : a <= ((m.targets || {}).masking_limit_db ?? 3) ? "good" : "bad", text: fmt(a) }), ops];
    });
    out.append(table([["stem"], ["layer"], ["LUFS", "n"], ["peak dBFS", "n"], ["crest dB", "n"], ["masked by beds, before (dB)", "n"], ["after", "n"], ["operations and reasons"]], rows));
    out.append(el("h4", { text: "verification rounds" }), table([["round", "n"], ["passed"], ["layer LUFS"], ["fg − bg LU", "n"], ["missed"]],
      (m.rounds || []).map((r) => [String(r.round), el("span", { class: r.passed ? "good" : "bad", text: r.passed ? "yes" : "no" }),
        Object.entries(r.layer_lufs || {}).map(([k, v]) => `${k} ${fmt(v)}`).join(", "), fmt(r.fg_minus_bg_lu), (r.missed || []).map((x) => typeof x === "string" ? x : JSON.stringify(x)).join("; ") || "–"])));
    return out;
  };

  pages["ToT tree"] = () => {
    const T = D.tot; if (!T) return el("p", { text: "no tot_tree.json in this run" });
    const out = el("div", { class: "cols" }), detail = el("div", { id: "tot-detail" });
    const byDepth = {}; for (const n of T.nodes) (byDepth[n.depth] = byDepth[n.depth] || []).push(n);
    const depths = Object.keys(byDepth).map(Number), maxRows = Math.max(...Object.values(byDepth).map((l) => l.length));
    const W = 150 * (Math.max(...depths) + 1) + 40, H = Math.max(120, 46 * maxRows + 20), pos = {};
    for (const d of depths) byDepth[d].forEach((n, i) => { pos[n.id] = { x: 20 + d * 150, y: 10 + (i + 0.5) * (H - 20) / byDepth[d].length }; });
    const s = svg("svg", { id: "tot-svg", viewBox: `0 0 ${W} ${H}`, height: H });
    const onPath = new Set(T.path || []);
    for (const [a, b] of T.edges || []) if (pos[a] && pos[b]) s.append(svg("line", { x1: pos[a].x + 110, y1: pos[a].y, x2: pos[b].x, y2: pos[b].y,
      stroke: onPath.has(a) && onPath.has(b) ? "#ffd166" : "#454b57", "stroke-width": onPath.has(a) && onPath.has(b) ? 3 : 1.2 }));
    const colourOf = { winner: "#b8922a", kept: "#2f6e49", pruned: "#3a2f33", root: "#34405a", frontier: "#2b303a" };
    const show = (n) => {
      detail.innerHTML = ""; const sc = n.scores || {};
      detail.append(el("h3", { text: `${n.id} · ${n.status}` }), el("p", { text: [n.principle, n.operator].filter(Boolean).join(" / ") + (n.rationale ? ": " + n.rationale : "") }));
      if (n.scores) detail.append(table([["score"], ["value", "n"]], [["align", fmt(sc.align, 3)], ["layer", fmt(sc.layer, 3)], ["emotion", fmt(sc.emotion, 3)], ["total", fmt(sc.total, 3)]]),
        el("h4", { text: "facts behind the scores" }), table([["fact"], ["value", "n"]], Object.entries(sc.facts || {}).map(([k, v]) => [k, fmt(v, 3)])));
      if (sc.judge) detail.append(el("p", { text: `judge: ${JSON.stringify(sc.judge)}` }));
      if ((n.edits || []).length) detail.append(el("h4", { text: "edits" }), ...n.edits.map((e) => el("div", { class: "op", text: `${e.op} ${e.event_id} ${e.changes ? JSON.stringify(Object.fromEntries(Object.entries(e.changes).filter(([, v]) => v !== null && v !== false))) : ""}` })));
    };
    for (const n of T.nodes) {
      const p = pos[n.id], g = svg("g", { class: "tot-node", "data-node": n.id, "data-status": n.status });
      g.append(svg("rect", { x: p.x, y: p.y - 17, width: 110, height: 34, rx: 5, fill: colourOf[n.status] || "#2b303a", stroke: onPath.has(n.id) ? "#ffd166" : "#5a6170" }));
      const t1 = svg("text", { x: p.x + 8, y: p.y - 2, fill: "#e6e9ee", "font-size": 12, "font-weight": 600 }); t1.textContent = `${n.id} ${n.scores ? fmt(n.scores.total, 3) : ""}`;
      const t2 = svg("text", { x: p.x + 8, y: p.y + 12, fill: "#b3bac6", "font-size": 10 }); t2.textContent = (n.operator || n.status || "").slice(0, 18);
      g.append(t1, t2); g.addEventListener("click", () => show(n)); s.append(g);
    }
    out.append(el("div", {}, el("p", { class: "note", text: `${T.nodes.length} nodes; winner ${T.winner}; stopped: ${T.stop_reason}; ${JSON.stringify(T.params)}` }), s), detail);
    show(T.nodes.find((n) => n.id === T.winner) || T.nodes[0]);
    return out;
  };

  pages.FilmScribe = () => {
    const rows = D.scribe || []; if (!rows.length) return el("p", { text: "no FilmScribe lines in trace.jsonl" });
    return table([["round", "n"], ["step"], ["backend"], ["result"]], rows.map((r) => [String(r.iteration ?? "–"), r.step, r.backend,
      r.error ? el("span", { class: "bad", text: r.error }) : r.step === "validate"
        ? el("div", {}, el("span", { class: r.valid ? "good" : "bad", text: r.valid ? "valid" : "invalid" }), ...(r.issues || []).map((i) => el("div", { class: "reason", text: "• " + i })))
        : el("div", {}, el("div", { text: r.summary || "" }), ...(r.entities || []).map((e) => el("div", { class: "reason", text: e })))]));
  };

  pages.Agents = () => {
    const A = D.agents || { rows: [] }, span = Math.max(A.span_s || 0, ...A.rows.map((r) => r.end_s || 0), 1e-3);
    const tok = (D.run || {}).tokens || {}, cost = (D.run || {}).cost_usd;
    const out = el("div", { id: "agents" }, el("div", { class: "cards" }, card("calls", String(A.rows.reduce((s, r) => s + r.count, 0))),
      card("tokens in / out", `${tok.input || 0} / ${tok.output || 0}`), card("cost", cost === null || cost === undefined ? "n/a" : "$" + cost.toFixed(4)),
      card("retries", String(A.retries || 0), A.retries ? "warn" : ""), card("fallbacks", String((A.fallbacks || []).length), (A.fallbacks || []).length ? "bad" : ""),
      card("errors", String((A.errors || []).length), (A.errors || []).length ? "bad" : "")));
    const kindColour = { agent: "#f0a040", llm: "#c77dff", tool: "#4aa3df", node: "#8a93a3", fallback: "#e0605a" };
    out.append(table([["start s", "n"], ["node"], ["kind"], ["backend"], ["timeline"], ["latency s", "n"], ["tokens", "n"], ["cost", "n"], ["decision"]],
      A.rows.map((r) => [fmt(r.t_s, 2), r.node + (r.count > 1 ? ` ×${r.count}` : ""), r.kind, r.backend,
        el("div", { class: "gantt", style: "width:260px" }, el("div", { class: "gantt-bar", style: `left:${(r.t_s / span) * 100}%;width:${Math.max(0.5, (r.latency_s / span) * 100)}%;background:${kindColour[r.kind] || "#8a93a3"}` })),
        fmt(r.latency_s, 3), r.tokens_in || r.tokens_out ? `${r.tokens_in}/${r.tokens_out}` : "", r.cost_usd == null ? "" : "$" + Number(r.cost_usd).toFixed(4),
        el("span", { class: /^(ERROR|FALLBACK)/.test(r.decision) ? "bad" : "", text: r.decision })])));
    return out;
  };

  pages.Run = () => {
    const R = D.run || {}, tm = R.timings_s || {}, total = tm.total || 1;
    const bars = Object.entries(tm).filter(([k]) => k !== "total" && !k.includes("[") && !k.includes(".")).map(([k, v]) =>
      [k, fmt(v, 2), el("div", { class: "gantt", style: "width:300px" }, el("div", { class: "gantt-bar", style: `left:0;width:${(v / total) * 100}%;background:#4aa3df` }))]);
    return el("div", { class: "cols" }, el("div", {}, el("h4", { text: "stages (s)" }), table([["stage"], ["seconds", "n"], ["share"]], bars),
      el("h4", { text: "scene" }), el("p", { text: JSON.stringify(D.scene) }), ...(D.notes || []).map((n) => el("p", { class: "reason", text: n }))),
    el("div", {}, el("h4", { text: "backends" }), table([["seam"], ["backend"]], Object.entries(R.backends || {}).map(([k, v]) => [k, String(v)])),
      el("h4", { text: "versions" }), table([["package"], ["version"]], Object.entries(R.versions || {}).map(([k, v]) => [k, String(v)])), el("p", { text: `seed ${R.seed}` })));
  };

  const names = Object.keys(pages), built = {};
  const open = (name) => { for (const b of tabs.children) b.classList.toggle("on", b.dataset.tab === name);
    for (const [k, v] of Object.entries(built)) v.style.display = k === name ? "" : "none";
    if (!built[name]) { built[name] = el("div", { "data-page": name }, pages[name]()); body.append(built[name]); } };
  for (const n of names) tabs.append(el("button", { "data-tab": n, text: n, onclick: () => open(n) }));
  // every page is built up front (hidden), so a test or a search finds the ToT tree and the agents without clicks
  for (const n of names.slice().reverse()) open(n);
};
