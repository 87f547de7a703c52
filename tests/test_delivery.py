"""Master stage, BS.775 upmix and file delivery, measured on signals whose answer is known."""

import hashlib
import struct

import av
import numpy as np
import pytest
import soundfile as sf
from scipy.signal import welch

from foleydesigner.tools.export import atomic_write_wav, mux_video
from foleydesigner.tools.loudness import integrated_lufs, true_peak_dbfs
from foleydesigner.tools.processing import master, true_peak_limit
from foleydesigner.tools.upmix import downmix_bs775, upmix_51
from foleydesigner.units import SAMPLE_RATE as SR


def noise(n, seed=0, scale=0.1):
    return (np.random.default_rng(seed).standard_normal(n) * scale).astype(np.float32)


def clicks(seconds=4.0):
    """A spiky Foley-like signal: hits with 30 dB crest factor over quiet noise — hard to master."""
    n = int(seconds * SR)
    x = noise(n, scale=0.003)
    for t in np.arange(0.2, seconds, 0.5):
        i = int(t * SR)
        x[i: i + 480] += 0.9 * np.exp(-np.arange(480) / 60.0) * np.sign(np.sin(np.arange(480) * 0.3))
    return np.stack([x, 0.8 * x])


@pytest.mark.parametrize("target", [-24.0, -23.0, -16.0])
def test_master_meets_loudness_and_true_peak(target):
    y, m = master(clicks(), target_lufs=target, ceiling_dbtp=-2.0)
    assert abs(integrated_lufs(y) - target) <= 0.5
    assert true_peak_dbfs(y) <= -2.0
    assert np.all(np.isfinite(y))
    assert m["integrated_lufs"] == pytest.approx(integrated_lufs(y), abs=0.01)


def test_limiter_gain_is_smooth_and_below_ceiling():
    x = clicks() * 4.0
    y = true_peak_limit(x, ceiling_dbtp=-3.0)
    assert true_peak_dbfs(y) <= -3.0 + 0.05
    ratio = np.abs(y[0]) / np.maximum(np.abs(x[0]), 1e-9)
    gain = ratio[np.abs(x[0]) > 1e-3]
    assert np.max(np.abs(np.diff(gain))) < 0.05  # no sudden gain steps: no clicks


def test_upmix_downmix_returns_stereo_and_centre_takes_correlated():
    n = SR * 2
    mono = noise(n, 1)
    front = np.stack([mono, mono])  # a centred source
    z = np.zeros_like(front)
    x51 = upmix_51(front, z, z)
    assert x51.shape == (6, n)
    assert np.sum(x51[2] ** 2) > 100 * np.sum(x51[0] ** 2)  # phantom centre moved to C
    assert np.allclose(downmix_bs775(x51), front, atol=1e-4)
    # a hard-left source stays in L
    left = np.stack([mono, np.zeros_like(mono)])
    x = upmix_51(left, z, z)
    assert np.sum(x[0] ** 2) > 100 * np.sum(x[2] ** 2)


def test_rear_bus_goes_to_surrounds_and_ambience_downmix_correlates():
    n = SR * 2
    z = np.zeros((2, n), np.float32)
    rear = np.stack([noise(n, 2), noise(n, 3)])
    x = upmix_51(z, z, rear)
    assert np.sum(x[[0, 1, 2]] ** 2) < 1e-6 and np.sum(x[[4, 5]] ** 2) > 0
    amb = np.stack([noise(n, 4), noise(n, 5)])
    d = downmix_bs775(upmix_51(z, amb, z))
    for ch in range(2):
        assert np.corrcoef(d[ch], amb[ch])[0, 1] >= 0.9


def test_lfe_has_nothing_above_150_hz():
    n = SR * 2
    x = upmix_51(np.stack([noise(n, 6), noise(n, 7)]), np.zeros((2, n), np.float32), np.zeros((2, n), np.float32))
    f, spec = welch(x[3], SR, nperseg=8192)  # Hann-windowed: no leakage from the clip's edges
    above = spec[f > 150].sum() / spec.sum()
    assert 10 * np.log10(above) < -30
    assert spec[(f > 40) & (f < 100)].sum() > 0.5 * spec.sum()


def test_wavex_mask_is_5_1(tmp_path):
    p = atomic_write_wav(tmp_path / "m.wav", np.zeros((6, 4800), np.float32))
    raw = p.read_bytes()
    fmt = raw.index(b"fmt ")
    tag, channels = struct.unpack("<HH", raw[fmt + 8: fmt + 12])
    mask = struct.unpack("<I", raw[fmt + 28: fmt + 32])[0]
    assert (tag, channels, mask) == (0xFFFE, 6, 0x3F)
    assert sf.info(str(p)).channels == 6
    assert not list(tmp_path.glob("*.part"))


def test_atomic_write_refuses_nan_and_leaves_nothing(tmp_path):
    bad = np.full((2, 100), np.nan, np.float32)
    with pytest.raises(ValueError):
        atomic_write_wav(tmp_path / "x.wav", bad)
    assert list(tmp_path.iterdir()) == []


def _video_packets(path):
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        return [hashlib.md5(bytes(p)).hexdigest() for p in c.demux(v) if p.size]


def test_mux_copies_video_and_adds_51_and_stereo(tmp_path, demo_clip):
    n = SR * 10
    x51 = np.stack([noise(n, i, 0.05) for i in range(6)])
    out = mux_video(demo_clip, tmp_path / "o.mp4", mix_51=x51, mix_stereo=x51[:2])
    assert _video_packets(out) == _video_packets(demo_clip)
    with av.open(str(out)) as c:
        audio = [(s.codec_context.name, s.codec_context.channels, s.codec_context.layout.name) for s in c.streams.audio]
        assert audio == [("aac", 6, "5.1"), ("aac", 2, "stereo")]


# --- session.otio and a delivered clip ----------------------------------------------------------------------

def test_otio_session_round_trips_with_event_times(tmp_path):
    import opentimelineio as otio

    from foleydesigner.schemas import MixOperation, SoundEvent, VideoInfo
    from foleydesigner.tools.otio import build_session, write_session

    video = VideoInfo(path="clip.mp4", width=64, height=64, fps=25.0, n_frames=100, duration_s=4.0, codec="h264",
                      container="mp4")
    events = [SoundEvent(id="steps", label="footsteps", layer="fg", start_s=0.52, end_s=3.1, onsets_s=[0.6, 1.1]),
              SoundEvent(id="door", label="door_slam", layer="fg", start_s=2.0, end_s=2.0),
              SoundEvent(id="wind", label="wind", layer="bg", start_s=0.0, end_s=4.0)]
    plan = {"steps": [MixOperation(expert="dyn", params={"gain_db": 12.0}, reason="level")]}
    tl = build_session(name="clip", video_file="clip.foley.mp4", video=video, events=events,
                       stems={e.id: f"stems/{e.id}.wav" for e in events}, plan=plan, mixes={"stereo": "mix_stereo.wav"})
    path = write_session(tmp_path / "session.otio", tl)
    back = otio.adapters.read_from_file(str(path))
    tracks = {t.name: t for t in back.tracks}
    picture = tracks["Picture"]
    assert picture.kind == otio.schema.TrackKind.Video
    assert picture[0].media_reference.target_url == "clip.foley.mp4"
    assert picture.duration().to_seconds() == pytest.approx(4.0)
    for e in events:
        clip = next(c for c in tracks[f"{e.layer.upper()} {e.id}"].find_clips())
        assert clip.media_reference.target_url == f"stems/{e.id}.wav"
        assert clip.source_range.start_time.to_seconds() == pytest.approx(e.start_s, abs=1 / SR)
        assert clip.range_in_parent().start_time.to_seconds() == pytest.approx(e.start_s, abs=1 / SR)
        end = e.end_s if e.end_s > e.start_s else e.start_s + 1 / 25.0  # an instant event still gets a frame
        assert clip.source_range.end_time_exclusive().to_seconds() == pytest.approx(end, abs=1 / SR)
        assert clip.metadata["foleydesigner"]["layer"] == e.layer
    assert tracks["FG steps"][1].metadata["foleydesigner"]["operations"][0]["params"] == {"gain_db": 12.0}
    assert not tracks["MIX stereo"].enabled
    assert [t.name for t in back.tracks][:3] == ["Picture", "FG steps", "FG door"]  # foreground first, by time


@pytest.fixture(scope="module")
def delivered(tmp_path_factory):
    """A short synthetic clip through the whole pipeline at the EBU R128 target (-23 LUFS)."""
    from foleydesigner.bench.synthetic import make_clip
    from foleydesigner.pipeline import run_foley

    d = tmp_path_factory.mktemp("delivered")
    make_clip("single_mover", d / "clip.mp4", width=320, height=180, fps=25.0, duration_s=3.0, seed=2)
    state = run_foley(d / "clip.mp4", d / "out", seed=3, target_lufs=-23.0)
    return d / "out", state


def test_delivered_mixes_meet_r128_and_the_downmix_matches(delivered):
    out, state = delivered
    stereo = sf.read(str(out / "mix_stereo.wav"), always_2d=True)[0].T
    x51 = sf.read(str(out / "mix_5_1.wav"), always_2d=True)[0].T
    for mix in (stereo, x51):
        assert abs(integrated_lufs(mix) + 23.0) <= 0.5 and true_peak_dbfs(mix) <= -2.0 and np.isfinite(mix).all()
    f, p = welch(x51[3], SR, nperseg=8192)
    assert p.sum() == 0 or 10 * np.log10(p[f > 150].sum() / p.sum()) < -30  # LFE: nothing above 150 Hz
    down = downmix_bs775(x51)
    corr = [np.corrcoef(down[i], stereo[i])[0, 1] for i in range(2)]
    assert min(corr) >= 0.9, corr
    plan = state["mix_plan"]
    assert min(plan["verification"]["delivery"]["downmix_correlation"]) >= 0.9
    assert plan["verification"]["rounds"] and all(op["reason"] for ops in plan["plan"].values() for op in ops)


def test_delivered_session_otio_points_at_the_run_files(delivered):
    import opentimelineio as otio

    out, state = delivered
    tl = otio.adapters.read_from_file(str(out / "session.otio"))
    assert state["run"]["outputs"]["timeline"] == "session.otio"
    picture = next(t for t in tl.tracks if t.kind == otio.schema.TrackKind.Video)
    assert (out / picture[0].media_reference.target_url).is_file()
    events = {e["id"]: e for e in state["script"]["events"]}
    clips = [c for t in tl.tracks if t.kind == otio.schema.TrackKind.Audio and t.enabled for c in t.find_clips()]
    assert sorted(c.name for c in clips) == sorted(events)
    for c in clips:
        assert (out / c.media_reference.target_url).is_file()
        assert c.range_in_parent().start_time.to_seconds() == pytest.approx(events[c.name]["start_s"], abs=1e-4)


def test_loudness_preset_flag(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from foleydesigner import cli

    seen = {}
    monkeypatch.setattr(cli, "_run", lambda clip, script, out, **kw: seen.update(kw))
    runner = CliRunner()
    for args, target in ((["--loudness-preset", "ebu"], -23.0), ([], -24.0), (["--loudness-preset", "ebu", "--target-lufs", "-20"], -20.0)):
        assert runner.invoke(cli.app, ["run", "clip.mp4", "--out", str(tmp_path / "o"), *args]).exit_code == 0
        assert seen["target_lufs"] == target
    r = runner.invoke(cli.app, ["run", "clip.mp4", "--out", str(tmp_path / "o"), "--loudness-preset", "bbc"])
    assert r.exit_code == 2 and "--loudness-preset" in r.output
