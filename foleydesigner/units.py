"""Units and constants shared by every stage (one place converts seconds, samples and frames)."""

from __future__ import annotations

import math

#: Internal sample rate. 48 kHz is the film/broadcast standard (SMPTE, EBU) and what the mixes are delivered at.
SAMPLE_RATE = 48_000

#: Weak position signal kept on inactive frames by the paper's soft activation mask c_t + ε(1 − c_t) (§3).
ACTIVATION_EPSILON = 0.1

#: Default horizontal field of view of the camera, degrees (DESIGN.md conventions).
DEFAULT_HFOV_DEG = 60.0

#: Speed of sound in air at 20 °C, m/s.
SPEED_OF_SOUND = 343.0


def seconds_to_samples(t_s: float, sr: int = SAMPLE_RATE) -> int:
    """Nearest sample index for a time in seconds."""
    return int(round(t_s * sr))


def focal_length_px(width_px: float, hfov_deg: float = DEFAULT_HFOV_DEG) -> float:
    """Pinhole focal length in pixels: f = (W/2) / tan(hfov/2)."""
    if not 1.0 <= hfov_deg < 180.0:
        raise ValueError(f"hfov_deg must be in [1, 180), got {hfov_deg}")
    return (width_px / 2.0) / math.tan(math.radians(hfov_deg) / 2.0)


def azimuth_from_x(x_center_px: float, width_px: float, hfov_deg: float = DEFAULT_HFOV_DEG) -> float:
    """Azimuth in degrees of an on-screen point: atan((x − W/2) / f); negative is left (DESIGN.md)."""
    f = focal_length_px(width_px, hfov_deg)
    return math.degrees(math.atan((x_center_px - width_px / 2.0) / f))


def soft_activation(activation: float, epsilon: float = ACTIVATION_EPSILON) -> float:
    """The paper's soft mask value c + ε(1 − c) for a hard activation c ∈ {0, 1}."""
    return activation + epsilon * (1.0 - activation)
