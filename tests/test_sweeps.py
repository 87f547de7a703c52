"""Sweeps (tools/sweeps.py): a big thing crossing a held shot fast is a whoosh; a walker, a pan and a flicker are not."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from foleydesigner.agents.evidence import sound_for_track
from foleydesigner.schemas import SceneContext, Shot, Track
from foleydesigner.tools.sweeps import (
    SWEEP_AREA,
    SWEEP_MAX_S,
    SWEEP_S,
    find_sweeps,
    not_vehicles,
    sweep_mask,
    sweep_tracks,
)
from foleydesigner.tools.video import probe_video
from tests.helpers import texture

W, H, FPS = 160, 90, 25.0
RNG = np.random.default_rng(7)
#: A smooth textured backdrop (features ~10 px, as a 640 px picture's are at 160 px) and a dark bar.
BACKGROUND = texture(RNG, H, W, 60, 200, 5)
BAR = np.full((H, 30), 20, np.uint8)


def _frame(x: float | None, shift: int = 0) -> np.ndarray:
    """The backdrop (rolled by `shift` px: a pan) with a dark bar 30 px wide and the full height
    (a wing or a blade near the lens: 19 % of the frame) whose left edge is at x (None: no bar)."""
    img = np.roll(BACKGROUND, shift, axis=1).copy()
    if x is not None:
        a, b = int(round(x)), int(round(x)) + 30
        lo, hi = max(a, 0), min(b, W)
        if hi > lo:
            img[:, lo:hi] = BAR[:, lo - a:hi - a]
    return img


def _share(x0: float, x1: float, shift: int = 0) -> float:
    return float(sweep_mask(_frame(x0), _frame(x1, shift), FPS).mean())


def test_a_big_bar_crossing_at_two_and_a_half_widths_a_second_sweeps() -> None:
    step = 2.5 * W / FPS  # 16 px a frame
    assert _share(40, 40 + step) >= 2 * SWEEP_AREA


def test_a_walker_crossing_in_five_seconds_does_not_sweep() -> None:
    step = 0.2 * W / FPS  # 1.3 px a frame: a walker crossing the frame in 5 s
    assert _share(40, 40 + step) < 0.1 * SWEEP_AREA


def test_a_pan_is_the_camera_not_a_sweep() -> None:
    """The whole picture moving at 0.6 widths a second is taken out as the camera's motion (the median)."""
    assert float(sweep_mask(_frame(None), _frame(None, 4), FPS).mean()) < 0.1 * SWEEP_AREA


def test_runs_shorter_than_sweep_s_or_thinner_than_sweep_area_are_no_sweep() -> None:
    t30 = np.arange(20) / 30.0
    six = np.where((t30 >= 0.3) & (t30 < 0.5), 0.07, 0.01)  # the axe's downswing: 6 frames at 30 fps, 0.2 s
    assert find_sweeps(t30, six, 30.0) == [(9, 14)]
    t24 = np.arange(20) / 24.0
    three = np.where((t24 >= 0.3) & (t24 < 0.42), 0.11, 0.0)  # a rabbit springing up: 3 frames at 24 fps, 0.125 s
    assert int(np.sum(three > 0)) == 3 and find_sweeps(t24, three, 24.0) == []
    stream = np.full(40, 0.2)  # 1.7 s of fast motion: a waterfall, rain at the lens, traffic rushing past
    assert 40 / 24.0 > SWEEP_MAX_S and find_sweeps(np.arange(40) / 24.0, stream, 24.0) == []
    thin = np.full(20, 0.9 * SWEEP_AREA)  # long, but too little of the picture
    assert find_sweeps(t24, thin, 24.0) == []
    with pytest.raises(ValueError):
        find_sweeps(t24, thin, 0.0)


def _track(span_s: float, share: float = 0.06) -> Track:
    n = max(1, int(round(span_s * FPS)))
    return Track(id=0, label="sweep", frames=list(range(10, 10 + n)), t_s=[(10 + i) / FPS for i in range(n)],
                 boxes=[(20.0, 0.0, 40.0, 90.0)] * n, onsets_s=[10 / FPS], frame_width=W, frame_height=H,
                 evidence={"sweep_share": share, "sweep_s": span_s})


def test_a_sweep_is_a_whoosh_at_its_start_clear_from_sweep_s_on() -> None:
    scene = SceneContext(location="outdoor")
    at = sound_for_track(_track(SWEEP_S), scene)
    assert at is not None and at.label == "whoosh" and at.onsets_s == [0.4]
    assert at.confidence == pytest.approx(0.6)
    long = sound_for_track(_track(3 * SWEEP_S), scene)
    assert long is not None and long.confidence == pytest.approx(0.8)
    short = sound_for_track(_track(0.5 * SWEEP_S), scene)
    assert short is not None and short.confidence == 0.0


def _write(path: Path, xs: list[float | None]) -> Path:
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (W, H))
    for x in xs:
        out.write(cv2.cvtColor(_frame(x), cv2.COLOR_GRAY2BGR))
    out.release()
    return path


def test_a_clip_with_one_fast_sweep_gives_one_sweep_track_at_its_time(tmp_path: Path) -> None:
    """1 s still, the bar crosses the whole frame in 0.4 s (10 frames, 2.8 widths a second), 1 s still."""
    xs: list[float | None] = [None] * 25 + list(np.linspace(-30, W, 11)[1:]) + [None] * 25
    path = _write(tmp_path / "sweep.mp4", xs)
    info = probe_video(path)
    shot = Shot(index=0, start_frame=0, end_frame=info.n_frames - 1, start_s=0.0, end_s=info.duration_s)
    tracks = sweep_tracks(path, info, [shot], start_id=3)
    assert len(tracks) == 1
    t = tracks[0]
    assert t.id == 3 and t.label == "sweep" and 0.9 <= t.start_s <= 1.2 and t.end_s <= 1.5
    assert t.evidence["sweep_s"] >= SWEEP_S and t.evidence["sweep_share"] >= SWEEP_AREA
    sound = sound_for_track(t, SceneContext(location="outdoor"))
    assert sound is not None and sound.label == "whoosh" and sound.confidence >= 0.55
    # The same picture in a hand-held shot is left alone: shake leaves fast flow everywhere.
    assert sweep_tracks(path, info, [shot.model_copy(update={"camera": "handheld"})], start_id=0) == []


def test_the_picture_pass_reads_the_same_sweep(tmp_path: Path) -> None:
    """The pipeline reads sweeps in its picture pass (no second decode): the same one track as sweep_tracks."""
    from foleydesigner.tools.picture import analyse_picture

    xs: list[float | None] = [None] * 25 + list(np.linspace(-30, W, 11)[1:]) + [None] * 25
    path = _write(tmp_path / "sweep.mp4", xs)
    picture = analyse_picture(path, probe_video(path))
    assert [s.camera for s in picture.shots] == ["static"]
    assert len(picture.sweeps) == 1 and 0.9 <= picture.sweeps[0].start_s <= 1.2
    assert picture.machines == []


def test_a_slow_crossing_gives_no_sweep(tmp_path: Path) -> None:
    """The bar crossing in 4 s (a walker's pace close to the lens: 0.3 widths a second)."""
    xs: list[float | None] = list(np.linspace(-30, W, 100))
    path = _write(tmp_path / "walk.mp4", xs)
    info = probe_video(path)
    shot = Shot(index=0, start_frame=0, end_frame=info.n_frames - 1, start_s=0.0, end_s=info.duration_s)
    assert sweep_tracks(path, info, [shot], start_id=0) == []


def test_a_brief_sweep_reaches_the_scene_script_and_the_search() -> None:
    """Tracks under a second are left out of FilmScribe's first draft and the search's sounding tracks; a sweep is
    brief by nature (0.2-0.33 s on the real clips) and its own rule already asked it to last SWEEP_S."""
    from foleydesigner.agents.filmscribe import heuristic_scribe
    from foleydesigner.agents.tot_rules import Evidence
    from foleydesigner.schemas import VideoInfo

    video = VideoInfo(path="x.mp4", width=W, height=H, fps=FPS, n_frames=100, duration_s=4.0, codec="h264", container="mp4")
    sweep = _track(0.2)
    blip = sweep.model_copy(update={"id": 1, "label": "object", "evidence": {}})
    script = heuristic_scribe(video, [sweep, blip], None, None, SceneContext(location="outdoor"))
    assert [e.track_id for e in script.entities] == [0]
    ev = Evidence(video=video, tracks=[sweep, blip], scene=SceneContext(location="outdoor"), cues=[], min_confidence=0.55)
    assert [t.id for t in ev.sounding_tracks()] == [0]


def test_a_sweep_that_is_a_tracked_car_rushing_past_is_its_pass_by_not_a_whoosh() -> None:
    sweep = _track(0.2)  # frames 10-14, box (20, 0, 40, 90)
    n = len(sweep.frames)
    car = Track(id=1, label="vehicle", frames=sweep.frames, t_s=sweep.t_s, boxes=[(10.0, 0.0, 60.0, 90.0)] * n,
                frame_width=W, frame_height=H)
    swinger = car.model_copy(update={"label": "person"})
    far_car = car.model_copy(update={"boxes": [(120.0, 0.0, 30.0, 20.0)] * n})
    assert not_vehicles([sweep], [car]) == []
    assert not_vehicles([sweep], [swinger, far_car]) == [sweep]  # a person swinging, or a car elsewhere: a whoosh
