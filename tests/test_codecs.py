"""Always deliver: pictures MP4/MKV cannot carry are re-encoded (warned), stills are refused at probe time,
truncated files are called damaged. Fixtures are made here with codecs PyAV can encode."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest

from foleydesigner.bench.synthetic import make_clip
from foleydesigner.errors import InputError
from foleydesigner.pipeline import run_foley
from foleydesigner.tools.export import deliver_video
from foleydesigner.tools.video import damage_warning, probe_video


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    clip = tmp_path_factory.mktemp("tiny") / "tiny.mp4"
    make_clip("single_mover", clip, width=160, height=96, fps=25.0, duration_s=1.0, seed=0)
    return clip


def transcode(src: Path, dst: Path, codec: str, pix_fmt: str, *, fmt: str | None = None,
              codec_options: dict[str, str] | None = None, **options: str) -> Path:
    """The same frames in another codec/container (PyAV's bundled encoders)."""
    with av.open(str(src)) as inp, av.open(str(dst), "w", format=fmt, options=options) as out:
        vin = inp.streams.video[0]
        s = out.add_stream(codec, rate=25, options=codec_options or {})
        s.width, s.height, s.pix_fmt = vin.codec_context.width, vin.codec_context.height, pix_fmt
        for frame in inp.decode(vin):
            out.mux(s.encode(frame.reformat(format=pix_fmt)))
        out.mux(s.encode(None))
    return dst


def _streams(path: Path) -> list[tuple[str, str, str]]:
    with av.open(str(path)) as c:
        return [(s.type, s.codec_context.name, s.metadata.get("title") or s.metadata.get("name", "")) for s in c.streams]


def _frames(path: Path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


def test_cinepak_avi_runs_and_is_delivered_re_encoded(tmp_path, tiny):
    clip = transcode(tiny, tmp_path / "old.avi", "cinepak", "rgb24")
    state = run_foley(clip, tmp_path / "o", language="eng")
    run = json.loads((tmp_path / "o" / "run.json").read_text())
    assert run["outputs"]["video"] == "old.foley.mp4"
    video = tmp_path / "o" / "old.foley.mp4"
    assert _streams(video) == [("video", "h264", ""), ("audio", "aac", "Foley 5.1"), ("audio", "aac", "Foley stereo")]
    assert _frames(video) == _frames(clip) == 25
    with av.open(str(video)) as c:
        assert [s.metadata.get("language") for s in c.streams.audio] == ["eng", "eng"]
    notes = [w for w in state["run"]["warnings"] if "re-encoded as H.264" in w]
    assert len(notes) == 1 and "cinepak" in notes[0]


@pytest.mark.parametrize(("codec", "pix_fmt", "suffix"), [("msvideo1", "rgb555le", ".avi"), ("mjpeg", "yuvj420p", ".mov"),
                                                          ("rawvideo", "bgr24", ".avi"), ("cinepak", "rgb24", ".mov")])
def test_every_encodable_codec_is_delivered(tmp_path, tiny, codec, pix_fmt, suffix):
    clip = transcode(tiny, tmp_path / f"clip{suffix}", codec, pix_fmt)
    info = probe_video(clip)
    assert info.codec == codec and info.n_frames == 25 and damage_warning(info) is None
    mixes = {"mix_51": np.zeros((6, 48_000), np.float32), "mix_stereo": np.zeros((2, 48_000), np.float32)}
    name, warnings = deliver_video(clip, tmp_path, info.codec, **mixes)
    assert _frames(tmp_path / name) == 25
    types = [t for t, _, _ in _streams(tmp_path / name)]
    assert types == ["video", "audio", "audio"]
    copied = _streams(tmp_path / name)[0][1] == codec
    assert copied == (not warnings)  # re-encoded exactly when it says so


def test_still_image_is_refused_at_probe(tmp_path):
    png = tmp_path / "poster.png"
    with av.open(str(png), "w", format="image2") as out:
        s = out.add_stream("png", rate=1)
        s.width, s.height, s.pix_fmt = 64, 48, "rgb24"
        out.mux(s.encode(av.VideoFrame.from_ndarray(np.full((48, 64, 3), 128, np.uint8), format="rgb24")))
        out.mux(s.encode(None))
    with pytest.raises(InputError, match="still image"):
        probe_video(png)
    with pytest.raises(InputError, match="still image"):  # named like a video, it is still a still
        probe_video(png.rename(tmp_path / "poster.mp4"))
    with pytest.raises(InputError, match="still image"):
        run_foley(tmp_path / "poster.mp4", tmp_path / "o")
    assert not (tmp_path / "o").exists()


def test_truncated_faststart_mp4_is_warned_as_damaged(tmp_path, tiny):
    # every frame a key frame, so the cut keeps a readable first part, like a long clip cut mid-way
    whole = transcode(tiny, tmp_path / "whole.mp4", "libx264", "yuv420p", fmt="mp4", movflags="+faststart",
                      codec_options={"g": "1"})
    data = whole.read_bytes()
    assert data.find(b"moov") < data.find(b"mdat")  # faststart: the index first, so a cut file still opens
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 6 // 10])
    info = probe_video(cut)
    assert info.declared_duration_s == pytest.approx(1.0, abs=0.05) and info.duration_s < 0.9
    state = run_foley(cut, tmp_path / "o")
    damaged = [w for w in state["run"]["warnings"] if w.startswith("damaged: decoded")]
    assert len(damaged) == 1 and f"of {info.declared_duration_s:.2f} s" in damaged[0]
    assert not any("variable frame rate" in w for w in state["run"]["warnings"])
    assert damage_warning(probe_video(whole)) is None
