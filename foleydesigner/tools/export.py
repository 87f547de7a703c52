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


def tmp_beside(path: Path, suffix: str = ".part") -> Path:
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    return Path(name)


def atomic_write_text(path: str | Path, text: str) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_beside(p)
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, p)
    finally:
        tmp.unlink(missing_ok=True)
    return p


def _finite(value: Any) -> Any:
    """NaN and ±Inf as null: JSON has no such numbers, and a browser's JSON.parse rejects a file holding them."""
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def atomic_write_json(path: str | Path, value: Any) -> Path:
    """Strict JSON (never a bare NaN), written atomically."""
    data = _finite(value.model_dump(mode="json") if hasattr(value, "model_dump") else value)
    return atomic_write_text(path, json.dumps(data, indent=2, default=str, allow_nan=False) + "\n")


def atomic_write_wav(path: str | Path, audio: np.ndarray, sr: int = SAMPLE_RATE, *, subtype: str = "PCM_24") -> Path:
    """(channels, n) float audio -> WAV; 6 channels are written WAVE_FORMAT_EXTENSIBLE with mask 0x3F (5.1)."""
    import soundfile as sf

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    a = np.asarray(audio, dtype=np.float32)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"refusing to write {p.name}: audio contains NaN or Inf")
    fmt = "WAVEX" if a.shape[0] > 2 else "WAV"
    tmp = tmp_beside(p)
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
        self._tmp = tmp_beside(self.path)
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


def video_encoder() -> tuple[str, str]:
    """The encoder a re-encoded picture gets: H.264 when the bundled FFmpeg has one, else MPEG-4 Part 2."""
    import av

    return ("libx264", "H.264") if "libx264" in av.codecs_available else ("mpeg4", "MPEG-4")


def mux_video(video_path: str | Path, out_path: str | Path, *, mix_51: np.ndarray | str | Path,
              mix_stereo: np.ndarray | str | Path, sr: int = SAMPLE_RATE, keep_original_audio: bool = False,
              language: str = "und", reencode: str | None = None) -> Path:
    """Copy the video stream bit for bit and add a 5.1 AAC track (default) and a stereo AAC track.

    The mixes are arrays or WAV files; files are encoded a block at a time (memory does not grow with length).
    The tracks are titled "Foley 5.1" and "Foley stereo" and tagged with `language` (ISO 639-2, `und` when
    unknown); an MP4 is written with its index (moov) first, so players and browsers start before the end arrives.
    With keep_original_audio the source's audio streams are copied after ours; otherwise they are dropped.
    With `reencode` (an encoder name) the picture is decoded and encoded again instead of copied.
    """
    import av

    dst = Path(out_path)
    tmp = tmp_beside(dst, suffix=f".part{dst.suffix}")  # the one name made is the one written
    mp4 = dst.suffix == ".mp4"
    try:
        with av.open(str(video_path)) as inp, av.open(str(tmp), "w", format="mp4" if mp4 else "matroska",
                                                       options={"movflags": "+faststart"} if mp4 else {}) as out:
            vin = inp.streams.video[0]
            vout = video_stream_like(out, vin, reencode) if reencode else out.add_stream_from_template(vin)
            # FFmpeg's "fast" AAC coder is ~4x quicker than the default two-loop search; at 384/192 kb/s the
            # difference is not audible on Foley, and encoding was the slowest step of a short run.
            a51 = out.add_stream("aac", rate=sr, layout="5.1", options={"aac_coder": "fast"})
            a51.bit_rate = 384_000
            a20 = out.add_stream("aac", rate=sr, layout="stereo", options={"aac_coder": "fast"})
            a20.bit_rate = 192_000
            for stream, title in ((a51, "Foley 5.1"), (a20, "Foley stereo")):
                # MP4 players show the handler name, Matroska ones the title: set both
                stream.metadata.update(title=title, handler_name=title, language=language)
            keep = [s for s in inp.streams.audio] if keep_original_audio else []
            kept = {s.index: out.add_stream_from_template(s) for s in keep}
            for packet in inp.demux([vin, *keep]):
                if packet.dts is None and packet.pts is None:
                    continue  # flush packets carry no data
                if reencode and packet.stream.index == vin.index:
                    for frame in packet.decode():
                        out.mux(vout.encode(even_frame(frame, vout)))
                    continue
                if packet.pts is None:
                    packet.pts = packet.dts
                packet.stream = vout if packet.stream.index == vin.index else kept[packet.stream.index]
                out.mux(packet)
            if reencode:
                out.mux(vout.encode(None))
            _encode_audio(out, a51, mix_51, "5.1", sr)
            _encode_audio(out, a20, mix_stereo, "stereo", sr)
        os.replace(tmp, dst)
    except Exception as exc:
        raise InputError(f"could not mux audio into {dst.name}: {exc.__class__.__name__}: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return dst


def video_stream_like(out: Any, vin: Any, encoder: str) -> Any:
    """An encoder stream for the re-encoded picture: same size (rounded down to even for 4:2:0) and frame rate."""
    rate = vin.average_rate or vin.guessed_rate or Fraction(25)
    vout = out.add_stream(encoder, rate=rate, options={"crf": "18", "preset": "medium"} if encoder == "libx264" else {})
    vout.width, vout.height = vin.codec_context.width // 2 * 2, vin.codec_context.height // 2 * 2
    vout.pix_fmt = "yuv420p"
    if encoder != "libx264":
        vout.bit_rate = 8_000_000  # mpeg4 defaults to 200 kb/s: visibly blocky
    return vout


def even_frame(frame: Any, vout: Any) -> Any:
    """The decoded frame in the encoder's size and pixel format, keeping its timestamp."""
    out = frame.reformat(width=vout.width, height=vout.height, format="yuv420p")
    out.pts, out.time_base = frame.pts, frame.time_base
    return out


def deliver_video(video_path: str | Path, folder: Path, codec: str, **mux: Any) -> tuple[str, list[str]]:
    """Mux the mixes into the clip's own picture; when that picture cannot be carried, re-encode it and say so.

    Returns the file name written and the warnings. Finished work is never dropped over the container: a codec
    MP4/Matroska cannot hold (cinepak, msvideo1, some AVI codecs) gets an H.264 picture in MP4 instead.
    """
    from foleydesigner.limits import is_disk_full

    name = muxed_name(video_path, codec)
    try:
        mux_video(video_path, folder / name, **mux)
        return name, []
    except InputError as exc:
        if is_disk_full(exc):
            raise
        reason = str(exc.__cause__ or exc)
    encoder, label = video_encoder()
    name = Path(video_path).stem + ".foley.mp4"
    mux_video(video_path, folder / name, reencode=encoder, **mux)
    return name, [f"the {codec} picture cannot be copied into MP4 or MKV ({reason}); it was re-encoded as {label} "
                  f"in {name}, so it is not bit for bit the original"]
