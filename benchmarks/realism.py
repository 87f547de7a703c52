"""Sounds heard as what they claim: every class rendered by each generator, judged by the aiSFX judge.

    python benchmarks/realism.py [--generators hybrid,procedural] [--judge-sets 1,2] [--references DIR]
                                 [--renders DIR] [--demo RUN_DIR]

Each generator renders one 2 s `<class>.wav` per class, as `foley sounds --render` does; the judge
(`foleydesigner.eval.realism_judge`) ranks each against groups of real recordings from Debian packages that the
generator never plays (fetched with apt-get on the first run, `eval/judge_references.tsv`). Per class: the nearest
real group, top-1, the distance to the right group ÷ that group's real-to-real distance, the MFCC distance (the
older figure, secondary), and the share of 10 ms frames 90 dB under the render's peak (digital silence). Then per
generator: top-1 and the median ratio over classes with a real group, FAD on the aiSFX embedding (not comparable
with the paper's VGGish FAD 1.88), and rendering speed as a multiple of real time. `--demo DIR` judges a
`foley demo` run's stems as well (the footsteps' nearest groups). Every judgement is made with each judge set
(`--judge-sets`, default both: 1 the original references, 2 with the thin groups widened), side by side in one
run, the real recordings' row re-measured per set. `--renders DIR` judges a folder of `<class>.wav` instead of
rendering (one generator).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from foleydesigner.eval.realism import judge, renders_in, stems_in, table
from foleydesigner.generation.examples import render_classes

SECONDS = 2.0


def silence_share(path: Path) -> float:
    x, sr = sf.read(str(path), always_2d=True)
    hop = sr // 100
    n = x.shape[0] // hop
    db = 10 * np.log10(np.mean(x[: n * hop].reshape(n, hop, -1) ** 2, axis=(1, 2)) + 1e-30)
    return float(np.mean(db - 20 * np.log10(np.abs(x).max() + 1e-30) < -90.0))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--generators", default="hybrid,procedural")
    ap.add_argument("--references", type=Path, default=None, help="the judge's reference cache")
    ap.add_argument("--demo", type=Path, default=None, help="a `foley demo` output folder to judge too")
    ap.add_argument("--judge-sets", default="1,2", help="the judge's reference sets, each judged in turn")
    ap.add_argument("--renders", type=Path, default=None, help="judge these <class>.wav files, not fresh renders")
    args = ap.parse_args()
    sets = [int(k) for k in args.judge_sets.split(",")]
    for gen in ([f"renders in {args.renders}"] if args.renders else args.generators.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            folder = args.renders or Path(tmp)
            paths = sorted(folder.glob("*.wav")) if args.renders else render_classes(tmp, generator=gen,
                                                                                     seconds=SECONDS)
            speed = len(paths) * SECONDS / (time.perf_counter() - t0)
            for k in sets:
                report = judge(renders_in(folder), references=args.references, judge_set=k)
                print(f"\n## --generator {gen}, judge set {k}\n" if not args.renders else f"\n## {gen}, judge set {k}\n")
                print(table(report))
            silent = {p.stem: silence_share(p) for p in paths}
            worst = sorted(((s, c) for c, s in silent.items() if s > 0.2), reverse=True)
            print(f"classes with > 20 % digital silence: {len(worst)} {[f'{c} {s:.0%}' for s, c in worst]}")
            if not args.renders:
                print(f"rendering: {speed:.0f}× real time ({len(paths)} classes × {SECONDS:g} s)")
    for k in sets if args.demo else ():
        report = judge(stems_in(args.demo), references=args.references, judge_set=k)
        print(f"\n## stems of {args.demo}, judge set {k}\n")
        print(table(report))
        steps = [v for v in report.verdicts if v.cls == "footsteps"]
        print(f"footsteps stems heard as footsteps: {sum(v.hit for v in steps)} of {len(steps)} "
              f"(nearest: {', '.join(sorted({v.nearest for v in steps}))})")


if __name__ == "__main__":
    sys.exit(main())
