"""Which pose inferences a still shot's person vote spends (tools/tracking._Tracker.vote_people), on a fake model
that records what it is asked."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from foleydesigner.tools import tracking
from foleydesigner.tools.pose import Roi
from foleydesigner.tools.tracklets import Kalman, Tracklet

FPS, SCALE = 10.0, 0.5  # analysis pixels per source pixel


class FakeModel:
    """Finds a body wherever it is asked to look; remembers each ROI and region."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, object]] = []

    def landmarks(self, image: np.ndarray, roi: Roi, min_presence: float = 0.5) -> SimpleNamespace:
        self.asked.append(("landmarks", roi))
        box = (roi.cx - 20.0, roi.cy - 60.0, 40.0, 120.0)
        return SimpleNamespace(box=lambda: box, landmarks=np.zeros((33, 5)), next_roi=roi)

    def detect(self, image: np.ndarray, region: object = None, min_score: float = 0.5) -> list:
        self.asked.append(("detect", region))
        return []


def walker(frames: list[int], step_px: float) -> Tracklet:
    """A confirmed track of a body 20x60 analysis pixels walking right `step_px` a frame."""
    boxes = [np.array([50.0 + step_px * f, 40.0, 20.0, 60.0]) for f in frames]
    return Tracklet(0, Kalman(boxes[0]), list(frames), boxes, [True] * len(frames))


def vote(tr: Tracklet, frame: int) -> FakeModel:
    tracker, model = tracking._Tracker(FPS, 10.0), FakeModel()
    tracker.active = [tr]
    tracker.vote_people(frame, np.zeros((240, 640, 3), np.uint8), SCALE, model, True, 4)  # type: ignore[arg-type]
    return model


def test_a_person_followed_on_enough_landmark_frames_is_only_rechecked_now_and_then():
    """One detection and _POSE_SAMPLES landmark frames make a person known: not looked at again until
    _RECHECK_S has passed, as two detections and as many frames did."""
    frames = list(range(0, 4 * tracking._POSE_SAMPLES, 4))
    tr = walker(list(range(frames[-1] + 1)), step_px=0.0)
    tr.person_hits, tr.roi, tr.roi_frame = 1, Roi(120.0, 140.0, 130.0, 0.0), frames[-1]
    tr.poses = {f: np.zeros((33, 5)) for f in frames}
    assert vote(tr, frames[-1] + 4).asked == []
    late = frames[-1] + int(tracking._RECHECK_S * FPS)
    tr.frames, tr.boxes = list(range(late + 1)), [tr.boxes[0]] * (late + 1)
    assert vote(tr, late).asked  # after _RECHECK_S it is looked at again
    tr.poses = {f: np.zeros((33, 5)) for f in frames[:-1]}  # one landmark frame short: looked at every time
    assert vote(tr, frames[-1] + 4).asked
