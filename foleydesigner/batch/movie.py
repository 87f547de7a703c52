"""The reel movie: the timeline's picture, conformed from its shots' sources, with the reel's 5.1 and stereo.

Picture. Output frame j (at j / rate, the timeline's edit rate) shows, inside shot s, the source frame
first + ⌊(j − j0)·src_rate / rate⌋ of its clip, where first = round(source_start·src_rate) and
j0 = round(record_start·rate): the frames extract.py cut for the shot's run when the rates agree, the nearest
earlier frame when a source runs at another rate. Frames outside every shot (gaps) are black. The picture is
encoded as H.264 (MPEG-4 Part 2 without libx264) on the frame rate's clock, at the first shot's size; a source
of another shape is fitted inside it (letterboxed), never stretched. Only when the timeline plays one source
clip whole, in order, from its first frame to its last, is the source's picture copied bit for bit instead.

Sound. The reel's masters are muxed as by a run (tools/export.mux_video: AAC 5.1 then stereo, titled, index
first): the audio starts with the picture at time 0, so every shot's sound sits on its picture to the sample.
"""

from __future__ import annotations

import logging
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from foleydesigner.batch.extract import held, source_frames
from foleydesigner.batch.timeline import TimelineShot, snap_rate
from foleydesigner.tools.export import MP4_VIDEO_CODECS, mux_video, video_encoder

log = logging.getLogger(__name__)
MOVIE = "reel.mp4"


def as_fraction(rate: float) -> Fraction:
    """A frame rate as an exact ratio (29.97 → 30000/1001)."""
    return Fraction(snap_rate(rate)).limit_denominator(1001)


def source_clock(path: Path) -> tuple[Fraction, int, tuple[int, int], str]:
    """A source clip's frame rate, frame count, picture size and codec (probed once per file version)."""
    st = Path(path).stat()
    return _clock(str(path), st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=64)
def _clock(path: str, _mtime: int, _size: int) -> tuple[Fraction, int, tuple[int, int], str]:
    from foleydesigner.tools.video import probe_video

    info = probe_video(path)
    return as_fraction(info.fps), int(info.n_frames), (info.width, info.height), info.codec


def reel_rate(shots: list[TimelineShot]) -> Fraction:
    """The reel's frame rate: the timeline's edit rate, else its first shot's source rate."""
    first = min(shots, key=lambda s: s.record_start_s)
    return as_fraction(first.rate) if first.rate else source_clock(first.clip)[0]


def _plays_one_clip_whole(shots: list[TimelineShot], duration_s: float, rate: Fraction) -> bool:
    """Whether the timeline is one source clip from its first frame to its last, in order, without a gap."""
    order = sorted(shots, key=lambda s: s.record_start_s)
    clip = order[0].clip
    src_rate, n_frames, _, codec = source_clock(clip)
    half = 0.5 / float(rate)
    if any(s.clip != clip for s in order) or src_rate != rate or codec not in MP4_VIDEO_CODECS:
        return False
    t = 0.0
    for s in order:  # record and source times advance together from 0
        if abs(s.record_start_s - t) > half or abs(s.source_start_s - t) > half:
            return False
        t = s.record_end_s
    return abs(t - duration_s) < half and abs(order[-1].source_end_s - n_frames / float(rate)) < half


class _Fitter:
    """Frames of any size and pixel format → the movie's size in yuv420p, letterboxed when the shape differs."""

    def __init__(self, width: int, height: int) -> None:
        self.w, self.h = width, height

    def __call__(self, frame: Any) -> Any:
        import av

        if frame.width * self.h == frame.height * self.w:
            return frame.reformat(width=self.w, height=self.h, format="yuv420p")
        scale = min(self.w / frame.width, self.h / frame.height)
        w, h = max(2, int(frame.width * scale) // 2 * 2), max(2, int(frame.height * scale) // 2 * 2)
        canvas = np.zeros((self.h, self.w, 3), np.uint8)
        y, x = (self.h - h) // 2, (self.w - w) // 2
        canvas[y: y + h, x: x + w] = frame.reformat(width=w, height=h, format="rgb24").to_ndarray()
        return av.VideoFrame.from_ndarray(canvas, format="rgb24").reformat(format="yuv420p")

    def black(self) -> Any:
        import av

        return av.VideoFrame.from_ndarray(np.zeros((self.h, self.w, 3), np.uint8), format="rgb24").reformat(format="yuv420p")


def _encode_picture(shots: list[TimelineShot], n_frames: int, rate: Fraction, dest: Path) -> tuple[int, int]:
    """Write the conformed picture (video only) to dest; returns its size."""
    import av

    order = sorted(shots, key=lambda s: s.record_start_s)
    _, _, (w0, h0), _ = source_clock(order[0].clip)
    fit = _Fitter(w0 // 2 * 2, h0 // 2 * 2)
    encoder, _ = video_encoder()
    tick = Fraction(1) / rate  # every frame on the frame rate's clock (the muxer rewrites the stream's time base)
    with av.open(str(dest), "w", format="mp4") as out:
        # veryfast: the reel is a viewing copy of pictures already delivered; CRF 18 keeps it visually clean
        vout = out.add_stream(encoder, rate=rate, options={"crf": "18", "preset": "veryfast"} if encoder == "libx264" else {})
        vout.width, vout.height, vout.pix_fmt = fit.w, fit.h, "yuv420p"
        if encoder != "libx264":
            vout.bit_rate = 8_000_000
        black = fit.black()
        j = 0

        def emit(picture: Any) -> None:
            nonlocal j
            picture.pts, picture.time_base = j, tick
            out.mux(vout.encode(picture))
            j += 1

        for s in order:
            j0, j1 = round(s.record_start_s * rate), min(round(s.record_end_s * rate), n_frames)
            while j < min(j0, n_frames):
                emit(black)
            if j >= j1:
                continue
            with source_frames(s.clip, s.source_start_s) as (src_rate, first, frames):
                # output frame j shows the source frame at its time: one to one when the rates agree, as rates
                # do that differ only in how they are written (23.976 stored as 2997/125 in a 24000/1001 edit)
                ratio = as_fraction(float(src_rate)) / rate
                needs = (first + int((i - j0) * ratio + Fraction(1, 10**6)) for i in range(j, j1))
                for frame in held(frames, needs, f"{s.clip.name} (shot {s.name})"):
                    emit(fit(frame))
        while j < n_frames:
            emit(black)
        out.mux(vout.encode(None))
    return fit.w, fit.h


def write_movie(shots: list[TimelineShot], duration_s: float, mix_51: Path, mix_stereo: Path, dest: Path,
                scratch: Path) -> dict[str, Any]:
    """The reel movie at dest (module doc); returns what reel.json records of it."""
    rate = reel_rate(shots)
    n_frames = round(duration_s * rate)
    if _plays_one_clip_whole(shots, duration_s, rate):
        mux_video(shots[0].clip, dest, mix_51=mix_51, mix_stereo=mix_stereo)
        how, size = "copied", source_clock(shots[0].clip)[2]
    else:
        picture = scratch / "picture.mp4"
        size = _encode_picture(shots, n_frames, rate, picture)
        mux_video(picture, dest, mix_51=mix_51, mix_stereo=mix_stereo)
        picture.unlink()
        how = f"re-encoded ({video_encoder()[1]})"
    log.info("reel movie: %d frames at %s fps, picture %s", n_frames, rate, how)
    return {"file": dest.name, "fps": float(rate), "rate": f"{rate.numerator}/{rate.denominator}",
            "frames": n_frames, "width": size[0], "height": size[1], "picture": how}


__all__ = ["write_movie", "reel_rate", "source_clock", "as_fraction", "MOVIE"]
