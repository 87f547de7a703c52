"""Stem diagnosis (paper §4): f = [f_sem, f_spec, f_rev, f_loud] per stem, and the masking each stem suffers.

Spectra are summed into ERB-spaced bands (Glasberg & Moore 1990) because masking happens within auditory
filters: a background louder than a foreground sound *in the same band at the same time* is what buries it.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.signal import stft

from foleydesigner.schemas import StemFeatures
from foleydesigner.tools.loudness import integrated_lufs, sample_peak_dbfs
from foleydesigner.units import SAMPLE_RATE

N_BANDS = 24
F_LO, F_HI = 50.0, 16_000.0
#: Band frames more than this far under the stem's own loudest band-frame are ignored (not audible content).
ACTIVE_RANGE_DB = 40.0


def _erb_rate(f: np.ndarray | float) -> np.ndarray | float:
    return 21.4 * np.log10(1 + 0.00437 * np.asarray(f))


def erb_band_edges(n_bands: int = N_BANDS) -> np.ndarray:
    lo, hi = _erb_rate(F_LO), _erb_rate(F_HI)
    e = np.linspace(lo, hi, n_bands + 1)
    return (10 ** (e / 21.4) - 1) / 0.00437


def band_energies_db(audio: np.ndarray, sr: int = SAMPLE_RATE, *, hop_s: float = 0.02) -> tuple[np.ndarray, np.ndarray]:
    """(band centres Hz, dB power [bands, frames]) of the channel-summed signal on an ERB scale."""
    x = np.asarray(audio, dtype=np.float32)
    mono = x.mean(axis=0) if x.ndim == 2 else x
    hop = max(1, int(hop_s * sr))
    nfft = 1 << int(math.ceil(math.log2(2 * hop)))
    f, _, z = stft(mono, fs=sr, nperseg=nfft, noverlap=nfft - hop, boundary=None, padded=True)
    power = (np.abs(z) ** 2).astype(np.float32)
    edges = erb_band_edges()
    idx = np.clip(np.searchsorted(edges, f) - 1, -1, N_BANDS)
    bands = np.zeros((N_BANDS, power.shape[1]), dtype=np.float64)
    for b in range(N_BANDS):
        sel = idx == b
        if sel.any():
            bands[b] = power[sel].sum(axis=0)
    centres = np.sqrt(edges[:-1] * edges[1:])
    return centres, 10 * np.log10(bands + 1e-12)


def masking_db(target_db: np.ndarray, masker_db: np.ndarray) -> float:
    """Mean excess (dB) of the maskers over the target in the band-frames where the target is audible.

    0 means the target is never under its maskers; 6 means that, where it sounds, the rest is 6 dB louder on average.
    """
    active = target_db > (target_db.max() - ACTIVE_RANGE_DB)
    if not active.any():
        return 0.0
    excess = np.clip(masker_db - target_db, 0.0, None)
    w = 10 ** (target_db[active] / 10)
    return float(np.sum(excess[active] * w) / np.sum(w))


def rt60_estimate_s(audio: np.ndarray, sr: int = SAMPLE_RATE) -> float | None:
    """Decay time from the steepest sustained energy fall after the loudest 50 ms (Schroeder-style slope ×60 dB)."""
    x = np.asarray(audio, dtype=np.float64)
    mono = x.mean(axis=0) if x.ndim == 2 else x
    hop = int(0.01 * sr)
    n = len(mono) // hop
    if n < 20:
        return None
    env = 10 * np.log10(np.mean(mono[: n * hop].reshape(n, hop) ** 2, axis=1) + 1e-12)
    peak = int(np.argmax(env))
    tail = env[peak: peak + 200]
    below = np.nonzero(tail < tail[0] - 20)[0]
    if below.size == 0:
        return None
    return float(below[0] * 0.01 * 3.0)  # time to fall 20 dB, ×3 for 60 dB


def combined_db(bands: list[np.ndarray], like: np.ndarray) -> np.ndarray:
    """Power sum of several band-energy maps (dB); -120 dB when there are none."""
    if not bands:
        return np.full_like(like, -120.0)
    return 10 * np.log10(sum(10 ** (b / 10) for b in bands) + 1e-12)


def masking_report(bands: dict[str, np.ndarray], layers: dict[str, str]) -> dict[str, tuple[float, float]]:
    """Per stem: (masking by all other stems, masking by the background stems only), in dB."""
    out = {}
    for sid, b in bands.items():
        others = [bands[o] for o in bands if o != sid]
        beds = [bands[o] for o in bands if o != sid and layers[o] == "bg"]
        out[sid] = (masking_db(b, combined_db(others, b)), masking_db(b, combined_db(beds, b)))
    return out


def stem_features(stems: dict[str, np.ndarray], meta: dict[str, tuple[str, str]], sr: int = SAMPLE_RATE,
                  bands: dict[str, np.ndarray] | None = None) -> list[StemFeatures]:
    """Features for every stem; `meta` maps stem id -> (label, layer)."""
    bands = bands or {sid: band_energies_db(a, sr)[1] for sid, a in stems.items()}
    masks = masking_report(bands, {sid: meta[sid][1] for sid in stems})
    feats = []
    for sid, audio in stems.items():
        lufs = integrated_lufs(audio, sr)
        peak = sample_peak_dbfs(audio)
        rms = float(np.sqrt(np.mean(np.asarray(audio, dtype=np.float64) ** 2)))
        crest = peak - 20 * math.log10(rms) if rms > 0 and math.isfinite(peak) else 0.0
        label, layer = meta[sid]
        feats.append(StemFeatures(
            event_id=sid, label=label, layer=layer,  # type: ignore[arg-type]
            integrated_lufs=round(lufs, 2), peak_dbfs=round(peak, 2) if math.isfinite(peak) else -120.0,
            crest_db=round(crest, 2), band_energy_db=np.round(bands[sid].mean(axis=1), 2).tolist(),
            masked_by_db=round(masks[sid][0], 2), masked_by_bg_db=round(masks[sid][1], 2),
            rt60_s=rt60_estimate_s(audio, sr),
        ))
    return feats
