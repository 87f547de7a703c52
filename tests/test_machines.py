"""A running machine seen in a still shot: a patch beating at one steady rate, placed where it is."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from foleydesigner.agents.evidence import sound_for_track
from foleydesigner.schemas import SceneContext, Shot, VideoInfo
from foleydesigner.tools.machines import cell_means, machine_tracks

W, H, FPS, N = 192, 108, 30.0, 150
INFO = VideoInfo(path="fan.mp4", width=W, height=H, fps=FPS, n_frames=N, duration_s=N / FPS, codec="h264", container="mp4")
BG = cv2.GaussianBlur(np.random.default_rng(1).integers(60, 200, (H, W)).astype(np.uint8), (5, 5), 0)


def _shot(camera: str = "static", n: int = N) -> Shot:
    return Shot(index=0, start_frame=0, end_frame=n - 1, start_s=0.0, end_s=n / FPS, camera=camera)


def _frame(i: int, *, rev_hz: float = 4.0, flicker: float = 0.0, runs_until: int = N, walker: bool = False,
           rng: np.random.Generator) -> np.ndarray:
    img = BG.astype(np.float32)
    if i < runs_until:  # three dark blades turning about (140, 40)
        for k in range(3):
            a = 2 * np.pi * (rev_hz * i / FPS + k / 3)
            cv2.line(img, (140, 40), (int(140 + 22 * np.cos(a)), int(40 + 22 * np.sin(a))), 20.0, 6)
    if walker:  # a dark body crossing at a walk, bobbing twice a second
        x, y = int(10 + 30 * i / FPS), int(60 + 3 * np.sin(2 * np.pi * 2.0 * i / FPS))
        cv2.rectangle(img, (x, y), (x + 10, y + 30), 30.0, -1)
    img *= 1.0 + flicker * np.sin(2 * np.pi * 12.4 * i / FPS)  # mains light beating with the frame rate
    return np.clip(img + rng.normal(0.0, 2.0, img.shape), 0, 255)


def _cells(n: int = N, **kw: object) -> np.ndarray:
    rng = np.random.default_rng(3)
    return np.stack([cell_means(_frame(i, rng=rng, **kw)) for i in range(n)])  # type: ignore[arg-type]


def test_a_turning_fan_in_a_still_shot_is_a_running_machine_placed_where_it_turns() -> None:
    found = machine_tracks(_cells(), [_shot()], INFO)
    assert len(found) == 1
    fan = found[0]
    assert fan.label == "machine" and fan.motion == "static"
    assert fan.evidence["rhythm_hz"] == pytest.approx(12.0, abs=0.3)  # 3 blades × 4 turns a second
    x, y, w, h = fan.boxes[0]
    assert x <= 140 <= x + w and y <= 40 <= y + h  # the box holds the hub
    assert w * h <= 0.25 * W * H
    sound = sound_for_track(fan, SceneContext())
    assert sound is not None and sound.label == "engine_idle" and sound.confidence >= 0.55


def test_a_slow_fan_beats_too() -> None:
    found = machine_tracks(_cells(rev_hz=1.2), [_shot()], INFO)
    assert len(found) == 1 and found[0].evidence["rhythm_hz"] == pytest.approx(3.6, abs=0.3)


def test_a_flickering_light_a_still_picture_and_a_walker_are_no_machine() -> None:
    assert machine_tracks(_cells(rev_hz=0.0, flicker=0.05), [_shot()], INFO) == []
    assert machine_tracks(_cells(rev_hz=0.0), [_shot()], INFO) == []
    assert machine_tracks(_cells(rev_hz=0.0, walker=True), [_shot()], INFO) == []
    # the fan under a flickering light is still found, with the light's beat divided out
    assert len(machine_tracks(_cells(flicker=0.05), [_shot()], INFO)) == 1


def test_no_machine_from_a_moving_camera_a_short_shot_or_one_that_stops_halfway() -> None:
    assert machine_tracks(_cells(), [_shot("pan")], INFO) == []
    assert machine_tracks(_cells(n=45), [_shot(n=45)], INFO) == []  # 1.5 s says too little about a steady rate
    assert machine_tracks(_cells(runs_until=N // 2), [_shot()], INFO) == []


def test_the_picture_pass_finds_the_machine_where_it_turns(tmp_path: Path) -> None:
    """Through the pipeline's own pass (tools/picture.analyse_picture): a written clip of the fan in a still shot."""
    from foleydesigner.tools.picture import analyse_picture
    from foleydesigner.tools.video import probe_video

    path = tmp_path / "fan.mp4"
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (W * 2, H * 2))
    rng = np.random.default_rng(5)
    for i in range(N):
        out.write(cv2.cvtColor(cv2.resize(_frame(i, rng=rng).astype(np.uint8), (W * 2, H * 2)), cv2.COLOR_GRAY2BGR))
    out.release()
    info = probe_video(path)
    picture = analyse_picture(path, info)
    assert [s.camera for s in picture.shots] == ["static"]
    assert len(picture.machines) == 1 and picture.sweeps == []
    x, y, w, h = picture.machines[0].boxes[0]
    assert x <= 280 <= x + w and y <= 80 <= y + h  # the hub, in source pixels (the clip is twice the grid's size)
