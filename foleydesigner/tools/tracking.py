"""Multi-object tracking for a static camera: who moves where, frame by frame (DESIGN.md, vision seam).

MOG2 background subtraction primed with a median of the opening seconds (objects present from frame 0 are
foreground at once; a camera's re-exposure taken out: tools/foreground.py) → blobs → Kalman + Hungarian; a blob
swallowing several tracks (people passing) is resolved by masked template matching; the BlazePose detector
(tools/pose.py) labels persons and splits people walking together, and its landmarks follow each person's feet
(footfalls: tools/people.py); tracklets split by occlusions are linked offline (motion, size, colour; the
tracklet and the linking: tools/tracklets.py). Motion class and onsets: tools/onsets.py. Shots whose camera
moves are not background-subtracted: people there are found and followed by pose alone.
"""

from __future__ import annotations

import bisect
import itertools
import logging
import math
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

from foleydesigner.schemas import Shot, Track, VideoInfo
from foleydesigner.tools import earlytrack, onsets
from foleydesigner.tools.cpus import read_ahead
from foleydesigner.tools.detchain import chain_tracks
from foleydesigner.tools.foreground import foreground
from foleydesigner.tools.people import gait_evidence
from foleydesigner.tools.pose import PoseModel, pose_available, shared_model
from foleydesigner.tools.posetrack import (
    PeopleFollower,
    credit_detections,
    gait_of,
    merge_people,
    people_in_box,
    people_tracks,
    track_people,
)
from foleydesigner.tools.tracklets import (
    Kalman,
    Tracklet,
    View,
    centre,
    ghost_landings,
    grow,
    inside,
    link,
    overlaps,
    smooth,
    track_evidence,
)
from foleydesigner.tools.video import Frame, iter_frames

log = logging.getLogger(__name__)

_COAST_S = 0.4  # keep predicting an unseen track this long online; longer gaps are linked offline
_DETECT_EVERY_S = 0.4  # pose detector on candidate regions only, a few times per second (~5-9 ms per crop)
#: Under a moving camera the landmarks are all there is: each person's are read this often (8-10 a second once
#: rounded to whole frames), which real footage needs to see every foot strike (at 5 a second the demo clip's
#: walkers showed 0-3 strikes in 10 s, at 10 a second 11-18, alternating). A still shot reads its walkers' steps
#: from their boxes (tools/onsets.py), so there the pose runs only with the detector, to say who is a person
#: and who sits: one inference costs 8-15 ms, and the pipeline's budget is half of real time on 2 cores.
_POSE_FPS = 8.0
#: A crop's detection counts as a person at this score, and only when its landmarks are found too (the
#: detector's own threshold, 0.5, passes a 22 px ball seen up close at 0.55-0.6; the demo clip's 50-75 px
#: walkers score 0.5-0.95, most often above 0.6).
_VOTE_SCORE = 0.6
#: Landmark frames after which a still shot's person is known (seated or not, 3.2 s at the detector's pace; as
#: many as make a person certain, agents/evidence.py POSE_CLEAR_FRAMES); then they are looked at again every
#: _RECHECK_S only.
_POSE_SAMPLES, _RECHECK_S = 8, 2.0
#: Smaller than this (source pixels tall), nobody can be told from a blob.
_MIN_PERSON_PX = 24
_MIN_AREA_FRAC = 2.5e-4  # smallest blob, as a fraction of the analysis frame (~20 px at 384x216)
_MAX_AREA_FRAC = 0.25  # a "track" whose box covers more of the frame than this is the picture changing


class _Tracker:
    def __init__(self, fps: float, min_area: float) -> None:
        self.fps = fps
        self.min_area, self.max_coast = min_area, max(1, int(round(_COAST_S * fps)))
        self.max_area = min_area / _MIN_AREA_FRAC * _MAX_AREA_FRAC
        self.active: list[Tracklet] = []
        self.done: list[Tracklet] = []
        self.next_id = 0
        self.view: View | None = None
        self.times: dict[int, float] = {}

    def step(self, frame: int, t: float, view: View, dets: list[np.ndarray]) -> None:
        self.view, self.times[frame] = view, t
        for tr in self.active:
            tr.pred = tr.kf.predict()
        conf = [tr for tr in self.active if tr.confirmed]
        dets = _join_fragments(dets, conf)
        # A "stay unmatched" column per track (cost 3 > any gated pair): no swap forced to give every row a blob.
        pair = np.full((len(self.active), len(dets)), 1e6)
        if self.active and dets:
            p, d = np.array([tr.pred for tr in self.active]), np.array(dets)
            v = np.array([math.hypot(tr.kf.x[4], tr.kf.x[5]) for tr in self.active])[:, None]
            s = np.sqrt(p[:, 2] * p[:, 3])[:, None]
            dist = np.hypot(*((d[None, :, :2] + d[None, :, 2:] / 2) - (p[:, None, :2] + p[:, None, 2:] / 2)).transpose(2, 0, 1))
            iou = overlaps(p, d, iou=True)
            ratio = (d[:, 2] * d[:, 3])[None, :] / (p[:, 2] * p[:, 3])[:, None]
            # Gate widens with speed: a ball reversing at a bounce lands ~2 frame-steps from its prediction.
            gated = ((iou > 0.05) | (dist < 0.8 * s + 2.0 * v)) & (ratio > 0.25) & (ratio < 4.0)
            pair = np.where(gated, (1 - iou) + dist / (s + v), 1e6)
        # A "stay unmatched" column per track (cost 3 > any gated pair): no swap forced to give every row a blob.
        cost = np.hstack([pair, np.where(np.eye(len(self.active)) > 0, 3.0, 1e6)])
        pairs = [(self.active[a], b) for a, b in zip(*linear_sum_assignment(cost), strict=True) if b < len(dets)]
        taken = {tr.id for tr, _ in pairs}
        for tr, j in pairs:
            d = dets[j]
            # Merge: a confirmed track that lost its blob while predicted inside this one (people passing)
            # is located by template matching, or carried by its prediction while hidden.
            # A blob over a large part of the frame (a close-up moving, the light changing) is no object to
            # resolve: matching templates inside it costs seconds and finds nothing worth a sound.
            hidden = [] if d[2] * d[3] > self.max_area else [
                u for u in conf if u.id not in taken and u.templ is not None
                and inside(u.pred, d) >= 0.5 and u.blind < 3 * self.max_coast]
            if not hidden:
                tr.add(frame, d, view)
                continue
            if tr.templ is None:
                tr.add(frame, d, None)
            else:
                hidden.append(tr)  # the blob is more than this track: locate it inside too
            for u in hidden:
                box, found = self._locate(view[0], u)
                u.add(frame, box, None, measured=found)
                taken.add(u.id)
        for tr in self.active:
            tr.misses += int(tr.frames[-1] != frame)
        used = {j for _, j in pairs}
        seen = [tr.boxes[-1] for tr in conf if tr.frames[-1] == frame]
        inside_seen = overlaps(np.array(dets), np.array(seen)).max(axis=1) if dets and seen else np.zeros(len(dets))
        for j, d in enumerate(dets):
            # A leftover piece inside an object just updated is part of it (or hidden behind it): no new track.
            if j not in used and d[2] * d[3] >= self.min_area and inside_seen[j] < 0.6:
                self.active.append(Tracklet(self.next_id, Kalman(d)))
                self.active[-1].add(frame, d, view)
                self.next_id += 1
        gone = [tr for tr in self.active if tr.misses > (self.max_coast if tr.confirmed else 1)]
        self.done += gone
        self.active = [tr for tr in self.active if tr not in gone]

    def _locate(self, image: np.ndarray, tr: Tracklet) -> tuple[np.ndarray, bool]:
        """Best masked-template match near the prediction, or (prediction, False) when hidden behind another."""
        p = tr.pred
        assert tr.templ is not None
        templ, tmask = tr.templ
        th, tw = templ.shape[:2]
        mx, my = 0.3 * tw + abs(tr.kf.x[4]) + 2, 0.1 * th + abs(tr.kf.x[5]) + 1
        x0, y0 = int(max(0, p[0] - mx)), int(max(0, p[1] - my))
        region = image[y0:int(p[1] + p[3] + my), x0:int(p[0] + p[2] + mx)]
        if region.shape[0] < th or region.shape[1] < tw:
            return p, False
        res = np.nan_to_num(cv2.matchTemplate(region, templ, cv2.TM_CCOEFF_NORMED, mask=tmask), nan=-1.0)
        # Prefer the predicted place, so two look-alike people walking side by side do not swap.
        gy, gx = np.mgrid[0:res.shape[0], 0:res.shape[1]]
        px, py = p[0] + p[2] / 2 - tw / 2 - x0, p[1] + p[3] / 2 - th / 2 - y0
        iy, ix = np.unravel_index(np.argmax(res - 0.5 * (((gx - px) / tw) ** 2 + ((gy - py) / th) ** 2)), res.shape)
        if res[iy, ix] < 0.65:
            return p, False
        return np.r_[x0 + ix + tw / 2 - p[2] / 2, y0 + iy + th / 2 - p[3] / 2, p[2:]], True

    def vote_people(self, frame: int, image: np.ndarray, scale: float, model: PoseModel, detect: bool,
                    pose_gap: int) -> None:
        """The pose detector votes "person" per track (on a crop around its box, at source size); a person-like
        blob holding several people is split, one per person. A person's landmarks are then followed from frame
        to frame through the ROI the last landmarks give (tools/pose.py), re-detected when lost."""
        for tr in list(self.active):
            if not tr.confirmed or tr.misses or tr.blind:
                continue
            box = tr.boxes[-1] / scale
            group = box[2] > 0.6 * box[3] and tr.person_hits >= 1  # one person is ≤ ~0.6 as wide as tall
            # A person seen often enough is known: their state is checked again now and then, not every time.
            # Landmarks on _POSE_SAMPLES frames make a person as certain as detections do (one found them).
            if (len(tr.poses) >= _POSE_SAMPLES and tr.person_hits >= 1 and not group
                    and frame - max(tr.poses) < _RECHECK_S * self.fps):
                continue
            if tr.roi is not None and frame - tr.roi_frame <= 3 * pose_gap:
                pose = model.landmarks(image, tr.roi)
                if pose is not None and inside(np.array(pose.box()), grow(box, 0.3)) >= 0.5:
                    tr.poses[frame], tr.roi, tr.roi_frame = pose.landmarks, pose.next_roi, frame
                    continue
                tr.roi = None
            if not detect or tr.person_tries >= (40 if tr.person_hits else 12):
                continue
            people = sorted(people_in_box(image, box, model, min_px=_MIN_PERSON_PX, min_score=_VOTE_SCORE), key=lambda p: abs(p[0][0] + p[0][2] / 2 - box[0] - box[2] / 2))
            tr.person_tries, tr.person_hits = tr.person_tries + 1, tr.person_hits + int(bool(people))
            if not people:
                continue
            if len(people) < 2 or not group or self.view is None:
                _, pose = people[0]
                if pose is not None:
                    tr.poses[frame], tr.roi, tr.roi_frame = pose.landmarks, pose.next_roi, frame
                continue
            for k, (pbox, pose) in enumerate(people):  # the nearest keeps the track, the others start new ones
                p = np.asarray(pbox) * scale
                part = tr if k == 0 else Tracklet(self.next_id, Kalman(p), [tr.frames[-1]], [p], [True])
                part.kf.x = np.r_[centre(p), tr.kf.x[4:]]  # people walking together share the group's velocity
                part.set_template(self.view, p)
                if pose is not None:
                    part.poses[frame], part.roi, part.roi_frame = pose.landmarks, pose.next_roi, frame
                if k == 0:
                    tr.boxes[-1] = p
                else:
                    part.person_hits, part.hist, self.next_id = 2, tr.hist, self.next_id + 1
                    self.active.append(part)
            log.debug("split track %d into %d people by pose", tr.id, len(people))


def _join_fragments(dets: list[np.ndarray], conf: list[Tracklet]) -> list[np.ndarray]:
    """Pieces of one object (torso, legs) lying in its prediction alone, and not too big together, unite."""
    owner: dict[int, list[int]] = {}
    if not dets or not conf:
        return dets
    frac = overlaps(np.array(dets), np.array([grow(tr.pred, 0.15) for tr in conf]))
    for j in range(len(dets)):
        near = np.flatnonzero(frac[j] > 0)
        if len(near) == 1 and frac[j, near[0]] >= 0.7:
            owner.setdefault(id(conf[near[0]]), []).append(j)
    preds, out, gone = {id(tr): tr.pred for tr in conf}, [], set()
    for key, js in ((k, v) for k, v in owner.items() if len(v) >= 2):
        lo, hi = np.min([dets[j][:2] for j in js], axis=0), np.max([dets[j][:2] + dets[j][2:] for j in js], axis=0)
        if np.prod(hi - lo) <= 1.6 * preds[key][2] * preds[key][3]:
            out.append(np.r_[lo, hi - lo])
            gone.update(js)
    return out + [d for j, d in enumerate(dets) if j not in gone]


def _shot_of(shots: list[Shot]) -> Callable[[int], int]:
    starts = [s.start_frame for s in shots]
    return lambda frame: max(0, bisect.bisect_right(starts, frame) - 1)


def _track_shot(frames: Iterator[Frame], info: VideoInfo, size: tuple[int, int], model: PoseModel | None,
                rates: tuple[int, int], go_on: Callable[[], bool] = lambda: True) -> tuple[_Tracker, PeopleFollower | None]:
    """Track one static shot: MOG2 primed on the shot's own opening seconds (buffered at analysis size, the
    rest streams through), so nothing of the previous shot's picture is background here, and no tracklet
    outlives the shot."""
    tracker = _Tracker(info.fps, _MIN_AREA_FRAC * size[0] * size[1])
    # The whole-frame detector looks every other detector frame (a newcomer stays longer than that); whoever it
    # finds that no blob track follows is followed by landmarks at the moving-camera pace.
    follower = PeopleFollower(model, 2 * rates[1]) if model is not None else None
    # Decoding and the background model run a few frames ahead on a thread of their own (outside the GIL: FFmpeg,
    # OpenCV) while this one tracks and runs the pose model.
    ahead = read_ahead(foreground(frames, info.fps, tracker.min_area * 0.5))
    try:
        for fr, dets, mask in ahead:
            if not go_on():  # an early pass (tools/earlytrack.py) no longer wanted
                break
            tracker.step(fr.index, fr.t_s, (fr.image, mask), dets)
            if fr.full is None or model is None or follower is None:
                continue
            if fr.index % rates[1] == 0:
                tracker.vote_people(fr.index, fr.full, size[0] / info.width, model, True, rates[1])
            # People big enough for the whole-frame detector, however the blobs fall (a body cut by the frame edge);
            # those a blob track already follows by their landmarks are left to it.
            follower.step(fr, [tr.boxes[-1] / (size[0] / info.width) for tr in tracker.active
                               if tr.roi_frame == fr.index])
    finally:
        ahead.close()  # the producer stopped and waited for here, even when a step raised
    return tracker, follower


def track_objects(video_path: str | Path, info: VideoInfo, *, analysis_width: int = 384,
                  min_track_s: float = 0.5, shots: list[Shot] | None = None,
                  camera_offsets: np.ndarray | None = None) -> list[Track]:
    """Track every moving object, shot by shot: one Track per object with a box (source-frame pixels) per frame
    where it is seen, a label ("person", "vehicle", "ball", "object"), a motion class, its visual onsets
    (footfalls, bounces, impacts) and the evidence behind them.

    Tracking restarts at every cut and no track crosses one. Only shots whose camera holds still are tracked:
    background subtraction reads a pan, a zoom or hand-held shake as motion everywhere (tools/camera.py), and a
    missed sound costs less than an invented one. A "static" camera may still drift slowly; `camera_offsets`
    (source pixels per frame, tools/picture.py) takes that drift out of each track's travel, so the edge of a
    wall sliding past is not a walker. Without `shots`, the clip is one static shot.
    """
    if analysis_width < 64 or min_track_s < 0:
        raise ValueError(f"analysis_width must be ≥ 64 px and min_track_s ≥ 0, got {analysis_width}, {min_track_s}")
    scale, size, model, pose_every, rates = _setup(info, analysis_width)
    sx, sy = info.width / size[0], info.height / size[1]
    shots = shots or [Shot(index=0, start_frame=0, end_frame=max(0, info.n_frames - 1), start_s=0.0,
                           end_s=info.duration_s)]
    shot_of = _shot_of(shots)
    still = [s.camera == "static" for s in shots]
    early = earlytrack.take(video_path, analysis_width, shots)  # this pass, run while the shots were found
    decoded = iter_frames(video_path, max_width=size[0] if scale < 1.0 else None, full_every=pose_every,
                          keep=lambda i: still[shot_of(i)] or (model is not None and i % pose_every == 0))
    tracks: list[Track] = []
    for k, group in [(0, iter(()))] if early is not None else itertools.groupby(decoded, key=lambda fr: shot_of(fr.index)):
        if not still[k]:  # a moving camera: people by pose alone (tools/posetrack.py)
            if model is not None:
                tracks += track_people(group, info, shots[k], model, rates, start_id=len(tracks), camera=camera_offsets)
            continue
        tracker, follower = early if early is not None else _track_shot(group, info, size, model, rates)
        found = _finish(tracker, info, shots[k], (sx, sy), min_track_s, start_id=len(tracks), camera=camera_offsets)
        if follower is not None:
            found = credit_detections(found, follower.detections)
            found = merge_people(found, people_tracks(follower.people, info, shots[k], start_id=0, camera=camera_offsets))
            found += chain_tracks(follower.chains, found, info, shots[k], start_id=len(found), camera=camera_offsets)
        tracks += [t.model_copy(update={"id": len(tracks) + i}) for i, t in enumerate(found)]
    log.info("tracked %d objects in %s", len(tracks), video_path)
    return tracks


def _setup(info: VideoInfo, analysis_width: int) -> tuple[float, tuple[int, int], PoseModel | None, int, tuple[int, int]]:
    """The pass's analysis scale and size, pose model, landmark and detector frame steps."""
    scale = min(1.0, analysis_width / info.width)
    size = (int(round(info.width * scale / 2)) * 2, int(round(info.height * scale / 2)) * 2)
    model = shared_model() if pose_available() else None
    pose_every = max(1, int(round(info.fps / _POSE_FPS)))
    return scale, size, model, pose_every, (pose_every, pose_every * max(1, int(round(_DETECT_EVERY_S * info.fps / pose_every))))


def still_pass(video_path: str | Path, info: VideoInfo, analysis_width: int,
               go_on: Callable[[], bool]) -> tuple[_Tracker, PeopleFollower | None]:
    """track_objects' pass over a clip of one still shot (tools/earlytrack.py); it stops once go_on() is False."""
    scale, size, model, pose_every, rates = _setup(info, analysis_width)
    frames = iter_frames(video_path, max_width=size[0] if scale < 1.0 else None, full_every=pose_every, keep=lambda i: True)
    return _track_shot(itertools.takewhile(lambda _: go_on(), frames), info, size, model, rates, go_on)


def _finish(tracker: _Tracker, info: VideoInfo, shot: Shot, scale: tuple[float, float], min_track_s: float,
            start_id: int, camera: np.ndarray | None = None) -> list[Track]:
    """Link a shot's tracklets, drop the ones that are no object, describe the rest."""
    sx, sy = scale
    tracks: list[Track] = []
    stills: list[tuple[np.ndarray, np.ndarray]] = []  # dropped chains: ghosts a mover may land in
    for chain in sorted(link([tr for tr in tracker.done + tracker.active if tr.confirmed], info.fps), key=lambda c: c[0].frames[0]):
        frames = np.array([f for tr in chain for f in tr.frames])
        times = [tracker.times[f] for f in frames]
        boxes = np.array([b for tr in chain for b in tr.boxes]) * [sx, sy, sx, sy]
        if times[-1] - times[0] < min_track_s:
            continue
        # A box over most of the frame is the picture changing (light, a cut missed, a hand over the lens),
        # not an object: whole-frame regions are never tracks.
        if float(np.median(boxes[:, 2] * boxes[:, 3])) > _MAX_AREA_FRAC * info.width * info.height:
            continue
        hits, upright = sum(tr.person_hits for tr in chain), float(np.median(boxes[:, 3] / boxes[:, 2])) >= 1.5
        hog_person = hits >= 2 or (hits >= 1 and upright)  # one detection on an upright blob is a person too
        # Motion and onsets read raw solo boxes: frames placed inside a merged blob are gaps to them.
        solo = np.array([f for tr in chain for f in tr.solo])
        keep = solo if solo.sum() >= 0.5 * len(solo) else np.ones(len(solo), bool)
        tid = start_id + len(tracks)
        raw = Track(id=tid, label="person" if hog_person else "object", frames=frames[keep].tolist(),
                    t_s=np.asarray(times)[keep].tolist(), boxes=[tuple(b) for b in boxes[keep]],
                    frame_width=info.width, frame_height=info.height)
        desc = onsets.describe_track(raw, info.fps)
        poses = sorted(((f, lm) for tr in chain for f, lm in tr.poses.items()), key=lambda p: p[0]) if hog_person else []
        gait = gait_of(poses, tracker.times, camera)
        centres = boxes[:, :2] + boxes[:, 2:] / 2 - (camera[np.minimum(frames, len(camera) - 1)] if camera is not None else 0.0)
        travel = float(np.hypot(*(centres[-1] - centres[0]))) / float(np.median(boxes[:, 2:].max(axis=1)))
        # Drop fluttering tape or foliage (jitters in place) and shreds of blobs seen now and then.
        tiny = np.median(boxes[:, 2] * boxes[:, 3]) / (sx * sy) < 2 * tracker.min_area
        if not hog_person and (tiny or len(frames) < 0.5 * (frames[-1] - frames[0] + 1)
                               or (desc.motion not in ("walking", "bouncing") and travel < (0.75 if upright else 1.5))):
            stills.append((frames, boxes))
            continue
        moved = None if camera is None else camera[np.minimum(frames, len(camera) - 1)]
        evidence = track_evidence(chain, boxes, info, shot, moved)
        if desc.motion == "walking":
            evidence["gait_strength"] = round(onsets.gait_analysis(raw, info.fps).strength, 3)
        motion, steps = desc.motion, desc.onsets_s
        if gait is not None:
            gait.contacts, gait.alternation = [], 0.0  # landmarks at the detector's pace time no strikes
            evidence |= gait_evidence(gait, len(poses))
            if gait.state == "seated":  # a seated person's feet shuffle; they do not walk
                motion, steps = "static", []
        tracks.append(Track(id=tid, label=desc.label, motion=motion, frames=frames.tolist(), t_s=times,
                            boxes=[tuple(float(v) for v in b) for b in smooth(boxes, frames, info.fps)],
                            onsets_s=steps, frame_width=info.width, frame_height=info.height,
                            shot=shot.index, evidence=evidence))
    return ghost_landings(tracks, stills, info.fps, shot.end_frame)

