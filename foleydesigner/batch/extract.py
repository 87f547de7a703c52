"""Cut one shot out of a source clip, frame-accurately, as its own clip for a `foley run`.

A stream copy can only start on a keyframe, so a shot that starts mid-GOP would begin early and every event
would sit late by up to a GOP. The picture is therefore decoded and encoded again (the encoder the muxer uses
for a re-encoded picture: H.264 when FFmpeg has it, else MPEG-4 Part 2), keeping exactly the frames whose
timestamps fall in [start, end): frame k of the source, at k/fps, belongs to the shot when
round(start·fps) ≤ k < round(end·fps). Audio is left out: the shot's sound is what the pipeline makes.
"""

from __future__ import annotations

import logging
import os
from fractions import Fraction
from pathlib import Path

from foleydesigner.errors import InputError
from foleydesigner.tools.export import even_frame, tmp_beside, video_encoder, video_stream_like

log = logging.getLogger(__name__)


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
    written = 0
    try:
        with av.open(str(clip)) as inp:
            if not inp.streams.video:
                raise InputError(f"{clip}: has no video stream")
            vin = inp.streams.video[0]
            rate = Fraction(vin.average_rate or vin.guessed_rate or 25)
            first, stop = round(start_s * rate), round(end_s * rate)
            encoder, _ = video_encoder()
            with av.open(str(tmp), "w", format="mp4" if dest.suffix.lower() == ".mp4" else "matroska") as out:
                vout = video_stream_like(out, vin, encoder)
                # every frame's clock is the frame rate, fixed here: the MP4 muxer rewrites the stream's time base
                # when it writes its header, at the first packet, which x264 holds back ~40 frames (its lookahead);
                # reading vout.time_base per frame would then stamp later frames on another clock
                tick = Fraction(1) / rate
                vout.time_base = tick
                if start_s > 1.0:  # land on the keyframe before the shot, then decode forward to its first frame
                    inp.seek(int(max(0.0, start_s - 1.0) / vin.time_base) + (vin.start_time or 0), stream=vin, backward=True)
                for frame in inp.decode(vin):
                    if frame.pts is None:
                        continue
                    k = round(float(frame.pts * vin.time_base - (vin.start_time or 0) * vin.time_base) * rate)
                    if k < first:
                        continue
                    if k >= stop:
                        break
                    picture = even_frame(frame, vout)
                    picture.pts, picture.time_base = written, tick
                    for packet in vout.encode(picture):
                        out.mux(packet)
                    written += 1
                for packet in vout.encode(None):
                    out.mux(packet)
        if written < stop - first:
            raise InputError(f"{clip.name}: the shot needs frames {first}–{stop - 1} at {float(rate):g} fps but the clip "
                             f"ends after {first + written} frames; the timeline reaches past the end of its media")
        os.replace(tmp, dest)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{clip.name}: cannot cut {start_s:.3f}–{end_s:.3f} s: {exc.__class__.__name__}: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    log.info("%s: frames %d–%d → %s", clip.name, first, stop - 1, dest.name)
    return dest


__all__ = ["extract_range"]
