"""Long clips in windows (tools/streams.py): every windowed stage must give what processing in one piece gives."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import butter, sosfilt

from foleydesigner.graphs.mixing import run_mixing
from foleydesigner.schemas import EventClues, FoleyScript, SceneContext, SoundEvent
from foleydesigner.tools.analysis import measure
from foleydesigner.tools.export import WavWriter
from foleydesigner.tools.loudness import LoudnessMeter, integrated_lufs, loudness_profile, true_peak_dbfs
from foleydesigner.tools.processing import master, master_source
from foleydesigner.tools.streams import ALIGN, ArrayAudio, SpillFile, WavAudio, aligned, spans
from tests.helpers import context

SR = 48_000


def _band_noise(n: int, lo: float, hi: float, seed: int) -> np.ndarray:
    sos = butter(4, [lo, hi], btype="band", fs=SR, output="sos")
    return sosfilt(sos, np.random.default_rng(seed).standard_normal((2, n))).astype(np.float32)


def _scene(dur: float = 14.0) -> tuple[dict[str, np.ndarray], FoleyScript, dict[str, EventClues]]:
    """A bed burying sharp hits (carve, duck, transient control, reverb all act), hits on both sides of every
    2 s window edge, and a moving foreground texture."""
    n = int(dur * SR)
    bed = _band_noise(n, 300, 8000, 1) * np.float32(0.05 / 0.04)
    hits = np.zeros((2, n), np.float32)
    rng = np.random.default_rng(2)
    for t in np.arange(0.37, dur - 0.5, 0.61):
        i = int(t * SR)
        click = rng.standard_normal(2400).astype(np.float32) * np.exp(-np.arange(2400) / 300.0).astype(np.float32)
        hits[:, i: i + 2400] += 0.4 * click
    texture = _band_noise(n, 1000, 3000, 3) * np.linspace(0.2, 1.0, n, dtype=np.float32) * np.float32(0.3)
    script = FoleyScript(duration_s=dur, scene=SceneContext(location="indoor", room_size="large", surfaces=["concrete"]),
                         events=[SoundEvent(id="hits", label="footsteps", layer="fg", start_s=0.3, end_s=dur - 0.3, intensity=0.8),
                                 SoundEvent(id="tex", label="cloth rustle", layer="fg", start_s=0.0, end_s=dur, intensity=0.5),
                                 SoundEvent(id="bed", label="rain", layer="bg", start_s=0.0, end_s=dur, intensity=0.45)])
    frames = int(dur * 25)
    t = list(np.arange(frames) / 25.0)
    clues = {e: EventClues(event_id=e, fps=25.0, t_s=t, depth_m=[d] * frames, azimuth_deg=[a] * frames,
                           activation=[1] * frames, source="scene" if e == "bed" else "track")
             for e, d, a in (("hits", 2.0, -20.0), ("tex", 6.0, 25.0), ("bed", 3.0, 0.0))}
    return {"hits": hits, "tex": texture, "bed": bed}, script, clues


def _read(path) -> np.ndarray:
    data, _ = sf.read(str(path), dtype="float64", always_2d=True)
    return data.T


def _error_db(a: np.ndarray, b: np.ndarray) -> float:
    """Difference between two signals in dB relative to the first (−∞ when identical)."""
    err = np.sqrt(np.mean((a - b) ** 2))
    return float(20 * np.log10(err / np.sqrt(np.mean(a**2)))) if err > 0 else -np.inf


def test_spans_and_alignment():
    assert spans(10, 4) == [(0, 4), (4, 8), (8, 10)] and spans(0, 4) == [(0, 0)]
    assert aligned(2.0) == 2 * SR and aligned(0.01) == ALIGN and aligned(30.0) % ALIGN == 0
    for hop in (240, 960, 1920, 2400, 4800, 8):  # every frame-based measurement's hop divides a window
        assert ALIGN % hop == 0


def test_sources_read_any_range_with_zeros_outside(tmp_path):
    x = np.random.default_rng(0).standard_normal((2, 5000)).astype(np.float32)
    x[0, 10] = 1e-38  # a denormal is flushed on read
    spill = SpillFile(tmp_path / "s.f32", 2, 5000)
    for a in range(0, 5000, 1300):
        spill.write(a, x[:, a: a + 1300])
    sf.write(str(tmp_path / "s.wav"), x.T, SR, subtype="FLOAT")
    for src in (ArrayAudio(x), WavAudio(tmp_path / "s.wav"), spill, SpillFile.existing(tmp_path / "s.f32", 2)):
        assert src.n == 5000 and src.channels == 2
        y = src.read(-100, 5100)
        assert y.shape == (2, 5200) and not y[:, :100].any() and not y[:, -100:].any()
        assert y[0, 110] == 0.0 and np.array_equal(y[:, 111:5100], x[:, 11:])
    assert SpillFile(tmp_path / "z.f32", 6, 100).read(0, 100).shape == (6, 100)  # never written: silence


def test_loudness_meter_is_the_same_however_the_signal_is_cut():
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((2, 7 * SR + 333)) * np.linspace(0.01, 0.5, 7 * SR + 333)).astype(np.float32)
    whole = loudness_profile(x)
    meter = LoudnessMeter()
    cuts = np.sort(rng.integers(1, x.shape[1], 9))
    for a, b in zip(np.r_[0, cuts], np.r_[cuts, x.shape[1]], strict=True):
        meter.push(x[:, a:b])
    cut = meter.profile()
    assert np.allclose(whole.blocks, cut.blocks, rtol=1e-9) and np.allclose(whole.short_term, cut.short_term, rtol=1e-9)
    assert cut.integrated() == pytest.approx(whole.integrated(), abs=1e-9)


def test_measurements_in_windows_equal_one_pass():
    audio, _, _ = _scene(6.0)
    sources = {k: ArrayAudio(v) for k, v in audio.items()}
    groups = {"hits": "fg", "tex": "fg", "bed": "bg"}
    one, layers_one = measure(sources, groups=groups, window_s=60.0)
    many, layers_many = measure(sources, groups=groups, window_s=0.4)  # 15 windows
    for sid in audio:
        a, b = one[sid], many[sid]
        assert a.bands.shape == b.bands.shape and np.allclose(a.bands, b.bands, atol=1e-4)
        assert np.allclose(a.env_db, b.env_db, atol=1e-6) and np.array_equal(a.hop_peak, b.hop_peak)
        assert np.allclose(a.hop_energy, b.hop_energy, rtol=1e-6) and a.peak == b.peak
        assert a.sumsq == pytest.approx(b.sumsq, rel=1e-9)
        assert a.profile.integrated() == pytest.approx(b.profile.integrated(), abs=1e-9)
    for layer in ("fg", "bg"):
        assert layers_one[layer].integrated() == pytest.approx(layers_many[layer].integrated(), abs=1e-9)
    fg = audio["hits"] + audio["tex"]
    assert layers_one["fg"].integrated() == pytest.approx(integrated_lufs(fg), abs=1e-6)


def test_measurements_side_by_side_equal_one_at_a_time(monkeypatch):
    """Sources measured on worker threads (batches of a few, two cores or more) give exactly the serial figures,
    and the layers' sums are added in the same order, so the layer loudness is bit-identical too."""
    audio, _, _ = _scene(6.0)
    audio.update({f"more{i}": 0.3 * _band_noise(6 * SR, 300.0 * (i + 1), 600.0 * (i + 1), 20 + i) for i in range(6)})
    sources = {k: ArrayAudio(v) for k, v in audio.items()}
    groups = {k: ("bg" if k == "bed" else "fg") for k in audio}
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    serial, layers_serial = measure(sources, groups=groups, window_s=2.0)
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    threaded, layers_threaded = measure(sources, groups=groups, window_s=2.0)
    for sid in audio:
        a, b = serial[sid], threaded[sid]
        assert np.array_equal(a.bands, b.bands) and np.array_equal(a.env_db, b.env_db)
        assert np.array_equal(a.hop_energy, b.hop_energy) and a.peak == b.peak and a.sumsq == b.sumsq
        assert np.array_equal(a.profile.blocks, b.profile.blocks)
    for layer in ("fg", "bg"):
        assert np.array_equal(layers_serial[layer].blocks, layers_threaded[layer].blocks)
    assert layers_serial["fg"].integrated() == pytest.approx(integrated_lufs(sum(v for k, v in audio.items() if k != "bed")), abs=1e-6)


def test_master_in_windows_equals_master_in_one_piece(tmp_path):
    rng = np.random.default_rng(4)
    x = (rng.standard_normal((2, 9 * SR + 77)) * 0.05).astype(np.float32)
    x[:, 3 * SR: 3 * SR + 300] *= 30.0  # a spike right at a window edge: the limiter must reach across it
    whole, m_whole = master(x, target_lufs=-24.0, ceiling_dbtp=-2.0)
    out = np.zeros_like(x)

    def keep(a: int, y: np.ndarray) -> None:
        out[:, a: a + y.shape[1]] = y

    m_win = master_source(ArrayAudio(x), keep, target_lufs=-24.0, ceiling_dbtp=-2.0, window=aligned(1.0), scratch=tmp_path)
    assert m_win == m_whole and np.abs(out - whole).max() < 1e-6
    assert true_peak_dbfs(out) <= -2.0 and integrated_lufs(out) == pytest.approx(-24.0, abs=0.2)
    assert not list(tmp_path.iterdir())  # the envelope's scratch file is gone


def test_windowed_mix_equals_one_piece(tmp_path):
    """The whole mixing stage (analysis, plan, EQ carve, compression, ducking, reverb, verification, master)
    on 2 s windows against one 30 s window: same plan, same measurements, the same mix to −60 dB."""
    audio, script, clues = _scene()
    one = run_mixing(context(tmp_path / "one", window_s=30.0), audio, script, clues)["mix_plan"]
    many = run_mixing(context(tmp_path / "many", window_s=2.0), audio, script, clues)["mix_plan"]
    assert json.dumps(one["plan"], sort_keys=True) == json.dumps(many["plan"], sort_keys=True)
    ops = {op["expert"] for stem in one["plan"].values() for op in stem}
    assert {"eq", "dyn", "reverb"} <= ops and any("threshold_db" in op["params"] for op in one["plan"]["hits"])
    v1, v2 = one["verification"], many["verification"]
    assert len(v1["rounds"]) == len(v2["rounds"])
    for k in ("layer_lufs", "fg_masked_by_bg_db"):
        for key, value in v1["rounds"][-1][k].items():
            assert v2["rounds"][-1][k][key] == pytest.approx(value, abs=0.05)
    assert v2["master"]["integrated_lufs"] == pytest.approx(v1["master"]["integrated_lufs"], abs=0.02)
    a, b = _read(tmp_path / "one" / "mix_stereo.wav"), _read(tmp_path / "many" / "mix_stereo.wav")
    assert a.shape == b.shape == (2, audio["bed"].shape[1])
    assert _error_db(a, b) < -60.0
    assert true_peak_dbfs(b) <= -2.0 and integrated_lufs(b) == pytest.approx(-24.0, abs=0.3)


def test_pipeline_in_windows_delivers_what_one_piece_delivers(tmp_path):
    """Generation, mixing, the 5.1 upmix, its master and the mux, on 2 s windows vs one window."""
    from foleydesigner.bench.synthetic import make_clip
    from foleydesigner.pipeline import run_foley

    clip = tmp_path / "walk.mp4"
    make_clip("walker", clip, width=160, height=96, duration_s=6.0, seed=1)
    runs = {w: run_foley(clip, tmp_path / f"out_{w:g}", window_s=w) for w in (30.0, 2.0)}
    a, b = (tmp_path / "out_30", tmp_path / "out_2")
    for name in ("mix_stereo.wav", "mix_5_1.wav"):
        x, y = _read(a / name), _read(b / name)
        assert x.shape == y.shape and _error_db(x, y) < -50.0, name
    d1, d2 = (r["mix_plan"]["verification"]["delivery"] for r in runs.values())
    assert d2["surround_5_1"]["integrated_lufs"] == pytest.approx(d1["surround_5_1"]["integrated_lufs"], abs=0.05)
    assert d2["downmix_correlation"] == pytest.approx(d1["downmix_correlation"], abs=0.002)
    assert min(d2["downmix_correlation"]) > 0.9 and not (b / ".internal").exists()
    assert (b / "walk.foley.mp4").stat().st_size > 0


def test_wav_writer_publishes_only_on_success(tmp_path):
    with WavWriter(tmp_path / "ok.wav", 6) as w:
        for _ in range(3):
            w.write(np.full((6, 1000), 0.1, np.float32))
    info = sf.info(str(tmp_path / "ok.wav"))
    assert info.frames == 3000 and info.channels == 6
    with pytest.raises(ValueError, match="NaN"), WavWriter(tmp_path / "bad.wav", 2) as w:
        w.write(np.zeros((2, 10), np.float32))
        w.write(np.full((2, 10), np.nan, np.float32))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.wav"]
