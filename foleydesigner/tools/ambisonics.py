"""First-order ambisonics, AmbiX: ACN channel order (W, Y, Z, X), SN3D normalisation.

Conventions. Ambisonic azimuth is counter-clockwise (+90° = left); this project's azimuth is clockwise
(+90° = right, DESIGN.md), so the encoder negates it. Elevation is positive upwards in both. SN3D first order
(the AmbiX convention): W = s, Y = s·sin φ·cos θ, Z = s·sin θ, X = s·cos φ·cos θ for a plane wave s from
(φ, θ). W is therefore the omnidirectional pressure at unit gain, which is what the loudness is measured on.

Checking: the active intensity vector I = ⟨W·(X, Y, Z)⟩ over a window points at the source of a plane wave
(and at the energy-weighted mean direction of several), whatever the signal; a diffuse field averages to 0.
"""

from __future__ import annotations

import numpy as np

from foleydesigner.units import SAMPLE_RATE

FOA_CHANNELS = ("W", "Y", "Z", "X")  # ACN 0..3
#: WAVE_FORMAT_EXTENSIBLE channel mask of an AmbiX file: 0, "no loudspeaker positions" (4 channels would
#: otherwise be written as quadraphonic loudspeakers, 0x33, which a player would route to speakers).
FOA_CHANNEL_MASK = 0


def encode_gains(azimuth_deg: np.ndarray | float, elevation_deg: np.ndarray | float = 0.0) -> np.ndarray:
    """(4, …) SN3D gains W, Y, Z, X for a source at this project's azimuth (clockwise) and elevation."""
    phi = -np.radians(np.asarray(azimuth_deg, dtype=np.float64))  # ours is clockwise: ambisonics is not
    theta = np.radians(np.asarray(elevation_deg, dtype=np.float64))
    phi, theta = np.broadcast_arrays(phi, theta)
    return np.stack([np.ones_like(phi), np.sin(phi) * np.cos(theta), np.sin(theta), np.cos(phi) * np.cos(theta)])


def decode_stereo(foa: np.ndarray, *, angle_deg: float = 90.0) -> np.ndarray:
    """A listening decode: two virtual cardioids at ±angle (left, right), (2, n) float32.

    A cardioid aimed at φ picks ½(W + cos φ·X + sin φ·Y) from SN3D first order.
    """
    w, y, _, x = np.asarray(foa, dtype=np.float32)
    a = np.radians(angle_deg)
    left = 0.5 * (w + np.cos(a) * x + np.sin(a) * y)
    right = 0.5 * (w + np.cos(a) * x - np.sin(a) * y)
    return np.stack([left, right]).astype(np.float32)


def intensity_direction(foa: np.ndarray, sr: int = SAMPLE_RATE, *, window_s: float = 0.24,
                        min_db: float = -70.0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per window: (centre times s, azimuth ° in this project's convention, elevation °, valid).

    The active intensity vector ⟨W·X⟩, ⟨W·Y⟩, ⟨W·Z⟩ over each window (non-overlapping); a window is valid when
    W's mean square is above `min_db` dBFS and the vector is not ~0 (a diffuse or silent window has no direction).
    """
    a = np.asarray(foa, dtype=np.float64)
    hop = int(round(window_s * sr))
    m = a.shape[1] // hop
    frames = a[:, : m * hop].reshape(4, m, hop)
    w = frames[0]
    ix, iy, iz = (np.mean(w * frames[k], axis=1) for k in (3, 1, 2))
    ms = np.mean(w * w, axis=1)
    norm = np.sqrt(ix * ix + iy * iy + iz * iz)
    valid = (10 * np.log10(ms + 1e-30) > min_db) & (norm > 1e-3 * ms)
    az = -np.degrees(np.arctan2(iy, ix))
    el = np.degrees(np.arctan2(iz, np.hypot(ix, iy)))
    times = (np.arange(m) + 0.5) * hop / sr
    return times, az, el, valid
