"""report.html of a long run: build time, page size and load time in headless Chromium.

    python benchmarks/report_load.py [--duration 300] [--kind crossing] [--work DIR] [--loads 5]

Runs the default `foley run` on a synthetic clip of --duration seconds (a 10 s segment repeated by stream copy,
as benchmarks/scaling.py does), reads the build time the run's own report recorded, rebuilds it once more on its own (`foley report`) to time that, and opens the page from
file:// in headless Chromium --loads times. Load time is the page's own performance.now() when the report says
it is ready (navigation start → every panel drawn; media load lazily and are not counted), so the WebDriver's
overhead is not in it. Targets: the HTML under 5 MB (media excluded) and a load under 3 s at 300 s.
Prints ratios to the targets; the last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from scaling import make_long_clip  # benchmarks/ is on sys.path when this script runs

SIZE_BUDGET_MB, LOAD_BUDGET_S = 5.0, 3.0


def page_json(page: Path) -> dict:
    import re

    text = page.read_text(encoding="utf-8")
    return json.loads(re.search(r'<script id="report-data" type="application/json">(.*?)</script>', text, re.S).group(1))


def stems_vs_mix_db(run: Path) -> float:
    """Loudness of the Stems monitor's files (decoded, each at its offset, summed) minus the stereo mix's: the
    monitor with nothing soloed and every fader at its plan value (target: within 1 dB)."""
    import base64
    import io
    import re

    import av
    import numpy as np
    import soundfile as sf

    from foleydesigner.tools.loudness import integrated_lufs

    data = page_json(run / "report.html")
    mix, sr = sf.read(str(run / "mix_stereo.wav"), dtype="float32", always_2d=True)
    total = np.zeros_like(mix.T)
    for key, entry in data["media"]["audio"].items():
        if key.startswith("stem:"):
            text = (run / entry["src"]).read_text()
            blob = base64.b64decode(re.search(r'="([A-Za-z0-9+/=]+)";', text).group(1))
            with av.open(io.BytesIO(blob)) as c:
                x = np.concatenate([f.to_ndarray() for f in c.decode(audio=0)], axis=1)
            a = int(round(entry["offset_s"] * sr))
            n = min(x.shape[1], total.shape[1] - a)
            total[:, a:a + n] += x[:, :n]
    return integrated_lufs(total) - integrated_lufs(mix.T)


def measure_loads(page: Path, n: int) -> list[float]:
    from foleydesigner.report.browser import file_url, open_chromium

    driver = open_chromium()
    try:
        out = []
        for _ in range(n):
            driver.get("about:blank")
            driver.get(file_url(page))
            for _ in range(600):
                t = driver.execute_script("return document.body && document.body.dataset.ready === '1' ? performance.now() : null")
                if t is not None:
                    break
                time.sleep(0.01)
            else:
                raise RuntimeError("the report never said it was ready")
            severe = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
            if severe:
                raise RuntimeError(f"console errors: {severe}")
            out.append(t / 1000.0)
        return out
    finally:
        driver.quit()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=300.0)
    ap.add_argument("--kind", default="crossing")
    ap.add_argument("--work", type=Path, default=None, help="folder for the clip and the run (reused if present)")
    ap.add_argument("--loads", type=int, default=5)
    args = ap.parse_args()
    from foleydesigner.pipeline import run_foley
    from foleydesigner.report import write_report

    work = args.work or Path(tempfile.mkdtemp(prefix="foley-report-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    clip = work / f"{args.kind}_{args.duration:.0f}s.mp4"
    out = work / f"run_{args.duration:.0f}s"
    if not clip.exists():
        make_long_clip(args.kind, clip, args.duration)
    run_s = None
    if not (out / "run.json").exists():
        t0 = time.perf_counter()
        run_foley(clip, out, force=True)
        run_s = time.perf_counter() - t0
    in_run = page_json(out / "report.html")  # built by `foley run` itself, from the mixer's own strips
    in_run_s = float(in_run.get("built_s") or 0.0)
    in_run_stems_db = stems_vs_mix_db(out)
    t0 = time.perf_counter()
    page = write_report(out)  # `foley report DIR` later: the strips are gone, so the plan is rendered again
    build_s = time.perf_counter() - t0
    html_mb = page.stat().st_size / 2**20
    media_mb = sum(p.stat().st_size for p in (out / "report_media").rglob("*") if p.is_file()) / 2**20
    loads = measure_loads(page, args.loads)
    events = len(json.loads((out / "script.json").read_text())["events"])
    stems_db = stems_vs_mix_db(out)
    res = {"duration_s": args.duration, "events": events, "run_s": run_s, "report_build_s": round(build_s, 2),
           "build_per_clip_s": round(build_s / args.duration, 4),
           "in_run_build_s": round(in_run_s, 2), "in_run_stems_from": in_run.get("media", {}).get("stems_from"),
           "in_run_build_per_clip_s": round(in_run_s / args.duration, 4),
           "build_share_of_run": None if run_s is None else round(in_run_s / run_s, 3),
           "html_mb": round(html_mb, 3), "html_vs_budget": round(html_mb / SIZE_BUDGET_MB, 3), "media_mb": round(media_mb, 2),
           "load_s_median": round(statistics.median(loads), 3), "load_s_max": round(max(loads), 3),
           "load_vs_budget": round(statistics.median(loads) / LOAD_BUDGET_S, 3), "stems_minus_mix_lu": round(stems_db, 2),
           "in_run_stems_minus_mix_lu": round(in_run_stems_db, 2)}
    print(f"{args.duration:.0f} s clip, {events} events: report built by the run in {in_run_s:.1f} s "
          f"({res['in_run_build_per_clip_s']} s per clip second" + (f", {res['build_share_of_run']} of the run" if run_s else "")
          + f"; stems from the {res['in_run_stems_from']}), rebuilt alone by `foley report` in {build_s:.1f} s "
          f"({res['build_per_clip_s']} s per clip second)")
    print(f"HTML {html_mb:.2f} MB ({res['html_vs_budget']} of the 5 MB budget), media beside it {media_mb:.1f} MB")
    print(f"load in headless Chromium: median {res['load_s_median']} s, max {res['load_s_max']} s "
          f"({res['load_vs_budget']} of the 3 s budget)")
    print(f"Stems monitor (every fader at the plan, nothing soloed) minus the stereo mix: {in_run_stems_db:+.2f} LU "
          f"(the run's report), {stems_db:+.2f} LU (rebuilt)")
    print(json.dumps(res))


if __name__ == "__main__":
    main()
