"""The renderer's head: where a source at an azimuth is heard by each ear. The Woodworth ITD, the Brown–Duda
per-ear delay and head-shadow coefficient, the stereo mode's broadband pan law and its inverse, and the direct
gains and delays the renderer gives a source (generation/spatial.py renders with them; the immersive delivery
undoes them, delivery.depan; the eval reads azimuth back from a level difference)."""

from __future__ import annotations

import numpy as np

from foleydesigner.units import SPEED_OF_SOUND

# Stereo mode pans for loudspeakers at ±30°: the broadband level difference follows ILD = 22·tanh(1.45·sin az) dB,
# which is within ~2 dB of the stereophonic tangent law for |az| ≤ 20° (10 dB at 20°, 15 dB at 30°: a source at
# the screen edge of a 60° lens sits almost in its speaker) and keeps growing, slowly, to 20 dB at 90°.
PAN_MAX_DB = 22.0
PAN_SLOPE = 1.45


def wrap_deg(az: np.ndarray) -> np.ndarray:
    return (np.asarray(az, dtype=np.float64) + 180.0) % 360.0 - 180.0


def woodworth_itd_s(azimuth_deg: float | np.ndarray, head_radius_m: float = 0.0875) -> float | np.ndarray:
    """Woodworth (1938) spherical-head ITD, t_left − t_right in seconds (positive: source on the right).

    ITD = (a/c)(θ + sin θ) for the frontal angle θ; a source behind (|az| > 90°) uses its mirror 180° − |az|
    (the cone of confusion: front and back share the same ITD).
    """
    az = wrap_deg(azimuth_deg)
    front = np.where(np.abs(az) > 90.0, np.sign(az) * 180.0 - az, az)
    th = np.radians(np.abs(front))
    itd = np.sign(front) * head_radius_m / SPEED_OF_SOUND * (th + np.sin(th))
    return float(itd) if np.ndim(itd) == 0 else itd


def stereo_pan_db(azimuth_deg: float | np.ndarray) -> float | np.ndarray:
    """Broadband right-minus-left level (dB) the stereo mode gives a source at this azimuth (front or back)."""
    return PAN_MAX_DB * np.tanh(PAN_SLOPE * np.sin(np.radians(azimuth_deg)))


def azimuth_from_pan_db(ild_db: float | np.ndarray) -> float | np.ndarray:
    """Inverse of stereo_pan_db on the frontal half-plane."""
    r = np.clip(np.asarray(ild_db, dtype=np.float64) / PAN_MAX_DB, -0.999, 0.999)
    return np.degrees(np.arcsin(np.clip(np.arctanh(r) / PAN_SLOPE, -1.0, 1.0)))


def ear_angles_deg(az: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Angle between each ear's axis (left −90°, right +90°) and the source, in [0, 180]."""
    return np.abs(wrap_deg(az + 90.0)), np.abs(wrap_deg(az - 90.0))


def ear_delay_s(incidence_deg: np.ndarray, head_radius_m: float) -> np.ndarray:
    """Brown & Duda (1998) per-ear delay: −(a/c)cos θ on the lit side, (a/c)(θ − π/2) around the head."""
    th = np.radians(incidence_deg)
    return head_radius_m / SPEED_OF_SOUND * np.where(th < np.pi / 2, -np.cos(th), th - np.pi / 2)


def shadow_alpha(incidence_deg: np.ndarray, mode: str) -> np.ndarray:
    """Brown–Duda head-shadow zero coefficient α(θ) = (1 + α_min/2) + (1 − α_min/2)·cos(180°·θ/θ_min).

    H(ω) = (1 + jαω/2ω0)/(1 + jω/2ω0), ω0 = c/a: α = 2 is +6 dB at high frequencies (lit ear), α_min is the
    shadowed floor. Stereo mode is milder: α_min = 0.5, θ_min = 180° (monotonic), capped at 1 (no boost).
    """
    if mode == "binaural":
        return 1.05 + 0.95 * np.cos(np.radians(incidence_deg) * 180.0 / 150.0)
    return np.minimum(1.0, 1.25 + 0.75 * np.cos(np.radians(incidence_deg)))


def stereo_ear_model(azimuth_deg: np.ndarray, *, binaural: bool = False, head_radius_m: float = 0.0875
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The direct-sound gains (gL, gR; gL² + gR² = 2, at 1 m) and per-ear delays (s) this renderer gives a source
    at each azimuth: what the immersive delivery undoes to recover a stem's mono source (delivery.depan)."""
    az = np.asarray(azimuth_deg, dtype=np.float64)
    pan = np.zeros_like(az) if binaural else stereo_pan_db(az)
    norm = np.sqrt((10.0 ** (-pan / 20.0) + 10.0 ** (pan / 20.0)) / 2.0)
    inc_l, inc_r = ear_angles_deg(az)
    return (10.0 ** (-pan / 40.0) / norm, 10.0 ** (pan / 40.0) / norm,
            ear_delay_s(inc_l, head_radius_m), ear_delay_s(inc_r, head_radius_m))
