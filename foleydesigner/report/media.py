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
from fractions import Fraction
from pathlib import Path
from typing import Protocol

import numpy as np

from foleydesigner.tools.streams import WavAudio
from foleydesigner.units import SAMPLE_RATE

log = logging.getLogger(__name__)
_BLOCK = 1 << 18  # frames read at a time: memory stays flat on a 300 s stem
FLOOR_DB = -60.0  # envelopes are drawn on a dB scale from here to 0 dBFS, so quiet beds are still visible
SILENT_DB = -90.0  # a stem is trimmed to the span where it rises above this before encoding


class Reader(Protocol):
    """Audio read by window: a WavAudio or a SpillFile (tools/streams.py)."""

    n: int
    channels: int

    def read(self, a: int, b: int) -> np.ndarray: ...


def stem_envelope(path: Path | Reader, n_bins: int, *, gain: float = 1.0) -> tuple[list[int], int, int]:
    """Peak per bin on a 0..100 dB scale (FLOOR_DB..0 dBFS), and the first/last frame above SILENT_DB, of a WAV
    file or of a reader's audio scaled by gain."""
    src: Reader = WavAudio(path) if isinstance(path, (str, Path)) else path
    n = max(1, src.n)
    edges = np.linspace(0, n, n_bins + 1).astype(np.int64)
    peaks = np.zeros(n_bins, dtype=np.float32)
    thresh = 10 ** (SILENT_DB / 20)
    first, last = -1, -1
    for pos in range(0, src.n, _BLOCK):
        block = src.read(pos, min(src.n, pos + _BLOCK))
        mag = np.abs(block[0]) * np.float32(gain)
        for c in range(1, block.shape[0]):  # not .max(axis=0): a reduction over 2 channels is ~10x slower
            np.maximum(mag, np.abs(block[c]) * np.float32(gain), out=mag)
        loud = np.flatnonzero(mag > thresh)
        if loud.size:
            first = pos + int(loud[0]) if first < 0 else first
            last = pos + int(loud[-1])
        # peak of each piece of a bin this block holds, folded into that bin
        cuts = edges[(edges > pos) & (edges < pos + len(mag))] - pos
        starts = np.concatenate([[0], cuts]).astype(np.int64)
        bins = np.clip(np.searchsorted(edges, pos + starts, side="right") - 1, 0, n_bins - 1)
        np.maximum.at(peaks, bins, np.maximum.reduceat(mag, starts))
    db = 20 * np.log10(np.maximum(peaks, 1e-9))
    scaled = np.clip((db - FLOOR_DB) / -FLOOR_DB * 100.0, 0, 100)
    return [int(v) for v in np.round(scaled)], first, last


def spectrogram_png(wav: Path | Reader, out: Path, *, width: int = 1600, height: int = 120,
                    f_range: tuple[float, float] = (40.0, 20_000.0), gain: float = 1.0) -> None:
    """A log-frequency spectrogram (channels summed) of a WAV or a reader, one column per pixel, in the magma
    colour map, 80 dB under its loudest bins. Drawn with OpenCV's colour map rather than matplotlib: importing
    pyplot alone costs most of a second per run."""
    import cv2

    src: Reader = WavAudio(wav) if isinstance(wav, (str, Path)) else wav
    sr, n, n_fft = SAMPLE_RATE, src.n, 2048
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    rows = np.geomspace(f_range[0], min(f_range[1], sr / 2 - 1), height)  # 40 Hz..20 kHz, log spaced like an analyser
    idx = np.clip(np.searchsorted(freqs, rows), 1, len(freqs) - 1)
    cols = min(width, max(1, n // (n_fft // 2)))
    starts = np.linspace(0, max(0, n - n_fft), cols).astype(np.int64)
    win = np.hanning(n_fft).astype(np.float32)
    image = np.zeros((height, cols), dtype=np.float32)
    for a in range(0, max(1, n), _BLOCK):  # a block (and one FFT's overlap) at a time: flat memory on long clips
        here = np.flatnonzero((starts >= a) & (starts < a + _BLOCK))
        if not here.size:
            continue
        x = src.read(a, a + _BLOCK + n_fft).sum(axis=0) * np.float32(gain)
        frames = np.stack([x[s - a: s - a + n_fft] for s in starts[here]])
        spec = np.abs(np.fft.rfft(frames * win, axis=1)) ** 2
        image[:, here] = 10 * np.log10(spec[:, idx].T + 1e-12)
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


def encode_opus(wav: Path | Reader, channels: tuple[int, int], start: int, stop: int, *, bitrate: int = 96_000,
                gain: float = 1.0) -> bytes:
    """Frames [start, stop) of two channels of a WAV (or a reader), times gain, as Ogg Opus bytes (compression
    level 0: ~300x real time)."""
    import av

    src: Reader = WavAudio(wav) if isinstance(wav, (str, Path)) else wav
    buf = io.BytesIO()
    with av.open(buf, "w", format="ogg") as out:
        stream = out.add_stream("libopus", rate=48_000, layout="stereo", options={"compression_level": "0"})
        stream.bit_rate = bitrate
        for a in range(start, stop, _BLOCK):
            x = src.read(a, min(stop, a + _BLOCK))
            pair = np.ascontiguousarray(x[list(channels)] * np.float32(gain), dtype=np.float32)
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


#: What every current browser decodes in a <video>: these codecs in an MP4/MOV or WebM/Matroska container
#: (Chromium and Firefox; Safari takes H.264 in MP4). Anything else (MPEG-4 part 2, msmpeg4, MJPEG, ProRes…)
#: plays as audio only, or not at all, so the report makes a preview.
PLAYABLE_CODECS = {"h264", "vp8", "vp9", "av1"}
PLAYABLE_CONTAINERS = ("mp4", "mov", "webm")
PREVIEW_WIDTH = 640  # px: enough to see who walks where, ~10x smaller than a 1080p picture


def video_codec(path: Path) -> tuple[str, str]:
    """(codec of the first video stream, container format names) of a video file."""
    import av

    with av.open(str(path)) as c:
        vs = [s for s in c.streams if s.type == "video"]
        return (vs[0].codec_context.name if vs else ""), c.format.name


def browser_plays(path: Path) -> bool:
    codec, container = video_codec(path)
    if container.startswith("matroska"):  # Chromium plays Matroska as WebM only for the WebM codecs
        return codec in {"vp8", "vp9", "av1"}
    return codec in PLAYABLE_CODECS and any(name in container.split(",") for name in PLAYABLE_CONTAINERS)


def h264_preview(video: Path, stereo: Path | None, out: Path, *, max_width: int = PREVIEW_WIDTH) -> None:
    """A small H.264 (yuv420p, ≤ max_width px, CRF 30) MP4 of the picture, with the stereo mix as AAC when given:
    what the report plays when the delivered picture is in a codec browsers do not decode."""
    import av

    with av.open(str(video)) as src, av.open(str(out), "w", format="mp4") as dst:
        vin = next(s for s in src.streams if s.type == "video")
        fps = vin.average_rate or vin.guessed_rate or 25
        w0, h0 = vin.codec_context.width, vin.codec_context.height
        w = min(max_width, w0) // 2 * 2
        h = max(2, round(h0 * w / w0 / 2) * 2)
        vout = dst.add_stream("libx264", rate=fps, options={"crf": "30", "preset": "veryfast", "movflags": "+faststart"})
        vout.width, vout.height, vout.pix_fmt = w, h, "yuv420p"
        aout = dst.add_stream("aac", rate=48_000, layout="stereo") if stereo is not None else None
        if aout is not None:
            aout.bit_rate = 96_000
        for i, frame in enumerate(src.decode(vin)):
            small = frame.reformat(width=w, height=h, format="yuv420p")
            small.pts, small.time_base = i, Fraction(1) / Fraction(fps)
            for packet in vout.encode(small):
                dst.mux(packet)
        for packet in vout.encode(None):
            dst.mux(packet)
        if aout is not None and stereo is not None:
            wav = WavAudio(stereo)
            for a in range(0, wav.n, _BLOCK):
                frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(wav.read(a, min(wav.n, a + _BLOCK))[:2]),
                                                   format="fltp", layout="stereo")
                frame.sample_rate = 48_000
                for packet in aout.encode(frame):
                    dst.mux(packet)
            for packet in aout.encode(None):
                dst.mux(packet)
