"""Stem diagnosis (paper §4): f = [f_sem, f_spec, f_rev, f_loud] per stem, and the masking each stem suffers.

Spectra are summed into ERB-spaced bands (Glasberg & Moore 1990) because masking happens within auditory
filters: a background louder than a foreground sound *in the same band at the same time* is what buries it.
Loudness is ITU-R BS.1770-4 (K-weighted, gated) with EBU Tech 3341 short-term (3 s) and Tech 3342 range,
all from one filtering pass: the gating blocks of a gained signal are the same blocks shifted, so a
fader move is re-measured without filtering again.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import scipy.fft

from foleydesigner.schemas import StemFeatures
from foleydesigner.tools.loudness import (  # noqa: F401  (LoudnessProfile, loudness_profile re-exported)
    SILENCE_LUFS,
    LoudnessProfile,
    loudness_profile,
    sample_peak_dbfs,
)
from foleydesigner.units import SAMPLE_RATE

N_BANDS = 24
F_LO, F_HI = 50.0, 16_000.0
HOP_S = 0.02  # band-energy frame hop: finer than the ~30 ms integration of forward masking
#: Band frames more than this far under the stem's own loudest band-frame are ignored (not audible content).
ACTIVE_RANGE_DB = 40.0
#: Band power (dB, unnormalised FFT: a full-scale sine reads ~+54) under which a stem is digital silence.
SILENT_BAND_DB = -90.0


def _erb_rate(f: np.ndarray | float) -> np.ndarray | float:
    return 21.4 * np.log10(1 + 0.00437 * np.asarray(f))


def erb_band_edges(n_bands: int = N_BANDS) -> np.ndarray:
    lo, hi = _erb_rate(F_LO), _erb_rate(F_HI)
    e = np.linspace(lo, hi, n_bands + 1)
    return (10 ** (e / 21.4) - 1) / 0.00437


def band_centres_hz(n_bands: int = N_BANDS) -> np.ndarray:
    edges = erb_band_edges(n_bands)
    return np.sqrt(edges[:-1] * edges[1:])


@lru_cache(maxsize=8)
def _band_bins(nfft: int, sr: int) -> tuple[np.ndarray, int, np.ndarray]:
    """First FFT bin of each ERB band, the bin where the last band ends, and which bands hold no bin at all."""
    f = np.fft.rfftfreq(nfft, 1.0 / sr)
    edges = erb_band_edges()
    starts = np.searchsorted(f, edges[:-1])
    end = int(np.searchsorted(f, edges[-1]))
    empty = np.diff(np.r_[starts, end]) <= 0
    return np.minimum(starts, end - 1), end, empty


@lru_cache(maxsize=4)
def _window(nfft: int) -> np.ndarray:
    return np.hanning(nfft).astype(np.float32)


def band_energies_db(audio: np.ndarray, sr: int = SAMPLE_RATE, *, hop_s: float = HOP_S) -> tuple[np.ndarray, np.ndarray]:
    """(band centres Hz, dB power [bands, frames]) of the channel-summed signal on an ERB scale.

    Bins are summed into bands with `add.reduceat` (contiguous bins per band): a BLAS matmul here is ~10× slower
    on a busy 2-core machine, where its threads fight the graph's own.
    """
    x = np.asarray(audio, dtype=np.float32)
    mono = x.mean(axis=0) if x.ndim == 2 else x
    hop = max(1, int(hop_s * sr))
    nfft = 1 << int(math.ceil(math.log2(2 * hop)))
    n_frames = -(-(len(mono) - nfft) // hop) + 1 if len(mono) > nfft else 1
    mono = np.pad(mono, (0, (n_frames - 1) * hop + nfft - len(mono)))
    frames = np.lib.stride_tricks.sliding_window_view(mono, nfft)[::hop][:n_frames]
    spec = scipy.fft.rfft(frames * _window(nfft), axis=-1)
    starts, end, empty = _band_bins(nfft, sr)
    power = spec.real[:, :end] ** 2 + spec.imag[:, :end] ** 2
    bands = np.add.reduceat(power, starts, axis=1).T.astype(np.float64)
    bands[empty] = 0.0
    return band_centres_hz(), 10 * np.log10(bands + 1e-12)


def activity(bands_db: np.ndarray, range_db: float = 30.0) -> np.ndarray:
    """Per frame in [0, 1]: 0 when the stem is `range_db` under its loudest frame, 1 within 10 dB of it."""
    level = 10 * np.log10(np.sum(10 ** (bands_db / 10), axis=0) + 1e-12)
    return np.clip((level - (level.max() - range_db)) / (range_db - 10.0), 0.0, 1.0)


def masking_db(target_db: np.ndarray, masker_db: np.ndarray) -> float:
    """Mean excess (dB) of the maskers over the target in the band-frames where the target is audible.

    0 means the target is never under its maskers; 6 means that, where it sounds, the rest is 6 dB louder on average.
    """
    if target_db.max() < SILENT_BAND_DB:  # a silent stem is not buried, there is nothing to bury
        return 0.0
    active = target_db > (target_db.max() - ACTIVE_RANGE_DB)
    excess = np.clip(masker_db - target_db, 0.0, None)
    w = 10 ** (target_db[active] / 10)
    return float(np.sum(excess[active] * w) / np.sum(w))


def combined_db(bands: list[np.ndarray], like: np.ndarray) -> np.ndarray:
    """Power sum of several band-energy maps (dB); -120 dB when there are none."""
    if not bands:
        return np.full_like(like, -120.0)
    return 10 * np.log10(sum(10 ** (b / 10) for b in bands) + 1e-12)


def masking_report(bands: dict[str, np.ndarray], layers: dict[str, str]) -> dict[str, tuple[float, float]]:
    """Per stem: (masking by all other stems, masking by the background stems only), in dB.

    Powers are summed once and each stem's maskers are the total minus itself: O(n), not O(n²) sums.
    """
    if not bands:
        return {}
    power = {s: 10 ** (b / 10) for s, b in bands.items()}
    total = sum(power.values())
    beds = sum((p for s, p in power.items() if layers[s] == "bg"), np.zeros_like(next(iter(power.values()))))
    out = {}
    for sid, b in bands.items():
        others = np.maximum(total - power[sid], 0.0)
        bed = np.maximum(beds - (power[sid] if layers[sid] == "bg" else 0.0), 0.0)
        out[sid] = (masking_db(b, 10 * np.log10(others + 1e-12)), masking_db(b, 10 * np.log10(bed + 1e-12)))
    return out


def _db_envelope(mono: np.ndarray, hop: int) -> np.ndarray:
    n = len(mono) // hop
    return 10 * np.log10(np.mean(mono[: n * hop].reshape(n, hop) ** 2, axis=1) + 1e-12)


def _hits(env: np.ndarray, rise_db: float = 15.0, range_db: float = 35.0, max_hits: int = 12) -> list[int]:
    """Frames where the envelope jumps `rise_db` over its level 30 ms before, within `range_db` of the peak."""
    if env.size < 8:
        return []
    rise = env[3:] - env[:-3]
    cand = np.flatnonzero((rise > rise_db) & (env[3:] > env.max() - range_db)) + 3
    hits: list[int] = []
    for i in cand[np.argsort(env[cand])[::-1]]:
        if all(abs(int(i) - h) > 10 for h in hits):
            hits.append(int(i))
        if len(hits) >= max_hits:
            break
    return sorted(hits)


def rt60_estimate_s(audio: np.ndarray, sr: int = SAMPLE_RATE) -> float | None:
    """Decay time (ISO 3382 T20 ×3) of the loudest isolated hit: Schroeder backward integral of its tail,
    line fit from −5 to −25 dB. None when no hit decays 25 dB before the next (beds, textures)."""
    x = np.asarray(audio, dtype=np.float64)
    mono = x.mean(axis=0) if x.ndim == 2 else x
    hop = int(0.005 * sr)
    env = _db_envelope(mono, hop)
    hits = _hits(env)
    for h in sorted(hits, key=lambda i: -env[i]):
        nxt = [k for k in hits if k > h]
        end = min(nxt[0] if nxt else env.size, h + int(2.0 / 0.005))
        seg = 10 ** (env[h:end] / 10)
        edc = 10 * np.log10(np.cumsum(seg[::-1])[::-1] / seg.sum() + 1e-12)
        sel = np.flatnonzero((edc <= -5) & (edc >= -25))
        if sel.size >= 4 and edc.min() < -25:
            slope = np.polyfit(sel * 0.005, edc[sel], 1)[0]
            if slope < 0:
                return round(float(-60.0 / slope), 3)
    return None


def drr_estimate_db(audio: np.ndarray, sr: int = SAMPLE_RATE) -> float | None:
    """Blind direct-to-reverberant ratio: energy in the first 50 ms of the hits over the energy after them
    (ISO 3382 C50 taken on the signal's own transients); None without isolated hits. A dry Foley hit reads
    > 15 dB; the same hit in a live room reads a few dB."""
    x = np.asarray(audio, dtype=np.float64)
    mono = x.mean(axis=0) if x.ndim == 2 else x
    hop = int(0.005 * sr)
    env = 10 ** (_db_envelope(mono, hop) / 10)
    hits = _hits(10 * np.log10(env + 1e-12))
    early = late = 0.0
    for k, h in enumerate(hits):
        end = min(hits[k + 1] if k + 1 < len(hits) else env.size, h + int(0.5 / 0.005))
        early += env[max(0, h - 1): h + 10].sum()
        late += env[h + 10: end].sum()
    if not hits or late <= 0:
        return None
    return round(float(10 * np.log10(early / late)), 2)


def stem_features(stems: dict[str, np.ndarray], meta: dict[str, tuple[str, str]], sr: int = SAMPLE_RATE,
                  bands: dict[str, np.ndarray] | None = None,
                  profiles: dict[str, LoudnessProfile] | None = None) -> list[StemFeatures]:
    """Features for every stem; `meta` maps stem id -> (label, layer). Pass `bands`/`profiles` already computed."""
    bands = bands or {sid: band_energies_db(a, sr)[1] for sid, a in stems.items()}
    profiles = profiles or {sid: loudness_profile(a, sr) for sid, a in stems.items()}
    layers = {sid: meta[sid][1] for sid in stems}
    masks = masking_report(bands, layers)
    centres = band_centres_hz()
    feats = []
    for sid, audio in stems.items():
        prof = profiles[sid]
        lufs = prof.integrated()
        peak = sample_peak_dbfs(audio)
        rms = float(np.sqrt(np.mean(np.asarray(audio, dtype=np.float64) ** 2)))
        crest = peak - 20 * math.log10(rms) if rms > 0 and math.isfinite(peak) else 0.0
        st = np.maximum(prof.short_term_lufs(), SILENCE_LUFS)
        label, layer = meta[sid]
        worst = _worst_masked_bands(bands[sid], [b for o, b in bands.items() if o != sid and layers[o] == "bg"])
        feats.append(StemFeatures(
            event_id=sid, label=label, layer=layer,  # type: ignore[arg-type]
            integrated_lufs=round(lufs, 2), peak_dbfs=round(peak, 2) if math.isfinite(peak) else -120.0,
            crest_db=round(crest, 2), band_energy_db=np.round(bands[sid].mean(axis=1), 2).tolist(),
            masked_by_db=round(masks[sid][0], 2), masked_by_bg_db=round(masks[sid][1], 2),
            masked_bands_hz=[round(float(centres[i]), 1) for i in worst],
            rt60_s=rt60_estimate_s(audio, sr), drr_db=drr_estimate_db(audio, sr),
            short_term_max_lufs=round(float(st.max()), 2) if st.size else SILENCE_LUFS,
            short_term_lufs=np.round(st[::10], 1).tolist(), loudness_range_lu=round(prof.loudness_range_lu(), 2),
        ))
    return feats


def _worst_masked_bands(target: np.ndarray, beds: list[np.ndarray], n: int = 3) -> list[int]:
    """Indices of the bands where the beds exceed the target most, weighted by the target's energy there."""
    if not beds:
        return []
    bed = combined_db(beds, target)
    active = target > target.max() - ACTIVE_RANGE_DB
    w = np.where(active, 10 ** (target / 10), 0.0)
    score = np.sum(np.clip(bed - target, 0, None) * w, axis=1)
    return [int(i) for i in np.argsort(score)[::-1][:n] if score[i] > 0]
