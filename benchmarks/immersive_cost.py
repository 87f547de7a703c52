"""What the immersive formats cost, as ratios measured in one run on the bundled demo clip.

    python benchmarks/immersive_cost.py

Runs the demo twice: the default delivery (stereo + 5.1) and `--deliver foa,7.1.4,binaural`, and prints each
immersive run's total time and its delivery stage against the default run's total, and its delivery stage per
second of clip. The default path has no immersive work: its delivery node returns at once.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from foleydesigner.cli import demo_clip, demo_screenplay  # noqa: E402
from foleydesigner.pipeline import run_foley  # noqa: E402


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="foley-immersive-") as tmp:
        runs = {}
        for name, deliver in (("default", ("stereo", "5.1")), ("immersive", ("stereo", "5.1", "foa", "7.1.4", "binaural"))):
            state = run_foley(demo_clip(), Path(tmp) / name, screenplay_path=demo_screenplay(), deliver=deliver)
            runs[name] = state["run"]["timings_s"]
            print(f"{name}: outputs {sorted(k for k in state['run']['outputs'] if k.startswith('mix_'))}")
        d, i = runs["default"], runs["immersive"]
        clip_s = json.loads((Path(tmp) / "immersive" / "run.json").read_text())["video"]["duration_s"]
        print(f"default run total {d['total']:.1f} s (delivery node timed: {'deliver_immersive' in d})")
        print(f"immersive / default total: {i['total'] / d['total']:.2f}")
        print(f"immersive delivery stage / default total: {i['deliver_immersive'] / d['total']:.2f}")
        print(f"immersive delivery stage per second of clip: {i['deliver_immersive'] / clip_s:.2f} s/s")


if __name__ == "__main__":
    main()
