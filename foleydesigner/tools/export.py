"""Writing results: atomic files, WAV/WAVEX, and muxing the mixes back into the untouched video stream."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from foleydesigner.errors import InputError
from foleydesigner.units import SAMPLE_RATE

log = logging.getLogger(__name__)

#: Video codecs the MP4 container carries; anything else (AVI's msmpeg4, Theora…) goes into Matroska.
MP4_VIDEO_CODECS = {"h264", "hevc", "mpeg4", "av1", "vp9", "mjpeg", "mpeg2video", "mpeg1video"}


def _tmp_beside(path: Path, suffix: str = ".part") -> Path:
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    return Path(name)


def atomic_write_text(path: str | Path, text: str) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_beside(p)
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, p)
    finally:
        tmp.unlink(missing_ok=True)
    return p


def atomic_write_json(path: str | Path, value: Any) -> Path:
    data = value.model_dump(mode="json") if hasattr(value, "model_dump") else value
    return atomic_write_text(path, json.dumps(data, indent=2, default=str) + "\n")


def atomic_write_wav(path: str | Path, audio: np.ndarray, sr: int = SAMPLE_RATE, *, subtype: str = "PCM_24") -> Path:
    """(channels, n) float audio -> WAV; 6 channels are written WAVE_FORMAT_EXTENSIBLE with mask 0x3F (5.1)."""
    import soundfile as sf

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    a = np.asarray(audio, dtype=np.float32)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"refusing to write {p.name}: audio contains NaN or Inf")
    fmt = "WAVEX" if a.shape[0] > 2 else "WAV"
    tmp = _tmp_beside(p)
    try:
        sf.write(str(tmp), a.T, sr, subtype=subtype, format=fmt)
        os.replace(tmp, p)
    finally:
        tmp.unlink(missing_ok=True)
    return p


class WavWriter:
    """A WAV file written block by block and published atomically: it appears under its name only when the
    `with` block ends without an exception (a temp file beside it is removed otherwise). 6 channels are written
    WAVE_FORMAT_EXTENSIBLE (5.1 mask 0x3F), like atomic_write_wav."""

    def __init__(self, path: str | Path, channels: int, sr: int = SAMPLE_RATE, *, subtype: str = "PCM_24") -> None:
        self.path, self.channels, self.sr, self.subtype = Path(path), channels, sr, subtype

    def __enter__(self) -> WavWriter:
        import soundfile as sf

        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = _tmp_beside(self.path)
        self._file = sf.SoundFile(str(self._tmp), "w", self.sr, self.channels, subtype=self.subtype,
                                  format="WAVEX" if self.channels > 2 else "WAV")
        return self

    def write(self, block: np.ndarray) -> None:
        a = np.asarray(block, dtype=np.float32)
        if a.shape[0] != self.channels:
            raise ValueError(f"{self.path.name}: expected {self.channels} channels, got {a.shape[0]}")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"refusing to write {self.path.name}: audio contains NaN or Inf")
        self._file.write(a.T)

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self._file.close()
        try:
            if exc_type is None:
                os.replace(self._tmp, self.path)
        finally:
            self._tmp.unlink(missing_ok=True)


def muxed_name(video_path: str | Path, video_codec: str) -> str:
    ext = ".mp4" if video_codec in MP4_VIDEO_CODECS else ".mkv"
    return Path(video_path).stem + ".foley" + ext


def _encode_audio(out: Any, stream: Any, audio: Any, layout: str, sr: int, block: int = 1 << 20) -> None:
    """Encode a (channels, n) array, or a WAV file read a block at a time, into `stream`."""
    import av

    from foleydesigner.tools.streams import ArrayAudio, WavAudio

    src = WavAudio(audio) if isinstance(audio, (str, Path)) else ArrayAudio(audio)
    frame_size = stream.codec_context.frame_size or 1024
    block -= block % frame_size
    for base in range(0, src.n, block):
        a = src.read(base, min(src.n, base + block))
        for start in range(0, a.shape[1], frame_size):
            chunk = np.ascontiguousarray(a[:, start: start + frame_size])
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
            frame.sample_rate = sr
            frame.pts = base + start
            frame.time_base = Fraction(1, sr)
            for packet in stream.encode(frame):
                out.mux(packet)
    for packet in stream.encode(None):
        out.mux(packet)


def mux_video(video_path: str | Path, out_path: str | Path, *, mix_51: np.ndarray | str | Path,
              mix_stereo: np.ndarray | str | Path, sr: int = SAMPLE_RATE, keep_original_audio: bool = False) -> Path:
    """Copy the video stream bit for bit and add a 5.1 AAC track (default) and a stereo AAC track.

    The mixes are arrays or WAV files; files are encoded a block at a time (memory does not grow with length).

    With keep_original_audio the source's audio streams are copied after ours; otherwise they are dropped.
    """
    import av

    dst = Path(out_path)
    tmp = _tmp_beside(dst, suffix=f".part{dst.suffix}")  # the one name made is the one written
    try:
        with av.open(str(video_path)) as inp, av.open(str(tmp), "w", format="mp4" if dst.suffix == ".mp4" else "matroska") as out:
            vin = inp.streams.video[0]
            vout = out.add_stream_from_template(vin)
            # FFmpeg's "fast" AAC coder is ~4x quicker than the default two-loop search; at 384/192 kb/s the
            # difference is not audible on Foley, and encoding was the slowest step of a short run.
            a51 = out.add_stream("aac", rate=sr, layout="5.1", options={"aac_coder": "fast"})
            a51.bit_rate = 384_000
            a20 = out.add_stream("aac", rate=sr, layout="stereo", options={"aac_coder": "fast"})
            a20.bit_rate = 192_000
            keep = [s for s in inp.streams.audio] if keep_original_audio else []
            kept = {s.index: out.add_stream_from_template(s) for s in keep}
            for packet in inp.demux([vin, *keep]):
                if packet.dts is None and packet.pts is None:
                    continue  # flush packets carry no data
                if packet.pts is None:
                    packet.pts = packet.dts
                packet.stream = vout if packet.stream.index == vin.index else kept[packet.stream.index]
                out.mux(packet)
            _encode_audio(out, a51, mix_51, "5.1", sr)
            _encode_audio(out, a20, mix_stereo, "stereo", sr)
        os.replace(tmp, dst)
    except Exception as exc:
        raise InputError(f"could not mux audio into {dst.name}: {exc.__class__.__name__}: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return dst
