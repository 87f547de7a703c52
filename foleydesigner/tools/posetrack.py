"""People under a moving camera: found by the pose detector, followed by their landmarks frame to frame.

Background subtraction cannot work while the camera pans or shakes (tools/tracking.py tracks only still shots),
but a pose model needs no background: the detector runs on the whole frame a few times a second, and each
person found is followed through the ROI its own landmarks give for the next frame (tools/pose.py), as
mediapipe's tracking graph does. Their feet give the footsteps, with the camera's motion taken out
(tools/people.py).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from foleydesigner.schemas import Shot, Track, VideoInfo
from foleydesigner.tools.people import analyse_gait, body_height, gait_evidence, gait_motion
from foleydesigner.tools.pose import L_ANKLE, L_HIP, R_ANKLE, R_HIP, Pose, PoseDetection, PoseModel, Roi
from foleydesigner.tools.video import Frame

log = logging.getLogger(__name__)

#: A person followed for less than this is a glimpse: no track.
MIN_PERSON_S = 0.5
#: A new detection whose hips lie within this many body heights of a followed person's is that person.
SAME_PERSON = 0.25
#: Frames a person may go unseen by the landmark model before being let go.
MAX_LOST = 1


@dataclass
class _Person:
    roi: Roi
    frames: list[int] = field(default_factory=list)
    t_s: list[float] = field(default_factory=list)
    poses: list[Pose] = field(default_factory=list)
    hits: int = 1
    tries: int = 1
    lost: int = 0

    def hip(self) -> np.ndarray:
        return self.poses[-1].landmarks[[L_HIP, R_HIP], :2].mean(axis=0)

    def height(self) -> float:
        return self.poses[-1].height_px()


def _detect_frame(image: np.ndarray, model: PoseModel) -> list[PoseDetection]:
    """The whole frame, and for a wide frame its left and right squares too (people a third of the height tall
    are too small for the 224 px detector on a letterboxed 16:9 frame)."""
    h, w = image.shape[:2]
    dets = model.detect(image)
    if w > 1.3 * h:
        for x0 in (0.0, float(w - h)):
            dets += model.detect(image, (x0, 0.0, float(h), float(h)))
    return dets


def _hips(pose: Pose) -> np.ndarray:
    return pose.landmarks[[L_HIP, R_HIP], :2].mean(axis=0)


def _same(pose: Pose, hip: np.ndarray, height: float) -> bool:
    return float(np.hypot(*(_hips(pose) - hip))) < SAME_PERSON * height


def follow_people(frames: Iterable[Frame], model: PoseModel, detect_every: int) -> list[_Person]:
    """Every person seen in these frames (their source-size images), each with one pose per frame followed."""
    active: list[_Person] = []
    done: list[_Person] = []
    for fr in frames:
        image = fr.full if fr.full is not None else fr.image
        taken: list[Pose] = []
        for p in list(active):
            pose = model.landmarks(image, p.roi)
            if pose is None or any(_same(pose, _hips(q), q.height_px()) for q in taken):
                p.lost += 1
                if p.lost > MAX_LOST:
                    active.remove(p)
                    done.append(p)
                continue
            p.frames.append(fr.index)
            p.t_s.append(fr.t_s)
            p.poses.append(pose)
            p.roi, p.lost = pose.next_roi, 0
            taken.append(pose)
        if fr.index % detect_every:
            continue
        for p in active:
            p.tries += 1
        for det in _detect_frame(image, model):
            near = [p for p in active if p.poses and float(np.hypot(*(det.keypoints[0] - p.hip()))) < SAME_PERSON * p.height()]
            if near:
                near[0].hits += 1
                continue
            pose = model.landmarks(image, det.roi())
            if pose is None or any(_same(pose, _hips(q), q.height_px()) for q in taken):
                continue
            active.append(_Person(pose.next_roi, [fr.index], [fr.t_s], [pose]))
            taken.append(pose)
    return done + active


def track_people(frames: Iterable[Frame], info: VideoInfo, shot: Shot, model: PoseModel, rates: tuple[int, int], *,
                 start_id: int, camera: np.ndarray | None = None) -> list[Track]:
    """Person tracks of one shot from pose alone (boxes from the landmarks, footfalls from the feet)."""
    tracks: list[Track] = []
    for p in sorted(follow_people(frames, model, rates[1]), key=lambda p: p.frames[0] if p.frames else 0):
        if len(p.frames) < 4 or p.t_s[-1] - p.t_s[0] < MIN_PERSON_S:
            continue
        frames = np.asarray(p.frames)
        lm = np.stack([q.landmarks for q in p.poses])
        cam = None if camera is None else camera[np.minimum(frames, len(camera) - 1)]
        gait = analyse_gait(np.asarray(p.t_s), lm, cam)
        boxes = np.array([q.box() for q in p.poses])
        x0, y0 = np.clip(boxes[:, 0], 0, info.width - 1), np.clip(boxes[:, 1], 0, info.height - 1)
        x1 = np.clip(boxes[:, 0] + boxes[:, 2], x0 + 1, info.width)
        y1 = np.clip(boxes[:, 1] + boxes[:, 3], y0 + 1, info.height)
        boxes = np.column_stack([x0, y0, x1 - x0, y1 - y0])
        h = float(np.median(body_height(lm)))
        hips = lm[:, [L_HIP, R_HIP], :2].mean(axis=1) - (0.0 if cam is None else cam)
        travel = float(np.hypot(*(hips[-1] - hips[0]))) / h
        feet_seen = ((lm[:, [L_ANKLE, R_ANKLE], 3].min(axis=1) >= 0.5)
                     & (lm[:, [L_ANKLE, R_ANKLE], 1].max(axis=1) < info.height - 2))
        edge = (x0 <= 0.01 * info.width) | (x1 >= 0.99 * info.width)
        tenth = max(1, len(boxes) // 10)
        evidence = {"person_hits": float(p.hits), "person_tries": float(max(p.hits, p.tries)),
                    "bottom_seen": round(float(feet_seen.mean()), 3), "at_edge": round(float(edge.mean()), 3),
                    "travel_heights": round(travel, 3),
                    "travel_widths": round(abs(float(hips[-1, 0] - hips[0, 0])) / info.width, 3),
                    "area_frac": round(float(np.median(boxes[:, 2] * boxes[:, 3])) / (info.width * info.height), 5),
                    "aspect_w_h": round(float(np.median(boxes[:, 2] / boxes[:, 3])), 3),
                    "growth": round(float(np.median(boxes[-tenth:, 3]) / max(np.median(boxes[:tenth, 3]), 1.0)), 3),
                    "shot": float(shot.index)} | gait_evidence(gait, len(p.poses))
        motion, steps = gait_motion(gait, "moving" if travel >= 0.5 else "static", [])
        tracks.append(Track(id=start_id + len(tracks), label="person", motion=motion,  # type: ignore[arg-type]
                            frames=frames.tolist(), t_s=[float(t) for t in p.t_s],
                            boxes=[tuple(float(v) for v in b) for b in boxes], onsets_s=steps,
                            frame_width=info.width, frame_height=info.height, shot=shot.index, evidence=evidence))
    log.info("shot %d: %d people followed by pose under a moving camera", shot.index, len(tracks))
    return tracks
