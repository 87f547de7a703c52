"""What a stem does over time, read from its audio alone: per-frame activity, hit onsets, a peak-normalised copy.
The eval harness scores stems with these; the library's tests check recordings' onsets with them."""

from __future__ import annotations

import numpy as np

from foleydesigner.eval.metrics import onset_envelope

ACTIVITY_RANGE_DB = 40.0  # a frame sounds if within this of the stem's loudest frame (and above ACTIVITY_FLOOR_DB)
ACTIVITY_FLOOR_DB = -90.0
ONSET_REFRACTORY_S = 0.2  # one onset per hit: a footfall's heel and toe transients are ~0.1 s apart
ONSET_REL_HEIGHT = 0.1  # flux peaks below 10 % of the stem's strongest are texture, not hits


def audio_activation(audio: np.ndarray, sr: int, fps: float, n_frames: int, *, range_db: float = ACTIVITY_RANGE_DB,
                     floor_db: float = ACTIVITY_FLOOR_DB, bridge_s: float = 0.0) -> np.ndarray:
    """Per video frame: does the stem sound? Frame RMS within range_db of its loudest frame and above floor_db;
    inactive runs shorter than bridge_s between two active frames are filled (a train of hits is one activity)."""
    mono = np.asarray(audio, np.float64)
    mono = mono.mean(axis=0) if mono.ndim == 2 else mono
    edges = np.round(np.arange(n_frames + 1) * sr / fps).astype(int)
    mono = np.pad(mono, (0, max(0, edges[-1] - mono.size)))
    power = np.add.reduceat(mono[: edges[-1]] ** 2, edges[:-1]) / np.diff(edges)
    db = 10.0 * np.log10(power + 1e-30)
    act = (db >= db.max() - range_db) & (db > floor_db)
    on = np.flatnonzero(act)
    max_gap = int(round(bridge_s * fps))
    for a, b in zip(on[:-1], on[1:], strict=True):
        if 1 < b - a <= max_gap + 1:
            act[a:b] = True
    return act


def detect_onsets(audio: np.ndarray, sr: int, *, hop_s: float = 0.01, rel_height: float = ONSET_REL_HEIGHT,
                  refractory_s: float = ONSET_REFRACTORY_S) -> np.ndarray:
    """Hit times (s): local maxima of the spectral-flux envelope above rel_height × its maximum, keeping the
    first peak of each hit (later peaks within refractory_s are the same hit's later transients)."""
    env = onset_envelope(audio, sr, hop_s=hop_s)
    if env.size < 3 or env.max() <= 0:
        return np.zeros(0)
    peak = np.flatnonzero((env[1:-1] > env[:-2]) & (env[1:-1] >= env[2:]) & (env[1:-1] >= rel_height * env.max())) + 1
    kept: list[float] = []
    for k in peak:
        if not kept or k * hop_s - kept[-1] >= refractory_s:
            kept.append(k * hop_s)
    return np.asarray(kept)


def peak_normalised(audio: np.ndarray) -> np.ndarray:
    """A stem scaled to 0 dBFS sample peak. One gain on both ears changes no ITD or ILD, and pre-mix stems can be
    quiet (a source 8 m away, a far ear 20 dB down): unscaled, the estimators' −60 dBFS floor would drop them."""
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    return audio / peak if peak > 0 else audio
