"""Geometric depth of an on-screen object from its box: pinhole size prior fused with ground-plane contact.

The embedded (offline, CPU) vision backend has no learned depth model, so depth comes from two cues a
cinematographer would use by eye: how big the object looks given how big such things are, and how far
below the horizon it touches the ground (DESIGN.md, vision seam).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

from foleydesigner.units import DEFAULT_HFOV_DEG, focal_length_px

log = logging.getLogger(__name__)

#: Typical real heights in metres per class (adult ~1.7 m; FIFA size-5 ball 0.22 m; saloon car ~1.5 m).
REAL_HEIGHT_M: dict[str, float] = {
    "person": 1.7, "pedestrian": 1.7, "man": 1.75, "woman": 1.62, "child": 1.2,
    "ball": 0.22, "car": 1.5, "vehicle": 1.5, "van": 2.0, "truck": 3.2, "bus": 3.0,
    "bicycle": 1.1, "motorcycle": 1.2, "horse": 1.6, "dog": 0.6, "cat": 0.3, "bird": 0.25,
    "door": 2.05, "chair": 0.9, "cup": 0.1, "bottle": 0.25, "object": 0.5,
}
#: Relative spread (1 sigma) of real heights per class: people vary ~10 %, "object" is nearly a guess.
_HEIGHT_SPREAD: dict[str, float] = {"person": 0.1, "pedestrian": 0.1, "ball": 0.1, "car": 0.15, "vehicle": 0.25}
#: Classes that stand on the ground, so the contact row is a depth cue (a ball in flight is not).
_GROUNDED = {"person", "pedestrian", "man", "woman", "child", "car", "vehicle", "van", "truck", "bus",
             "bicycle", "motorcycle", "horse", "dog", "cat", "chair", "door"}
MIN_DEPTH_M, MAX_DEPTH_M = 0.3, 200.0
#: Assumed uncertainty of the box's bottom row in pixels (segmentation edge, shadows).
_CONTACT_ROW_SIGMA_PX = 2.0


def real_height_m(label: str) -> float:
    """Typical height of a class in metres; unknown labels get the generic object's 0.5 m."""
    key = label.strip().lower()
    return REAL_HEIGHT_M.get(key, REAL_HEIGHT_M.get(key.rstrip("s"), REAL_HEIGHT_M["object"]))


def geometric_depth_m(
    box: Sequence[float],
    *,
    label: str,
    frame_width: int,
    frame_height: int,
    hfov_deg: float = DEFAULT_HFOV_DEG,
    camera_height_m: float | None = None,
    horizon_y: float | None = None,
) -> float:
    """Depth in metres of an object whose box is (x, y, w, h) pixels in a frame_width × frame_height frame.

    Size cue: depth = f · H_real / h_px (pinhole, f from the horizontal field of view, square pixels).
    Ground cue (grounded classes, camera height known): depth = f · camera_height / (y_bottom − horizon_y)
    for a level camera; the horizon defaults to the frame's middle row. The two are fused in log-depth,
    weighted by their relative uncertainties. Always in [0.3, 200] m.
    """
    if len(box) != 4:
        raise ValueError(f"box must be (x, y, w, h), got {box!r}")
    if frame_width <= 0 or frame_height <= 0:
        raise ValueError(f"frame size must be positive, got {frame_width}x{frame_height}")
    x, y, w, h = (float(v) for v in box)
    f = focal_length_px(frame_width, hfov_deg)
    key = label.strip().lower()
    h_real = real_height_m(key)
    d_size = f * h_real / max(h, 1.0)
    log_d, weight = math.log(d_size), 1.0 / _HEIGHT_SPREAD.get(key, 0.5) ** 2
    if camera_height_m is not None and camera_height_m > 0 and key in _GROUNDED:
        horizon = frame_height / 2.0 if horizon_y is None else float(horizon_y)
        drop = y + h - horizon
        # A contact row at or above the horizon means "very far" or a wrong horizon: ignore the cue then.
        if drop > 1.0 and y + h < frame_height - 1:  # bottom cut by the frame edge is not a contact
            d_ground = f * camera_height_m / drop
            w_ground = 1.0 / (_CONTACT_ROW_SIGMA_PX / drop) ** 2
            log_d = (log_d * weight + math.log(d_ground) * w_ground) / (weight + w_ground)
    return float(min(MAX_DEPTH_M, max(MIN_DEPTH_M, math.exp(log_d))))
