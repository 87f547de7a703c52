"""7.1.4 (ITU-R BS.2051 System J, "4+7+0"): layout, VBAP panning, downmixes and an energy-vector check.

Channel order is WAVE_FORMAT_EXTENSIBLE's (the order of the speaker bits in the mask): L R C LFE Lrs Rrs Lss
Rss Ltf Rtf Ltb Rtb, mask 0x2D63F. BS.2051 nominal positions (azimuth clockwise here, + = right): M±030, M000,
M±135 (rear surrounds), M±090 (side surrounds), U±045 and U±135 at 30° elevation.

Panning is VBAP (Pulkki 1997) in its intensity form (VBIP): the loudspeaker triangle that contains the
direction, weights w = p·L⁻¹ with all three ≥ 0, and gains g = √(w / Σw), so that the *powers* sum along the
direction: the Gerzon energy vector Σgᵢ²·uᵢ points exactly at the source (plain VBAP makes the velocity vector
exact instead, and pulls the energy vector towards the louder speaker: 7° pans read 2.6° between C and R).
The energy vector is what predicts localisation above ~700 Hz, where most Foley lives; Σg² = 1. The layout has nothing below the horizon, so the hull is closed with a
virtual speaker straight down whose gain is dropped (then renormalised), the usual practice. Our own 40 lines:
the PyPI packages that offer VBAP bring numba, matplotlib and an audio I/O stack with them for a 3×3 inverse.
"""

from __future__ import annotations

import struct
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from foleydesigner.tools.export import WavWriter

CHANNELS_714 = ("L", "R", "C", "LFE", "Lrs", "Rrs", "Lss", "Rss", "Ltf", "Rtf", "Ltb", "Rtb")
#: (azimuth °, elevation °) per channel, this project's convention; the LFE has no position (None).
POSITIONS_714: tuple[tuple[float, float] | None, ...] = (
    (-30, 0), (30, 0), (0, 0), None, (-135, 0), (135, 0), (-90, 0), (90, 0), (-45, 30), (45, 30), (-135, 30), (135, 30))
LFE_714 = 3
#: FL FR FC LFE BL BR SL SR TFL TFR TBL TBR (WAVEFORMATEXTENSIBLE dwChannelMask bits).
CHANNEL_MASK_714 = 0x1 | 0x2 | 0x4 | 0x8 | 0x10 | 0x20 | 0x200 | 0x400 | 0x1000 | 0x4000 | 0x8000 | 0x20000
#: BS.1770-4 Table 4 channel weights: 1.41 for |elevation| < 30° and 60° ≤ |azimuth| ≤ 120°, else 1.0; LFE 0.
LOUDNESS_WEIGHTS_714 = tuple(0.0 if p is None else (1.41 if abs(p[1]) < 30 and 60 <= abs(p[0]) <= 120 else 1.0)
                             for p in POSITIONS_714)


def unit_vectors(azimuth_deg: np.ndarray, elevation_deg: np.ndarray) -> np.ndarray:
    """(…, 3) unit vectors x front, y right, z up for this project's (clockwise) azimuth."""
    az, el = np.radians(azimuth_deg), np.radians(elevation_deg)
    return np.stack([np.cos(az) * np.cos(el), np.sin(az) * np.cos(el), np.sin(el)], axis=-1)


_SPEAKERS = [i for i, p in enumerate(POSITIONS_714) if p is not None]


@lru_cache(maxsize=1)
def _triangles() -> tuple[np.ndarray, np.ndarray]:
    """Inverse speaker matrices of the hull's triangles (T, 3, 3) and their speaker indices (T, 3); index −1 is
    the virtual speaker below."""
    from scipy.spatial import ConvexHull

    pos = np.array([POSITIONS_714[i] for i in _SPEAKERS], dtype=np.float64)
    vecs = np.vstack([unit_vectors(pos[:, 0], pos[:, 1]), [[0.0, 0.0, -1.0]]])
    hull = ConvexHull(vecs)
    inv = np.linalg.inv(vecs[hull.simplices])  # rows are speaker vectors: g = p · L⁻¹
    idx = np.where(hull.simplices == len(_SPEAKERS), -1, np.array(_SPEAKERS)[np.minimum(hull.simplices, len(_SPEAKERS) - 1)])
    return inv, idx


def vbap_gains(azimuth_deg: np.ndarray | float, elevation_deg: np.ndarray | float = 0.0) -> np.ndarray:
    """(12, …) VBIP gains over the 7.1.4 channels (Σg² = 1; LFE always 0)."""
    az, el = np.broadcast_arrays(np.asarray(azimuth_deg, np.float64), np.asarray(elevation_deg, np.float64))
    p = unit_vectors(az.ravel(), el.ravel())  # (n, 3)
    inv, idx = _triangles()
    g = np.einsum("nk,tkj->ntj", p, inv)  # (n, T, 3)
    inside = np.all(g >= -1e-9, axis=2)
    best = np.argmax(inside, axis=1)  # first triangle that holds the direction (the hull is closed: one always does)
    gt = np.clip(g[np.arange(p.shape[0]), best], 0.0, None)
    out = np.zeros((len(POSITIONS_714), p.shape[0]))
    for k in range(3):
        ch = idx[best, k]
        real = ch >= 0
        np.add.at(out, (ch[real], np.flatnonzero(real)), gt[real, k])
    out = np.sqrt(out / np.maximum(np.sum(out, axis=0, keepdims=True), 1e-12))  # powers follow the VBAP weights
    return out.reshape((len(POSITIONS_714), *az.shape))


def downmix_714_to_51(x: np.ndarray) -> np.ndarray:
    """7.1.4 → 5.1 (L R C LFE Ls Rs): each folded channel at −3 dB (power kept for uncorrelated content),
    front heights into L/R, side and rear surrounds and rear heights into Ls/Rs (the BS.775 surround pair)."""
    k = 0.7071
    a = np.asarray(x, dtype=np.float32)
    return np.stack([a[0] + k * a[8], a[1] + k * a[9], a[2], a[3],
                     k * (a[6] + a[4] + a[10]), k * (a[7] + a[5] + a[11])]).astype(np.float32)


def energy_direction(x714: np.ndarray, sr: int, *, window_s: float = 0.24, min_db: float = -70.0
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per window: (centre times s, azimuth ° of the Gerzon energy vector Σ eᵢ·uᵢ / Σ eᵢ, valid)."""
    a = np.asarray(x714, dtype=np.float64)
    hop = int(round(window_s * sr))
    m = a.shape[1] // hop
    e = np.sum(a[:, : m * hop].reshape(a.shape[0], m, hop) ** 2, axis=2)  # (12, m)
    u = np.array([unit_vectors(np.float64(p[0]), np.float64(p[1])) if p else np.zeros(3) for p in POSITIONS_714])
    vec = u.T @ e  # (3, m)
    total = e[_SPEAKERS].sum(axis=0)
    valid = 10 * np.log10(total / hop + 1e-30) > min_db
    return (np.arange(m) + 0.5) * hop / sr, np.degrees(np.arctan2(vec[1], vec[0])), valid


class MaskedWavWriter(WavWriter):
    """A WavWriter that writes WAVE_FORMAT_EXTENSIBLE with a given channel mask (libsndfile picks its own:
    quad for 4 channels, none for 12), patched into the fmt chunk before the file is published."""

    def __init__(self, path: str | Path, channels: int, mask: int, **kw: Any) -> None:
        super().__init__(path, channels, **kw)
        self.mask = mask

    def __enter__(self) -> MaskedWavWriter:
        import soundfile as sf

        super().__enter__()
        if self.channels <= 2:  # WavWriter writes plain WAV there; the mask needs the extensible header
            self._file.close()
            self._file = sf.SoundFile(str(self._tmp), "w", self.sr, self.channels, subtype=self.subtype, format="WAVEX")
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self._file.close()
        if exc_type is None:
            set_channel_mask(self._tmp, self.mask)
        super().__exit__(exc_type, exc, tb)


def set_channel_mask(path: str | Path, mask: int) -> None:
    """Overwrite dwChannelMask of a WAVE_FORMAT_EXTENSIBLE file (fmt chunk offset 20 after its header)."""
    with open(path, "r+b") as f:
        head = f.read(4096)
        i = head.find(b"fmt ")
        if i < 0 or struct.unpack_from("<H", head, i + 8)[0] != 0xFFFE:
            raise ValueError(f"{Path(path).name} is not WAVE_FORMAT_EXTENSIBLE")
        f.seek(i + 8 + 20)
        f.write(struct.pack("<I", mask))


def channel_mask(path: str | Path) -> int:
    """dwChannelMask of a WAVE_FORMAT_EXTENSIBLE file."""
    head = Path(path).read_bytes()[:4096]
    i = head.find(b"fmt ")
    return int(struct.unpack_from("<I", head, i + 8 + 20)[0])
