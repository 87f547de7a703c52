"""Procedural synthesis + spatial rendering speed: 60 s with 10 simultaneous moving events.

    python benchmarks/render_speed.py [--seconds 60] [--events 10] [--jobs 2]

Prints render time ÷ audio duration measured in this run (issue target on 2 cores: ≤ 0.05, i.e. 20x faster
than real time), serially and with the events split over --jobs worker processes (as many as cores).
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from foleydesigner.generation import procedural
from foleydesigner.generation.spatial import SpatialConfig, render_spatial

CLASSES = ("footsteps", "engine_passby", "ball_bounce", "whoosh", "horse_hooves", "dog_bark", "cloth_rustle",
           "keyboard_typing", "engine_idle", "water_drips", "fire_crackle", "door_knock")
FPS = 25.0


def render_event(i: int, seconds: float, tail: bool = True) -> float:
    """Synthesise one event and move it across the stereo field and in depth; returns its peak (keeps the work)."""
    rng = np.random.default_rng(i)
    name = CLASSES[i % len(CLASSES)]
    info = procedural.CLASSES[name]
    onsets = np.arange(0.3 + 0.05 * i, seconds - 0.1, 0.55).tolist() if info.kind == "impulsive" else []
    src = procedural.synthesize(name, duration_s=seconds, onsets_s=onsets, rng=rng)
    t = np.arange(int(seconds * FPS)) / FPS
    az = 60.0 * np.sin(2 * np.pi * t / (7.0 + i))  # sweeping left-right, a different speed per event
    depth = 3.0 + 2.0 * np.cos(2 * np.pi * t / (11.0 + i))
    out = render_spatial(src, t_s=t, azimuth_deg=az, depth_m=depth, config=SpatialConfig(distance_reverb=tail))
    return float(np.abs(out).max())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--events", type=int, default=10)
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()
    render_event(0, 1.0)  # warm caches and lazy imports outside the clock
    print(f"{a.events} moving events x {a.seconds:.0f} s, 48 kHz stereo")
    # With the renderer's own distance tail (DRR) and without it, as `foley run` renders (the mixer's reverb
    # expert builds the room there).
    for tail in (True, False):
        t0 = time.perf_counter()
        for i in range(a.events):
            render_event(i, a.seconds, tail)
        serial = time.perf_counter() - t0
        t0 = time.perf_counter()
        with ProcessPoolExecutor(a.jobs) as pool:
            list(pool.map(render_event, range(a.events), [a.seconds] * a.events, [tail] * a.events))
        parallel = time.perf_counter() - t0
        what = "with distance tail" if tail else "as foley run (no tail)"
        print(f"{what:>24}: serial {serial:.2f} s -> ratio {serial / a.seconds:.4f}; {a.jobs} processes "
              f"{parallel:.2f} s -> ratio {parallel / a.seconds:.4f}  (target <= 0.05)")


if __name__ == "__main__":
    main()
