"""Immersive delivery (FOA AmbiX, 7.1.4, SOFA binaural), measured on signals whose answer is known."""

from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import butter, sosfilt

from foleydesigner.delivery import deliver_immersive, depan, parse_deliver
from foleydesigner.errors import InputError
from foleydesigner.eval.metrics import windowed_itd_ms
from foleydesigner.generation.spatial import SpatialConfig, render_spatial, woodworth_itd_s
from foleydesigner.schemas import EventClues
from foleydesigner.tools import ambisonics, hrtf, vbap
from foleydesigner.tools.export import atomic_write_wav
from foleydesigner.tools.loudness import LoudnessMeter, integrated_lufs
from foleydesigner.tools.streams import SpillFile
from foleydesigner.units import SAMPLE_RATE as SR
from tests.helpers import context


def noise(n, seed=0, scale=0.1):
    return (np.random.default_rng(seed).standard_normal(n) * scale).astype(np.float32)


def wrap(d):
    return (np.asarray(d) + 180.0) % 360.0 - 180.0


# --- FOA ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("az", "el"), [(0.0, 0.0), (30.0, 0.0), (-70.0, 10.0), (135.0, -20.0)])
def test_foa_encoding_decodes_back_to_its_direction(az, el):
    foa = ambisonics.encode_gains(az, el)[:, None] * noise(SR)
    _, est_az, est_el, valid = ambisonics.intensity_direction(foa)
    assert valid.all()
    assert np.max(np.abs(wrap(est_az - az))) < 0.1 and np.max(np.abs(est_el - el)) < 0.1


def test_foa_is_ambix_left_is_positive_y():
    g = ambisonics.encode_gains(-90.0)  # our −90° is hard left: ambisonic +90°, all in +Y
    assert g[1] == pytest.approx(1.0) and abs(g[3]) < 1e-12 and g[0] == 1.0
    left = ambisonics.decode_stereo(g[:, None] * noise(SR))
    assert np.mean(left[0] ** 2) > 100 * np.mean(left[1] ** 2)


# --- 7.1.4 --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("az", "el"), [(0.0, 0.0), (7.0, 0.0), (-25.0, -3.0), (100.0, 0.0), (-160.0, 20.0), (40.0, 35.0)])
def test_vbip_keeps_power_and_its_energy_vector_points_at_the_source(az, el):
    g = vbap.vbap_gains(az, el)
    assert np.sum(g**2) == pytest.approx(1.0) and g[vbap.LFE_714] == 0 and np.all(g >= 0)
    _, est, valid = vbap.energy_direction(g[:, None] * noise(SR), SR)
    assert valid.all() and np.max(np.abs(wrap(est - az))) < 0.5


def test_714_loudness_weights_are_bs1770_table4():
    x = noise(4 * SR)
    side, front = np.zeros((12, x.size), np.float32), np.zeros((12, x.size), np.float32)
    side[vbap.CHANNELS_714.index("Lss")] = x  # ±90° on the ear plane: weight 1.41
    front[vbap.CHANNELS_714.index("L")] = x
    meter = [LoudnessMeter(SR, weights=vbap.LOUDNESS_WEIGHTS_714) for _ in range(2)]
    meter[0].push(side)
    meter[1].push(front)
    assert meter[0].profile().integrated() - meter[1].profile().integrated() == pytest.approx(10 * np.log10(1.41), abs=0.01)


def test_masked_writer_sets_the_channel_mask(tmp_path):
    for channels, mask in ((12, vbap.CHANNEL_MASK_714), (4, ambisonics.FOA_CHANNEL_MASK)):
        path = tmp_path / f"m{channels}.wav"
        with vbap.MaskedWavWriter(path, channels, mask) as w:
            w.write(np.zeros((channels, 100), np.float32))
        assert vbap.channel_mask(path) == mask and sf.info(str(path)).channels == channels
    assert not list(tmp_path.glob(".*part"))


# --- de-panning ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("az", [0.0, 12.0, -28.0, 60.0])
def test_depan_recovers_the_source_with_the_stems_power(az):
    x = sosfilt(butter(4, 5000.0, fs=SR, output="sos"), noise(SR)).astype(np.float32)  # Foley's body, below 5 kHz
    cfg = SpatialConfig(air_absorption=False, doppler=False, distance_reverb=False)
    stereo = render_spatial(x, t_s=[0.0], azimuth_deg=[az], depth_m=[1.0], config=cfg)
    o = depan(np.pad(stereo, ((0, 0), (0, 64))), np.full(x.size, az))
    # The object may sit a fraction of a millisecond from the source: the best integer lag, found not assumed.
    def best(y):
        return max(np.corrcoef(y[2000 + k: 40000 + k], x[2000:40000])[0, 1] for k in range(-64, 65))

    corr, mid = best(o), best(stereo.mean(axis=0))
    assert corr > 0.98
    if 0 < abs(az) <= 30:  # on screen, (L+R)/2 of two delayed copies comb-filters (0.90 at 12°); aligned, it does not
        assert corr > mid + 0.01
    stem_power = np.mean(np.sum(stereo.astype(np.float64) ** 2, axis=0))
    assert 10 * np.log10(np.mean(o.astype(np.float64) ** 2) / stem_power) == pytest.approx(0.0, abs=0.5)


# --- SOFA binaural ------------------------------------------------------------------------------------------

def write_sofa(path, sr=44_100, step=10.0):
    """A small HRIR set: per ear a band-limited impulse at the Woodworth ear delay, a little darker on the far
    side, on a 10° azimuth grid at 0° and ±30° elevation. SOFA azimuth is counter-clockwise (+90° left)."""
    import netCDF4

    az_ccw = np.arange(0.0, 360.0, step)
    pos = np.array([[a, e, 1.2] for e in (-30.0, 0.0, 30.0) for a in az_ccw])
    taps = 256
    t = np.arange(taps)
    irs = np.zeros((len(pos), 2, taps))
    lp = butter(2, 8000.0, fs=sr, output="sos")
    for i, (a, e, _) in enumerate(pos):
        itd = woodworth_itd_s(-a) * np.cos(np.radians(e))  # ours: clockwise
        for ear, sign in ((0, 1.0), (1, -1.0)):
            delay = 40 + sr * (sign * itd / 2 + 0.5e-3)  # t_left − t_right = itd
            pulse = np.sinc(t - delay) * np.hanning(taps)
            far = sign * np.sin(np.radians(-a)) > 0  # left ear, source on the right (and vice versa)
            irs[i, ear] = sosfilt(lp, pulse) * (0.5 if far else 1.0) if far else pulse
    with netCDF4.Dataset(str(path), "w", format="NETCDF4") as ds:  # AES69-2020 SimpleFreeFieldHRIR, minimal
        ds.Conventions, ds.SOFAConventions, ds.SOFAConventionsVersion, ds.DataType = "SOFA", "SimpleFreeFieldHRIR", "1.0", "FIR"
        for name, size in (("M", len(pos)), ("R", 2), ("N", taps), ("I", 1), ("C", 3), ("E", 1)):
            ds.createDimension(name, size)
        ds.createVariable("Data.IR", "f8", ("M", "R", "N"))[:] = irs
        ds.createVariable("Data.SamplingRate", "f8", ("I",))[:] = sr
        ds.createVariable("Data.Delay", "f8", ("I", "R"))[:] = 0.0
        src = ds.createVariable("SourcePosition", "f8", ("M", "C"))
        src[:] = pos
        src.Type, src.Units = "spherical", "degree, degree, metre"
        ds.createVariable("ListenerPosition", "f8", ("I", "C"))[:] = 0.0
        ds.createVariable("ListenerView", "f8", ("I", "C"))[:] = np.array([[1.0, 0.0, 0.0]])
        ds.createVariable("ReceiverPosition", "f8", ("R", "C", "I"))[:] = np.array([[[0], [0.09], [0]], [[0], [-0.09], [0]]])
        ds.createVariable("EmitterPosition", "f8", ("E", "C", "I"))[:] = 0.0
    return path


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    return hrtf.load_sofa(write_sofa(tmp_path_factory.mktemp("sofa") / "small.sofa"))


def static_render(hrirs, az, el=0.0, seconds=1.0):
    x = noise(int(seconds * SR))
    nb = -(-x.size // hrtf.BLOCK)
    vecs = np.repeat(vbap.unit_vectors(np.array([az]), np.array([el])), nb, axis=0)
    return hrtf.render_binaural(x, vecs, hrirs)


@pytest.mark.parametrize(("az", "el"), [(0.0, 0.0), (30.0, 0.0), (-50.0, 0.0), (25.0, 0.0), (-73.0, 0.0), (44.0, 15.0)])
def test_sofa_render_itd_matches_the_sets_own_itd(small_set, az, el):
    _, itd, valid = windowed_itd_ms(static_render(small_set, az, el), SR)
    measured = float(np.median(itd[valid]))
    assert abs(measured - small_set.itd_ms(az, el)) < 0.05
    assert abs(measured - woodworth_itd_s(az) * np.cos(np.radians(el)) * 1e3) < 0.05  # between measured directions too


def test_sofa_reader_takes_counter_clockwise_azimuth(small_set):
    y = static_render(small_set, 60.0)  # our +60° is right: the right ear leads and is louder
    assert np.mean(y[1] ** 2) > 2 * np.mean(y[0] ** 2)
    assert small_set.itd_ms(60.0) > 0.3


def test_moving_source_has_no_discontinuities(small_set):
    n = 2 * SR
    x = (0.5 * np.sin(2 * np.pi * 500.0 * np.arange(n) / SR)).astype(np.float32)
    nb = -(-n // hrtf.BLOCK)
    az = np.linspace(-80.0, 80.0, nb)  # 80°/s across the front
    y = hrtf.render_binaural(x, vbap.unit_vectors(az, np.zeros(nb)), small_set)
    hp = butter(8, 4000.0, btype="high", fs=SR, output="sos")

    def clicks_db(sig):
        body = sig[:, SR // 10: -SR // 10]
        return 20 * np.log10(np.max(np.abs(sosfilt(hp, body, axis=1)[:, 2000:])) / np.max(np.abs(body)))

    assert clicks_db(y) < -60.0
    # The same path with filters switched per block, no cross-fade, clicks well above: the measure can fail.
    switched = np.concatenate([static_render_block(small_set, x, a, k) for k, a in enumerate(az)], axis=1)[:, :n]
    assert clicks_db(switched) > -50.0


def static_render_block(hrirs, x, az, k):
    vecs = np.repeat(vbap.unit_vectors(np.array([az]), np.array([0.0])), k + 1, axis=0)
    return hrtf.render_binaural(x[: (k + 1) * hrtf.BLOCK], vecs, hrirs)[:, k * hrtf.BLOCK:]


def test_bad_sofa_file_is_an_input_error(tmp_path):
    bad = tmp_path / "x.sofa"
    bad.write_bytes(b"not a sofa file")
    with pytest.raises(InputError, match="--hrtf"):
        hrtf.load_sofa(bad)
    with pytest.raises(InputError, match="no such file"):
        hrtf.load_sofa(tmp_path / "missing.sofa")


def test_parse_deliver():
    assert parse_deliver("foa,7.1.4") == ("stereo", "5.1", "foa", "7.1.4")
    with pytest.raises(InputError, match="unknown format dolby"):
        parse_deliver("stereo,dolby")


# --- the stage on a known scene -----------------------------------------------------------------------------

def run_stage(tmp_path, small_set, monkeypatch, *, window_s=30.0, seconds=4.0):
    """One foreground object moving −25° → +25° over a diffuse bed 12 dB down, through the real stage."""
    fps = 25.0
    n = int(seconds * SR)
    t_f = np.arange(int(seconds * fps)) / fps
    az_f = np.interp(t_f, [0, seconds], [-25.0, 25.0])
    clues = EventClues(event_id="walk", fps=fps, t_s=t_f.tolist(), depth_m=[3.0] * t_f.size,
                       azimuth_deg=az_f.tolist(), activation=[1] * t_f.size, elevation_deg=[-2.0] * t_f.size)
    bed_clues = EventClues(event_id="wind", fps=fps, t_s=t_f.tolist(), depth_m=[10.0] * t_f.size,
                           azimuth_deg=[0.0] * t_f.size, activation=[1] * t_f.size, source="scene")
    cfg = SpatialConfig(air_absorption=False, doppler=False, distance_reverb=False)
    walk = render_spatial(noise(n, 1), t_s=t_f, azimuth_deg=az_f, depth_m=[3.0] * t_f.size, config=cfg)
    bed = np.stack([noise(n, 2, 0.025), noise(n, 3, 0.025)])
    folder = tmp_path / ".internal" / "render"
    for sid, audio in (("walk", walk), ("wind", bed)):
        SpillFile(folder / f"{sid}.f32", 2, n).write(0, audio)
    atomic_write_wav(tmp_path / "mix_stereo.wav", walk + bed)
    atomic_write_wav(tmp_path / "mix_5_1.wav", np.zeros((6, n), np.float32))
    events = [{"id": "walk", "label": "footsteps", "description": "", "layer": "fg", "start_s": 0.0, "end_s": seconds},
              {"id": "wind", "label": "wind", "description": "", "layer": "bg", "start_s": 0.0, "end_s": seconds}]
    monkeypatch.setattr(hrtf, "default_set", lambda path: (small_set, None))
    ctx = context(tmp_path, deliver=("stereo", "5.1", "foa", "7.1.4", "binaural"), target_lufs=-24.0, window_s=window_s)
    state = {"script": {"events": events}, "clues": {"walk": clues.model_dump(), "wind": bed_clues.model_dump()},
             "mix_plan": {"verification": {"delivery": {}}}, "mix": {"stereo": "mix_stereo.wav"}}
    return deliver_immersive(state, SimpleNamespace(context=ctx)), t_f, az_f, folder


def test_deliver_stage_places_a_moving_object_and_hits_the_target(tmp_path, small_set, monkeypatch):
    out, t_f, az_f, folder = run_stage(tmp_path, small_set, monkeypatch)
    measured = out["mix_plan"]["verification"]["delivery"]
    for fmt in ("foa", "7.1.4", "binaural"):
        assert abs(measured[fmt]["integrated_lufs"] + 24.0) <= 0.5 and measured[fmt]["true_peak_dbtp"] <= -2.0
    foa, _ = sf.read(str(tmp_path / "mix_foa.wav"), always_2d=True)
    x714, _ = sf.read(str(tmp_path / "mix_7_1_4.wav"), always_2d=True)
    times, est, _, valid = ambisonics.intensity_direction(foa.T)
    truth = np.interp(times, t_f, az_f)
    assert valid.all() and np.max(np.abs(est - truth)) < 5.0
    times, est, valid = vbap.energy_direction(x714.T, SR)
    assert valid.all() and np.max(np.abs(est - truth)) < 5.0
    assert integrated_lufs(foa.T[:1]) == pytest.approx(-24.0, abs=0.5)  # FOA is mastered on W
    assert vbap.channel_mask(tmp_path / "mix_7_1_4.wav") == vbap.CHANNEL_MASK_714
    lane = (tmp_path / "objects" / "walk.automation.csv").read_text().splitlines()
    assert lane[0] == "time_s,azimuth_deg,elevation_deg,distance_m" and len(lane) == t_f.size + 1
    assert sf.info(str(tmp_path / "objects" / "walk.wav")).channels == 1
    assert not (tmp_path / "objects" / "wind.wav").exists()  # a bed is diffuse, not an object
    assert not list(folder.glob("*.f32"))  # scratch spills are removed


def test_track_clues_carry_elevation_from_the_box_height():
    from foleydesigner.schemas import SoundEvent
    from foleydesigner.tools.clues import clues_for_track
    from tests.helpers import linear_track, video_info

    track = linear_track(1, t0=0.0, t1=2.0, x0=320.0, x1=320.0, h=120.0)  # box centre 0.8·360 − 60 = 228: 48 px below the middle
    ev = SoundEvent(id="e", label="cloth_rustle", layer="fg", start_s=0.0, end_s=2.0, source_track=1)
    c = clues_for_track(ev, track, video_info(2.0), hfov_deg=60.0)
    f = 320.0 / np.tan(np.radians(30.0))
    assert c.elevation_deg is not None and len(c.elevation_deg) == len(c.t_s)
    assert np.median(c.elevation_deg) == pytest.approx(np.degrees(np.arctan(-48.0 / f)), abs=0.01)
    # Footsteps come from the feet: the box's bottom, 0.8·360 = 288, 108 px below the middle.
    steps = ev.model_copy(update={"label": "footsteps"})
    c = clues_for_track(steps, track, video_info(2.0), hfov_deg=60.0)
    assert np.median(c.elevation_deg) == pytest.approx(np.degrees(np.arctan(-108.0 / f)), abs=0.01)


def test_cli_rejects_a_bad_hrtf_before_any_work(tmp_path, demo_clip):
    from typer.testing import CliRunner

    from foleydesigner.cli import app

    bad = tmp_path / "bad.sofa"
    bad.write_bytes(b"nope")
    res = CliRunner().invoke(app, ["run", str(demo_clip), "--out", str(tmp_path / "o"), "--deliver", "binaural",
                                   "--hrtf", str(bad)])
    assert res.exit_code == 2 and "--hrtf" in res.output and not (tmp_path / "o").exists()
    res = CliRunner().invoke(app, ["run", str(demo_clip), "--out", str(tmp_path / "o"), "--deliver", "5.1,ambisonic"])
    assert res.exit_code == 2 and "unknown format ambisonic" in res.output


@pytest.mark.slow  # ~18 s on 2 cores: ten 1 s windows each read with 4 s of pre-roll either side
def test_windowed_delivery_equals_one_piece(tmp_path, small_set, monkeypatch):
    """1 s windows (with their pre-roll) give the samples of one 30 s window: memory is bounded, not the result."""
    run_stage(tmp_path / "one", small_set, monkeypatch, seconds=10.0)  # windows of 1 s + 4 s pre-roll: 10 s is
    run_stage(tmp_path / "win", small_set, monkeypatch, window_s=1.0, seconds=10.0)  # more than any one reads
    for name in ("mix_foa.wav", "mix_7_1_4.wav", "mix_binaural.wav", "objects/walk.wav"):
        a, _ = sf.read(str(tmp_path / "one" / name), always_2d=True)
        b, _ = sf.read(str(tmp_path / "win" / name), always_2d=True)
        assert a.shape == b.shape and np.max(np.abs(a - b)) < 1e-4, name
