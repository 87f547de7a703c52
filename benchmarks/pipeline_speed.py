"""Pipeline speed on the bundled demo clip: prints ratios measured in this run (no absolute targets asserted).

    python benchmarks/pipeline_speed.py [CLIP] [--script FILE] [--runs N]

pipeline time ÷ clip duration (target on 2 cores: < 0.5) and pipeline time ÷ video decode time, plus the
per-stage split and the people-perception share (BlazePose inferences, tools/pose.py). Imports are done before
the clock starts (the target is "after imports"). With --runs N the run of median wall time is shown.

On a machine other jobs share, wall time swings with their load, so CPU time is printed beside it, from the same
run: the process's (all its threads, and its children), and per stage (the span between one graph node's end
and the next, and the report) the process's CPU and its busiest thread's (every thread's CPU time is sampled from
/proc every 50 ms: pose's XNNPACK threads, the graph's branch threads, the report's encoders). No stage can be
faster than its busiest thread, nor than its CPU shared by 2 cores: the sum over stages of the larger of the two
is the wall time 2 free cores would give ("2-core estimate"), CPU ÷ 2 the least any schedule could, and the sum
of the busiest threads alone the critical path (infinitely many cores).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import foleydesigner.pipeline as pipeline_module
from foleydesigner.cli import demo_clip, demo_screenplay
from foleydesigner.graphs.foley import build_foley_graph  # noqa: F401  (import cost outside the timing)
from foleydesigner.pipeline import run_foley
from foleydesigner.tools.pose import default_threads, shared_model
from foleydesigner.tools.video import iter_frames, probe_video


def process_cpu() -> float:
    """CPU seconds of this process (all threads) and of its finished children."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


class ThreadClock:
    """Every thread's CPU seconds (utime + stime from /proc/self/task), sampled every 50 ms in the background so a
    thread that ends between two stage marks still counts (to within one sample)."""

    def __init__(self) -> None:
        self.seen: dict[int, float] = {}
        self._lock, self._stop = threading.Lock(), threading.Event()
        self._tick = os.sysconf("SC_CLK_TCK")
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def sample(self) -> dict[int, float]:
        now = {}
        for tid in os.listdir("/proc/self/task"):
            try:
                with open(f"/proc/self/task/{tid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue  # ended meanwhile
            now[int(tid)] = (int(fields[11]) + int(fields[12])) / self._tick
        with self._lock:
            self.seen.update(now)
            return dict(self.seen)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.sample()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


def timed_run(clip: str, out: Path, script: str | None) -> tuple[float, float, list[dict[str, Any]]]:
    """One run_foley: wall, process CPU, and per stage (span ending at a graph node's end, or the report's):
    name, wall, CPU, busiest thread's CPU."""
    clock = ThreadClock()
    marks: list[tuple[str, float, float, dict[int, float]]] = []

    def mark(name: str) -> None:
        marks.append((name, time.perf_counter(), process_cpu(), clock.sample()))

    report = pipeline_module.write_report_safe

    def timed_report(run_dir: Any) -> Any:
        mark("(run.json)")
        try:
            return report(run_dir)
        finally:
            mark("report")

    pipeline_module.write_report_safe = timed_report
    try:
        mark("start")
        run_foley(clip, out, screenplay_path=script, on_stage=mark)
        mark("publish")
    finally:
        pipeline_module.write_report_safe = report
        clock.close()
    stages: list[dict[str, Any]] = []
    for (_, t0, c0, th0), (name, t1, c1, th1) in zip(marks, marks[1:], strict=False):
        busiest = max((v - th0.get(tid, 0.0) for tid, v in th1.items()), default=0.0)
        if stages and stages[-1]["name"] == name:  # generate_stem: one mark per branch
            st = stages[-1]
            st["wall"], st["cpu"], st["busiest"] = st["wall"] + t1 - t0, st["cpu"] + c1 - c0, st["busiest"] + busiest
        else:
            stages.append({"name": name, "wall": t1 - t0, "cpu": c1 - c0, "busiest": busiest})
    return marks[-1][1] - marks[0][1], marks[-1][2] - marks[0][2], stages


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("clip", nargs="?", default=str(demo_clip()))
    ap.add_argument("--script", default=None)
    ap.add_argument("--runs", type=int, default=1, help="timed runs (after one warm-up); the median one is shown")
    args = ap.parse_args()
    if args.runs < 1:
        ap.error("--runs must be ≥ 1")
    script = args.script or (str(demo_screenplay()) if args.clip == str(demo_clip()) else None)
    info = probe_video(args.clip)
    t0 = time.perf_counter()
    n = sum(1 for _ in iter_frames(args.clip))
    decode_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        run_foley(args.clip, Path(tmp) / "warm", screenplay_path=script)  # warm caches (first-call lazy imports)
        pose = shared_model()
        runs = []
        for i in range(args.runs):
            calls0, pose0 = pose.calls, pose.seconds
            total, cpu, split = timed_run(args.clip, Path(tmp) / f"out{i}", script)
            stages = json.loads((Path(tmp) / f"out{i}" / "run.json").read_text())["timings_s"]
            runs.append((total, cpu, stages, pose.calls - calls0, pose.seconds - pose0, split))
        runs.sort(key=lambda r: r[0])
        total, cpu, stages, calls, pose_s, split = runs[len(runs) // 2]
    dur = info.duration_s
    print(f"clip: {args.clip} ({dur:.1f} s, {n} frames, {info.width}x{info.height} @ {info.fps:.2f} fps)")
    print(f"video decode: {decode_s:.3f} s")
    print(f"pipeline: {total:.2f} s  (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    for k, v in stages.items():
        if not k.startswith("generate_stem["):
            print(f"  {k:>14}: {v:.3f} s")
    gen = sum(v for k, v in stages.items() if k.startswith("generate_stem["))
    print(f"  generate (sum of branches): {gen:.3f} s")
    print(f"  report + publish (after run.json's total): {total - stages.get('total', total):.3f} s")
    print("per stage (span to the node's end): wall, process CPU, busiest thread's CPU, 2-core bound")
    crit = est = 0.0
    for st in split:
        bound = max(st["busiest"], st["cpu"] / 2)
        crit, est = crit + st["busiest"], est + bound
        print(f"  {st['name']:>14}: {st['wall']:6.3f}  {st['cpu']:6.3f}  {st['busiest']:6.3f}  {bound:6.3f} s")
    print(f"pose: {calls} inferences ({calls / dur:.1f} per clip second), {pose_s:.2f} s = "
          f"{pose_s / total:.0%} of the pipeline, {1000 * pose_s / max(calls, 1):.1f} ms each on {default_threads()} threads")
    print(f"pose time / clip duration: {pose_s / dur:.3f}")
    if args.runs > 1:
        print(f"wall times of the {args.runs} runs: " + ", ".join(f"{r[0]:.2f}" for r in runs) + " s; CPU: "
              + ", ".join(f"{r[1]:.2f}" for r in runs) + " s")
    print(f"pipeline CPU time (all threads, children) / clip duration: {cpu / dur:.3f}  ({cpu:.2f} s; wall ÷ CPU "
          f"{total / cpu:.2f})")
    print(f"CPU ÷ 2 / clip duration (the floor on 2 cores): {cpu / 2 / dur:.3f}")
    print(f"critical path (busiest thread per stage, summed) / clip duration: {crit / dur:.3f}  ({crit:.2f} s)")
    print(f"2-core estimate (per stage the larger of busiest thread and CPU ÷ 2) / clip duration: {est / dur:.3f}  "
          f"({est:.2f} s)")
    print(f"pipeline time / clip duration: {total / dur:.3f}  (target < 0.5)")
    print(f"pipeline time / video decode time: {total / decode_s:.1f}")


if __name__ == "__main__":
    main()
