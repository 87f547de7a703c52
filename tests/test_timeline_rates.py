"""Timelines at 24, 25 and 29.97 fps (30000/1001, drop-frame and non-drop-frame EDL timecode) over several
sources: every shot's source and record times are its frames at the rate, and the frames cut for its run are
the ones the timecodes name (the source frames show their own index)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from foleydesigner.batch.extract import extract_range
from foleydesigner.batch.timeline import read_timeline
from tests.test_extract import frame_indices, make_indexed_clip

NTSC = Fraction(30000, 1001)
B = 1000  # source b's frames show 1000 + k


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[Fraction, Path]:
    """Two 70 s sources (a, b) per rate, in one folder per rate."""
    root = tmp_path_factory.mktemp("rates")
    out = {}
    for rate in (Fraction(24), Fraction(25), NTSC):
        d = root / str(float(rate))
        (d / "media").mkdir(parents=True)
        make_indexed_clip(d / "media" / "a.mp4", rate, int(70 * rate), gop=250)
        make_indexed_clip(d / "media" / "b.mp4", rate, int(70 * rate), gop=250, offset=B)
        out[rate] = d
    return out


# (EDL frame-code mode, separator, source in of shot 2 as timecode, its frame number at that rate)
CASES = [(Fraction(24), "NON-DROP FRAME", ":", "00:01:00:02", 60 * 24 + 2),
         (Fraction(25), "NON-DROP FRAME", ":", "00:01:00:02", 60 * 25 + 2),
         (NTSC, "NON-DROP FRAME", ":", "00:01:00:02", 60 * 30 + 2),
         (NTSC, "DROP FRAME", ";", "00:01:00;02", 1800)]  # drop-frame skips ;00 and ;01 at minute 1


@pytest.mark.parametrize(("rate", "fcm", "sep", "tc", "frame"), CASES, ids=["24", "25", "29.97ndf", "29.97df"])
def test_edl_shots_are_the_frames_its_timecodes_name(media: dict, tmp_path: Path, rate: Fraction, fcm: str, sep: str,
                                                    tc: str, frame: int) -> None:
    fps = round(rate)
    folder = media[rate]

    def at(frames: int, hour: int = 0) -> str:  # below a minute drop-frame and non-drop count alike
        return f"{hour:02d}{sep}00{sep}{frames // fps:02d}{sep}{frames % fps:02d}".replace(sep, ":", 2)

    # shot 1: a, frames 10·fps … 15·fps at record 0; shot 2: b, 4 s from `tc`, at record 5 s
    lines = ["TITLE: cut", f"FCM: {fcm}", "",
             f"001  AX       V     C        {at(10 * fps)} {at(15 * fps)} {at(0, 1)} {at(5 * fps, 1)}",
             "* FROM CLIP NAME: media/a.mp4", ""]
    start2 = tc
    end2 = tc[:6] + "04" + tc[8:]  # four seconds later on the clock
    lines += [f"002  AX       V     C        {start2} {end2} {at(5 * fps, 1)} {at(9 * fps, 1)}",
              "* FROM CLIP NAME: media/b.mp4", ""]
    edl = folder / f"cut_{fcm[0]}.edl"
    edl.write_text("\n".join(lines))
    shots, duration = read_timeline(edl)
    assert [s.rate for s in shots] == [pytest.approx(float(rate))] * 2
    assert (shots[0].source_start_s, shots[0].source_end_s) == pytest.approx((10 * fps / rate, 15 * fps / rate))
    assert shots[1].source_start_s == pytest.approx(float(frame / rate))
    assert (shots[1].record_start_s, shots[1].record_end_s) == pytest.approx((5 * fps / rate, 9 * fps / rate))
    assert duration == pytest.approx(9 * fps / rate)
    got = frame_indices(extract_range(shots[1].clip, shots[1].source_start_s, shots[1].source_end_s,
                                      tmp_path / "shot2.mp4"))
    length = round((shots[1].source_end_s - shots[1].source_start_s) * rate)
    assert got == [B + frame + k for k in range(length)]


@pytest.mark.parametrize("rate", [Fraction(24), Fraction(25), NTSC], ids=["24", "25", "29.97"])
def test_otio_shots_at_each_rate(media: dict, rate: Fraction) -> None:
    import opentimelineio as otio

    rt, tr_, r = otio.opentime.RationalTime, otio.opentime.TimeRange, float(rate)
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    for name, first, length in (("a", 300, 100), ("b", 1234, 61)):
        ref = otio.schema.ExternalReference(target_url=f"media/{name}.mp4",
                                            available_range=tr_(rt(3600 * round(r), r), rt(int(70 * rate), r)))
        track.append(otio.schema.Clip(name=name, media_reference=ref,
                                      source_range=tr_(rt(3600 * round(r) + first, r), rt(length, r))))
    path = media[rate] / "cut.otio"
    otio.adapters.write_to_file(otio.schema.Timeline(name="cut", tracks=[track]), str(path))
    shots, duration = read_timeline(path)
    assert [s.rate for s in shots] == [pytest.approx(r)] * 2 and duration == pytest.approx(161 / rate)
    assert shots[1].source_start_s == pytest.approx(float(1234 / rate)) and shots[1].record_start_s == pytest.approx(float(100 / rate))
    got = frame_indices(extract_range(shots[1].clip, shots[1].source_start_s, shots[1].source_end_s,
                                      media[rate] / "b_cut.mp4"))
    assert got == [B + 1234 + k for k in range(61)]
