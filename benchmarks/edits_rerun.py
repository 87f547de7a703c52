"""What applying a review's edits costs against the run it edits, as ratios measured in one go on the demo clip.

    python benchmarks/edits_rerun.py

Runs the demo, then `run_edits` with two edits (remove a background event, move a foreground one by +0.5 s), and
prints the edits run's total time and its generation time against the full run's, and the stems it rendered
again against those it copied. Nothing is decomposed again and one stem of the demo's twelve is rendered, so
the edits run costs what the mix, upmix and delivery cost.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from foleydesigner.demo import demo_clip, demo_screenplay  # noqa: E402
from foleydesigner.edit_run import run_edits  # noqa: E402
from foleydesigner.pipeline import run_foley  # noqa: E402


def _generation_s(timings: dict[str, float]) -> float:
    return sum(v for k, v in timings.items() if k.startswith("generate_stem["))


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="foley-edits-") as tmp:
        full = run_foley(demo_clip(), Path(tmp) / "run", screenplay_path=demo_screenplay())
        events = full["script"]["events"]
        fg = next(e["id"] for e in events if e["layer"] == "fg")
        bg = next(e["id"] for e in events if e["layer"] == "bg")
        edits = Path(tmp) / "edits.json"
        edits.write_text(json.dumps({"format": "foleydesigner.edits/1", "run": str(Path(tmp) / "run"), "edits": [
            {"op": "remove", "id": bg}, {"op": "move", "id": fg, "by_s": 0.5}]}))
        edited = run_edits(demo_clip(), Path(tmp) / "edited", edits, inherit=("seed", "generator"))
        f, e = full["run"]["timings_s"], edited["run"]["timings_s"]
        record = edited["run"]["edits"]
        print(f"events {len(events)}: rendered again {len(record['rerendered'])}, copied {len(record['reused'])}, "
              f"removed {len(record['removed'])}")
        print(f"edits run / full run total: {e['total'] / f['total']:.2f}")
        print(f"edits run / full run stem generation: {_generation_s(e) / max(_generation_s(f), 1e-9):.2f}")
        print(f"edits run mix+upmix+export / its total: {(e['mix'] + e['upmix'] + e['export']) / e['total']:.2f}")


if __name__ == "__main__":
    main()
