"""The tracker's pieces that need no video: box geometry, the Kalman filter on a box, the tracklet (an object's
boxes frame by frame, its appearance and its person evidence), and the offline steps run after the pass: linking
tracklets across occlusions and smoothing a chain's boxes. tools/tracking.py runs the pass.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy.signal import savgol_filter

from foleydesigner.schemas import Shot, Track, VideoInfo
from foleydesigner.tools.onsets import RIGID_RATIO
from foleydesigner.tools.pose import Roi

LINK_GAP_S = 1.2  # longest occlusion bridged by offline linking
View = tuple[np.ndarray, np.ndarray]  # (analysis frame, foreground mask)

def centre(b: np.ndarray) -> np.ndarray:
    return np.array([b[0] + b[2] / 2, b[1] + b[3] / 2, b[2], b[3]], float)


def inside(a: np.ndarray, b: np.ndarray, iou: bool = False) -> float:
    """Fraction of box a's area that lies inside box b (or, with iou=True, intersection over union)."""
    i = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])) * max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return i / (a[2] * a[3] + (b[2] * b[3] - i if iou else 0.0) + 1e-9)


def overlaps(a: np.ndarray, b: np.ndarray, iou: bool = False) -> np.ndarray:
    """inside for every pair: (len(a), len(b)) fractions of each box of a inside each box of b (or IoU)."""
    a, b = np.asarray(a, float).reshape(-1, 4), np.asarray(b, float).reshape(-1, 4)
    ix = np.clip(np.minimum(a[:, None, 0] + a[:, None, 2], b[None, :, 0] + b[None, :, 2])
                 - np.maximum(a[:, None, 0], b[None, :, 0]), 0.0, None)
    iy = np.clip(np.minimum(a[:, None, 1] + a[:, None, 3], b[None, :, 1] + b[None, :, 3])
                 - np.maximum(a[:, None, 1], b[None, :, 1]), 0.0, None)
    inter = ix * iy
    area_a, area_b = (a[:, 2] * a[:, 3])[:, None], (b[:, 2] * b[:, 3])[None, :]
    return inter / (area_a + (area_b - inter if iou else 0.0) + 1e-9)


def grow(b: np.ndarray, frac: float) -> np.ndarray:
    return np.array([b[0] - frac * b[2], b[1] - frac * b[3], b[2] * (1 + 2 * frac), b[3] * (1 + 2 * frac)])


def box_crop(image: np.ndarray, box: np.ndarray) -> np.ndarray:
    x, y, w, h = (int(round(v)) for v in box)
    return image[max(0, y):y + h, max(0, x):x + w]


class Kalman:
    """Constant velocity on the centre, random walk on the size: a walker's width swings with every step,
    so extrapolating a size velocity through a merge would shrink or inflate the prediction."""

    _F, _H = np.eye(6) + np.eye(6, k=4), np.eye(4, 6)

    def __init__(self, box: np.ndarray) -> None:
        self.x = np.r_[centre(box), 0.0, 0.0]
        self.P = np.diag([1, 1, 1, 1, 4, 4]) ** 2 * 0.05 * max(box[3], 4.0) ** 2

    def predict(self) -> np.ndarray:
        q = (0.03 * max(self.x[3], 4.0)) ** 2  # noise scales with size, so near and far objects behave alike
        self.x = self._F @ self.x
        self.P = self._F @ self.P @ self._F.T + np.diag([q, q, 4 * q, 4 * q, 2 * q, 2 * q])
        c = self.x[:4]
        return np.array([c[0] - c[2] / 2, c[1] - c[3] / 2, max(c[2], 1.0), max(c[3], 1.0)])

    def update(self, box: np.ndarray) -> None:
        r = (0.05 * max(self.x[3], 4.0)) ** 2
        K = self.P @ self._H.T @ np.linalg.inv(self._H @ self.P @ self._H.T + np.eye(4) * r)
        self.x = self.x + K @ (centre(box) - self._H @ self.x)
        self.P = (np.eye(6) - K @ self._H) @ self.P


@dataclass(eq=False)  # identity semantics: tracklets hold arrays and are compared by object
class Tracklet:
    id: int
    kf: Kalman
    frames: list[int] = field(default_factory=list)
    boxes: list[np.ndarray] = field(default_factory=list)
    solo: list[bool] = field(default_factory=list)  # a blob of its own (not placed inside a merged blob)
    misses: int = 0
    blind: int = 0  # consecutive frames placed by prediction only, inside a merged blob
    hist: np.ndarray | None = None
    templ: View | None = None
    person_hits: int = 0  # person detections (the pose detector; named for the HOG detector it replaced)
    person_tries: int = 0
    pred: np.ndarray = field(default_factory=lambda: np.zeros(4))
    poses: dict[int, np.ndarray] = field(default_factory=dict)  # frame -> (33, 5) landmarks, source pixels
    roi: Roi | None = None  # where this person's landmarks are looked for next
    roi_frame: int = -1

    def add(self, frame: int, box: np.ndarray, view: View | None, measured: bool = True) -> None:
        if measured:
            self.kf.update(box)
        self.frames.append(frame)
        self.boxes.append(box)
        self.solo.append(view is not None)
        self.misses, self.blind = 0, 0 if measured else self.blind + 1
        if view is not None:
            self.set_template(view, box)
            crop, m = box_crop(view[0], box), box_crop(view[1], box)
            if len(self.frames) % 5 == 1 and m.sum() >= 10:  # hue-saturation histogram for offline linking
                h = cv2.calcHist([cv2.cvtColor(crop, cv2.COLOR_BGR2HSV)], [0, 1], m, [12, 6], [0, 180, 0, 256])
                h = cv2.normalize(h, h).flatten()
                self.hist = h if self.hist is None else 0.8 * self.hist + 0.2 * h

    def set_template(self, view: View, box: np.ndarray) -> None:
        """Appearance = colour patch + its foreground mask: matching only the object's own pixels keeps a
        dark coat from matching dark background, and the other person in a merge from matching at all."""
        patch, m = box_crop(view[0], box), box_crop(view[1], box)
        if m.sum() >= 8:
            self.templ = (patch.copy(), np.repeat(m[:, :, None], 3, axis=2))

    @property
    def confirmed(self) -> bool:
        return len(self.frames) >= 3 or self.person_hits >= 2



def anchor(tr: Tracklet, at_end: bool, fps: float) -> tuple[int, np.ndarray, np.ndarray, float]:
    """(frame, centre, velocity px/frame, height) at a tracklet's end (start), from whole views only."""
    k = max(3, int(round(fps)))
    frames, boxes = (tr.frames[-k:], tr.boxes[-k:]) if at_end else (tr.frames[:k], tr.boxes[:k])
    h = float(np.median([b[3] for b in boxes]))
    good = [i for i, b in enumerate(boxes) if b[3] >= 0.8 * h] or list(range(len(boxes)))
    f = np.asarray([frames[i] for i in good], float)
    c = np.array([centre(boxes[i])[:2] for i in good])
    v = np.array([np.polyfit(f, c[:, i], 1)[0] for i in range(2)]) if len(f) >= 2 else np.zeros(2)
    return (frames[good[-1]], c[-1], v, h) if at_end else (frames[good[0]], c[0], v, h)


def link(tracklets: list[Tracklet], fps: float) -> list[list[Tracklet]]:
    """Chain tracklets across occlusions ≤ LINK_GAP_S: positions extrapolated both ways must meet, sizes
    agree within 40 % and colour histograms match; cheapest links first, each end used once."""
    gap_max = max(2, int(round(LINK_GAP_S * fps)))
    ends = {tr.id: anchor(tr, True, fps) for tr in tracklets}
    starts = {tr.id: anchor(tr, False, fps) for tr in tracklets}
    cands = []
    for a, b in itertools.permutations(tracklets, 2):
        (fa, ca, va, ha), (fb, cb, vb, hb) = ends[a.id], starts[b.id]
        if not 1 <= b.frames[0] - a.frames[-1] <= gap_max or not 0.7 < hb / ha < 1.4:
            continue
        g = fb - fa
        err = (np.linalg.norm(ca + va * g - cb) + np.linalg.norm(cb - vb * g - ca)) / 2
        # Tolerance: half a body plus drift over the gap, plus a velocity change (a bounce) of one frame.
        e = err / (ha * (0.5 + 0.6 * g / fps) + max(np.linalg.norm(va), np.linalg.norm(vb)))
        hd = 0.4 if a.hist is None or b.hist is None else cv2.compareHist(a.hist, b.hist, cv2.HISTCMP_BHATTACHARYYA)
        if e < 1.0 and hd < 0.6:
            cands.append((e + hd, a.id, b.id))
    nxt, prv = dict[int, int](), dict[int, int]()
    for _, ia, ib in sorted(cands):
        if ia not in nxt and ib not in prv:
            nxt[ia], prv[ib] = ib, ia
    by_id, chains = {tr.id: tr for tr in tracklets}, []
    for tr in (tr for tr in tracklets if tr.id not in prv):
        chains.append([tr])
        while chains[-1][-1].id in nxt:
            chains[-1].append(by_id[nxt[chains[-1][-1].id]])
    return chains


def smooth(boxes: np.ndarray, frames: np.ndarray, fps: float) -> np.ndarray:
    """Savitzky–Golay on centre and size within each contiguous run: removes blob-edge jitter, keeps turns."""
    win = max(5, 2 * int(round(0.1 * fps)) + 1)
    c = np.column_stack([boxes[:, :2] + boxes[:, 2:] / 2, boxes[:, 2:]])
    for run in np.split(np.arange(len(frames)), np.flatnonzero(np.diff(frames) > 1) + 1):
        if len(run) >= win:
            c[run] = savgol_filter(c[run], win, 2, axis=0)
    return np.column_stack([c[:, :2] - c[:, 2:] / 2, c[:, 2:]])


def track_evidence(chain: list[Tracklet], boxes: np.ndarray, info: VideoInfo, shot: Shot,
                   camera: np.ndarray | None) -> dict[str, float]:
    """What the detectors and the boxes say about one track, for the spotting rules (agents/evidence.py).
    Travel is the object's own: the camera's offset over the same frames is taken out."""
    centres = boxes[:, :2] + boxes[:, 2:] / 2 - (camera if camera is not None else 0.0)
    height = float(np.median(boxes[:, 3]))
    bottom_seen = (boxes[:, 1] + boxes[:, 3]) < info.height - 0.01 * info.height
    edge = ((boxes[:, 0] <= 0.01 * info.width) | (boxes[:, 0] + boxes[:, 2] >= 0.99 * info.width)
            | (boxes[:, 1] <= 0.01 * info.height))
    hits = float(sum(tr.person_hits for tr in chain))
    return {"person_hits": hits, "person_tries": max(hits, float(sum(tr.person_tries for tr in chain))),
            "bottom_seen": round(float(bottom_seen.mean()), 3), "at_edge": round(float(edge.mean()), 3),
            "travel_heights": round(float(np.hypot(*(centres[-1] - centres[0]))) / max(height, 1.0), 3),
            "travel_widths": round(float(abs(centres[-1, 0] - centres[0, 0])) / info.width, 3),
            "area_frac": round(float(np.median(boxes[:, 2] * boxes[:, 3])) / (info.width * info.height), 5),
            "aspect_w_h": round(float(np.median(boxes[:, 2] / np.maximum(boxes[:, 3], 1.0))), 3),
            # size at the end ÷ at the start (a tenth of the track each): > 1 approaching, < 1 receding
            "growth": round(float(np.median(boxes[-max(1, len(boxes) // 10):, 3]) / max(np.median(boxes[:max(1, len(boxes) // 10), 3]), 1.0)), 3),
            "shot": float(shot.index)}


#: A chain whose centre strays less than this (sizes) sits still: a thing at rest, or the ghost of one.
STILL_TRAVEL = 0.3
#: The last stretch of a track (s) read for its arrival; it moves at least LAND_MOVE sizes there.
LAND_S, LAND_MOVE = 0.3, 0.5


def ghost_landings(tracks: list[Track], stills: list[tuple[np.ndarray, np.ndarray]], fps: float, last_frame: int) -> list[Track]:
    """Tracks that end by coming to rest where a still blob sat, with an onset where they arrive.

    The background is primed with the median of the shot's opening seconds (tools/foreground.py): a thing that
    lies somewhere for most of the shot is background there, and until it arrives the empty spot shows as a
    still blob, its ghost. A mover that ends inside the frame, still moving fast, in its own ghost, which goes when
    it arrives, landed: a dropped thing hitting the floor, a slid one stopping. Its track is cut at the contact,
    so no halt is seen (tools/onsets.py); the onset is the first frame its box touches the ghost's. The ghost is
    about the mover's size, the mover does not grow as it comes (tools/onsets.RIGID_RATIO), and the shot goes on after the end
    (a track the cut ends landed nowhere).
    `last_frame`: the shot's.
    `stills`: (frames, boxes in source pixels) of the chains the shot dropped (as too small, too sparse or too
    still to be a sounding object); those that sat still until the mover's end are ghosts.
    """
    out = []
    n = max(3, int(round(LAND_S * fps)))
    for t in tracks:
        f, b = np.asarray(t.frames), np.asarray(t.boxes, float)
        if t.label not in ("object", "ball") or t.motion in ("static", "walking") or len(f) < 2 * n or f[-1] > last_frame - n:
            out.append(t)
            continue
        last, size = b[-1], float(np.median(np.sqrt(b[:, 2] * b[:, 3])))
        inside_frame = (last[0] > 0.01 * t.frame_width and last[1] > 0.01 * t.frame_height
                        and last[0] + last[2] < 0.99 * t.frame_width and last[1] + last[3] < 0.99 * t.frame_height)
        c = b[:, :2] + b[:, 2:] / 2
        # Still fast at its end, and keeping its size on the way (its blob shrinks only as it sinks into its ghost;
        # one that grows is coming towards the lens, a far walker down a street).
        sides = np.sqrt(b[-n:, 2] * b[-n:, 3])
        arrives = (float(np.hypot(*(c[-1] - c[-n]))) >= LAND_MOVE * size
                   and float(sides.max()) <= RIGID_RATIO * float(sides[0]))
        ghost = next((g for g in (_ghost(gf, gb, f[-1], n) for gf, gb in stills) if g is not None
                      and 0.4 <= g[2] * g[3] / size ** 2 <= 2.5
                      and overlaps(grow(last, 0.5)[None], g[None])[0, 0] > 0), None) if inside_frame and arrives else None
        if ghost is None:
            out.append(t)
            continue
        touch = overlaps(b[-n:], ghost[None])[:, 0] > 0
        k = len(f) - n + int(np.argmax(touch)) if touch.any() else len(f) - 1
        at = float(t.t_s[k])
        onsets = t.onsets_s if any(abs(o - at) <= 2 / fps for o in t.onsets_s) else sorted([*t.onsets_s, at])
        out.append(t.model_copy(update={"onsets_s": onsets, "evidence": {**t.evidence, "landings": 1.0}}))
    return out


def _ghost(frames: np.ndarray, boxes: np.ndarray, end: int, n: int) -> np.ndarray | None:
    """The box of a still chain that sat there at least n frames before `end` and is gone, or shrunk to under
    half, from a few frames after it on; None when it is no such ghost."""
    before, after = boxes[frames <= end], boxes[frames > end + 2]
    if len(before) < n or frames[0] > end - n:
        return None
    c = before[:, :2] + before[:, 2:] / 2
    if float(np.ptp(c, axis=0).max()) > STILL_TRAVEL * float(np.median(np.sqrt(before[:, 2] * before[:, 3]))):
        return None
    area = float(np.median(before[:, 2] * before[:, 3]))
    if len(after) and float(np.median(after[:, 2] * after[:, 3])) >= 0.5 * area:
        return None
    return np.median(before, axis=0)

