"""Windowed audio: how the mixing and delivery stages handle clips of any length in bounded memory.

A clip is processed in windows of `window_s` (default 30 s). Each window is read with a pre-roll of
`PREROLL_S` before it, so every filter, compressor release and reverb tail has settled by the window's first
sample; only the window itself (its "core") is kept. Whatever needs the whole clip — a stem's loudness, the
compressor's make-up gain, the level a duck is keyed against — is measured once over the whole clip into
compact arrays (analysis.StemStats), so every window makes the same decision and the result equals processing
the clip in one piece (tests/test_windows.py measures the difference).

Window bounds are multiples of `ALIGN` samples at 48 kHz: the hops of every frame-based measurement (band
energies 20 ms, loudness 100 ms, ducking 50 ms, centre weight 40 ms, envelopes 5 ms) divide it, so frames never
straddle a window edge. Intermediate audio (processed stems, buses, the pre-master mix) is spilled to raw
float32 files in the run's scratch folder and read back window by window with plain file reads, never mapped,
so it never counts against the process's resident memory.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Protocol

import numpy as np

from foleydesigner.units import SAMPLE_RATE

WINDOW_S = 30.0
PREROLL_S = 4.0  # ≥ the longest reverb IR (1.2 × RT60 ≤ 3.6 s) and a compressor's release at 2 s settles to −17 dB
ALIGN = 9600  # 0.2 s at 48 kHz: a multiple of 240, 960, 1920, 2400 and 4800 samples


def aligned(seconds: float, sr: int = SAMPLE_RATE) -> int:
    """`seconds` in samples, rounded up to a multiple of the alignment at this rate (at least one unit)."""
    unit = ALIGN * sr // SAMPLE_RATE if (ALIGN * sr) % SAMPLE_RATE == 0 else ALIGN
    return max(unit, int(math.ceil(seconds * sr / unit)) * unit)


def spans(n: int, window: int) -> list[tuple[int, int]]:
    """[(start, stop)] windows covering [0, n); one window when the clip fits in one."""
    return [(a, min(n, a + window)) for a in range(0, max(n, 1), window)]


class AudioSource(Protocol):
    n: int
    channels: int

    def read(self, a: int, b: int) -> np.ndarray:
        """(channels, b − a) float32 of samples [a, b); zeros outside [0, n)."""
        ...


def _clean(x: np.ndarray) -> np.ndarray:
    """NaN/Inf to zero and denormals flushed: a decayed tail of 1e-40 makes every IIR filter 10–50× slower."""
    if not np.isfinite(x).all():
        np.nan_to_num(x, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
    x[np.abs(x) < 1e-30] = 0.0
    return x


def _padded(read: np.ndarray, a: int, b: int, n: int, channels: int) -> np.ndarray:
    if a >= 0 and b <= n:
        return read
    out = np.zeros((channels, b - a), np.float32)
    lo = max(0, -a)
    out[:, lo: lo + read.shape[1]] = read
    return out


class ArrayAudio:
    """An in-memory (channels, n) signal as a source (stems handed to the mixer directly, tests)."""

    def __init__(self, audio: np.ndarray) -> None:
        a = np.asarray(audio, dtype=np.float32)
        self.audio = a[None, :] if a.ndim == 1 else a
        self.channels, self.n = self.audio.shape

    def read(self, a: int, b: int) -> np.ndarray:
        part = _clean(np.array(self.audio[:, max(0, a): max(0, min(self.n, b))], dtype=np.float32))
        return _padded(part, a, b, self.n, self.channels)


class WavAudio:
    """A WAV file read window by window (soundfile seeks; only the window is ever in memory)."""

    def __init__(self, path: str | Path) -> None:
        import soundfile as sf

        self.path = Path(path)
        info = sf.info(str(self.path))
        self.n, self.channels, self.sr = int(info.frames), int(info.channels), int(info.samplerate)

    def read(self, a: int, b: int) -> np.ndarray:
        import soundfile as sf

        lo, hi = max(0, a), max(0, min(self.n, b))
        if hi <= lo:
            return np.zeros((self.channels, b - a), np.float32)
        with sf.SoundFile(str(self.path)) as f:
            f.seek(lo)
            part = f.read(hi - lo, dtype="float32", always_2d=True).T
        return _padded(_clean(np.ascontiguousarray(part)), a, b, self.n, self.channels)


class SpillFile:
    """Raw float32 (frames × channels, interleaved) scratch audio on disk, written and read by window."""

    def __init__(self, path: str | Path, channels: int, n: int, *, create: bool = True) -> None:
        self.path, self.channels, self.n = Path(path), channels, n
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "wb") as f:
                f.truncate(n * channels * 4)  # sparse: unwritten windows read as zeros

    @classmethod
    def existing(cls, path: str | Path, channels: int) -> SpillFile:
        """A spill file written earlier (its length from its size)."""
        return cls(path, channels, Path(path).stat().st_size // (4 * channels), create=False)

    def write(self, a: int, block: np.ndarray) -> None:
        data = np.ascontiguousarray(np.asarray(block, dtype=np.float32).T)
        with open(self.path, "r+b") as f:
            f.seek(a * self.channels * 4)
            data.tofile(f)

    def read(self, a: int, b: int) -> np.ndarray:
        lo, hi = max(0, a), max(0, min(self.n, b))
        if hi <= lo:
            return np.zeros((self.channels, b - a), np.float32)
        with open(self.path, "rb") as f:
            f.seek(lo * self.channels * 4)
            flat = np.fromfile(f, dtype=np.float32, count=(hi - lo) * self.channels)
        part = _clean(np.ascontiguousarray(flat.reshape(hi - lo, self.channels).T))
        return _padded(part, a, b, self.n, self.channels)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)

