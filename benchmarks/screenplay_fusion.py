"""Screenplay–picture fusion on synthetic clips with exact truth (issue 23's two failures).

    python benchmarks/screenplay_fusion.py [--out DIR]

1. A ball bouncing across a room, with a screenplay that says so: the cue must bind to the ball's track, so
   the rendered bounce onsets and the rendered azimuth follow the truth (onset F1 within one frame, azimuth MAE
   from the rendered stereo, eval/harness.py).
2. A street at night, a ball, and "far behind it, a small car drives slowly": the car is rendered once, on its
   track, and nothing is placed behind the listener; the ball keeps its onsets.
Every number is measured in this run through the whole `foley run` (offline defaults).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from foleydesigner.eval.harness import ClipSpec, evaluate_clip  # noqa: E402

ROOM = "INT. LIVING ROOM - DAY\n\nA red BALL BOUNCES across the room from left to right.\n"
STREET = "EXT. STREET - NIGHT\n\nA ball bounces along the pavement. Far behind it, a small car drives slowly.\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, help="keep the runs here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.out or Path(tmp)
        rows = []
        for spec in (ClipSpec("bouncing_ball", 0, 4.0, ROOM), ClipSpec("ball_and_car", 0, 6.0, STREET)):
            res = evaluate_clip(spec, work / spec.name)
            d = res.detail
            script = json.loads((Path(d["run_dir"]) / "script.json").read_text())
            stems = d["systems"]["full"]["stems"]
            ball = [(eid, s) for eid, s in stems.items() if "ball" in d["matched"][eid]]
            cars = [e for e in script["events"] if e["label"] in ("engine_passby", "engine_idle", "truck_passby")]
            behind = [e["id"] for e in script["events"] if e.get("azimuth_deg") is not None and abs(e["azimuth_deg"]) > 90]
            rows.append({"clip": spec.name, "events": [e["id"] for e in script["events"]],
                         "ball_stems": len(ball), "ball_onset_f1": ball[0][1].get("onset_f1") if ball else None,
                         "ball_azimuth_mae_deg": ball[0][1].get("azimuth_err_deg") if ball else None,
                         "car_events": len(cars), "car_on_track": [e["source_track"] is not None for e in cars],
                         "behind_listener": behind, "missed_truth": d["missed_truth"]})
    for r in rows:
        print(f"{r['clip']:<16} ball stems {r['ball_stems']}  onset F1 {r['ball_onset_f1']}  azimuth MAE "
              f"{r['ball_azimuth_mae_deg']}°  car events {r['car_events']} (on a track: {r['car_on_track']})  "
              f"behind the listener: {r['behind_listener'] or 'none'}  missed: {r['missed_truth'] or 'none'}")
        print(f"{'':<16} events: {', '.join(r['events'])}")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
