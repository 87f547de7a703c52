"""Binaural rendering through measured HRTFs (AES69 SOFA, SimpleFreeFieldHRIR), or the spherical-head model.

An HRIR set is read with netCDF4 (SOFA is netCDF-4), resampled to 48 kHz, and split into a delay and an
aligned filter per ear: each impulse response's leading edge (first sample at ≥ 10 % of its peak) is its onset, and the response is
shifted to start just before it. Interpolating aligned filters between measured directions then blends
magnitudes rather than comb-filtering two arrival times, and the onsets, interpolated with the same weights,
are put back as a per-ear delay: the rendered ITD follows the set's own ITD between its measured directions.

Moving sources are rendered in blocks of 10 ms: every block is filtered with the previous block's HRIR and
its own, and the two are cross-faded over the block (the output is continuous: each block starts exactly where
the previous one ended), while the per-ear delays move per sample. Directions are interpolated between the 3
nearest measured ones (inverse great-circle-chord weights; an exact hit takes weight 1).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

from foleydesigner.errors import InputError
from foleydesigner.units import SAMPLE_RATE

log = logging.getLogger(__name__)

#: Debian's libmysofa1 ships MIT KEMAR (normal pinna) here.
SYSTEM_SOFA = Path("/usr/share/libmysofa/default.sofa")
BLOCK = 480  # 10 ms at 48 kHz; divides tools.streams.ALIGN, so windowed renders are sample-identical
MAX_TAPS = 512  # aligned HRIR length kept (10.7 ms): the pinna and head response is over within ~3 ms
_ONSET_LEVEL = 0.1
_LEAD = 4  # samples kept before the onset: the leading edge of a band-limited impulse


@dataclass(frozen=True)
class HrirSet:
    """Aligned HRIRs (M, 2, taps) at 48 kHz, their per-ear onsets (M, 2) in samples, and unit direction
    vectors (M, 3) in this project's frame (x front, y right, z up)."""

    name: str
    directions: np.ndarray
    filters: np.ndarray
    onsets: np.ndarray
    itds_ms: np.ndarray  # (M,) each measured pair's own ITD, by GCC-PHAT on its two impulse responses

    def weights(self, vecs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(n, 3) measured indices and weights of the 3 nearest directions for (n, 3) unit vectors."""
        from scipy.spatial import cKDTree

        k = min(3, self.directions.shape[0])
        dist, idx = cKDTree(self.directions).query(vecs, k=k)
        dist, idx = dist.reshape(len(vecs), k), idx.reshape(len(vecs), k)
        w = 1.0 / np.maximum(dist, 1e-9)
        w[dist[:, 0] < 1e-6] = np.eye(k)[0]  # a measured direction is used as measured
        return idx, w / w.sum(axis=1, keepdims=True)

    def itd_ms(self, azimuth_deg: float, elevation_deg: float = 0.0) -> float:
        """The set's own ITD (t_left − t_right, ms; + = right) at a direction: its measured pairs' GCC-PHAT ITDs,
        interpolated with the weights the renderer uses."""
        from foleydesigner.tools.vbap import unit_vectors

        idx, w = self.weights(unit_vectors(np.array([azimuth_deg]), np.array([elevation_deg])))
        return float(np.sum(w[0] * self.itds_ms[idx[0]]))


def pair_itd_ms(irs: np.ndarray, sr: int = SAMPLE_RATE, *, max_ms: float = 1.0, interp: int = 16) -> np.ndarray:
    """(M,) ITD in ms (t_left − t_right) of (M, 2, L) impulse-response pairs: the GCC-PHAT peak within ±max_ms,
    located on a 16× finer grid (zero-padded cross-spectrum)."""
    n = irs.shape[2]
    nfft = 1 << int(math.ceil(math.log2(2 * n)))
    spec = np.fft.rfft(irs, nfft, axis=2)
    cross = spec[:, 0] * np.conj(spec[:, 1])  # peaks at lag t_left − t_right
    cc = np.fft.irfft(cross / np.maximum(np.abs(cross), 1e-12), nfft * interp, axis=1)
    lag = int(max_ms * 1e-3 * sr * interp)
    window = np.concatenate([cc[:, -lag:], cc[:, : lag + 1]], axis=1)
    return (np.argmax(window, axis=1) - lag) / (sr * interp) * 1e3


def _hrir_set(name: str, vecs: np.ndarray, irs: np.ndarray) -> HrirSet:
    filters, onsets = _align(irs)
    return HrirSet(name, vecs, filters, onsets, pair_itd_ms(irs))


def _align(irs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(M, 2, L) → aligned filters (M, 2, MAX_TAPS) and onsets (M, 2) in samples, the earliest made 0."""
    peak = np.max(np.abs(irs), axis=2, keepdims=True)
    onset = np.argmax(np.abs(irs) >= _ONSET_LEVEL * np.maximum(peak, 1e-30), axis=2)
    start = np.maximum(onset - _LEAD, 0)
    m, e, n = irs.shape
    pos = start[..., None] + np.arange(MAX_TAPS)
    filters = np.where(pos < n, np.take_along_axis(np.pad(irs, ((0, 0), (0, 0), (0, MAX_TAPS))), np.minimum(pos, n + MAX_TAPS - 1), axis=2), 0.0)
    return filters.astype(np.float32), (start - start.min()).astype(np.float64)


def load_sofa(path: str | Path) -> HrirSet:
    """An AES69 SimpleFreeFieldHRIR file as an HrirSet (resampled to 48 kHz, delays folded in, aligned).

    SOFA files are netCDF-4; they are read with netCDF4 directly (the SOFA wrapper on PyPI, sofar, installs a
    top-level `tests` package that shadows any project's own tests).
    """
    import netCDF4

    p = Path(path)
    if not p.is_file():
        raise InputError(f"--hrtf {p}: no such file; give an AES69 .sofa HRIR file")
    try:
        with netCDF4.Dataset(str(p)) as ds:
            irs = np.asarray(ds.variables["Data.IR"][:], dtype=np.float64)
            sr = float(np.asarray(ds.variables["Data.SamplingRate"][:]).ravel()[0])
            src = ds.variables["SourcePosition"]
            pos = np.asarray(src[:], dtype=np.float64)
            kind = str(getattr(src, "Type", "spherical")).lower()
            delay = np.asarray(ds.variables["Data.Delay"][:], dtype=np.float64) if "Data.Delay" in ds.variables \
                else np.zeros((1, 2))
    except (OSError, KeyError, IndexError, ValueError) as exc:
        raise InputError(f"--hrtf {p}: not a readable SOFA HRIR file ({exc.__class__.__name__}: {exc})") from exc
    if irs.ndim != 3 or irs.shape[1] != 2 or pos.shape[0] != irs.shape[0]:
        raise InputError(f"--hrtf {p}: expected 2-ear HRIRs (M, 2, N) with one source position each, got {irs.shape}")
    if sr != SAMPLE_RATE:
        g = math.gcd(int(round(sr)), SAMPLE_RATE)
        irs = resample_poly(irs, SAMPLE_RATE // g, int(round(sr)) // g, axis=2)
        delay = delay * SAMPLE_RATE / sr
    if np.any(delay):  # delays stored beside the IRs (per measurement or for all): put them into the IRs
        shift = np.broadcast_to(np.round(delay).astype(int), irs.shape[:2])
        irs = np.stack([[np.pad(irs[i, e], (shift[i, e], 0))[: irs.shape[2]] for e in range(2)] for i in range(irs.shape[0])])
    if kind.startswith("cart"):
        x, y, z = pos[:, 0], pos[:, 1], pos[:, 2]
        az_ccw, el = np.degrees(np.arctan2(y, x)), np.degrees(np.arctan2(z, np.hypot(x, y)))
    else:
        az_ccw, el = pos[:, 0], pos[:, 1]
    from foleydesigner.tools.vbap import unit_vectors

    return _hrir_set(p.name, unit_vectors(-az_ccw, el), irs)  # SOFA azimuth is counter-clockwise


def spherical_head_set(step_deg: float = 5.0) -> HrirSet:
    """The spherical-head model (generation.spatial, binaural mode) sampled on the horizontal plane."""
    from foleydesigner.generation.spatial import SpatialConfig, render_spatial
    from foleydesigner.tools.vbap import unit_vectors

    cfg = SpatialConfig(mode="binaural", air_absorption=False, doppler=False, distance_reverb=False)
    az = np.arange(-180.0, 180.0, step_deg)
    impulse = np.zeros(MAX_TAPS * 2, np.float32)
    impulse[64] = 1.0
    irs = np.stack([render_spatial(impulse, t_s=[0.0], azimuth_deg=[a], depth_m=[1.0], config=cfg) for a in az])
    return _hrir_set("spherical-head model", unit_vectors(az, np.zeros_like(az)), irs.astype(np.float64))


def default_set(path: str | Path | None) -> tuple[HrirSet, str | None]:
    """The HRIR set to render with and a warning if it is the fallback: --hrtf FILE, else the system's
    KEMAR, else the spherical-head model."""
    if path:
        return load_sofa(path), None
    if SYSTEM_SOFA.is_file():
        try:
            return load_sofa(SYSTEM_SOFA), None
        except InputError as exc:
            log.warning("%s", exc)
    return spherical_head_set(), ("binaural: no HRTF set given and none installed (Debian: apt-get install "
                                  "libmysofa1); rendered with the spherical-head model; pass --hrtf FILE.sofa")


def render_binaural(x: np.ndarray, vecs: np.ndarray, hrirs: HrirSet, *, start: int = 0) -> np.ndarray:
    """Render mono `x` (n,) along per-block directions; (2, n) float32.

    `vecs` holds one unit vector per BLOCK of x, for the block's centre; `start` is x[0]'s absolute sample
    index, a multiple of BLOCK (so a window renders the same samples as the whole clip). x must carry
    MAX_TAPS + the largest onset of history before the first block whose output is kept.
    """
    n = x.size
    nb = -(-n // BLOCK)
    if start % BLOCK:
        raise ValueError(f"start must be a multiple of {BLOCK}")
    idx, w = hrirs.weights(vecs[:nb])
    taps = hrirs.filters.shape[2]
    nfft = 1 << int(math.ceil(math.log2(BLOCK + taps - 1)))
    spec = np.fft.rfft(hrirs.filters, nfft, axis=2).astype(np.complex64)  # (M, 2, F)
    xp = np.concatenate([np.zeros(taps - 1, np.float32), np.asarray(x, np.float32), np.zeros(nb * BLOCK - n, np.float32)])
    ramp = ((np.arange(BLOCK) + 0.5) / BLOCK).astype(np.float32)
    out = np.empty((2, nb * BLOCK), np.float32)
    prev = None
    for c0 in range(0, nb, 256):  # 256 blocks (2.6 s) at a time: bounded memory
        c1 = min(nb, c0 + 256)
        seg = np.lib.stride_tricks.sliding_window_view(xp[c0 * BLOCK: c1 * BLOCK + taps - 1], BLOCK + taps - 1)[::BLOCK]
        xs = np.fft.rfft(seg, nfft, axis=1)[:, None, :]  # (b, 1, F)
        h = np.einsum("bk,bkef->bef", w[c0:c1].astype(np.float32), spec[idx[c0:c1]])  # (b, 2, F)
        hp = np.concatenate([h[:1] if prev is None else prev, h[:-1]], axis=0)
        prev = h[-1:]
        cur = np.fft.irfft(xs * h, nfft, axis=2)[:, :, taps - 1: taps - 1 + BLOCK]
        old = np.fft.irfft(xs * hp, nfft, axis=2)[:, :, taps - 1: taps - 1 + BLOCK]
        y = old + (cur - old) * ramp  # (b, 2, BLOCK): cross-fade from the last block's filter to this one's
        out[:, c0 * BLOCK: c1 * BLOCK] = y.transpose(1, 0, 2).reshape(2, -1)
    # Per-ear delays: the interpolated onsets at block centres, linear per sample, read by linear interpolation.
    on = np.einsum("bk,bke->be", w, hrirs.onsets[idx])  # (nb, 2) samples
    centres = (np.arange(nb) + 0.5) * BLOCK
    t = np.arange(nb * BLOCK, dtype=np.float64)
    for e in range(2):
        pos = t - np.interp(t, centres, on[:, e])
        out[e] = np.interp(pos, t, out[e], left=0.0)
    return out[:, :n]
