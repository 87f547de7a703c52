"""5.1 upmix per ITU-R BS.775 (L R C LFE Ls Rs) and its standard downmix.

Buses: `front` (foreground events in front of the listener), `ambience` (beds), `rear` (events behind).
The split keeps the BS.775 downmix Lo = L + 0.707·C + 0.707·Ls (Ro likewise) close to the stereo mix:
 - front: the inter-channel-correlated part c moves to the centre as C = √2·c while c leaves L and R, so the
   downmix gives back L and R exactly and the power of a centred source is preserved;
 - ambience: 0.87 of each side stays in front, 0.5 goes to its surround, delayed (decorrelated, like a
   surround array), which keeps the downmix's correlation with the stereo bed ≈ 0.93;
 - rear: straight to the surrounds;
 - reverb returns ride the ambience bus: a diffuse field belongs around the listener, not only in front;
 - LFE: the whole mix low-passed at 120 Hz (paper §4), at −10 dB because the LFE channel plays back +10 dB.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import uniform_filter1d
from scipy.signal import butter, sosfilt, sosfiltfilt

from foleydesigner.schemas import EventClues, SoundEvent
from foleydesigner.units import SAMPLE_RATE

LFE_CUTOFF_HZ = 120.0
LFE_GAIN = 10 ** (-10 / 20)
BS775_CENTRE = BS775_SURROUND = 0.7071
_AMB_FRONT, _AMB_SURROUND = 0.866, 0.5
_SURROUND_DELAYS_S = (0.012, 0.017)  # different per side so Ls and Rs do not image as a phantom centre


def route_bus(event: SoundEvent, clues: EventClues | None) -> str:
    """Which upmix bus a stem feeds: beds laid for the scene → ambience (they also feed the surrounds), an
    off-screen event the script puts behind the listener (|az| > 90°) → rear, everything else → front."""
    if event.layer == "bg" and (clues is None or clues.source == "scene"):
        return "ambience"
    if clues is not None and clues.source == "script" and abs(float(np.median(clues.azimuth_deg))) > 90.0:
        return "rear"
    return "front"


def _centre_weight(left: np.ndarray, right: np.ndarray, sr: int, block_s: float = 0.04) -> np.ndarray:
    """Per-sample weight in [0, 1]: the normalised L/R correlation over ~40 ms blocks, smoothed."""
    hop = max(1, int(block_s * sr))
    n = left.shape[-1]
    m = -(-n // hop)
    pad = m * hop - n
    lb = np.pad(left, (0, pad)).reshape(m, hop).astype(np.float64)
    rb = np.pad(right, (0, pad)).reshape(m, hop).astype(np.float64)
    num = np.sum(lb * rb, axis=1)
    den = np.sqrt(np.sum(lb * lb, axis=1) * np.sum(rb * rb, axis=1)) + 1e-20
    w = uniform_filter1d(np.clip(num / den, 0.0, 1.0), 3, mode="nearest")
    return np.interp(np.arange(n), np.arange(m) * hop + hop / 2, w).astype(np.float32)


def lfe_from(mix: np.ndarray, sr: int = SAMPLE_RATE) -> np.ndarray:
    """LFE = LPF(mono mix, 120 Hz): 8th-order Butterworth run forward and back (zero phase, ~96 dB/oct)."""
    sos = butter(8, LFE_CUTOFF_HZ, btype="low", fs=sr, output="sos")
    mono = np.asarray(mix, dtype=np.float64).sum(axis=0)
    return (sosfiltfilt(sos, mono) * LFE_GAIN).astype(np.float32)


def _decorrelate(x: np.ndarray, delay_s: float, sr: int) -> np.ndarray:
    d = int(delay_s * sr)
    y = np.concatenate([np.zeros(d, dtype=np.float32), x[: len(x) - d]]) if d else x
    sos = butter(2, 7000.0, btype="low", fs=sr, output="sos")  # surrounds a little darker, as a diffuse field is
    return sosfilt(sos, y).astype(np.float32)


def upmix_51(front: np.ndarray, ambience: np.ndarray, rear: np.ndarray, sr: int = SAMPLE_RATE) -> np.ndarray:
    """(6, n) float32 in the order L, R, C, LFE, Ls, Rs."""
    n = front.shape[-1]
    fl, fr = front[0].astype(np.float32), front[1].astype(np.float32)
    c = _centre_weight(fl, fr, sr) * 0.5 * (fl + fr)
    out = np.zeros((6, n), dtype=np.float32)
    out[0] = fl - c + _AMB_FRONT * ambience[0]
    out[1] = fr - c + _AMB_FRONT * ambience[1]
    out[2] = np.sqrt(2.0) * c
    out[4] = _AMB_SURROUND * _decorrelate(ambience[0], _SURROUND_DELAYS_S[0], sr) + rear[0] / BS775_SURROUND
    out[5] = _AMB_SURROUND * _decorrelate(ambience[1], _SURROUND_DELAYS_S[1], sr) + rear[1] / BS775_SURROUND
    out[3] = lfe_from(front + ambience + rear, sr)
    return out


def downmix_bs775(x51: np.ndarray) -> np.ndarray:
    """ITU-R BS.775 Table 2 stereo downmix (LFE omitted, as the recommendation does)."""
    lo = x51[0] + BS775_CENTRE * x51[2] + BS775_SURROUND * x51[4]
    ro = x51[1] + BS775_CENTRE * x51[2] + BS775_SURROUND * x51[5]
    return np.stack([lo, ro]).astype(np.float32)
