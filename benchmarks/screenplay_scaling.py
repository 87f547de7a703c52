"""How the heuristic script writer's time grows with the screenplay: a ratio measured in one run.

    python benchmarks/screenplay_scaling.py [--kb 100]

Writes the script for a screenplay of KB and of 2×KB kilobytes (the same paragraph repeated) and prints the
time ratio: ~2 when the writer is linear in the screenplay, ~4 when it is quadratic.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from foleydesigner.agents.filmscribe import heuristic_scribe  # noqa: E402
from foleydesigner.agents.script_writer import heuristic_write  # noqa: E402
from foleydesigner.schemas import VideoInfo  # noqa: E402
from tests.helpers import linear_track  # noqa: E402

PARA = "Joggers run on the gravel. Off to the right, a DOG BARKS. A DOOR SLAMS somewhere.\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kb", type=int, default=100)
    args = ap.parse_args()
    video = VideoInfo(path="clip.mp4", width=640, height=360, fps=25.0, n_frames=100, duration_s=4.0, codec="h264",
                      container="mp4")
    tracks = [linear_track(0, t0=0.0, t1=3.5, x0=60, x1=560, onsets=[0.3, 0.8, 1.3, 1.8])]
    times = []
    for kb in (args.kb, 2 * args.kb):
        text = "EXT. PARK - DAY\n\n" + PARA * (kb * 1000 // len(PARA))
        scene = heuristic_scribe(video, tracks, text, None)
        t0 = time.process_time()
        script = heuristic_write(video, scene, tracks, text)
        times.append(time.process_time() - t0)
        print(f"{kb:6d} KB: {len(script.events)} events")
    print(f"time ratio 2x screenplay / 1x: {times[1] / times[0]:.2f} (linear ~2, quadratic ~4)")


if __name__ == "__main__":
    main()
