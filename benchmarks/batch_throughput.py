"""`foley batch` against a sequential `foley run` loop: prints ratios measured in this run (nothing asserted).

    python benchmarks/batch_throughput.py [--clips 8] [--duration 10] [--workers 2]

Makes N synthetic clips of the given length (foleydesigner.bench.synthetic: walkers, balls, crossings), runs
`foley run` on each one after the other, then `foley batch` over the folder on a local Ray cluster of --workers
CPUs, then the same batch again (every job already done). Both are timed as a user would see them: wall clock
of the commands, Python start-up and imports included.

Prints: throughput ratio (loop time ÷ batch time; the ideal on 2 cores is 2), Ray's overhead per job (batch
wall time not spent inside jobs, with the jobs' own time shared over the workers, ÷ jobs), and the re-run time.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from foleydesigner.bench.synthetic import KINDS, make_clip

FOLEY = str(Path(sys.executable).with_name("foley"))


def _timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, default=8)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    kinds = [k for k in KINDS if k != "ambience_only"]
    with tempfile.TemporaryDirectory() as tmp:
        clips = Path(tmp) / "clips"
        clips.mkdir()
        for i in range(args.clips):
            make_clip(kinds[i % len(kinds)], clips / f"clip{i:02d}.mp4", width=640, height=360, fps=25.0,
                      duration_s=args.duration, seed=i)
            (clips / f"clip{i:02d}.truth.json").unlink()
        loop_s = sum(_timed([FOLEY, "run", str(c), "--out", str(Path(tmp) / "loop" / c.stem)])
                     for c in sorted(clips.glob("*.mp4")))
        batch_cmd = [FOLEY, "batch", str(clips), "--out", str(Path(tmp) / "batch"), "--workers", str(args.workers)]
        batch_s = _timed(batch_cmd)
        record = json.loads((Path(tmp) / "batch" / "batch.json").read_text())
        rerun_s = _timed(batch_cmd)
    inside = [j["elapsed_s"] for j in record["jobs"]]
    assert all(j["status"] == "done" for j in record["jobs"]), record["counts"]
    overhead = (batch_s - sum(inside) / args.workers) / len(inside)
    print(f"{args.clips} clips of {args.duration:g} s, 640x360 @ 25 fps; local Ray cluster of {args.workers} CPUs")
    print(f"sequential `foley run` loop: {loop_s:.1f} s ({loop_s / args.clips:.2f} s per clip)")
    print(f"`foley batch`: {batch_s:.1f} s; jobs' own time {sum(inside):.1f} s in all "
          f"({sum(inside) / len(inside):.2f} s per job, imports paid once per worker)")
    print(f"re-run with every job done: {rerun_s:.1f} s")
    print(f"throughput ratio (loop ÷ batch): {loop_s / batch_s:.2f}  (ideal on {args.workers} cores: {args.workers})")
    print(f"Ray overhead per job: {overhead:.2f} s ({overhead / (loop_s / args.clips):.2f} of a sequential run)")


if __name__ == "__main__":
    main()
