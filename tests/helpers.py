"""Shared builders for tests (tracks, video info, run context) — plain functions, no magic fixtures."""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from foleydesigner.context import RunContext
from foleydesigner.schemas import EventClues, Track, VideoInfo


def texture(rng: np.random.Generator, h: int, w: int, lo: int, hi: int, blur: float) -> np.ndarray:
    """A smooth random grey texture (features about `blur` px), stretched to lo..hi: a backdrop that flow can read."""
    return cv2.normalize(cv2.GaussianBlur(rng.normal(0, 1, (h, w)), (0, 0), blur), None, lo, hi,
                         cv2.NORM_MINMAX).astype(np.uint8)


def video_info(duration_s: float = 4.0, fps: float = 25.0, width: int = 640, height: int = 360) -> VideoInfo:
    return VideoInfo(path="clip.mp4", width=width, height=height, fps=fps, n_frames=int(round(duration_s * fps)),
                     duration_s=duration_s, codec="h264", container="mp4")


def camera_of(frames: list[np.ndarray]) -> tuple[str, dict[str, float]]:
    """The camera's kind and facts for BGR frames, measured as the picture pass does (tools/camera.py)."""
    import cv2

    from foleydesigner.tools.camera import MotionEstimator, classify_camera

    est = MotionEstimator()
    return classify_camera([est.update(cv2.cvtColor(f, cv2.COLOR_BGR2GRAY)) for f in frames])


def still_clues(eid: str, n: int = 101, source: str = "track") -> EventClues:
    """Clues of a source held straight ahead at 2 m for n frames at 25 fps."""
    return EventClues(event_id=eid, fps=25, t_s=[i / 25 for i in range(n)], depth_m=[2.0] * n,
                      azimuth_deg=[0.0] * n, activation=[1] * n, source=source)  # type: ignore[arg-type]


def linear_track(tid: int, *, t0: float, t1: float, x0: float, x1: float, fps: float = 25.0, label: str = "person",
                 motion: str = "walking", h: float = 120.0, onsets: list[float] | None = None,
                 width: int = 640, height: int = 360) -> Track:
    t = np.arange(round(t0 * fps), round(t1 * fps) + 1) / fps
    xs = np.interp(t, [t0, t1], [x0, x1])
    w = h * 0.4
    boxes = [(float(x - w / 2), float(height * 0.8 - h), float(w), float(h)) for x in xs]
    return Track(id=tid, label=label, motion=motion, frames=[int(round(v * fps)) for v in t], t_s=t.round(4).tolist(),
                 boxes=boxes, onsets_s=onsets or [], frame_width=width, frame_height=height)


def run_cli(monkeypatch: Any, capsys: Any, args: list[str]) -> tuple[int, str, str]:
    """`foley ARGS` through the real entry point (its error handling included): exit code, stdout, stderr."""
    import pytest

    from foleydesigner import cli

    monkeypatch.setattr(sys, "argv", ["foley", *args])
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    cap = capsys.readouterr()
    return int(exit_.value.code or 0), cap.out, cap.err


def context(tmp: Path, **kw: object) -> RunContext:
    return RunContext(work_dir=tmp, **kw)  # type: ignore[arg-type]  # its tracer writes tmp/trace.jsonl


def ball_track(tid: int, *, t0: float, t1: float, x0: float, x1: float, hits: list[float], fps: float = 25.0,
               size: float = 30.0, floor: float = 300.0, width: int = 640, height: int = 360) -> Track:
    """A ball on screen: ballistic arcs (parabolas under gravity) between floor contacts at `hits`."""
    t = np.arange(round(t0 * fps), round(t1 * fps) + 1) / fps
    xs = np.interp(t, [t0, t1], [x0, x1])
    knots = [t0, *hits, t1]
    ys = np.empty_like(t)
    for a, b in zip(knots[:-1], knots[1:], strict=True):
        seg = (t >= a) & (t <= b)
        ys[seg] = floor - 4 * 80.0 * (t[seg] - a) * (b - t[seg]) / max(b - a, 1e-3) ** 2  # 80 px high arcs
    boxes = [(float(x - size / 2), float(y - size), size, size) for x, y in zip(xs, ys, strict=True)]
    return Track(id=tid, label="ball", motion="bouncing", frames=[int(round(v * fps)) for v in t], t_s=t.round(4).tolist(),
                 boxes=boxes, onsets_s=hits, frame_width=width, frame_height=height)


def page_json(page: Path) -> dict:
    """The data blob a report.html carries (its `report-data` script element), parsed."""
    m = re.search(r'<script id="report-data" type="application/json">(.*?)</script>', page.read_text(), re.S)
    assert m
    return json.loads(m.group(1))


def copy_run(run: Path, dest: Path) -> Path:
    """A copy of a finished run without its report, for a test to change and report on again."""
    shutil.copytree(run, dest, ignore=shutil.ignore_patterns("report*"))
    return dest
