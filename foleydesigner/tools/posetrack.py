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
from foleydesigner.tools.detchain import LINK_S, DetectionChains, chain_tracks
from foleydesigner.tools.people import Gait, analyse_gait, body_height, fill_gaps, gait_evidence, gait_motion
from foleydesigner.tools.pose import L_ANKLE, L_HIP, R_ANKLE, R_HIP, Pose, PoseDetection, PoseModel, Roi
from foleydesigner.tools.video import Frame

log = logging.getLogger(__name__)

#: A person followed for less than this is a glimpse: no track.
MIN_PERSON_S = 0.5
#: A new detection whose hips lie within this many body heights of a followed person's is that person.
SAME_PERSON = 0.25
#: Share of the 33 landmarks that must be visible and inside the frame for a followed pose to be a body.
MIN_SEEN = 0.3
#: A detection near where a person was lost this recently continues that person.
REACQUIRE_S = 0.6
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
    """The whole frame, and for a wide frame (16:9, not 4:3) its left and right squares too (people a third of
    the height tall are too small for the 224 px detector on a letterboxed 16:9 frame)."""
    h, w = image.shape[:2]
    dets = model.detect(image)
    if w > 1.5 * h:
        for x0 in (0.0, float(w - h)):
            dets += model.detect(image, (x0, 0.0, float(h), float(h)))
    return dets


def _hips(pose: Pose) -> np.ndarray:
    return pose.landmarks[[L_HIP, R_HIP], :2].mean(axis=0)


def _on_screen(pose: Pose, shape: tuple[int, ...]) -> bool:
    """Whether a followed pose is still a body in the picture: enough of its landmarks seen and inside the frame
    (a ROI left behind by someone walking out keeps returning guesses on the empty street)."""
    lm = pose.landmarks
    inside = (lm[:, 0] >= 0) & (lm[:, 0] < shape[1]) & (lm[:, 1] >= 0) & (lm[:, 1] < shape[0])
    return float(np.mean(inside & (lm[:, 3] >= 0.5))) >= MIN_SEEN


def _same(pose: Pose, hip: np.ndarray, height: float) -> bool:
    return float(np.hypot(*(_hips(pose) - hip))) < SAME_PERSON * height


class PeopleFollower:
    """Feed frames (with their source-size images) one by one; `people` holds everyone seen, each with one pose
    per frame followed. The detector runs on the whole frame every `detect_every` frames."""

    def __init__(self, model: PoseModel, detect_every: int) -> None:
        self.model, self.detect_every = model, detect_every
        self.active: list[_Person] = []
        self.done: list[_Person] = []
        self.detections: list[tuple[int, np.ndarray, float]] = []  # (frame, hip centre, score) of every detection
        # Hits linked by position (tools/detchain.py); for a moment after someone is lost, or a body is found
        # that the landmark model cannot fit, the detector looks on every landmark frame, so a chain gets its hits.
        self.chains = DetectionChains()
        self.hot_until = -1.0
        self.seen = 0

    @property
    def people(self) -> list[_Person]:
        return self.done + self.active

    def step(self, fr: Frame, claimed: list[np.ndarray] | None = None) -> None:
        """One frame. `claimed`: boxes (source pixels) of bodies someone else already follows by their landmarks
        (a still shot's blob tracks): nobody inside them is followed twice."""
        image = fr.full if fr.full is not None else fr.image
        claimed = claimed or []
        self.active = [p for p in self.active if not any(_holds(c, p.hip(), 0.0) for c in claimed)]
        taken: list[Pose] = []
        for p in list(self.active):
            pose = self.model.landmarks(image, p.roi)
            if pose is None and p.hits >= 2:  # a body cut by the frame edge needs a wider look (pose.landmarks_for)
                pose = self.model.landmarks(image, Roi(p.roi.cx, p.roi.cy, p.roi.size * 1.6, p.roi.angle))
            if pose is None or not _on_screen(pose, image.shape) or any(_same(pose, _hips(q), q.height_px()) for q in taken):
                p.lost += 1
                self.hot_until = fr.t_s + LINK_S
                if p.lost > MAX_LOST:
                    self.active.remove(p)
                    self.done.append(p)
                continue
            p.frames.append(fr.index)
            p.t_s.append(fr.t_s)
            p.poses.append(pose)
            p.roi, p.lost = pose.next_roi, 0
            taken.append(pose)
        first, self.seen = self.seen == 0, self.seen + 1  # whoever is there when a shot opens is looked for at once
        scheduled = fr.index % self.detect_every == 0 or first
        if not scheduled and fr.t_s > self.hot_until:
            return
        for p in self.active:
            p.tries += scheduled
        for det in _detect_frame(image, self.model):
            near = [p for p in self.active
                    if p.poses and float(np.hypot(*(det.keypoints[0] - p.hip()))) < SAME_PERSON * p.height()]
            self.chains.add(fr.index, fr.t_s, det.keypoints[0], det.keypoints[1], det.score)
            mine = any(_holds(c, det.keypoints[0], 0.0) for c in claimed)
            if not scheduled:  # the extra looks feed the chains only (tools/detchain.py)
                continue
            self.detections.append((fr.index, det.keypoints[0].copy(), det.score))
            if mine:
                continue
            if near:
                near[0].hits += 1
                continue
            pose = self.model.landmarks_for(image, det)
            if pose is None:  # a body the landmark model cannot fit: the detector looks again for a while
                self.hot_until = fr.t_s + LINK_S
                continue
            if any(_same(pose, _hips(q), q.height_px()) for q in taken):
                continue
            back = [p for p in self.done if p.poses and fr.t_s - p.t_s[-1] <= REACQUIRE_S
                    and float(np.hypot(*(_hips(pose) - p.hip()))) < p.height()]
            if back:  # the landmark model lost them a moment ago: the same person, not a new one
                p = back[-1]
                self.done.remove(p)
                p.frames.append(fr.index)
                p.t_s.append(fr.t_s)
                p.poses.append(pose)
                p.roi, p.lost, p.hits = pose.next_roi, 0, p.hits + 1
                self.active.append(p)
            else:
                self.active.append(_Person(pose.next_roi, [fr.index], [fr.t_s], [pose]))
            taken.append(pose)


def follow_people(frames: Iterable[Frame], model: PoseModel, detect_every: int) -> list[_Person]:
    """Every person seen in these frames, each with one pose per frame followed."""
    follower = PeopleFollower(model, detect_every)
    for fr in frames:
        follower.step(fr)
    return follower.people


def track_people(frames: Iterable[Frame], info: VideoInfo, shot: Shot, model: PoseModel, rates: tuple[int, int], *,
                 start_id: int, camera: np.ndarray | None = None) -> list[Track]:
    """Person tracks of one shot from pose alone (boxes from the landmarks, footfalls from the feet)."""
    follower = PeopleFollower(model, rates[1])
    for fr in frames:
        follower.step(fr)
    tracks = people_tracks(follower.people, info, shot, start_id=start_id, camera=camera)
    return tracks + chain_tracks(follower.chains, tracks, info, shot, start_id=start_id + len(tracks), camera=camera)


def people_tracks(people: list[_Person], info: VideoInfo, shot: Shot, *, start_id: int,
                  camera: np.ndarray | None = None, steps: bool = True) -> list[Track]:
    """Tracks of the people followed (at least MIN_PERSON_S of landmarks each). steps=False: the landmarks were
    read too seldom to time foot strikes (a still shot's detector pace); a walker then gets the cadence its
    travel implies (agents/evidence.py), a seated person still none."""
    tracks: list[Track] = []
    for p in sorted(people, key=lambda p: p.frames[0] if p.frames else 0):
        if len(p.frames) < 4 or p.t_s[-1] - p.t_s[0] < MIN_PERSON_S:
            continue
        frames = np.asarray(p.frames)
        lm = np.stack([q.landmarks for q in p.poses])
        cam = None if camera is None else camera[np.minimum(frames, len(camera) - 1)]
        gait = analyse_gait(np.asarray(p.t_s), lm, cam)
        if not steps:
            gait.contacts, gait.alternation = [], 0.0
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
        motion, onsets = gait_motion(gait, "moving" if travel >= 0.5 else "static", [])
        if onsets and gait.state == "walking":  # stretches where the model lost the feet: the same cadence
            onsets = fill_gaps(onsets, np.asarray(p.t_s), p.t_s[0], p.t_s[-1], [])
        tracks.append(Track(id=start_id + len(tracks), label="person", motion=motion,  # type: ignore[arg-type]
                            frames=frames.tolist(), t_s=[float(t) for t in p.t_s],
                            boxes=[tuple(float(v) for v in b) for b in boxes], onsets_s=onsets,
                            frame_width=info.width, frame_height=info.height, shot=shot.index, evidence=evidence))
    log.info("shot %d: %d people followed by pose alone", shot.index, len(tracks))
    return tracks


def merge_people(blob_tracks: list[Track], pose_tracks: list[Track]) -> list[Track]:
    """A still shot's tracks from background subtraction, and its people found by pose on the whole frame: a
    person both found keeps the blob track when its own landmarks were read (the crops did it), else the pose
    track replaces the blobs it covers (a walker cut by the frame edge splits into leg and coat blobs, which
    the whole-frame detector sees as one body)."""
    out = list(blob_tracks)
    for p in pose_tracks:
        pb = {f: b for f, b in zip(p.frames, p.boxes, strict=True)}
        cover = [t for t in out if _overlap(t, pb) >= 0.5]
        if any(t.evidence.get("pose_frames", 0.0) >= 4 for t in cover):
            continue
        rest = [t for t in out if t not in cover]
        part = [t for t in rest if _overlap(p, {f: b for f, b in zip(t.frames, t.boxes, strict=True)}) >= 0.2]
        if any(t.evidence.get("person_hits", 0.0) >= 2 or t.evidence.get("pose_frames", 0.0) >= 4 for t in part):
            continue  # a blob track known to be a person already follows this body (partly): it keeps it
        out = [t for t in rest if t not in part] + [p]  # pieces of this body (legs, a coat) give way to it
    return sorted(out, key=lambda t: (t.start_s, t.id))


def _overlap(t: Track, boxes: dict[int, tuple[float, float, float, float]]) -> float:
    """Share of a track's frames, among those both see, where its box centre lies inside the other's box."""
    both = [(b, boxes[f]) for f, b in zip(t.frames, t.boxes, strict=True) if f in boxes]
    if len(both) < 3:
        return 0.0
    inside = [q[0] <= b[0] + b[2] / 2 <= q[0] + q[2] and q[1] <= b[1] + b[3] / 2 <= q[1] + q[3] for b, q in both]
    return float(np.mean(inside)) * min(1.0, len(both) / max(1, len(t.frames) // 2))


def credit_detections(tracks: list[Track], detections: list[tuple[int, np.ndarray, float]]) -> list[Track]:
    """Whole-frame person detections vote for the blob tracks whose box holds their hips at that frame: a body
    cut by the frame edge (legs walking past) is found by the whole-frame detector though no crop of its
    blobs is."""
    by_frame: dict[int, list[np.ndarray]] = {}
    for f, hip, _ in detections:
        by_frame.setdefault(f, []).append(hip)
    out = []
    for t in tracks:
        votes = 0
        for f, (x, y, w, h) in zip(t.frames, t.boxes, strict=True):
            votes += any(x - 0.1 * w <= p[0] <= x + 1.1 * w and y - 0.1 * h <= p[1] <= y + 1.1 * h for p in by_frame.get(f, []))
        if votes and "person_hits" in t.evidence and t.label in ("person", "object"):
            hits = t.evidence["person_hits"] + votes
            ev = t.evidence | {"person_hits": hits, "person_tries": max(hits, t.evidence.get("person_tries", 0.0))}
            t = t.model_copy(update={"evidence": ev, "label": "person" if hits >= 2 else t.label})
        out.append(t)
    return out


def people_in_box(image: np.ndarray, box: np.ndarray, model: PoseModel, *, min_px: float,
                  min_score: float) -> list[tuple[tuple[float, ...], Pose | None]]:
    """People the pose detector finds around this box (source pixels): (box from their landmarks, Pose), one per
    person whose hips lie inside the box and whose body is about the box's height."""
    x, y, w, h = box
    if h < min_px:
        return []
    side = 1.4 * max(w, h)
    found: list[tuple[tuple[float, ...], Pose | None]] = []
    for det in model.detect(image, (x + w / 2 - side / 2, y + h / 2 - side / 2, side, side), min_score=min_score):
        hip, top = det.keypoints[0], det.keypoints[1]
        reach = float(np.hypot(*(top - hip)))  # hips to the top of the body circle ≈ half a body height or more
        if not (0.25 * h <= reach <= 1.5 * h and _holds(box, hip, 0.15)):
            continue
        pose = model.landmarks_for(image, det)
        if pose is None:  # the landmark model sees no body there: a ball, a bag, a shadow
            continue
        pbox = pose.box()
        if all(_iou(pbox, q) < 0.3 for q, _ in found):
            found.append((tuple(float(v) for v in pbox), pose))
    return found


def _holds(box: np.ndarray, p: np.ndarray, grow: float) -> bool:
    x, y, w, h = box
    return bool(x - grow * w <= p[0] <= x + (1 + grow) * w and y - grow * h <= p[1] <= y + (1 + grow) * h)


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    iw = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return inter / (a[2] * a[3] + b[2] * b[3] - inter + 1e-9)


def gait_of(poses: list[tuple[int, np.ndarray]], times: dict[int, float], camera: np.ndarray | None) -> Gait | None:
    """Foot contacts, state and hand moves from a person's landmarks (≥ 6 frames of them), camera taken out."""
    if len(poses) < 6:
        return None
    frames = np.array([f for f, _ in poses])
    cam = None if camera is None else camera[np.minimum(frames, len(camera) - 1)]
    return analyse_gait(np.array([times[f] for f in frames]), np.stack([lm for _, lm in poses]), cam)
