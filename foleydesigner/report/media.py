"""Media for the report, made from the run's WAV files: waveform envelopes, a spectrogram image, and the audio
the page's Web Audio mixer plays.

Why the audio is wrapped in small .js files: a page opened from file:// may not fetch() or XHR other local
files (Chromium treats every file as its own origin), and a MediaElementAudioSourceNode fed from a file:// URL
outputs silence for the same reason. A <script src> is allowed, so each stem is Opus-encoded (48 kb/s per
channel pair is transparent enough to audition Foley and ~30x smaller than the 24-bit WAV), base64'd into
one .js file, and loaded only when the user switches to the stems or 5.1 monitor.
"""

from __future__ import annotations

import base64
import io
import logging
from pathlib import Path

import numpy as np
import soundfile as sf

log = logging.getLogger(__name__)
_BLOCK = 1 << 18  # frames read at a time: memory stays flat on a 300 s stem
FLOOR_DB = -60.0  # envelopes are drawn on a dB scale from here to 0 dBFS, so quiet beds are still visible
SILENT_DB = -90.0  # a stem is trimmed to the span where it rises above this before encoding


def stem_envelope(path: Path, n_bins: int) -> tuple[list[int], int, int]:
    """Peak per bin on a 0..100 dB scale (FLOOR_DB..0 dBFS), and the first/last frame above SILENT_DB."""
    info = sf.info(str(path))
    n = max(1, info.frames)
    edges = np.linspace(0, n, n_bins + 1).astype(np.int64)
    peaks = np.zeros(n_bins, dtype=np.float32)
    thresh = 10 ** (SILENT_DB / 20)
    first, last = -1, -1
    pos = 0
    with sf.SoundFile(str(path)) as f:
        for block in f.blocks(blocksize=_BLOCK, dtype="float32", always_2d=True):
            mag = np.abs(block[:, 0])
            for c in range(1, block.shape[1]):  # not .max(axis=1): a reduction over 2 channels is ~10x slower
                np.maximum(mag, np.abs(block[:, c]), out=mag)
            loud = np.flatnonzero(mag > thresh)
            if loud.size:
                first = pos + int(loud[0]) if first < 0 else first
                last = pos + int(loud[-1])
            # peak of each piece of a bin this block holds, folded into that bin
            cuts = edges[(edges > pos) & (edges < pos + len(mag))] - pos
            starts = np.concatenate([[0], cuts]).astype(np.int64)
            bins = np.clip(np.searchsorted(edges, pos + starts, side="right") - 1, 0, n_bins - 1)
            np.maximum.at(peaks, bins, np.maximum.reduceat(mag, starts))
            pos += len(mag)
    db = 20 * np.log10(np.maximum(peaks, 1e-9))
    scaled = np.clip((db - FLOOR_DB) / -FLOOR_DB * 100.0, 0, 100)
    return [int(v) for v in np.round(scaled)], first, last


def spectrogram_png(wav: Path, out: Path, *, width: int = 1600, height: int = 120) -> None:
    """A log-frequency spectrogram of the mix (channels summed), one column per pixel, in the magma colour map.
    Drawn with OpenCV's colour map rather than matplotlib: importing pyplot alone costs most of a second per run."""
    import cv2

    info = sf.info(str(wav))
    sr, n = info.samplerate, info.frames
    n_fft = 2048
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    rows = np.geomspace(40.0, min(20_000.0, sr / 2 - 1), height)  # 40 Hz..20 kHz, log spaced like an analyser
    idx = np.clip(np.searchsorted(freqs, rows), 1, len(freqs) - 1)
    cols = min(width, max(1, n // (n_fft // 2)))
    starts = np.linspace(0, max(0, n - n_fft), cols).astype(np.int64)
    win = np.hanning(n_fft).astype(np.float32)
    image = np.zeros((height, cols), dtype=np.float32)
    with sf.SoundFile(str(wav)) as f:
        for c, s in enumerate(starts):
            f.seek(int(s))
            x = f.read(n_fft, dtype="float32", always_2d=True).sum(axis=1)
            if len(x) < n_fft:
                x = np.pad(x, (0, n_fft - len(x)))
            spec = np.abs(np.fft.rfft(x * win)) ** 2
            image[:, c] = 10 * np.log10(spec[idx] + 1e-12)
    top = float(np.percentile(image, 99.5)) if image.size else 0.0
    level = np.clip((image[::-1] - (top - 80.0)) / 80.0, 0.0, 1.0)  # 80 dB of range under the loudest bins
    cv2.imwrite(str(out), cv2.applyColorMap(np.round(level * 255).astype(np.uint8), cv2.COLORMAP_MAGMA))


def opus_available() -> bool:
    import av

    try:
        av.codec.Codec("libopus", "w")
    except Exception:  # noqa: BLE001 - any failure means this PyAV build cannot encode Opus
        return False
    return True


def encode_opus(wav: Path, channels: tuple[int, int], start: int, stop: int, *, bitrate: int = 96_000) -> bytes:
    """Frames [start, stop) of two channels of a WAV as Ogg Opus bytes (compression level 0: ~300x real time)."""
    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="ogg") as out, sf.SoundFile(str(wav)) as f:
        stream = out.add_stream("libopus", rate=48_000, layout="stereo", options={"compression_level": "0"})
        stream.bit_rate = bitrate
        f.seek(start)
        left = stop - start
        while left > 0:
            x = f.read(min(_BLOCK, left), dtype="float32", always_2d=True)
            if not len(x):
                break
            left -= len(x)
            pair = np.ascontiguousarray(x[:, list(channels)].T)
            frame = av.AudioFrame.from_ndarray(pair, format="fltp", layout="stereo")
            frame.sample_rate = 48_000
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


def audio_js(key: str, data: bytes) -> str:
    """A script that registers base64 audio under key; the page decodes it with decodeAudioData."""
    b64 = base64.b64encode(data).decode("ascii")
    return f'(window.FOLEY_AUDIO=window.FOLEY_AUDIO||{{}})["{key}"]="{b64}";\n'
