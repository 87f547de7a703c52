"""Tracking, onsets and geometric depth, measured against synthetic ground truth and on the demo clip."""

from __future__ import annotations

from pathlib import Path

import pytest

from foleydesigner.bench import TruthManifest, make_clip, match_onsets, score_object
from foleydesigner.schemas import Track
from foleydesigner.tools.depth import geometric_depth_m
from foleydesigner.tools.onsets import classify_motion, footstep_onsets, impact_onsets
from foleydesigner.tools.tracking import track_objects
from foleydesigner.tools.video import probe_video
from foleydesigner.units import focal_length_px

DEMO = Path(__file__).resolve().parents[1] / "foleydesigner" / "data" / "demo_vtest.mp4"


@pytest.fixture(scope="module")
def tracked(tmp_path_factory: pytest.TempPathFactory):
    """Clip kind → (truth, tracks); each synthetic clip is rendered and tracked once per module."""
    cache: dict[str, tuple[TruthManifest, list[Track]]] = {}

    def get(kind: str, *, seed: int = 1, duration_s: float = 4.0) -> tuple[TruthManifest, list[Track]]:
        if kind not in cache:
            path = tmp_path_factory.mktemp(kind) / f"{kind}.mp4"
            truth = make_clip(kind, path, width=640, height=360, fps=25.0, duration_s=duration_s, seed=seed)
            cache[kind] = (truth, track_objects(path, probe_video(path)))
        return cache[kind]

    return get


def test_single_mover_is_one_track_at_the_right_azimuth(tracked) -> None:
    truth, tracks = tracked("single_mover", duration_s=3.0)
    assert len(tracks) == 1
    score = score_object(truth.objects[0], tracks, truth)
    assert score.azimuth_mae_deg <= 3.0
    assert score.activation_iou >= 0.85
    assert tracks[0].label == "vehicle" and tracks[0].motion == "moving"
    assert tracks[0].frame_width == 640 and tracks[0].t_s[0] == pytest.approx(0.0)


def test_bouncing_ball_impacts_on_the_bounce_frames(tracked) -> None:
    truth, tracks = tracked("bouncing_ball")
    score = score_object(truth.objects[0], tracks, truth)
    assert (score.label, score.motion) == ("ball", "bouncing")
    assert score.onset_f1 >= 0.9, (truth.objects[0].onset_frames, [t.onsets_s for t in tracks])


def test_walker_footsteps_on_the_heel_strike_frames(tracked) -> None:
    truth, tracks = tracked("walker")
    score = score_object(truth.objects[0], tracks, truth)
    assert (score.label, score.motion) == ("person", "walking")
    assert score.onset_f1 >= 0.9, (truth.objects[0].onset_frames, [t.onsets_s for t in tracks])
    assert score.azimuth_mae_deg <= 3.0 and score.activation_iou >= 0.85


def test_crossing_walkers_keep_their_identities(tracked) -> None:
    truth, tracks = tracked("crossing", duration_s=3.0)
    scores = [score_object(obj, tracks, truth) for obj in truth.objects]
    assert len(tracks) == 2
    assert scores[0].track_id != scores[1].track_id
    for s in scores:
        assert s.n_ids == 1 and s.coverage >= 0.9  # one id covers the object's whole visible life
        assert s.azimuth_mae_deg <= 3.0


def test_occluded_walker_is_one_id_before_and_after_the_pillar(tracked) -> None:
    truth, tracks = tracked("occlusion", duration_s=3.0)
    obj = truth.objects[0]
    hidden = [i for i, v in enumerate(obj.visible) if not v]
    score = score_object(obj, tracks, truth)
    (track,) = [t for t in tracks if t.id == score.track_id]
    assert track.frames[0] < hidden[0] and track.frames[-1] > hidden[-1]
    assert score.n_ids == 1 and score.activation_iou >= 0.85


def test_ambience_only_has_no_tracks(tracked) -> None:
    assert tracked("ambience_only", duration_s=1.5)[1] == []


def test_onset_functions_read_plain_boxes() -> None:
    # A 30 px ball dropped from rest, bouncing with restitution 0.7 — its bottom touches y=300.
    fps, g, frames, boxes, y, v = 25.0, 900.0, [], [], 100.0, 0.0
    for i in range(60):
        frames.append(i)
        boxes.append((100.0 + 2 * i, y - 30.0, 30.0, 30.0))
        v += g / fps
        y += v / fps
        if y >= 300.0:
            y, v = 300.0 - (y - 300.0), -0.7 * v
    track = Track(id=0, frames=frames, t_s=[f / fps for f in frames], boxes=boxes, frame_width=640, frame_height=360)
    assert classify_motion(track, fps) == "bouncing"
    lowest = [i for i in range(1, 59) if boxes[i][1] >= boxes[i - 1][1] and boxes[i][1] > boxes[i + 1][1]]
    tp, fp, fn, _ = match_onsets(lowest, [round(t * fps) for t in impact_onsets(track, fps)])
    assert len(lowest) >= 3 and fp == 0 and fn == 0
    assert footstep_onsets(track.model_copy(update={"frames": frames[:3], "t_s": [0, 0.04, 0.08],
                                                   "boxes": boxes[:3]}), fps) == []


def test_geometric_depth_of_a_person() -> None:
    f = focal_length_px(1920, 60.0)
    h = f * 1.7 / 10.0  # a 1.7 m person 10 m away
    d = geometric_depth_m((900, 400, h / 3, h), label="person", frame_width=1920, frame_height=1080)
    assert d == pytest.approx(10.0, rel=0.1)
    depths = [geometric_depth_m((0, 0, 20, hh), label="person", frame_width=1920, frame_height=1080) for hh in (40, 80, 160, 320)]
    assert depths == sorted(depths, reverse=True) and all(0.3 <= x <= 200 for x in depths)
    # The ground contact agrees for a camera 1.5 m high: the fused estimate stays on 10 m.
    y_bottom = 540 + f * 1.5 / 10.0
    fused = geometric_depth_m((900, y_bottom - h, h / 3, h), label="person", frame_width=1920,
                              frame_height=1080, camera_height_m=1.5)
    assert fused == pytest.approx(10.0, rel=0.05)
    assert geometric_depth_m((0, 0, 5, 1e-3), label="object", frame_width=640, frame_height=360) == 200.0
    assert geometric_depth_m((0, 0, 5, 1e5), label="car", frame_width=640, frame_height=360) == 0.3
    with pytest.raises(ValueError):
        geometric_depth_m((0, 0, 5), label="person", frame_width=640, frame_height=360)


def test_track_objects_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="analysis_width"):
        track_objects(DEMO, probe_video(DEMO), analysis_width=32)


def test_demo_clip_pedestrians_walk_with_footsteps() -> None:
    info = probe_video(DEMO)
    tracks = track_objects(DEMO, info)
    walkers = [t for t in tracks if t.label == "person" and t.motion == "walking" and t.end_s - t.start_s >= 3.0]
    assert len(walkers) >= 3
    for t in walkers:
        rate = len(t.onsets_s) / (t.end_s - t.start_s)
        assert 1.0 <= rate <= 3.0, (t.id, rate)
        assert all(t.start_s <= o <= t.end_s for o in t.onsets_s)
        assert all(0 <= b[0] and b[0] + b[2] <= info.width + 1 for b in t.boxes)  # source-frame pixels


def test_tracking_started_before_the_shots_are_known_gives_the_same_tracks(tmp_path: Path) -> None:
    """stages.load_video starts the pass beside the picture pass (tools/earlytrack.py): one still shot takes its
    result, the same tracks as the serial pass; any other shot list stops it and tracks as usual."""
    from foleydesigner.schemas import Shot
    from foleydesigner.tools import earlytrack
    from foleydesigner.tools.tracking import still_pass

    def start() -> None:  # as stages.load_video starts it
        earlytrack.start(path, 384, lambda go_on: still_pass(path, info, 384, go_on))

    path = tmp_path / "walker.mp4"
    make_clip("walker", path, width=640, height=360, fps=25.0, duration_s=3.0, seed=1)
    info = probe_video(path)
    serial = [t.model_dump() for t in track_objects(path, info)]
    start()
    assert [t.model_dump() for t in track_objects(path, info)] == serial
    one = Shot(index=0, start_frame=0, end_frame=info.n_frames - 1, start_s=0.0, end_s=info.duration_s)
    cut = [one.model_copy(update={"end_frame": 39, "end_s": 1.6}),
           Shot(index=1, start_frame=40, end_frame=info.n_frames - 1, start_s=1.6, end_s=info.duration_s)]
    start()
    assert earlytrack.take(path, 384, cut) is None  # two shots: the guess was wrong, the pass is stopped
    start()
    assert earlytrack.take(path, 384, [one.model_copy(update={"camera": "pan"})]) is None
    start()
    earlytrack.cancel(path, 384)
    assert earlytrack.take(path, 384, [one]) is None  # nothing pending once cancelled
    assert not [t for t in __import__("threading").enumerate() if t.name == "foley-early-track"]
