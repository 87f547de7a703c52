"""People the landmark model cannot follow, from the pose detector's repeated hits linked by position.

A walker seen only from the waist down, close to a moving camera, is found by the whole-frame pose detector on
frame after frame, but the landmark model, asked to fit a whole body to the legs, loses him after a frame (and,
with its presence threshold lowered, goes on "finding" a body on the empty street once he has gone). The
detector's own hits are the better evidence there: each gives the hip centre and a point on the circle around
the whole body, so hits that follow one another in time and place, at a walker's pace in one direction, are one
person walking. The track's box is the body circle's (the detector's box is a face box, and the face may be out
of shot); its steps come at the cadence its speed implies (agents/evidence.py), never timed strikes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from foleydesigner.schemas import Shot, Track, VideoInfo

log = logging.getLogger(__name__)

#: A hit continues a chain whose last hit is at most this old and whose hips lie within this many body-circle
#: radii of its own.
LINK_S, LINK_RADII = 0.3, 0.8
#: ... and whose body circle is at most this much larger or smaller.
SIZE_RATIO = 1.6
#: A walking chain's track is carried on at its own speed this long before its first and after its last hit.
EXTEND_S = 0.5
#: Steps per second of an ordinary walk (agents/evidence.py DEFAULT_CADENCE_HZ).
WALK_CADENCE_HZ = 1.8
#: A chain is a person when it has this many hits over at least this long, at this mean detector score.
MIN_HITS, MIN_SPAN_S, MIN_MEAN_SCORE = 4, 0.3, 0.55
#: Speeds (body-circle radii per second, camera motion out) a walker's hips move at, from a stroll to a run.
WALK_SPEED = (0.4, 6.0)
#: Share of the links that must move the chain's overall way at a walking speed for it to be a walker.
STEADY = 0.7


@dataclass
class _Chain:
    frames: list[int] = field(default_factory=list)
    t_s: list[float] = field(default_factory=list)
    hips: list[np.ndarray] = field(default_factory=list)
    radii: list[float] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)


class DetectionChains:
    """Whole-frame detections (frame, time, hip centre, body-circle point, score) linked into chains."""

    def __init__(self) -> None:
        self.chains: list[_Chain] = []

    def add(self, frame: int, t_s: float, hip: np.ndarray, scale_pt: np.ndarray, score: float) -> None:
        r = float(np.hypot(*(scale_pt - hip)))
        if r < 4.0:
            return
        best, gap = None, LINK_RADII
        for c in self.chains:
            if not 1 / SIZE_RATIO <= r / c.radii[-1] <= SIZE_RATIO:  # a body twice the size is someone else
                continue
            if c.frames[-1] == frame:  # the same body seen again by an overlapping window of the same frame
                if float(np.hypot(*(hip - c.hips[-1]))) < LINK_RADII * min(c.radii[-1], r):
                    return
                continue
            if t_s - c.t_s[-1] > LINK_S:
                continue
            d = float(np.hypot(*(hip - c.hips[-1]))) / min(c.radii[-1], r)
            if d < gap:
                best, gap = c, d
        if best is None:
            best = _Chain()
            self.chains.append(best)
        best.frames.append(frame)
        best.t_s.append(t_s)
        best.hips.append(np.asarray(hip, float).copy())
        best.radii.append(r)
        best.scores.append(float(score))


def walking_chain(c: _Chain, camera: np.ndarray | None) -> dict[str, float] | None:
    """What makes a chain a walker (hits, span, score, steady travel), or None when it is not one."""
    if len(c.frames) < MIN_HITS or c.t_s[-1] - c.t_s[0] < MIN_SPAN_S or float(np.mean(c.scores)) < MIN_MEAN_SCORE:
        return None
    hips = np.array(c.hips)
    if camera is not None and len(camera):
        hips = hips - camera[np.minimum(np.asarray(c.frames), len(camera) - 1)]
    r = float(np.median(c.radii))
    way = hips[-1] - hips[0]
    if float(np.hypot(*way)) < r:  # less than a body circle's radius in all: standing, swaying, a false hit
        return None
    steps = np.diff(hips, axis=0)
    dt = np.maximum(np.diff(c.t_s), 1e-3)
    speed = np.hypot(steps[:, 0], steps[:, 1]) / r / dt
    along = steps @ (way / np.hypot(*way)) > 0
    steady = float(np.mean(along & (speed >= WALK_SPEED[0]) & (speed <= WALK_SPEED[1])))
    if steady < STEADY:
        return None
    return {"hits": float(len(c.frames)), "steady": round(steady, 3), "mean_score": round(float(np.mean(c.scores)), 3)}


def chain_tracks(chains: DetectionChains, covered: list[Track], info: VideoInfo, shot: Shot, *, start_id: int,
                 camera: np.ndarray | None = None) -> list[Track]:
    """Tracks of the walkers whom only the detector's chained hits follow: chains that walk (walking_chain) and
    that no track in `covered` (landmark-followed people, blob tracks) already holds for most of their hits."""
    out: list[Track] = []
    for c in chains.chains:
        why = walking_chain(c, camera)
        held = [t.id for t in covered if _walks(t) and _holds_chain(t, c)]
        if len(c.frames) >= MIN_HITS:
            log.debug("shot %d: chain of %d hits %.2f-%.2f s (score %.2f): %s%s", shot.index, len(c.frames), c.t_s[0],
                      c.t_s[-1], float(np.mean(c.scores)), why or "no walker", f", held by tracks {held}" if held else "")
        if why is None or held:
            continue
        frames, times, hips, r = _extended(c, info, shot)
        # The body circle spans the head to the feet; a body is about 0.6 of that circle's width across.
        x0 = np.clip(hips[:, 0] - 0.3 * r, 0, info.width - 1)
        y0 = np.clip(hips[:, 1] - r, 0, info.height - 1)
        x1 = np.clip(hips[:, 0] + 0.3 * r, x0 + 1, info.width)
        y1 = np.clip(hips[:, 1] + r, y0 + 1, info.height)
        boxes = np.column_stack([x0, y0, x1 - x0, y1 - y0])
        cam = None if camera is None or not len(camera) else camera[np.minimum(np.asarray(frames), len(camera) - 1)]
        own = hips - (0.0 if cam is None else cam)
        height = 2.0 * float(np.median(r)) / 1.25  # the circle is grown ×1.25 around the body
        bottom_seen = (hips[:, 1] + r / 1.25) < info.height - 2
        edge = (x0 <= 0.01 * info.width) | (x1 >= 0.99 * info.width)
        ev = {"person_hits": why["hits"], "person_tries": why["hits"], "detector_chain": why["steady"],
              "bottom_seen": round(float(bottom_seen.mean()), 3), "at_edge": round(float(edge.mean()), 3),
              "travel_heights": round(float(np.hypot(*(own[-1] - own[0]))) / height, 3),
              "travel_widths": round(abs(float(own[-1, 0] - own[0, 0])) / info.width, 3),
              "area_frac": round(float(np.median(boxes[:, 2] * boxes[:, 3])) / (info.width * info.height), 5),
              "aspect_w_h": round(float(np.median(boxes[:, 2] / boxes[:, 3])), 3),
              "growth": round(float(r[-1] / max(r[0], 1.0)), 3),
              # steady travel of a detected body is its gait evidence here: no strike is timed (GAIT_CLEAR 0.45
              # is reached only by a chain steady on every link)
              "gait_strength": round(0.45 * why["steady"], 3), "shot": float(shot.index)}
        # A body circle cut by the frame (legs only, the rest above the picture) gives no true scale, so no
        # cadence from its speed either: such a walker steps at an ordinary walking pace.
        cut = float(np.mean((hips[:, 1] - r < 0) | (hips[:, 1] + r > info.height))) > 0.5
        steps = [float(t) for t in np.arange(times[0] + 0.5 / WALK_CADENCE_HZ, times[-1], 1.0 / WALK_CADENCE_HZ)] if cut else []
        out.append(Track(id=start_id + len(out), label="person", motion="walking", frames=frames,
                         t_s=times, boxes=[tuple(float(v) for v in b) for b in boxes], onsets_s=steps,
                         frame_width=info.width, frame_height=info.height, shot=shot.index, evidence=ev))
    return out


def _extended(c: _Chain, info: VideoInfo, shot: Shot) -> tuple[list[int], list[float], np.ndarray, np.ndarray]:
    """The chain's hits, and a walker's steady travel carried on past its first and last hit by at most
    EXTEND_S each way (never past the shot or beyond the frame edge): the detector finds a body a moment after it
    is in the picture and loses it a moment before it leaves."""
    frames, times, hips, r = list(c.frames), list(c.t_s), np.array(c.hips), np.array(c.radii)
    v = (hips[-1] - hips[0]) / max(times[-1] - times[0], 1e-3)
    first = max(shot.start_s, times[0] - EXTEND_S)
    last = min(shot.end_s, times[-1] + EXTEND_S)
    out_x = info.width + 0.3 * r[-1] if v[0] > 0 else -0.3 * r[-1]  # where its body leaves the picture
    last = min(last, times[-1] + max(0.0, (out_x - hips[-1, 0]) / float(v[0]) if abs(v[0]) > 1e-3 else EXTEND_S))
    in_x = -0.3 * r[0] if v[0] > 0 else info.width + 0.3 * r[0]
    first = max(first, times[0] - max(0.0, (hips[0, 0] - in_x) / float(v[0]) if abs(v[0]) > 1e-3 else EXTEND_S))
    rows_h, rows_r = [hips], [r]
    if first < times[0] - 1e-3:
        frames.insert(0, min(frames[0] - 1, shot.start_frame + int(round((first - shot.start_s) * info.fps))))
        times.insert(0, first)
        rows_h.insert(0, (hips[0] + v * (first - c.t_s[0]))[None])
        rows_r.insert(0, r[:1])
    if last > times[-1] + 1e-3:
        frames.append(max(frames[-1] + 1, shot.start_frame + int(round((last - shot.start_s) * info.fps))))
        times.append(last)
        rows_h.append((hips[-1] + v * (last - c.t_s[-1]))[None])
        rows_r.append(r[-1:])
    return frames, times, np.concatenate(rows_h), np.concatenate(rows_r)


def _holds_chain(t: Track, c: _Chain) -> bool:
    """Whether a track's boxes hold the chain's hips on most of the frames both see."""
    boxes = dict(zip(t.frames, t.boxes, strict=True))
    both = [(h, boxes[f]) for f, h in zip(c.frames, c.hips, strict=True) if f in boxes]
    if not both:
        lo, hi = t.frames[0], t.frames[-1]
        return False if not (lo <= c.frames[0] <= hi or lo <= c.frames[-1] <= hi) else _near_any(t, c)
    inside = [b[0] - 0.25 * b[2] <= h[0] <= b[0] + 1.25 * b[2] and b[1] - 0.25 * b[3] <= h[1] <= b[1] + 1.25 * b[3]
              for h, b in both]
    return float(np.mean(inside)) >= 0.5


def _near_any(t: Track, c: _Chain) -> bool:
    """Frames differ (landmarks and detections on other frames): the nearest frame's box holds the chain's hips."""
    frames = np.asarray(t.frames)
    hits = 0
    for f, h in zip(c.frames, c.hips, strict=True):
        b = t.boxes[int(np.argmin(np.abs(frames - f)))]
        hits += b[0] - 0.25 * b[2] <= h[0] <= b[0] + 1.25 * b[2] and b[1] - 0.25 * b[3] <= h[1] <= b[1] + 1.25 * b[3]
    return hits >= 0.5 * len(c.frames)


def _walks(t: Track) -> bool:
    """Whether a covering track keeps the chain's body: any track but a person the landmarks followed without a
    gait (a body the model fits badly, such as legs taken for a whole small body)."""
    return t.label != "person" or t.motion == "walking" or t.evidence.get("pose_steps", 0.0) >= 2
