"""The reel movie and session: the conformed picture shows, frame by frame, the source frames the timeline
names (sources at other rates, gaps black), the sound is the reel's masters on the picture's clock, ffmpeg
decodes it cleanly, and session.otio reads in OTIO's own tools."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf

from foleydesigner.batch.reel import conform_reel
from foleydesigner.batch.timeline import TimelineShot
from tests.test_extract import frame_indices, make_indexed_clip
from tests.test_reel import CLICK_AT, SHOT_S, _fake_run

SR = 48_000
B = 1000  # source B's frames show 1000 + k: which source a reel frame came from is read off the picture


def _decode_audio(path: Path) -> list[np.ndarray]:
    """Every audio track of the movie as (channels, samples) float32."""
    out = []
    with av.open(str(path)) as f:
        for i in range(len(f.streams.audio)):
            f.seek(0)
            chunks = [fr.to_ndarray() for fr in f.decode(audio=i)]
            out.append(np.concatenate(chunks, axis=1))
    return out


def _conform(tmp_path: Path, shots: list[TimelineShot], duration: float) -> tuple[dict, Path]:
    dirs = {}
    for i, s in enumerate(shots):
        dirs[s.name] = tmp_path / "runs" / s.name
        _fake_run(dirs[s.name], 220.0 * (i + 1), CLICK_AT[i % 3])
    summary = conform_reel(shots, dirs, tmp_path / "out", duration, -23.0)
    return summary, tmp_path / "out" / "reel"


def test_reel_movie_is_the_timeline_frame_by_frame_with_its_mixes(tmp_path: Path) -> None:
    a = make_indexed_clip(tmp_path / "a.mp4", Fraction(25), 250)
    b = make_indexed_clip(tmp_path / "b.mp4", Fraction(25), 250, offset=B)
    # (clip, source in, record in): 3 s shots, a 1 s gap at 3–4 s
    cut = [(a, 0.5, 0.0), (b, 1.0, 4.0), (a, 5.0, 7.0)]
    shots = [TimelineShot(f"{i:03d}_s", c, s0, s0 + SHOT_S, r0, r0 + SHOT_S, "1", 25.0)
             for i, (c, s0, r0) in enumerate(cut, start=1)]
    summary, reel = _conform(tmp_path, shots, 10.0)
    movie = reel / "reel.mp4"
    assert summary["movie"]["picture"].startswith("re-encoded") and summary["movie"]["frames"] == 250
    got = frame_indices(movie)
    want = [0] * 250  # the gap: black, which reads as 0
    for clip, s0, r0 in cut:
        for j in range(round(r0 * 25), round((r0 + SHOT_S) * 25)):
            want[j] = (B if clip == b else 0) + round(s0 * 25) + j - round(r0 * 25)
    assert got == want
    with av.open(str(movie)) as f:
        v = f.streams.video[0]
        assert v.average_rate == 25 and [s.layout.name for s in f.streams.audio] == ["5.1", "stereo"]
        assert [s.metadata.get("handler_name") for s in f.streams.audio] == ["Foley 5.1", "Foley stereo"]
    surround, stereo = _decode_audio(movie)
    ref = sf.read(reel / "mix_stereo.wav", always_2d=True)[0].T
    n = ref.shape[1]
    assert surround.shape[0] == 6 and abs(stereo.shape[1] - n) <= SR // 25  # the timeline's length ±1 frame
    m = min(n, stereo.shape[1])
    lags = range(-200, 201, 1)  # the sound sits on the picture to the sample: the best lag is 0
    score = [float(np.dot(stereo[0, 1000 + k: m - 1000 + k], ref[0, 1000: m - 1000])) for k in lags]
    assert lags[int(np.argmax(score))] == 0
    x, y = stereo[:, :m].ravel(), ref[:, :m].ravel()
    assert float(np.dot(x, y) / np.sqrt(np.dot(x, x) * np.dot(y, y))) > 0.99  # AAC at 192 kb/s
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg:  # the decoder players use: no error on any stream
        done = subprocess.run([ffmpeg, "-v", "error", "-i", str(movie), "-map", "0", "-f", "null", "-"],
                              capture_output=True, text=True)
        assert done.returncode == 0 and done.stderr.strip() == ""


def test_sources_at_other_rates_and_29_97_fps(tmp_path: Path) -> None:
    """A 29.97 fps timeline over a 29.97 and a 24 fps source: 29.97 frames map one to one, 24 fps frames show
    the latest source frame at their time; the movie runs at 30000/1001 for the timeline's length."""
    ntsc = Fraction(30000, 1001)
    a = make_indexed_clip(tmp_path / "a.mp4", ntsc, 300)
    b = make_indexed_clip(tmp_path / "b.mp4", Fraction(24), 240, offset=B)
    fa, rec = 30, 90  # shot 1: frames 30–119 of a; shot 2 from record frame 90, source b from 2.0 s
    shots = [TimelineShot("001_a", a, fa / ntsc, (fa + rec) / ntsc, 0.0, rec / ntsc, "1", float(ntsc)),
             TimelineShot("002_b", b, 2.0, 2.0 + float(90 / ntsc), float(rec / ntsc), float(180 / ntsc), "1", float(ntsc))]
    summary, reel = _conform(tmp_path, shots, float(180 / ntsc))
    assert summary["movie"]["rate"] == "30000/1001" and summary["movie"]["frames"] == 180
    got = frame_indices(reel / "reel.mp4")
    assert got[:90] == list(range(fa, fa + 90))
    assert got[90:] == [B + 48 + int(Fraction(j, 1) * 24 / ntsc + Fraction(1, 10**6)) for j in range(90)]
    with av.open(str(reel / "reel.mp4")) as f:
        assert f.streams.video[0].average_rate == ntsc
    wav = sf.info(str(reel / "mix_stereo.wav"))
    assert abs(wav.frames - 180 / ntsc * SR) <= SR / ntsc  # ±1 frame


def test_one_clip_played_whole_is_copied(tmp_path: Path) -> None:
    a = make_indexed_clip(tmp_path / "a.mp4", Fraction(25), 150)
    shots = [TimelineShot("001_a", a, 0.0, 3.0, 0.0, 3.0, None, 25.0), TimelineShot("002_a", a, 3.0, 6.0, 3.0, 6.0, None, 25.0)]
    summary, reel = _conform(tmp_path, shots, 6.0)
    assert summary["movie"]["picture"] == "copied"
    with av.open(str(a)) as src, av.open(str(reel / "reel.mp4")) as out:
        assert [bytes(p) for p in src.demux(video=0) if p.size] == [bytes(p) for p in out.demux(video=0) if p.size]


def test_reel_session_reads_in_otio_tools(tmp_path: Path) -> None:
    import opentimelineio as otio

    a = make_indexed_clip(tmp_path / "a.mp4", Fraction(24), 200)
    # shot 2 is a frame longer than its run's stems (a run's clip can end a fraction of a frame early)
    shots = [TimelineShot("001_a", a, 1.0, 4.0, 0.0, 3.0, "1", 24.0),
             TimelineShot("002_a", a, 5.0, 8.0 + 1 / 24, 4.0, 7.0 + 1 / 24, "1", 24.0)]
    _, reel = _conform(tmp_path, shots, 7.0 + 1 / 24)
    tl = otio.adapters.read_from_file(str(reel / "session.otio"))
    picture = tl.video_tracks()[0]
    assert tl.global_start_time.rate == 24 and tl.duration().to_frames(24) == 169
    clips = list(picture.find_clips())
    assert [picture.range_of_child(c).start_time.to_seconds() for c in clips] == [0.0, 4.0]
    for c in clips:  # each picture clip: its source's whole range available, its own range inside it
        assert c.media_reference.available_range.duration.to_frames(24) == 200
        assert c.available_range().contains(c.trimmed_range())
    assert clips[1].source_range.start_time.to_frames(24) == 120
    assert json.loads((reel / "reel.json").read_text())["movie"]["fps"] == 24.0
    otiotool = Path(sys.executable).with_name("otiotool")
    if otiotool.is_file():
        done = subprocess.run([str(otiotool), "-i", str(reel / "session.otio"), "--stats", "--verify-ranges"],
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert "Duration: 00:00:07:01" in done.stdout and "OUT OF BOUNDS" not in done.stdout


def test_a_rate_written_another_way_maps_one_to_one(tmp_path: Path) -> None:
    """A 23.976 source stored as 2997/125 (as AVI writers do) in a 24000/1001 edit: frame for frame, no drift."""
    a = make_indexed_clip(tmp_path / "a.mp4", Fraction(2997, 125), 200)
    edit = 24000 / 1001
    shots = [TimelineShot("001_a", a, 12 / edit, 84 / edit, 0.0, 72 / edit, "1", edit)]
    summary, reel = _conform(tmp_path, shots, 72 / edit)
    assert summary["movie"]["rate"] == "24000/1001"
    assert frame_indices(reel / "reel.mp4") == list(range(12, 84))


def test_a_drop_frame_edl_of_two_sources_conforms_frame_for_frame(tmp_path: Path) -> None:
    """A CMX 3600 EDL in 29.97 drop-frame over two sources, read and conformed: the movie shows, frame for
    frame, the source frames its timecodes name, past a minute where drop-frame skips numbers."""
    from foleydesigner.batch.timeline import read_timeline

    ntsc = Fraction(30000, 1001)
    (tmp_path / "media").mkdir()
    make_indexed_clip(tmp_path / "media" / "a.mp4", ntsc, 2000, gop=120)
    make_indexed_clip(tmp_path / "media" / "b.mp4", ntsc, 2000, gop=120, offset=B)
    # a from 00:00:10;00 (frame 300); b from 00:01:00;04 (frame 1802: ;00 and ;01 are skipped at minute 1)
    edl = tmp_path / "cut.edl"
    edl.write_text("\n".join([
        "TITLE: cut", "FCM: DROP FRAME", "",
        "001  AX       V     C        00:00:10;00 00:00:13;00 01:00:00;00 01:00:03;00", "* FROM CLIP NAME: media/a.mp4", "",
        "002  AX       V     C        00:01:00;04 00:01:03;04 01:00:03;00 01:00:06;00", "* FROM CLIP NAME: media/b.mp4", ""]))
    shots, duration = read_timeline(edl)
    summary, reel = _conform(tmp_path, shots, duration)
    assert summary["movie"]["rate"] == "30000/1001" and summary["movie"]["frames"] == 180
    assert frame_indices(reel / "reel.mp4") == list(range(300, 390)) + [B + 1802 + k for k in range(90)]


def test_a_source_of_another_shape_is_letterboxed(tmp_path: Path) -> None:
    """The movie takes its first shot's size; a narrower source sits in the middle, bars either side, unstretched."""
    a = make_indexed_clip(tmp_path / "a.mp4", Fraction(25), 100)  # 192×32
    square = tmp_path / "square.mp4"
    with av.open(str(square), "w") as out:
        s = out.add_stream("libx264", rate=25, options={"preset": "ultrafast"})
        s.width, s.height, s.pix_fmt = 64, 64, "yuv420p"
        for k in range(100):
            frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), 255, np.uint8), format="rgb24")
            frame.pts, frame.time_base = k, Fraction(1, 25)
            out.mux(s.encode(frame))
        out.mux(s.encode(None))
    shots = [TimelineShot("001_a", a, 0.0, 3.0, 0.0, 3.0, "1", 25.0), TimelineShot("002_sq", square, 0.0, 3.0, 3.0, 6.0, "1", 25.0)]
    summary, reel = _conform(tmp_path, shots, 6.0)
    assert (summary["movie"]["width"], summary["movie"]["height"]) == (192, 32)
    with av.open(str(reel / "reel.mp4")) as f:
        last = [fr.to_ndarray(format="gray") for fr in f.decode(video=0)][-1]
    assert last.shape == (32, 192)
    assert last[:, :72].mean() < 20 and last[:, 120:].mean() < 20 and last[:, 84:108].mean() > 230  # 32×32 at 80–112


@pytest.mark.parametrize("fps", [24.0, 25.0, 30000 / 1001, 24000 / 1001])
def test_a_run_session_reads_in_otiotool(tmp_path: Path, fps: float) -> None:
    """A run's session.otio whose clip measured a hair longer than its frames (timestamps rounded to the
    millisecond): the audio stops at the last frame, so the timeline keeps the picture's rate."""
    from foleydesigner.schemas import SoundEvent, VideoInfo
    from foleydesigner.tools.otio import build_session, write_session

    frames = 60
    video = VideoInfo(path="c.mp4", width=64, height=64, fps=fps, n_frames=frames, duration_s=frames / fps + 0.0007,
                      codec="h264", container="mp4")
    bed = SoundEvent(id="bed", label="room_tone", layer="bg", start_s=0, end_s=video.duration_s, origin="scene")
    tl = build_session(name="c", video_file="c.mp4", video=video, events=[bed], stems={"bed": "stems/bed.wav"},
                       mixes={"stereo": "mix_stereo.wav"})
    assert tl.duration().rate == pytest.approx(fps) and tl.duration().to_frames(fps) == frames
    audio = max(t.duration().value for t in tl.audio_tracks())
    assert frames / fps * SR - 1 <= audio <= frames / fps * SR  # the last frame's end, to the sample
    otiotool = Path(sys.executable).with_name("otiotool")
    if otiotool.is_file():
        write_session(tmp_path / "session.otio", tl)
        done = subprocess.run([str(otiotool), "-i", str(tmp_path / "session.otio"), "--stats"], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
