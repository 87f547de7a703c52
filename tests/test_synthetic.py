"""The synthetic ground-truth clips: files, truth geometry consistent with the pinhole/depth conventions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from foleydesigner.bench import KINDS, TruthManifest, make_clip, match_onsets
from foleydesigner.tools.depth import geometric_depth_m
from foleydesigner.tools.video import iter_frames, probe_video
from foleydesigner.units import azimuth_from_x, focal_length_px


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_writes_h264_and_truth(kind: str, tmp_path) -> None:
    truth = make_clip(kind, tmp_path / f"{kind}.mp4", width=320, height=180, fps=25.0, duration_s=1.0, seed=3)
    info = probe_video(truth.video_path)
    assert (info.codec, info.width, info.height, info.n_frames) == ("h264", 320, 180, 25)
    assert info.fps == pytest.approx(25.0)
    loaded = TruthManifest.load(tmp_path / f"{kind}.truth.json")
    assert loaded == truth
    for obj in truth.objects:
        assert len(obj.boxes) == len(obj.visible) == len(obj.azimuth_deg) == len(obj.depth_m) == 25
        assert all(d > 0 for d in obj.depth_m)
    assert (kind == "ambience_only") == (not truth.objects)


def test_single_mover_crosses_from_left_third_to_right_third(tmp_path) -> None:
    truth = make_clip("single_mover", tmp_path / "m.mp4", width=320, height=180, duration_s=2.0)
    (obj,) = truth.objects
    centres = [b[0] + b[2] / 2 for b in obj.boxes]
    assert centres[0] < truth.width / 3 and centres[-1] > 2 * truth.width / 3
    assert all(obj.visible)
    # Azimuth is the DESIGN formula applied to the box centre; left of centre is negative.
    assert obj.azimuth_deg[0] == pytest.approx(azimuth_from_x(centres[0], truth.width, 60.0))
    assert obj.azimuth_deg[0] < 0 < obj.azimuth_deg[-1]


@pytest.mark.parametrize(("kind", "label"), [("walker", "person"), ("single_mover", "vehicle"), ("bouncing_ball", "ball")])
def test_scale_follows_the_depth_module_heights(kind: str, label: str, tmp_path) -> None:
    truth = make_clip(kind, tmp_path / "c.mp4", width=320, height=180, duration_s=1.0, seed=1)
    obj = truth.objects[0]
    assert obj.label == label
    f = focal_length_px(truth.width, truth.hfov_deg)
    for box, depth in zip(obj.boxes, obj.depth_m, strict=True):
        est = geometric_depth_m(box, label=label, frame_width=truth.width, frame_height=truth.height)
        assert est == pytest.approx(depth, rel=0.12)  # walker: legs spread and body bob change the height
        assert box[3] == pytest.approx(f * obj.real_height_m / depth, rel=0.12)


def test_walker_footfalls_alternate_at_walking_cadence(tmp_path) -> None:
    truth = make_clip("walker", tmp_path / "w.mp4", width=320, height=180, duration_s=3.0, seed=2)
    steps = np.diff(truth.objects[0].onsets_s)
    assert truth.objects[0].onset_kind == "footstep"
    assert len(steps) >= 4
    assert np.allclose(steps, steps.mean(), atol=1.01 / truth.fps)  # periodic to the nearest frame
    assert 1.6 <= 1.0 / steps.mean() <= 2.2  # steps per second


def test_ball_bounces_come_faster_and_faster(tmp_path) -> None:
    obj = make_clip("bouncing_ball", tmp_path / "b.mp4", width=320, height=180, duration_s=3.0, seed=0).objects[0]
    gaps = np.diff(obj.onset_frames)
    assert obj.onset_kind == "bounce" and len(obj.onset_frames) >= 3
    assert all(later < earlier for earlier, later in zip(gaps[1:-1], gaps[2:], strict=True))
    # The ball is lowest (box bottom largest) at each bounce frame, within one frame.
    bottoms = [b[1] + b[3] for b in obj.boxes]
    for f in obj.onset_frames:
        assert max(bottoms[max(0, f - 1):f + 2]) >= max(bottoms[max(0, f - 3):f + 4]) - 0.5


def test_occluder_hides_the_walker_midway(tmp_path) -> None:
    truth = make_clip("occlusion", tmp_path / "o.mp4", width=320, height=180, duration_s=4.0, seed=0)
    vis = truth.objects[0].visible
    hidden = [i for i, v in enumerate(vis) if not v]
    assert hidden and vis[0] and vis[-1]
    assert 0.1 * len(vis) < len(hidden) < 0.5 * len(vis)
    assert hidden == list(range(hidden[0], hidden[-1] + 1))  # one contiguous stretch


def test_frames_are_textured_and_noisy(tmp_path) -> None:
    truth = make_clip("ambience_only", tmp_path / "a.mp4", width=320, height=180, duration_s=0.5)
    a, b = (f.image.astype(float) for f, _ in zip(iter_frames(truth.video_path), range(2), strict=False))
    assert a.std() > 15  # texture, not a flat backdrop
    assert 0.5 < np.abs(a - b).mean() < 8.0  # sensor noise (what survives H.264) between static frames


def test_match_onsets_is_one_to_one_within_tolerance() -> None:
    tp, fp, fn, errors = match_onsets([10, 20, 30], [11, 19, 21, 45])
    assert (tp, fp, fn) == (2, 2, 1) and sorted(errors) == [-1, 1]
    assert match_onsets([], []) == (0, 0, 0, [])


def test_bad_arguments_are_rejected(tmp_path) -> None:
    with pytest.raises(ValueError, match="kind"):
        make_clip("explosion", tmp_path / "x.mp4")
    with pytest.raises(ValueError, match="even"):
        make_clip("walker", tmp_path / "x.mp4", width=321)
    assert not math.isnan(focal_length_px(640))
