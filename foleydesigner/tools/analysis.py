"""Stem diagnosis (paper §4): f = [f_sem, f_spec, f_rev, f_loud] per stem, and the masking each stem suffers.

Spectra are summed into ERB-spaced bands (Glasberg & Moore 1990) because masking happens within auditory
filters: a background louder than a foreground sound *in the same band at the same time* is what buries it.
Loudness is ITU-R BS.1770-4 (K-weighted, gated) with EBU Tech 3341 short-term (3 s) and Tech 3342 range,
all from one filtering pass: the gating blocks of a gained signal are the same blocks shifted, so a
fader move is re-measured without filtering again.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.fft

from foleydesigner.schemas import StemFeatures
from foleydesigner.tools.cpus import TaskPool, usable_cores
from foleydesigner.tools.loudness import (  # noqa: F401  (LoudnessProfile, loudness_profile re-exported)
    SILENCE_LUFS,
    LoudnessMeter,
    LoudnessProfile,
    loudness_profile,
)
from foleydesigner.tools.streams import AudioSource, aligned, spans
from foleydesigner.units import SAMPLE_RATE

N_BANDS = 24
F_LO, F_HI = 50.0, 16_000.0
HOP_S = 0.02  # band-energy frame hop: finer than the ~30 ms integration of forward masking
#: Band frames more than this far under the stem's own loudest band-frame are ignored (not audible content).
ACTIVE_RANGE_DB = 40.0
#: Band power (dB, unnormalised FFT: a full-scale sine reads ~+54) under which a stem is digital silence.
SILENT_BAND_DB = -90.0
ENV_HOP_S = 0.005  # envelope hop of the decay (RT60) and DRR estimates
CTRL_HOP = 8  # samples per control step of the compressor (0.17 ms): its detector reads peaks at this hop


def ride_lu(before: np.ndarray, after: np.ndarray, sr: int = SAMPLE_RATE, *, k_weighted: bool = True) -> float:
    """The LU a gain change (a duck, a keyed carve) took off a signal: the energy of `after` against `before` over
    the gating blocks that carry `before` (BS.1770's relative gate, not its -70 LUFS absolute one). Two gated
    integrations would read a quiet stem that a 3 dB duck takes under the absolute gate as ridden by ~50 LU."""
    b = loudness_profile(before, sr, k_weighted=k_weighted).blocks
    a = loudness_profile(after, sr, k_weighted=k_weighted).blocks
    if b.size == 0 or a.size != b.size or b.max() <= 0:
        return 0.0
    kept = b > b.mean() * 10 ** (-10.0 / 10)
    return float(10 * np.log10(b[kept].sum() / max(float(a[kept].sum()), b[kept].sum() * 1e-12)))


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


def _band_geometry(sr: int, hop_s: float) -> tuple[int, int]:
    hop = max(1, int(hop_s * sr))
    return hop, 1 << int(math.ceil(math.log2(2 * hop)))


def n_band_frames(n: int, sr: int = SAMPLE_RATE, hop_s: float = HOP_S) -> int:
    hop, nfft = _band_geometry(sr, hop_s)
    return -(-(n - nfft) // hop) + 1 if n > nfft else 1


def _band_frames(mono: np.ndarray, m: int, hop: int, nfft: int, sr: int) -> np.ndarray:
    """dB band power [bands, m] of the m frames that start every `hop` samples from mono[0] (zero-padded)."""
    mono = np.pad(mono, (0, max(0, (m - 1) * hop + nfft - len(mono))))
    frames = np.lib.stride_tricks.sliding_window_view(mono, nfft)[::hop][:m]
    spec = scipy.fft.rfft(frames * _window(nfft), axis=-1)
    starts, end, empty = _band_bins(nfft, sr)
    power = spec.real[:, :end] ** 2 + spec.imag[:, :end] ** 2
    bands = np.add.reduceat(power, starts, axis=1).T.astype(np.float64)
    bands[empty] = 0.0
    return 10 * np.log10(bands + 1e-12)


def band_energies_db(audio: np.ndarray, sr: int = SAMPLE_RATE, *, hop_s: float = HOP_S) -> tuple[np.ndarray, np.ndarray]:
    """(band centres Hz, dB power [bands, frames]) of the channel-summed signal on an ERB scale.

    Bins are summed into bands with `add.reduceat` (contiguous bins per band): a BLAS matmul here is ~10× slower
    on a busy 2-core machine, where its threads fight the graph's own.
    """
    x = np.asarray(audio, dtype=np.float32)
    mono = x.mean(axis=0) if x.ndim == 2 else x
    hop, nfft = _band_geometry(sr, hop_s)
    return band_centres_hz(), _band_frames(mono, n_band_frames(len(mono), sr, hop_s), hop, nfft, sr)


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


def _mono_env_db(audio: np.ndarray, sr: int) -> np.ndarray:
    x = np.asarray(audio, dtype=np.float64)
    return _db_envelope(x.mean(axis=0) if x.ndim == 2 else x, int(ENV_HOP_S * sr))


def rt60_from_envelope(env: np.ndarray) -> float | None:
    """Decay time (ISO 3382 T20 ×3) of the loudest isolated hit in a 5 ms dB envelope: Schroeder backward
    integral of its tail, line fit from −5 to −25 dB. None when no hit decays 25 dB before the next (beds)."""
    hits = _hits(env)
    for h in sorted(hits, key=lambda i: -env[i]):
        nxt = [k for k in hits if k > h]
        end = min(nxt[0] if nxt else env.size, h + int(2.0 / ENV_HOP_S))
        seg = 10 ** (env[h:end] / 10)
        edc = 10 * np.log10(np.cumsum(seg[::-1])[::-1] / seg.sum() + 1e-12)
        sel = np.flatnonzero((edc <= -5) & (edc >= -25))
        if sel.size >= 4 and edc.min() < -25:
            slope = np.polyfit(sel * ENV_HOP_S, edc[sel], 1)[0]
            if slope < 0:
                return round(float(-60.0 / slope), 3)
    return None


def drr_from_envelope(env_db: np.ndarray) -> float | None:
    """Blind direct-to-reverberant ratio from a 5 ms dB envelope: energy in the first 50 ms of the hits over
    the energy after them (ISO 3382 C50 taken on the signal's own transients); None without isolated hits.
    A dry Foley hit reads > 15 dB; the same hit in a live room reads a few dB."""
    env = 10 ** (env_db / 10)
    hits = _hits(env_db)
    early = late = 0.0
    for k, h in enumerate(hits):
        end = min(hits[k + 1] if k + 1 < len(hits) else env.size, h + int(0.5 / ENV_HOP_S))
        early += env[max(0, h - 1): h + 10].sum()
        late += env[h + 10: end].sum()
    if not hits or late <= 0:
        return None
    return round(float(10 * np.log10(early / late)), 2)


def rt60_estimate_s(audio: np.ndarray, sr: int = SAMPLE_RATE) -> float | None:
    """rt60_from_envelope of a signal in memory."""
    return rt60_from_envelope(_mono_env_db(audio, sr))


def drr_estimate_db(audio: np.ndarray, sr: int = SAMPLE_RATE) -> float | None:
    """drr_from_envelope of a signal in memory."""
    return drr_from_envelope(_mono_env_db(audio, sr))


# --- whole-clip measurements, taken window by window ------------------------------------------------------

@dataclass(frozen=True)
class StemStats:
    """Everything the mixer needs to know about one signal over the whole clip, in compact arrays: band
    energies, loudness blocks, peak and power, a 5 ms envelope, and the compressor detector's 8-sample peaks and
    energies (so a compressor's gain and make-up are decided once for the clip, identical in every window)."""

    n: int
    channels: int
    bands: np.ndarray  # dB [N_BANDS, frames] at HOP_S
    profile: LoudnessProfile | None  # None when measured with full=False (verification reads the groups' only)
    peak: float  # max |x|
    sumsq: float  # Σ x² over samples and channels
    env_db: np.ndarray | None = None  # 5 ms mono envelope, dB
    hop_peak: np.ndarray | None = None  # max |x| over channels per CTRL_HOP samples
    hop_energy: np.ndarray | None = None  # Σ over channels of x² per CTRL_HOP samples

    @property
    def peak_dbfs(self) -> float:
        return 20 * math.log10(self.peak) if self.peak > 0 else -math.inf

    @property
    def mean_square(self) -> float:
        return self.sumsq / max(1, self.n * self.channels)


class _StatsAcc:
    def __init__(self, n: int, channels: int, sr: int, full: bool) -> None:
        self.n, self.channels, self.sr, self.full = n, channels, sr, full
        self.hop, self.nfft = _band_geometry(sr, HOP_S)
        self.n_frames = n_band_frames(n, sr)
        self.bands: list[np.ndarray] = []
        self.meter = LoudnessMeter(sr) if full else None
        self.peak, self.sumsq = 0.0, 0.0
        self.env: list[np.ndarray] = []
        self.hp: list[np.ndarray] = []
        self.he: list[np.ndarray] = []

    def push(self, a: int, b: int, ext: np.ndarray) -> None:
        """Samples [a, b) of the signal, given with what follows them up to one FFT frame (`ext`)."""
        core = ext[:, : b - a]
        mono = ext.mean(axis=0)
        first = -(-a // self.hop)
        m = min(self.n_frames, -(-b // self.hop)) - first if b < self.n else self.n_frames - first
        if m > 0:
            self.bands.append(_band_frames(mono[first * self.hop - a:], m, self.hop, self.nfft, self.sr))
        if self.meter is not None:
            self.meter.push(core)
        if core.size:
            self.peak = max(self.peak, float(np.abs(core).max()))
            self.sumsq += float(np.sum(np.square(core, dtype=np.float64)))
        if self.full:
            self.env.append(_db_envelope(np.asarray(mono[: b - a], np.float64), int(ENV_HOP_S * self.sr)))
            k = -(-(b - a) // CTRL_HOP)
            padded = np.pad(core, ((0, 0), (0, k * CTRL_HOP - core.shape[1])))
            self.hp.append(np.abs(padded).max(axis=0).reshape(k, CTRL_HOP).max(axis=1).astype(np.float32))
            self.he.append(np.sum(np.square(padded, dtype=np.float64), axis=0).reshape(k, CTRL_HOP).sum(axis=1)
                           .astype(np.float32))  # 8 bytes per 8 samples of a stem with the peaks: 1/4 of its size

    def stats(self) -> StemStats:
        cat = (lambda parts: np.concatenate(parts) if parts else np.zeros(0)) if self.full else (lambda parts: None)
        bands = np.concatenate(self.bands, axis=1) if self.bands else np.full((N_BANDS, 1), -120.0)
        profile = self.meter.profile() if self.meter is not None else None
        return StemStats(n=self.n, channels=self.channels, bands=bands, profile=profile, peak=self.peak,
                         sumsq=self.sumsq, env_db=cat(self.env), hop_peak=cat(self.hp), hop_energy=cat(self.he))


def _read_and_push(reads: dict[str, np.ndarray], sid: str, src: AudioSource, acc: _StatsAcc, a: int, b: int,
                   ext: int) -> None:
    reads[sid] = x = src.read(a, b + ext)
    acc.push(a, b, x)


def measure(sources: Mapping[str, AudioSource], *, groups: Mapping[str, str] | None = None, sr: int = SAMPLE_RATE,
            window_s: float = 30.0, full: bool = True) -> tuple[dict[str, StemStats], dict[str, LoudnessProfile]]:
    """StemStats of every source and the loudness profile of each group's sum (e.g. the fg and bg layers),
    in one pass over the clip, one window of every source in memory at a time. `full=False` skips each
    source's own loudness and envelopes (verification needs bands, power and the groups' loudness only)."""
    n = max((s.n for s in sources.values()), default=0)
    accs = {sid: _StatsAcc(n, src.channels, sr, full) for sid, src in sources.items()}
    meters = {g: LoudnessMeter(sr) for g in sorted(set((groups or {}).values()))}
    ext = _band_geometry(sr, HOP_S)[1]
    # Each source's window is read and measured on its own (file reads, FFTs and filters run outside the GIL), so
    # with a second core they go side by side; the group sums are then added in the sources' order, as before.
    # A batch of sources at a time, so no more than a few windows are held at once.
    workers = min(3, usable_cores() - 1) if len(sources) > 1 else 0
    ids = list(sources)
    batch = 2 * (workers + 1)
    for a, b in spans(n, aligned(window_s, sr)):
        sums: dict[str, np.ndarray] = {}
        for lo in range(0, len(ids), batch):
            reads: dict[str, np.ndarray] = {}
            with TaskPool(workers) as pool:
                for sid in ids[lo: lo + batch]:
                    pool.submit(_read_and_push, reads, sid, sources[sid], accs[sid], a, b, ext)
            for sid in ids[lo: lo + batch]:
                x = reads.pop(sid)
                g = (groups or {}).get(sid)
                if g is not None:
                    sums[g] = sums[g] + x[:, : b - a] if g in sums else x[:, : b - a].copy()
        for g, meter in meters.items():
            meter.push(sums.get(g, np.zeros((2, b - a), np.float32)))
    return {sid: acc.stats() for sid, acc in accs.items()}, {g: m.profile() for g, m in meters.items()}


def stem_features(stats: Mapping[str, StemStats], meta: Mapping[str, tuple[str, str]]) -> list[StemFeatures]:
    """Features for every stem from its whole-clip StemStats; `meta` maps stem id -> (label, layer)."""
    bands = {sid: st.bands for sid, st in stats.items()}
    layers = {sid: meta[sid][1] for sid in stats}
    masks = masking_report(bands, layers)
    centres = band_centres_hz()
    feats = []
    for sid, st in stats.items():
        prof = st.profile
        if prof is None:
            raise ValueError(f"stem_features needs full measurements; {sid} was measured with full=False")
        lufs = prof.integrated()
        peak = st.peak_dbfs
        rms = math.sqrt(st.mean_square)
        crest = peak - 20 * math.log10(rms) if rms > 0 and math.isfinite(peak) else 0.0
        short = np.maximum(prof.short_term_lufs(), SILENCE_LUFS)
        label, layer = meta[sid]
        worst = _worst_masked_bands(bands[sid], [b for o, b in bands.items() if o != sid and layers[o] == "bg"])
        env = st.env_db if st.env_db is not None else np.zeros(0)
        feats.append(StemFeatures(
            event_id=sid, label=label, layer=layer,  # type: ignore[arg-type]
            integrated_lufs=round(lufs, 2), peak_dbfs=round(peak, 2) if math.isfinite(peak) else -120.0,
            crest_db=round(crest, 2), band_energy_db=np.round(bands[sid].mean(axis=1), 2).tolist(),
            masked_by_db=round(masks[sid][0], 2), masked_by_bg_db=round(masks[sid][1], 2),
            masked_bands_hz=[round(float(centres[i]), 1) for i in worst],
            rt60_s=rt60_from_envelope(env), drr_db=drr_from_envelope(env),
            short_term_max_lufs=round(float(short.max()), 2) if short.size else SILENCE_LUFS,
            short_term_lufs=np.round(short[::10], 1).tolist(), loudness_range_lu=round(prof.loudness_range_lu(), 2),
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
