"""Write report.html (+ report_media/) into a run folder, and index.html over a folder of runs.

The page is one HTML file with its CSS, JS and data inline; media are referenced relatively (the muxed video,
report_media/spectrogram.png, report_media/audio/*.js), so the folder can be moved, zipped or opened offline.
"""

from __future__ import annotations

import html
import json
import logging
import re
import shutil
import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import Any

from foleydesigner.errors import InputError
from foleydesigner.report.collect import page_data
from foleydesigner.report.monitors import MEDIA_DIR, href, render_media
from foleydesigner.tools.export import atomic_write_text

log = logging.getLogger(__name__)
GENERATOR = "foleydesigner-report"  # <meta name=generator>: the only index.html/report.html we overwrite


def _asset(name: str) -> str:
    return (resources.files("foleydesigner.report") / "assets" / name).read_text(encoding="utf-8")


#: Scripts inlined into each page, in order, as one script (core.js defines what the others use; report.js runs).
_SCRIPTS = {"report.html": ("core.js", "audio.js", "decisions.js", "edits.js", "report.js"), "index.html": ("index.js",)}


#: Characters a JSON text inside <script> must not carry as is: `<` could open `<!--` or `</script>`, which
#: end or comment out the element (HTML's script data states); `>` and `&` for the same parsers, and U+2028/9,
#: line terminators to older JS engines. JSON allows each as a \\uXXXX escape, which JSON.parse reads back.
_SCRIPT_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def script_safe_json(data: Any) -> str:
    """JSON that no text inside it can end or comment out the <script> element it is inlined into."""
    text = json.dumps(data, separators=(",", ":"), default=str, ensure_ascii=False)
    return re.sub("[<>&\u2028\u2029]", lambda m: _SCRIPT_ESCAPES[m.group(0)], text)


def _page(template: str, title: str, data: dict[str, Any]) -> str:
    script = "\n".join(_asset(name) for name in _SCRIPTS[template])
    parts = {"{{TITLE}}": html.escape(title), "{{GENERATOR}}": GENERATOR, "/*{{CSS}}*/": _asset("report.css"),
             "/*{{JS}}*/": script, "{{DATA}}": script_safe_json(data)}
    # one pass over the template: a title or a clip name that reads like a placeholder is never expanded
    return re.sub("|".join(re.escape(k) for k in parts), lambda m: parts[m.group(0)], _asset(template))


def _check_ours(path: Path) -> None:
    if path.is_file() and GENERATOR not in path.read_text(encoding="utf-8", errors="replace")[:2000]:
        raise InputError(f"{path} exists and was not written by `foley report`; move it away first")


def write_report(run_dir: str | Path) -> Path:
    """Build report.html for one run folder; returns its path. Raises InputError when it is not a run folder."""
    t0 = time.perf_counter()
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputError(f"{run_dir} is not a folder; give the --out folder of a `foley run`")
    page = run_dir / "report.html"
    _check_ours(page)
    data = page_data(run_dir)
    staging = Path(tempfile.mkdtemp(prefix=f".{MEDIA_DIR}-", dir=run_dir))
    try:
        data["media"] = render_media(run_dir, data, staging)
        final = run_dir / MEDIA_DIR
        if final.exists():
            shutil.rmtree(final)
        staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    data["built_s"] = round(time.perf_counter() - t0, 3)
    atomic_write_text(page, _page("report.html", f"{data['clip']} — FoleyDesigner report", data))
    log.info("wrote %s in %.2f s", page, time.perf_counter() - t0)
    return page


def write_report_safe(run_dir: str | Path) -> Path | None:
    """write_report for the end of a run: a report that fails is a warning, never a failed run."""
    try:
        return write_report(run_dir)
    except Exception as exc:  # noqa: BLE001 - the run's deliverables are already written; the report is a view
        log.warning("report.html not written: %s: %s (rebuild it with `foley report DIR`)", exc.__class__.__name__, exc)
        return None


def _summary(run_dir: Path, base: Path) -> dict[str, Any]:
    """One index row from a run folder's contract files."""
    row: dict[str, Any] = {"dir": run_dir.relative_to(base).as_posix(), "status": "ok", "report": None}
    try:
        run = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
        script = json.loads((run_dir / "script.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        return {**row, "status": f"unreadable: {exc.__class__.__name__}"}
    plan = {}
    if (run_dir / "mix_plan.json").is_file():
        plan = json.loads((run_dir / "mix_plan.json").read_text(encoding="utf-8")).get("verification", {})
    delivery = plan.get("delivery", {})
    stereo = delivery.get("stereo") or plan.get("master") or {}
    warnings = run.get("warnings", [])
    row.update(clip=Path(run.get("video", {}).get("path", run_dir.name)).name, duration_s=script.get("duration_s"),
               events=len(script.get("events", [])), fg=sum(e.get("layer") == "fg" for e in script.get("events", [])),
               lufs=stereo.get("integrated_lufs"), true_peak=stereo.get("true_peak_dbtp"),
               lufs_51=(delivery.get("surround_5_1") or {}).get("integrated_lufs"), warnings=warnings,
               backends=run.get("backends", {}), total_s=run.get("timings_s", {}).get("total"))
    if warnings:
        row["status"] = "warnings"
    if (run_dir / "report.html").is_file():
        row["report"] = href(f"{row['dir']}/report.html")
    return row


def find_runs(folder: Path) -> list[Path]:
    """Run folders (holding run.json) directly inside folder or one level further down, sorted by path."""
    found = {p.parent for p in folder.glob("*/run.json")} | {p.parent for p in folder.glob("*/*/run.json")}
    return sorted(p for p in found if not p.name.startswith("."))


def write_index(folder: str | Path, *, rebuild: bool = True) -> Path:
    """index.html over every run under folder (and each run's report.html, unless rebuild=False)."""
    folder = Path(folder)
    runs = find_runs(folder) if folder.is_dir() else []
    if not runs:
        raise InputError(f"{folder} holds no run folders (none with a run.json); give a `foley run --out` folder "
                         "or a folder of them")
    index = folder / "index.html"
    _check_ours(index)
    rows = []
    for run_dir in runs:
        error = None
        if rebuild:
            try:
                write_report(run_dir)
            except Exception as exc:  # noqa: BLE001 - one broken run must not hide the others
                error = f"report failed: {exc}"
                log.warning("%s: %s", run_dir, error)
        row = _summary(run_dir, folder)
        if error:
            row["status"] = error
        rows.append(row)
    for failed in sorted(folder.glob("*.failed")):  # jobs that failed keep their evidence here (DESIGN.md)
        if failed.is_dir():
            rows.append({"dir": failed.name, "clip": failed.name.removesuffix(".failed"), "status": "failed",
                         "report": None, "warnings": []})
    atomic_write_text(index, _page("index.html", f"{folder.resolve().name} — FoleyDesigner runs",
                                   {"folder": folder.resolve().name, "runs": rows}))
    return index
