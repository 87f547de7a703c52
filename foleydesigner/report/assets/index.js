// Batch index: one row per run, sortable by clicking a column head, each linking to its report.
"use strict";
(function () {
  const D = JSON.parse(document.getElementById("report-data").textContent);
  const fmt = (v, d) => (v === null || v === undefined) ? "–" : Number(v).toFixed(d);
  document.getElementById("title").textContent = D.folder;
  document.getElementById("count").textContent = `${D.runs.length} runs`;
  const cols = [["run", (r) => r.dir, null], ["clip", (r) => r.clip || r.dir, null], ["duration s", (r) => r.duration_s, 2], ["events", (r) => r.events, 0],
    ["fg", (r) => r.fg, 0], ["stereo LUFS", (r) => r.lufs, 1], ["true peak dBTP", (r) => r.true_peak, 1], ["5.1 LUFS", (r) => r.lufs_51, 1],
    ["warnings", (r) => (r.warnings || []).length, 0], ["run s", (r) => r.total_s, 1], ["status", (r) => r.status, null], ["report", (r) => r.report, null]];
  const t = document.getElementById("runs"); let key = 0, dir = 1;
  function draw() {
    t.innerHTML = ""; const hr = document.createElement("tr");
    cols.forEach(([name], i) => { const th = document.createElement("th"); th.textContent = name + (i === key ? (dir > 0 ? " ▲" : " ▼") : "");
      th.className = cols[i][2] !== null ? "n" : ""; th.style.cursor = "pointer"; th.onclick = () => { dir = key === i ? -dir : 1; key = i; draw(); }; hr.append(th); });
    t.append(hr);
    const rows = D.runs.slice().sort((a, b) => { const x = cols[key][1](a), y = cols[key][1](b); return (x > y ? 1 : x < y ? -1 : 0) * dir; });
    for (const r of rows) {
      const tr = document.createElement("tr"); tr.dataset.run = r.dir;
      cols.forEach(([name, get, d]) => { const td = document.createElement("td"), v = get(r);
        if (name === "report") { if (v) { const a = document.createElement("a"); a.href = v; a.textContent = "open"; td.append(a); } else td.textContent = "–"; }
        else if (name === "warnings") { td.textContent = String(v); td.title = (r.warnings || []).join("\n"); td.className = "n" + (v ? " warn" : ""); }
        else if (name === "status") { td.textContent = v; td.className = v === "ok" ? "good" : v === "warnings" ? "warn" : "bad"; }
        else { td.textContent = d === null ? (v ?? "–") : fmt(v, d); if (d !== null) td.className = "n"; }
        tr.append(td); });
      t.append(tr);
    }
  }
  draw();
  document.body.dataset.ready = "1";
})();
