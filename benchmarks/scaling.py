"""Pipeline cost vs clip length: time ÷ clip duration and peak memory for 10 s, 60 s and 300 s synthetic clips.

    python benchmarks/scaling.py [--kind single_mover] [--durations 10 60 300] [--work DIR]

Each run is the default `foley run` (heuristic agents, OpenCV vision, procedural generator) in a fresh child
process, so its peak RSS (getrusage high-water mark) belongs to that run alone; imports happen before the clock
starts. Per-stage timings come from the run's run.json. Targets on 2 cores: ≤ 0.5× real time and ≤ 2 GB at 300 s.
Growth is called linear when the log-log slope of time (and memory) against duration is ≤ 1.15.

`make_clip` renders at most 120 s and holds every frame in memory (~1× real time, ~0.7 MB per frame), so every
clip is one --segment-s clip (default 10 s: a car crossing at a normal speed) repeated by stream copy: no re-encode,
a 300 s clip in about a second, and the same content density at every length, so cost per second is comparable.
Peak RSS per stage comes from sampling /proc/self/statm every 20 ms. Numbers measured on a shared machine are
inflated by its load: the ratios, not the seconds, are the result.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

SEGMENT_S = 10.0


def make_long_clip(kind: str, path: Path, duration_s: float, *, segment_s: float = SEGMENT_S, seed: int = 0
                   ) -> tuple[Path, float]:
    """A synthetic clip of ceil(duration_s / segment_s) segments at 640x360 25 fps; (path, seconds to make it)."""
    import av

    from foleydesigner.bench.synthetic import make_clip

    t0 = time.perf_counter()
    if duration_s <= segment_s:
        make_clip(kind, path, width=640, height=360, fps=25.0, duration_s=duration_s, seed=seed)
        return path, time.perf_counter() - t0
    base = path.with_name(f"{kind}_{segment_s:.0f}s_base.mp4")
    if not base.exists():
        make_clip(kind, base, width=640, height=360, fps=25.0, duration_s=segment_s, seed=seed)
    copies = math.ceil(duration_s / segment_s)
    with av.open(str(path), "w") as dst:
        offset = 0
        ost = None
        for _ in range(copies):
            with av.open(str(base)) as src:
                ist = src.streams.video[0]
                if ost is None:
                    ost = dst.add_stream_from_template(ist)
                end = offset
                for pkt in src.demux(ist):
                    if pkt.dts is None:  # the demuxer's flush packet
                        continue
                    pkt.pts, pkt.dts = pkt.pts + offset, pkt.dts + offset
                    end = max(end, pkt.pts + (pkt.duration or 0))
                    pkt.stream = ost
                    dst.mux(pkt)
                offset = end
    return path, time.perf_counter() - t0


class _RssSampler(threading.Thread):
    """Peak resident memory per pipeline stage: RSS sampled every 20 ms, attributed to the stage that ends next."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak, self.per_stage, self._stop = 0, {}, threading.Event()  # type: ignore[var-annotated]
        self._page = os.sysconf("SC_PAGE_SIZE")

    def rss(self) -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * self._page

    def run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.rss())

    def stage_done(self, node: str) -> None:
        self.per_stage[node] = max(self.per_stage.get(node, 0), self.peak) / 2**20
        self.peak = self.rss()

    def stop(self) -> None:
        self._stop.set()


def child(clip: str, out: str) -> None:
    """One measured run (in its own process): prints a JSON line with wall time, peak RSS and stage timings."""
    import resource

    from foleydesigner.graphs.foley import build_foley_graph  # noqa: F401  (import cost outside the timing)
    from foleydesigner.pipeline import run_foley

    sampler = _RssSampler()
    sampler.start()
    t0 = time.perf_counter()
    state = run_foley(clip, out, force=True, on_stage=sampler.stage_done)
    wall = time.perf_counter() - t0
    sampler.stop()
    peak_kb = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    print(json.dumps({"wall_s": wall, "peak_rss_mb": peak_kb / 1024, "duration_s": state["run"]["video"]["duration_s"],
                      "timings_s": state["run"]["timings_s"], "events": len(state["script"]["events"]),
                      "tracks": len(state.get("tracks", [])), "stage_peak_rss_mb": sampler.per_stage}))


def _stages(timings: dict[str, float]) -> dict[str, float]:
    """run.json's stages, the generation branches summed (they are reported per event)."""
    out: dict[str, float] = {}
    for k, v in timings.items():
        key = "generate_stem (sum)" if k.startswith("generate_stem[") else k
        out[key] = out.get(key, 0.0) + v
    return out


def _slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of log y on log x (1 = linear growth)."""
    lx, ly = [math.log(x) for x in xs], [math.log(max(y, 1e-9)) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    den = sum((a - mx) ** 2 for a in lx)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly, strict=True)) / den if den else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kind", default="single_mover", help="bench.synthetic kind (single_mover, walker, crossing…)")
    ap.add_argument("--durations", type=float, nargs="+", default=[10.0, 60.0, 300.0])
    ap.add_argument("--segment-s", type=float, default=SEGMENT_S, help="length of the generated clip that is repeated")
    ap.add_argument("--work", type=Path, default=None, help="folder for clips and runs (default: a temp folder)")
    ap.add_argument("--child", nargs=2, metavar=("CLIP", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    work = args.work or Path(tempfile.mkdtemp(prefix="foley-scaling-"))
    work.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()[0]
    print(f"{os.cpu_count()} CPUs, load average {load:.1f} at start; work folder {work}")
    rows = []
    for d in args.durations:
        clip, make_s = make_long_clip(args.kind, work / f"{args.kind}_{d:.0f}s.mp4", d, segment_s=args.segment_s)
        proc = subprocess.run([sys.executable, __file__, "--child", str(clip), str(work / f"run_{d:.0f}s")],
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            print(proc.stderr[-3000:])
            raise SystemExit(f"run on the {d:.0f} s clip failed")
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        r["make_clip_s"] = make_s
        rows.append(r)
        stages = _stages(r["timings_s"])
        # Generation branches run in parallel, so their sum overstates wall time; the rest of the total is
        # decomposition (not in run.json) plus the generation's wall time.
        top = ("load_video", "extract_clues", "mix", "upmix", "export")
        stages["decompose + generate (wall)"] = stages["total"] - sum(stages.get(k, 0.0) for k in top)
        split = ", ".join(f"{k} {v / r['duration_s']:.3f}" for k, v in stages.items() if k != "total")
        print(f"{r['duration_s']:6.1f} s clip ({r['tracks']} tracks, {r['events']} events): "
              f"time/duration {r['wall_s'] / r['duration_s']:.3f}, peak RSS {r['peak_rss_mb']:.0f} MB, "
              f"make_clip/duration {make_s / r['duration_s']:.3f}")
        print(f"         per stage, s per clip second: {split}")
        mem = ", ".join(f"{k} {v:.0f}" for k, v in r["stage_peak_rss_mb"].items())
        print(f"         peak RSS (MB) while each stage ran: {mem}")
    if len(rows) > 1:
        durs = [r["duration_s"] for r in rows]
        t_slope = _slope(durs, [r["wall_s"] for r in rows])
        m_slope = _slope(durs, [r["peak_rss_mb"] for r in rows])
        print(f"log-log slope vs duration: time {t_slope:.2f} ({'linear' if t_slope <= 1.15 else 'super-linear'}), "
              f"peak memory {m_slope:.2f}")
    last = rows[-1]
    print(json.dumps({"load_avg_start": load, "kind": args.kind,
                      "runs": [{k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items() if k != "timings_s"}
                               | {"stages_s": {k: round(v, 3) for k, v in _stages(r["timings_s"]).items()}} for r in rows],
                      "target_met": last["wall_s"] / last["duration_s"] <= 0.5 and last["peak_rss_mb"] <= 2048}))


if __name__ == "__main__":
    main()
