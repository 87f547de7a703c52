"""People perception: BlazePose on a real frame, the SSD decoding, foot contacts and body state on synthetic
landmark sequences, footsteps placed at the feet, person depth within what a body can travel."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest

from foleydesigner.schemas import SoundEvent, Track, VideoInfo
from foleydesigner.tools import pose as P
from foleydesigner.tools.clues import MAX_DEPTH_RATE_M_S, clues_for_track
from foleydesigner.tools.people import (
    Contact,
    analyse_gait,
    body_state,
    fill_gaps,
    foot_contacts,
    hand_moves,
)
from foleydesigner.tools.vbap import vbap_gains
from foleydesigner.tools.video import iter_frames

DEMO = Path(__file__).resolve().parents[1] / "foleydesigner" / "data" / "demo_vtest.mp4"


@pytest.fixture(scope="module")
def frame30() -> np.ndarray:
    return next(f.image for f in iter_frames(DEMO) if f.index == 30)


def test_anchors_follow_the_detectors_layout() -> None:
    a = P._anchors()
    assert a.shape == (2254, 2)
    assert a[0] == pytest.approx([0.5 / 28, 0.5 / 28]) and a[1] == pytest.approx(a[0])  # 2 anchors per cell
    assert a[1568] == pytest.approx([0.5 / 14, 0.5 / 14])  # stride 16 starts after 28×28×2
    assert a[-1] == pytest.approx([6.5 / 7, 6.5 / 7]) and (a[-6:] == a[-1]).all()  # 6 per stride-32 cell


def test_decoding_offsets_from_the_anchor_and_merges_overlaps() -> None:
    raw, logits = np.zeros((2254, 12)), np.full(2254, -10.0)
    k = 28 * 2 * 10 + 2 * 5  # the cell at row 10, column 5 of the stride-8 grid
    raw[k, :4] = [11.2, -5.6, 44.8, 67.2]  # pixels of the 224 input
    raw[k + 1, :4] = [11.2, -5.6, 44.8, 67.2]
    raw[k, 4:6] = raw[k + 1, 4:6] = [0.0, 22.4]  # hips 0.1 below the anchor
    logits[k], logits[k + 1] = 3.0, 2.0
    found = P.decode_detections(raw, logits)
    assert len(found) == 1  # two overlapping boxes are one detection
    v, score = found[0]
    ax, ay = 5.5 / 28, 10.5 / 28
    assert v[:4] == pytest.approx([ax + 0.05, ay - 0.025, 0.2, 0.3])
    assert v[4:6] == pytest.approx([ax, ay + 0.1])
    assert score == pytest.approx(1 / (1 + math.exp(-3.0)))


def test_roi_maps_the_crop_onto_a_rotated_square() -> None:
    roi = P.roi_from_points(np.array([100.0, 100.0]), np.array([140.0, 100.0]))  # head to the right: lying down
    assert roi.angle == pytest.approx(math.pi / 2) and roi.size == pytest.approx(2 * 40 * P.ROI_SCALE)
    m = roi.matrix(256)
    top_centre = m @ [128, 0, 1]  # the crop's "up" points at the head
    assert top_centre == pytest.approx([100 + roi.size / 2, 100.0])
    assert m @ [128, 128, 1] == pytest.approx([100.0, 100.0])


def test_pose_finds_a_walker_on_the_demo_frame(frame30: np.ndarray) -> None:
    model = P.PoseModel()
    dets = model.detect(frame30, (300, 192, 300, 300))
    # The walker in the lower middle of the frame: hips near (527, 330), ~130 px tall.
    det = min(dets, key=lambda d: float(np.hypot(*(d.keypoints[0] - [527, 330]))))
    assert det.score >= 0.9 and np.hypot(*(det.keypoints[0] - [527, 330])) < 15
    pose = model.landmarks_for(frame30, det)
    assert pose is not None and pose.score >= 0.9
    lm = pose.landmarks
    assert lm[P.NOSE, 1] < lm[P.L_SHOULDER, 1] < lm[P.L_HIP, 1] < lm[P.L_KNEE, 1] < lm[P.L_ANKLE, 1]
    x, y, w, h = pose.box()
    assert 480 <= x + w / 2 <= 560 and 100 <= h <= 170 and 360 <= y + h <= 400  # feet near row 380
    nxt = model.landmarks(frame30, pose.next_roi)  # the next frame's ROI still holds the same body
    assert nxt is not None and np.abs(nxt.landmarks[:, :2] - lm[:, :2]).max() < 12


def test_two_threads_give_the_landmarks_one_thread_gives(frame30: np.ndarray) -> None:
    """The pipeline runs pose on 2 threads for speed: the numbers must not depend on it (XNNPACK splits each
    layer's work, it does not reorder the sums)."""
    one, two = P.PoseModel(threads=1), P.PoseModel(threads=2)
    d1, d2 = one.detect(frame30, (300, 192, 300, 300)), two.detect(frame30, (300, 192, 300, 300))
    assert len(d1) == len(d2) >= 1
    assert np.array_equal(d1[0].keypoints, d2[0].keypoints)
    p1, p2 = one.landmarks_for(frame30, d1[0]), two.landmarks_for(frame30, d2[0])
    assert p1 is not None and p2 is not None and np.array_equal(p1.landmarks, p2.landmarks)


def test_default_threads_stay_within_the_cores_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    n = P.default_threads()
    assert 1 <= n <= P.POSE_THREADS and n <= len(os.sched_getaffinity(0))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # a batch worker's budget (Ray sets it per task)
    assert P.default_threads() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "bogus")  # unreadable: the cores decide
    assert P.default_threads() == n


def test_no_person_on_an_empty_picture() -> None:
    model = P.PoseModel()
    grey = np.full((360, 640, 3), 128, np.uint8)
    assert model.detect(grey) == []
    assert model.landmarks(grey, P.Roi(320, 180, 300, 0.0)) is None


# --- synthetic landmark sequences ------------------------------------------------------------------------------

def _skeleton(n: int) -> np.ndarray:
    """n frames of an upright body 325 px tall (tools/people.body_height), every landmark visible."""
    lm = np.zeros((n, 33, 5))
    lm[:, :, 3:] = 1.0
    rows = {P.NOSE: 70, P.L_SHOULDER: 100, P.R_SHOULDER: 100, P.L_WRIST: 190, P.R_WRIST: 190, P.L_HIP: 200,
            P.R_HIP: 200, P.L_KNEE: 280, P.R_KNEE: 280, P.L_ANKLE: 360, P.R_ANKLE: 360, P.L_HEEL: 366,
            P.R_HEEL: 366, P.L_FOOT: 370, P.R_FOOT: 370}
    for k, y in rows.items():
        lm[:, k, 1] = y
    return lm


def _walk(t: np.ndarray, strikes: dict[int, list[float]], speed: float = 160.0, swing_s: float = 0.4) -> np.ndarray:
    """A walker moving right at `speed` px/s; each foot stands still, then swings for swing_s before its strikes."""
    lm = _skeleton(len(t))
    lm[:, :, 0] = 300 + speed * t[:, None]
    for foot, joints in enumerate(P.FEET):
        x = np.empty(len(t))
        for i, ti in enumerate(t):
            past = [s for s in strikes[foot] if s <= ti] or [strikes[foot][0] - 1.0]  # the stride before
            nxt = [s for s in strikes[foot] if s > ti]
            if nxt and nxt[0] - ti < swing_s:  # swinging towards the next strike's spot
                a = nxt[0] - swing_s
                x0 = 300 + speed * past[-1]
                x[i] = x0 + (300 + speed * nxt[0] - x0) * (ti - a) / swing_s
            else:
                x[i] = 300 + speed * past[-1]
        for j in joints:
            lm[:, j, 0] = x
        for j in (P.L_KNEE, P.R_KNEE)[foot:foot + 1]:
            lm[:, j, 0] = x
    return lm


def test_foot_contacts_alternate_at_the_strikes() -> None:
    t = np.arange(0, 4.0, 0.1)  # landmarks at 10 per second
    left, right = [0.25 + k for k in range(4)], [0.75 + k for k in range(3)]
    contacts = foot_contacts(t, _walk(t, {0: left, 1: right}))
    want = sorted([(s, 0) for s in left] + [(s, 1) for s in right])
    assert len(contacts) == len(want)
    for c, (s, foot) in zip(contacts, want, strict=True):
        assert c.foot == foot and abs(c.t_s - s) <= 0.1
    gait = analyse_gait(t, _walk(t, {0: left, 1: right}))
    assert gait.state == "walking" and gait.alternation == 1.0


def test_foot_contacts_see_past_a_panning_camera() -> None:
    t = np.arange(0, 4.0, 0.1)
    strikes = {0: [0.25 + k for k in range(4)], 1: [0.75 + k for k in range(3)]}
    lm = _walk(t, strikes)
    camera = np.column_stack([150.0 * t, 10 * np.sin(7 * t)])  # the picture slides left and shakes
    lm[:, :, :2] += camera[:, None, :]
    found = foot_contacts(t, lm, camera)
    assert [c.foot for c in found] == [0, 1, 0, 1, 0, 1, 0]
    assert foot_contacts(t, lm) != found  # without the camera taken out the stance feet seem to move


def test_jump_lands_once() -> None:
    t = np.arange(0, 2.0, 0.05)
    lm = _skeleton(len(t))
    lm[:, :, 0] = 300
    air = (t > 0.6) & (t < 1.0)
    lift = np.where(air, 120 * np.sin(np.pi * (t - 0.6) / 0.4), 0.0)  # the whole body rises and falls
    lm[:, :, 1] -= lift[:, None]
    contacts = foot_contacts(t, lm)
    assert len(contacts) == 1 and contacts[0].foot == 2 and abs(contacts[0].t_s - 1.0) <= 0.1


def test_seated_person_has_no_footsteps() -> None:
    t = np.arange(0, 3.0, 0.1)
    lm = _skeleton(len(t))
    lm[:, :, 0] = 300
    for k in (P.L_KNEE, P.R_KNEE):
        lm[:, k, 0], lm[:, k, 1] = 370, 205  # thighs level, on a chair
    for k in (P.L_ANKLE, P.R_ANKLE, P.L_HEEL, P.R_HEEL, P.L_FOOT, P.R_FOOT):
        lm[:, k, 0], lm[:, k, 1] = 370, 260
    assert body_state(lm, [], 0.0) == "seated"
    lm[10:14, P.L_FOOT, 0] += np.array([0, 60, 0, 60])  # a fidgeting foot
    gait = analyse_gait(t, lm)
    assert gait.state == "seated" and gait.contacts == []
    assert body_state(_skeleton(len(t)), [], 0.0) == "standing"


def test_hand_moves_are_candidates() -> None:
    t = np.arange(0, 3.0, 0.1)
    lm = _skeleton(len(t))
    lm[:, :, 0] = 300
    lm[15:, P.R_WRIST, 0] += np.minimum(60.0 * np.arange(1, len(t) - 14), 300.0)  # the right hand reaches out at 1.5 s
    moves = hand_moves(t, lm)
    assert len(moves) == 1 and abs(moves[0] - 1.5) <= 0.15


def test_gaps_in_landmarks_are_filled_at_the_cadence() -> None:
    steps = [0.5, 1.0, 1.5, 2.0]
    filled = fill_gaps(steps, np.arange(0.0, 2.2, 0.1), 0.0, 5.0, box_onsets_s=[])
    assert filled[:4] == steps and filled[4:] == pytest.approx([2.6, 3.1, 3.6, 4.1, 4.6], abs=0.06)
    assert fill_gaps(steps, np.arange(0.0, 2.2, 0.1), 0.0, 5.0, box_onsets_s=[3.0, 3.7])[4:] == [3.0, 3.7]
    assert Contact(1.0, 0).foot == 0


# --- placement -----------------------------------------------------------------------------------------------

def _person_track(heights: np.ndarray, fps: float = 25.0, bottom: float = 300.0) -> tuple[Track, VideoInfo]:
    n = len(heights)
    boxes = [(300.0, bottom - h, h / 3, float(h)) for h in heights]
    track = Track(id=0, label="person", motion="walking", frames=list(range(n)), t_s=[i / fps for i in range(n)],
                  boxes=boxes, frame_width=640, frame_height=360)
    info = VideoInfo(path="x.mp4", width=640, height=360, fps=fps, n_frames=n, duration_s=n / fps, codec="h264",
                     container="mp4")
    return track, info


def test_footsteps_sit_at_or_below_ear_level() -> None:
    track, info = _person_track(np.full(50, 120.0), bottom=170.0)  # feet just under the centre line
    ev = SoundEvent(id="steps", label="footsteps", layer="fg", start_s=0.0, end_s=1.9, source_track=0)
    clues = clues_for_track(ev, track, info)
    assert clues.elevation_deg is not None and max(clues.elevation_deg) <= 0.0
    g = vbap_gains(np.asarray(clues.azimuth_deg), np.asarray(clues.elevation_deg))
    assert float((g[8:] ** 2).sum(axis=0).max()) < 1e-6  # the 7.1.4 height speakers get nothing
    track_high, _ = _person_track(np.full(50, 120.0), bottom=100.0)  # feet above the centre line (low camera)
    assert max(clues_for_track(ev, track_high, info).elevation_deg or [1.0]) <= 0.0
    body = SoundEvent(id="cloth", label="cloth_rustle", layer="fg", start_s=0.0, end_s=1.9, source_track=0)
    assert max(clues_for_track(body, track_high, info).elevation_deg or [0.0]) > 0.0  # the body itself is higher


def test_person_depth_moves_no_faster_than_a_body() -> None:
    heights = np.full(100, 120.0)
    heights[40:43] = 35.0  # an occlusion halves the box for three frames
    heights[70:] = 10.0  # then a shred of a blob, a few pixels tall
    track, info = _person_track(heights)
    ev = SoundEvent(id="steps", label="footsteps", layer="fg", start_s=0.0, end_s=3.9, source_track=0)
    d = np.asarray(clues_for_track(ev, track, info).depth_m)
    speed = np.abs(np.diff(d)) * info.fps
    assert speed.max() <= MAX_DEPTH_RATE_M_S["person"] * 1.05
    assert d[:35].std() < 0.05 * d[:35].mean()  # steady before the occlusion
    assert d.max() < 60.0  # no 116 m walker


def test_a_person_is_followed_under_a_panning_camera_without_invented_steps(frame30: np.ndarray) -> None:
    from foleydesigner.schemas import Shot
    from foleydesigner.tools.posetrack import follow_people, people_tracks
    from foleydesigner.tools.video import Frame

    # The camera pans right over the demo frame's walker (frozen in mid-stride): 3 px a frame, 2 s at 10 fps.
    crops = [np.ascontiguousarray(frame30[200:440, 380 + 3 * i:380 + 3 * i + 240]) for i in range(20)]
    frames = [Frame(index=i, t_s=i / 10, image=c, full=c) for i, c in enumerate(crops)]
    people = follow_people(frames, P.PoseModel(), detect_every=4)
    info = VideoInfo(path="pan.mp4", width=240, height=240, fps=10.0, n_frames=20, duration_s=2.0, codec="h264",
                     container="mp4")
    shot = Shot(index=0, start_frame=0, end_frame=19, start_s=0.0, end_s=2.0, camera="pan")
    camera = np.column_stack([-3.0 * np.arange(20), np.zeros(20)])  # where the pan moved the picture
    tracks = people_tracks(people, info, shot, start_id=0, camera=camera)
    assert len(tracks) == 1 and tracks[0].label == "person" and len(tracks[0].frames) >= 18
    xs = [b[0] + b[2] / 2 for b in tracks[0].boxes]
    assert xs[-1] - xs[0] == pytest.approx(-3.0 * (tracks[0].frames[-1] - tracks[0].frames[0]), abs=6.0)
    assert tracks[0].onsets_s == [] and tracks[0].motion != "walking"  # the pan is not his walking
    assert tracks[0].evidence["pose_frames"] >= 18


def test_hands_against_the_body_are_handling_candidates_never_rendered() -> None:
    from foleydesigner.agents.script_writer import gate
    from foleydesigner.schemas import FoleyScript, SceneContext

    frames = list(range(0, 50, 2))
    walker = Track(id=4, label="person", motion="static", frames=frames, t_s=[f / 25 for f in frames],
                   boxes=[(100.0, 50.0, 40.0, 120.0)] * len(frames), frame_width=640, frame_height=360,
                   evidence={"person_hits": 3.0, "person_tries": 3.0, "pose_frames": 12.0, "hand_moves": 2.0})
    quiet = walker.model_copy(update={"id": 5, "evidence": walker.evidence | {"hand_moves": 0.0}})
    script = FoleyScript(duration_s=2.0, scene=SceneContext(location="indoor"), events=[])
    once = gate(script, [walker, quiet], 0.55)
    assert once.events == []
    assert [(c.label, c.source_track) for c in once.candidates] == [("cloth_rustle", 4)]
    assert once.candidates[0].confidence < 0.2 and once.candidates[0].start_s == 0.0
    assert len(gate(once, [walker, quiet], 0.55).candidates) == 1  # gated again (the search's winner): not twice


def test_person_depth_from_the_feet_on_the_ground_holds_through_a_short_box() -> None:
    # a walker approaching over 4 s, 12 m → 4 m, seen by a camera 1.6 m up (horizon at row 150)
    n, fps, f = 100, 25.0, 640 / 2 / math.tan(math.radians(30))
    depth = np.linspace(12.0, 4.0, n)
    feet, tall = 150.0 + f * 1.6 / depth, f * 1.7 / depth
    shown = tall.copy()
    shown[50:56] *= 0.5  # a parked car hides the upper body: the box is half as tall, the feet are where they were
    boxes = [(300.0, y - h, h / 3, float(h)) for y, h in zip(feet, shown, strict=True)]
    track = Track(id=0, label="person", motion="walking", frames=list(range(n)), t_s=[i / fps for i in range(n)],
                  boxes=boxes, frame_width=640, frame_height=360)
    info = VideoInfo(path="x.mp4", width=640, height=360, fps=fps, n_frames=n, duration_s=n / fps, codec="h264",
                     container="mp4")
    ev = SoundEvent(id="steps", label="footsteps", layer="fg", start_s=0.0, end_s=3.96, source_track=0)
    d = np.asarray(clues_for_track(ev, track, info).depth_m)[:n]
    assert np.abs(d[45:60] / depth[45:60] - 1.0).max() < 0.1  # the occlusion moves nothing
    assert abs(d[5] / depth[5] - 1.0) < 0.1 and abs(d[-5] / depth[-5] - 1.0) < 0.1


def test_loading_the_pose_models_prints_nothing_on_the_console(capfd):
    """TFLite's C++ logger wrote 'INFO: Created TensorFlow Lite XNNPACK delegate for CPU.' into every run's output."""
    import sys

    from foleydesigner.tools.pose import PoseModel

    PoseModel()
    print("after", file=sys.stderr)  # fd 2 is back where it was
    out, err = capfd.readouterr()
    assert "XNNPACK" not in err and "INFO" not in err and "after" in err
