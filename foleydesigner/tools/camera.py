"""Global (camera) motion between consecutive frames, and what the camera does over a shot.

Corners tracked by pyramidal Lucas–Kanade, then a RANSAC similarity transform (translation, rotation, uniform
scale) fitted to them: the dominant motion is the camera's, objects moving against it are RANSAC's outliers.
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
_MAX_CORNERS = 150


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
        w = grey.shape[1]
        scale = float(np.hypot(m[0, 0], m[1, 0]))
        # Translation of the frame centre (not of the origin), so a zoom about the centre reads as no shift.
        c = np.array([grey.shape[1] / 2, grey.shape[0] / 2])
        shift = m[:, :2] @ c + m[:, 2] - c
        return FrameMotion(float(shift[0] / w), float(shift[1] / w), scale, float(inl.mean()))


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
    if zoom >= ZOOM_FACTOR and zoom_consistency >= PAN_CONSISTENCY:
        return "zoom", facts
    if net >= PAN_TRAVEL and consistency >= PAN_CONSISTENCY:
        return "pan", facts
    if shake >= STATIC_SHAKE:
        return "handheld", facts
    return "static", facts
