"""Cut one shot out of a source clip, frame-accurately, as its own clip for a `foley run`.

A stream copy can only start on a keyframe, so a shot that starts mid-GOP would begin early and every event
would sit late by up to a GOP. The picture is therefore decoded and encoded again (the encoder the muxer uses
for a re-encoded picture: H.264 when FFmpeg has it, else MPEG-4 Part 2), keeping exactly the frames whose
timestamps fall in [start, end): frame k of the source, at k/fps, belongs to the shot when
round(start·fps) ≤ k < round(end·fps). Audio is left out: the shot's sound is what the pipeline makes.

Which frame is frame k. Normally its timestamp says so (pts·time_base·fps), and a shot late in a long clip is
reached by seeking. Some files carry timestamps in decode order while the decoder hands frames out in
presentation order (B-frames in AVI, MP4s written by some capture tools): their frames are then numbered in
the order the decoder gives them, from the first. A frame the source lacks (variable frame rate, a dropped
frame) is filled by the one before, so the cut always has exactly its frames, on the frame rate's clock.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any

from foleydesigner.errors import InputError
from foleydesigner.tools.export import even_frame, tmp_beside, video_encoder, video_stream_like

log = logging.getLogger(__name__)
_ORDER_PROBE = 48  # frames decoded from the start to see whether timestamps come out in order


class SourceEnded(InputError):
    """The source has no frame at a time the shot needs."""


def stream_rate(vin: Any) -> Fraction:
    return Fraction(vin.average_rate or vin.guessed_rate or 25)


def _pts_in_order(clip: Path) -> bool:
    st = clip.stat()
    return _probe_order(str(clip), st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=64)
def _probe_order(clip: str, _mtime: int, _size: int) -> bool:
    import av

    with av.open(clip) as inp:
        last = None
        for i, frame in enumerate(inp.decode(inp.streams.video[0])):
            if frame.pts is None or (last is not None and frame.pts <= last):
                log.info("%s: frame timestamps are out of order; frames are numbered as decoded", Path(clip).name)
                return False
            last = frame.pts
            if i >= _ORDER_PROBE:
                break
    return True


@contextmanager
def source_frames(clip: Path, start_s: float) -> Iterator[tuple[Fraction, int, Iterator[tuple[int, Any]]]]:
    """The clip's frame rate, the index of its frame at start_s, and its frames (index, frame) in presentation
    order from about there on (module doc)."""
    import av

    by_pts = _pts_in_order(clip)
    with av.open(str(clip)) as inp:
        if not inp.streams.video:
            raise InputError(f"{clip}: has no video stream")
        vin = inp.streams.video[0]
        rate, start = stream_rate(vin), vin.start_time or 0
        first = round(start_s * rate)
        if by_pts and start_s > 1.0:  # land on the keyframe before the shot, then decode forward to its first frame
            inp.seek(int(max(0.0, start_s - 1.0) / vin.time_base) + start, stream=vin, backward=True)

        def frames() -> Iterator[tuple[int, Any]]:
            for n, frame in enumerate(inp.decode(vin)):
                if not by_pts:
                    yield n, frame
                elif frame.pts is not None:
                    yield round(float((frame.pts - start) * vin.time_base) * rate), frame

        yield rate, first, frames()


def held(frames: Iterator[tuple[int, Any]], needs: Iterable[int], name: str) -> Iterator[Any]:
    """For each needed frame index (non-decreasing), the source frame shown then: the latest one at or before
    it. SourceEnded when the source ends more than a frame before a needed index."""
    shown, ahead = None, next(frames, None)
    for need in needs:
        while ahead is not None and ahead[0] <= need:
            shown, ahead = ahead, next(frames, None)
        if ahead is None and (shown is None or need - shown[0] > 1):
            last = -1 if shown is None else shown[0]
            raise SourceEnded(f"{name}: needs frame {need} but the clip ends after {last + 1} frames; "
                              "the timeline reaches past the end of its media")
        yield (shown or ahead)[1]  # type: ignore[index]


def extract_range(clip: Path, start_s: float, end_s: float, dest: Path) -> Path:
    """Write frames [start_s, end_s) of `clip` to `dest` (video only, re-encoded), atomically; returns dest."""
    import av

    clip, dest = Path(clip), Path(dest)
    if not clip.is_file():
        raise InputError(f"{clip}: no such source clip; relink the timeline to its media")
    if not 0.0 <= start_s < end_s:
        raise InputError(f"{clip.name}: source range {start_s:.3f}–{end_s:.3f} s is empty or negative; check the cut")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_beside(dest, suffix=f".part{dest.suffix}")
    try:
        with source_frames(clip, start_s) as (rate, first, frames), av.open(
                str(tmp), "w", format="mp4" if dest.suffix.lower() == ".mp4" else "matroska") as out:
            stop = round(end_s * rate)
            with av.open(str(clip)) as probe:
                vout = video_stream_like(out, probe.streams.video[0], video_encoder()[0])
            # every frame's clock is the frame rate, fixed here: the MP4 muxer rewrites the stream's time base
            # when it writes its header, at the first packet, which x264 holds back ~40 frames (its lookahead);
            # reading vout.time_base per frame would then stamp later frames on another clock
            tick = Fraction(1) / rate
            vout.time_base = tick
            for i, frame in enumerate(held(frames, range(first, stop), clip.name)):
                picture = even_frame(frame, vout)
                picture.pts, picture.time_base = i, tick
                out.mux(vout.encode(picture))
            out.mux(vout.encode(None))
        os.replace(tmp, dest)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{clip.name}: cannot cut {start_s:.3f}–{end_s:.3f} s: {exc.__class__.__name__}: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    log.info("%s: frames %d–%d → %s", clip.name, first, stop - 1, dest.name)
    return dest


__all__ = ["extract_range", "source_frames", "held", "stream_rate", "SourceEnded"]
