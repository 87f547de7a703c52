"""Cutting shots out of source clips: real edits are made of 2–10 s shots, longer than x264's lookahead (~40
frames), at 24, 25 and 29.97 (30000/1001) fps. Each source frame carries its own index as a row of black and
white blocks, so the test reads which source frame every cut frame is."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from foleydesigner.batch.extract import extract_range
from foleydesigner.errors import InputError

BITS = 12  # frame indices up to 4095
W, H = 16 * BITS, 32


def index_frame(k: int) -> np.ndarray:
    """An RGB picture whose blocks spell k in binary (white = 1), most significant bit first."""
    img = np.zeros((H, W, 3), np.uint8)
    for b in range(BITS):
        if (k >> (BITS - 1 - b)) & 1:
            img[:, b * 16: (b + 1) * 16] = 255
    return img


def read_index(gray: np.ndarray) -> int:
    bits = [int(gray[:, b * 16 + 4: b * 16 + 12].mean() > 128) for b in range(BITS)]
    return int("".join(map(str, bits)), 2)


def make_indexed_clip(path: Path, rate: Fraction, n_frames: int, *, gop: int = 48, offset: int = 0,
                      bframes: int = 0) -> Path:
    """An H.264 clip (container by suffix) of n_frames at `rate` whose frame k shows offset + k (read_index), a
    keyframe every `gop` frames, with `bframes` B-frames between references."""
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=rate, options={"g": str(gop), "crf": "10", "bf": str(bframes),
                                                            "preset": "fast" if bframes else "ultrafast"})
        s.width, s.height, s.pix_fmt = W, H, "yuv420p"
        for k in range(n_frames):
            frame = av.VideoFrame.from_ndarray(index_frame(offset + k), format="rgb24")
            frame.pts, frame.time_base = k, 1 / rate
            out.mux(s.encode(frame))
        out.mux(s.encode(None))
    return path


def frame_indices(path: Path) -> list[int]:
    with av.open(str(path)) as f:
        return [read_index(fr.to_ndarray(format="gray")) for fr in f.decode(video=0)]


@pytest.mark.parametrize("rate", [Fraction(24), Fraction(25), Fraction(30000, 1001)], ids=["24", "25", "29.97"])
def test_long_shots_are_cut_to_the_frame(tmp_path: Path, rate: Fraction) -> None:
    src = make_indexed_clip(tmp_path / "src.mp4", rate, int(13 * rate))
    assert frame_indices(src)[:3] == [0, 1, 2]  # the pattern survives the codec
    for start_s, length_s in ((0.5, 2.0), (3.3, 5.0), (2.0, 10.0)):
        out = extract_range(src, start_s, start_s + length_s, tmp_path / f"shot_{length_s:g}.mp4")
        first, stop = round(start_s * rate), round((start_s + length_s) * rate)
        got = frame_indices(out)
        assert got == list(range(first, stop)), (length_s, got[:3], got[-3:])
        with av.open(str(out)) as f:  # the cut plays at its source's rate, from time 0, for its length
            v = f.streams.video[0]
            assert v.average_rate == rate and v.frames in (0, stop - first)
            pts = [p.pts for p in f.demux(v) if p.pts is not None]
            assert float(min(pts) * v.time_base) == pytest.approx(0.0, abs=1e-3)
            assert float(max(pts) * v.time_base) == pytest.approx((stop - first - 1) / rate, abs=1e-3)


def test_a_source_whose_timestamps_are_in_decode_order(tmp_path: Path) -> None:
    """An AVI of H.264 with B-frames stores decode-order timestamps: frames are numbered as decoded, not by
    timestamp (which would cut the wrong frames, or stop early at the first late timestamp)."""
    src = make_indexed_clip(tmp_path / "src.avi", Fraction(25), 300, bframes=3)
    with av.open(str(src)) as f:
        pts = [fr.pts for fr in f.decode(video=0)][:12]
    assert pts != sorted(pts)  # the case at hand: timestamps out of order
    got = frame_indices(extract_range(src, 4.0, 9.0, tmp_path / "shot.mkv"))
    assert got == list(range(100, 225))
    with pytest.raises(InputError, match="reaches past the end"):
        extract_range(src, 10.0, 12.5, tmp_path / "late.mkv")
