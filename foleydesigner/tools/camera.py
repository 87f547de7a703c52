"""Global (camera) motion between consecutive frames, and what the camera does over a shot.

Corners tracked by pyramidal Lucas–Kanade, then a RANSAC similarity transform (translation, rotation, uniform
scale) fitted to them: the dominant motion is the camera's, objects moving against it are RANSAC's outliers.
Corners gather on what is textured, and in a street seen from above that is the traffic: RANSAC's "dominant"
motion is then the cars'. So the background votes too: corners are also taken cell by cell over a grid, and when
most textured cells hold still (their median flow under a third of a pixel) the camera is still, whatever
moves across the rest; a pan moves every cell. When texture covers only a small part of the picture (a figure
against a plain backdrop: a white void, a blank wall), the corners are all on the subject and RANSAC would
report its motion as the camera's; the flat backdrop cannot show a camera move, so such a frame measures none.
Object motion is what remains after this transform is taken out (tools/tracking.py tracks only where the camera
holds still enough for background subtraction). Everything runs on small grey frames (~160 px wide): camera
motion is a whole-frame property, and 160 px keeps it to about a millisecond a frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

CameraKind = Literal["static", "handheld", "pan", "zoom"]
#: Per-frame shake (fraction of the frame width) under which a camera counts as locked off: a tripod's
#: residual jitter plus compression noise stays near 0.1 %; a hand-held camera shakes 0.3–1 % a frame.
STATIC_SHAKE = 0.0015
#: A pan keeps moving one way: net travel over the shot at least this fraction of the summed per-frame travel,
#: and at least this many frame widths in total.
PAN_CONSISTENCY, PAN_TRAVEL = 0.6, 0.15
#: A zoom changes the image scale by at least this factor over the shot, steadily (as consistent as a pan).
ZOOM_FACTOR = 1.08
#: A camera that drifts (this many frame widths) and scales (by this factor) at once, both steadily, travels
#: through the scene: the parallax of near and far things moves the background against itself, which the drift
#: taken out of a still shot's tracks (a translation) cannot remove, so such a shot is no still shot.
DOLLY_TRAVEL, DOLLY_ZOOM, DOLLY_CONSISTENCY = 0.05, 1.02, 0.9
_MAX_CORNERS = 150
#: The background vote: a lattice of LATTICE points across the width, kept where the picture has texture (corner
#: strength at least CORNER_FLOOR of the frame's best, so flat sky or black does not vote with noise), grouped in
#: a GRID of cells; a cell is still when its median flow is under STILL_PX (at ~160 px wide: 0.2 % of the width,
#: above a tripod's jitter, below hand-held shake); the camera is still when at least STILL_SHARE of at least
#: MIN_CELLS voting cells (3+ points each) are.
LATTICE, CORNER_FLOOR, GRID, STILL_PX, STILL_SHARE, MIN_CELLS = 32, 0.01, (4, 3), 0.33, 0.5, 4
#: The still cells drift together by less than this (px a frame: a tripod's jitter), and the corners' similarity
#: changes the scale by less than STILL_SCALE (a zoom is measured by RANSAC, not voted away).
STILL_DRIFT_PX, STILL_SCALE = 0.1, 0.003
#: Below this share of textured lattice points the texture is the subject, not the background (a figure against a
#: plain backdrop; on the project's real clips: a cartoon void 0.00-0.02, a tumbler before a wall 0.09-0.10,
#: talking heads 0.13-0.22, exteriors and rooms 0.26-0.86 in most frames): the frame measures no camera move
#: (classify_camera then reads the shot from the frames that do, and a shot with none is still).
FLAT_BACKDROP = 0.1
#: Traffic both ways under a still camera: at least this share of the voting cells (and two) hold still while
#: others cross each other (the overhead street of the real-clip benchmark: 4-7 of 10 cells still, the cars'
#: cells +2.5 and -4.7 px a frame in the same grid column).
CROSSING_STILL_SHARE = 0.25
#: A shot whose frames the background vote finds exactly still at least this often (and at least LOCKED_SPREAD of
#: its first and of its last third) is locked off, whatever RANSAC made of the rest (the overhead street: 0.7).
LOCKED_SHARE, LOCKED_SPREAD = 0.5, 0.3
#: A whip pan: at least WHIP_FRAMES frames whose whole picture moves WHIP_STEP of the width or more each. Under a
#: locked-off camera the vote's misses measure the traffic, at most 1.5 % a frame on the real clips (a car crosses
#: in a second or more); a whip sweeps the frame in a few frames (`bbb_log_falls`: 9 frames of 4-12 %). A shot that
#: whips is not locked off, however still its other frames are: the blobs of the sweep are no objects.
WHIP_STEP, WHIP_FRAMES = 0.04, 3
#: cv2.cornerMinEigenVal (block 5) of sensor noise σ = 3 levels stays under this at its 99th percentile.
NOISE_EIG = 2e-4


@dataclass(frozen=True)
class FrameMotion:
    """Similarity transform mapping the previous frame onto this one; shifts as fractions of the frame width."""

    dx: float
    dy: float
    scale: float
    inliers: float  # fraction of tracked corners that agree with the transform (low: no reliable estimate)


STILL = FrameMotion(0.0, 0.0, 1.0, 1.0)


class MotionEstimator:
    """Feed grey frames one by one; `update` returns the camera motion from the previous frame."""

    def __init__(self) -> None:
        self._prev: np.ndarray | None = None

    def reset(self) -> None:
        """Forget the previous frame (at a shot cut the two frames share no scene)."""
        self._prev = None

    def update(self, grey: np.ndarray) -> FrameMotion:
        prev, self._prev = self._prev, grey
        if prev is None:
            return STILL
        pts = cv2.goodFeaturesToTrack(prev, _MAX_CORNERS, 0.01, 4, blockSize=5)
        if pts is None or len(pts) < 8:
            return FrameMotion(0.0, 0.0, 1.0, 0.0)  # a flat frame (black, sky): nothing to measure
        nxt, status, _ = cv2.calcOpticalFlowPyrLK(prev, grey, pts, None, winSize=(15, 15), maxLevel=2)
        ok = status.ravel() == 1
        if ok.sum() < 8:
            return FrameMotion(0.0, 0.0, 1.0, 0.0)
        m, inl = cv2.estimateAffinePartial2D(pts[ok], nxt[ok], method=cv2.RANSAC, ransacReprojThreshold=1.0)
        if m is None:
            return FrameMotion(0.0, 0.0, 1.0, 0.0)
        scale = float(np.hypot(m[0, 0], m[1, 0]))
        lattice, owner, textured = _cell_corners(prev)
        if textured < FLAT_BACKDROP:
            return FrameMotion(0.0, 0.0, 1.0, 0.0)  # only the subject has texture: its motion is not the camera's
        if len(lattice):
            # A small window, so a road point beside a car follows the road, not the car's edges.
            moved, status, _ = cv2.calcOpticalFlowPyrLK(prev, grey, lattice, None, winSize=(7, 7), maxLevel=2)
            cells = _cell_flows(lattice, moved, status.ravel() == 1, owner)
            # A zoom moves the edges, not the centre: the majority vote waits for a scale RANSAC calls unchanged.
            if (abs(scale - 1.0) < STILL_SCALE and _background_still(cells)) or _crossing_traffic(cells):
                return FrameMotion(0.0, 0.0, 1.0, 1.0)
        w = grey.shape[1]
        # Translation of the frame centre (not of the origin), so a zoom about the centre reads as no shift.
        c = np.array([grey.shape[1] / 2, grey.shape[0] / 2])
        shift = m[:, :2] @ c + m[:, 2] - c
        return FrameMotion(float(shift[0] / w), float(shift[1] / w), scale, float(inl.mean()))


def _cell_corners(grey: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Points on a regular lattice over the picture wherever it is textured (points (n, 1, 2) float32, the GRID
    cell of each, and the share of the lattice that is textured). A lattice, not the strongest corners: each cell votes by area, so a road or a pavement
    outvotes the high-contrast cars driving over part of it."""
    h, w = grey.shape
    eig = cv2.cornerMinEigenVal(grey, 5)
    # Texture relative to the frame's best corner, but never so strict that the high-contrast cars alone vote
    # (a weak road is the picture's typical texture: the median keeps half of it); never as weak as sensor noise.
    floor = max(NOISE_EIG, min(CORNER_FLOOR * float(eig.max()), float(np.median(eig))))
    step = max(3, w // LATTICE)
    ys, xs = np.mgrid[step // 2:h - 2:step, step // 2:w - 2:step]
    keep = eig[ys, xs] >= floor
    share = float(keep.mean()) if keep.size else 0.0
    xs, ys = xs[keep], ys[keep]
    owner = np.minimum(xs * GRID[0] // w, GRID[0] - 1) * GRID[1] + np.minimum(ys * GRID[1] // h, GRID[1] - 1)
    return np.stack([xs, ys], axis=1).astype(np.float32).reshape(-1, 1, 2), owner, share


def _cell_flows(pts: np.ndarray, nxt: np.ndarray, ok: np.ndarray, owner: np.ndarray) -> dict[int, np.ndarray]:
    """The median flow (px a frame) of each GRID cell with at least 3 tracked lattice points."""
    flow, cell = (nxt - pts).reshape(-1, 2)[ok], owner[ok]
    if np.isnan(flow).any():  # np.median's NaN rule, the rare way
        return {int(c): np.median(flow[cell == c], axis=0) for c in np.unique(cell) if np.count_nonzero(cell == c) >= 3}
    # All cells at once (one median call per cell cost more than the optical flow): each cell's values sorted,
    # the middle one, or the mean of the middle two as np.median takes it (their sum, halved, in their dtype).
    cells, counts = np.unique(cell, return_counts=True)
    starts = np.cumsum(counts) - counts
    lo, hi = starts + (counts - 1) // 2, starts + counts // 2
    med = np.empty((cells.size, 2), dtype=flow.dtype)
    for j in range(2):
        v = flow[np.lexsort((flow[:, j], cell)), j]
        med[:, j] = (v[lo] + v[hi]) / 2
    return {int(c): med[i] for i, c in enumerate(cells) if counts[i] >= 3}


def _held(cells: dict[int, np.ndarray], need: float) -> bool:
    """Enough cells vote (MIN_CELLS), at least `need` of them hold still, and together they do not drift."""
    still = [v for v in cells.values() if float(np.hypot(*v)) < STILL_PX]
    if len(cells) < MIN_CELLS or len(still) < need:
        return False
    return float(np.hypot(*np.median(still, axis=0))) < STILL_DRIFT_PX


def _background_still(cells: dict[int, np.ndarray]) -> bool:
    """Most textured cells hold still, and together they do not drift (a slow pan or a hand-held sway moves
    every cell a little the same way): the camera holds still, and what moves is in front of it."""
    return _held(cells, STILL_SHARE * len(cells))


def _crossing_traffic(cells: dict[int, np.ndarray]) -> bool:
    """Some textured cells hold exactly still while, in one column of the grid, cells move opposite ways across
    it (or, in one row, opposite ways up and down): traffic in both directions under a locked-off camera, even
    when the cars outnumber the road's texture. A pan or a sway moves every cell one way; a tracking shot's
    moving background agrees with itself; a zoom moves all of one column the same way across (each column lies
    on one side of the centre). Only a roll about the lens axis would mimic it, and it leaves no cell still."""
    if not _held(cells, max(2, CROSSING_STILL_SHARE * len(cells))):
        return False
    moving = [(c, v) for c, v in cells.items() if float(np.hypot(*v)) >= STILL_PX]
    for i, (c1, v1) in enumerate(moving):
        for c2, v2 in moving[i + 1:]:
            if c1 // GRID[1] == c2 // GRID[1] and v1[0] * v2[0] < 0 and min(abs(v1[0]), abs(v2[0])) >= STILL_PX:
                return True
            if c1 % GRID[1] == c2 % GRID[1] and v1[1] * v2[1] < 0 and min(abs(v1[1]), abs(v2[1])) >= STILL_PX:
                return True
    return False


def classify_camera(motions: list[FrameMotion]) -> tuple[CameraKind, dict[str, float]]:
    """What the camera does over one shot, with the measurements behind the decision."""
    if len(motions) < 3:
        return "static", {"shake": 0.0, "travel": 0.0, "zoom": 1.0}
    good = [m for m in motions[1:] if m.inliers >= 0.3] or motions[1:]
    dx, dy = np.array([m.dx for m in good]), np.array([m.dy for m in good])
    steps = np.hypot(dx, dy)
    shake = float(np.median(steps))
    net = float(np.hypot(dx.sum(), dy.sum()))
    consistency = net / max(float(steps.sum()), 1e-9)
    logs = np.log([m.scale for m in good])
    zoom = float(np.exp(abs(logs.sum())))
    zoom_consistency = abs(float(logs.sum())) / max(float(np.abs(logs).sum()), 1e-9)
    facts = {"shake": round(shake, 5), "travel": round(net, 4), "consistency": round(consistency, 3),
             "zoom": round(zoom, 4),
             "zoom_consistency": round(zoom_consistency, 3)}
    # A camera the background vote found exactly still on most frames, early and late in the shot alike, is
    # locked off: its other frames measured the traffic crossing it (a pan that starts mid-shot leaves its end
    # unvoted, and stays a pan).
    held = np.array([m == STILL for m in motions[1:]], float)
    third = max(1, len(held) // 3)
    facts["still_frames"] = round(float(held.mean()), 3)
    whips = sum(float(np.hypot(m.dx, m.dy)) >= WHIP_STEP for m in motions[1:])
    facts["whip_frames"] = float(whips)
    if (held.mean() >= LOCKED_SHARE and min(held[:third].mean(), held[-third:].mean()) >= LOCKED_SPREAD
            and whips < WHIP_FRAMES):
        return "static", facts
    if zoom >= ZOOM_FACTOR and zoom_consistency >= PAN_CONSISTENCY:
        return "zoom", facts
    if net >= PAN_TRAVEL and consistency >= PAN_CONSISTENCY:
        return "pan", facts
    if (net >= DOLLY_TRAVEL and consistency >= DOLLY_CONSISTENCY and zoom >= DOLLY_ZOOM
            and zoom_consistency >= DOLLY_CONSISTENCY):
        return "pan", facts  # drifting and scaling steadily together: the camera travels (a dolly, a crane)
    if shake >= STATIC_SHAKE:
        return "handheld", facts
    return "static", facts
