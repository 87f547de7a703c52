"""Procedural hits measured for what gave them away against real recordings (benchmarks/realism.py)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from foleydesigner.generation import procedural as P

SR = 48_000
IMPULSIVE = [c.name for c in P.list_classes() if c.kind == "impulsive"]


def _frames_db(x: np.ndarray, hop: int = SR // 100) -> np.ndarray:
    mono = np.asarray(x, np.float64).mean(axis=0)
    n = mono.size // hop
    return 10 * np.log10(np.mean(mono[: n * hop].reshape(n, hop) ** 2, axis=1) + 1e-30) - 20 * np.log10(np.abs(mono).max())


def _one_hit(name: str) -> np.ndarray:
    end = P.sounding_extent(name, start_s=0.05, end_s=0.06)[1]
    return P.synthesize(name, duration_s=end, onsets_s=[0.05], start_s=0.05, end_s=0.06, rng=np.random.default_rng(3))


@pytest.mark.parametrize("name", IMPULSIVE)
def test_a_hit_sits_in_room_air_and_dies_away(name: str) -> None:
    db = _frames_db(_one_hit(name))[5:]  # from the hit on
    assert np.mean(db < -90.0) <= 0.2, f"{name}: {np.mean(db < -90.0):.0%} of frames 90 dB under the peak"
    sounding = np.flatnonzero(db > -200.0)
    assert db[sounding[-1]] <= -80.0, f"{name}: ends at {db[sounding[-1]]:.0f} dB re peak"


def test_air_is_quiet_and_only_from_the_first_hit() -> None:
    x = P.synthesize("door_knock", duration_s=4.0, onsets_s=[1.0], rng=np.random.default_rng(0))
    assert not x[:, : SR - 24].any()
    db = _frames_db(x)
    assert -90.0 < float(np.median(db[250:300])) < -65.0  # 1.5 s after the knock: air, far under the hit


def test_examples_show_beds_at_full_level(tmp_path) -> None:
    paths = P.render_examples(tmp_path, seconds=2.0, seed=0)
    beds = 0
    for path in paths:
        name = path.stem
        if P.CLASSES[name].kind != "continuous" or P.CLASSES[name].default_layer != "bg":  # beds only
            continue
        x, _ = sf.read(path, always_2d=True)
        quarters = 20 * np.log10(np.sqrt(np.mean(x[: 2 * SR].reshape(4, -1, x.shape[1]) ** 2, axis=(1, 2))) + 1e-12)
        assert quarters.max() - quarters.min() < 10.0, f"{name}: quarter levels {np.round(quarters, 1)}"
        beds += 1
    assert beds >= 10


@pytest.mark.parametrize("seconds", [0.6, 2.0, 6.0])
def test_a_whoosh_passes_in_a_fraction_of_a_second_whatever_the_span(seconds: float) -> None:
    x = P.synthesize("whoosh", duration_s=seconds, rng=np.random.default_rng(0))
    db = _frames_db(x)
    loud = np.sum(db > db.max() - 10.0) * 0.01  # seconds within 10 dB of its loudest 10 ms
    assert 0.08 <= loud <= 0.3, f"{seconds} s span: {loud:.2f} s loud"


def test_a_bark_is_voiced() -> None:
    # Harmonicity: a 15 ms window of the bark correlates with itself one glottal period later (f0 250–1000 Hz).
    values = []
    for seed in range(6):
        x = P.synthesize("dog_bark", duration_s=1.0, onsets_s=[0.1], rng=np.random.default_rng(seed))[0]
        i = int(0.12 * SR)
        w = x[i:i + int(0.015 * SR)].astype(np.float64)
        ac = np.correlate(w, w, "full")[w.size - 1:]
        values.append(float(np.max(ac[SR // 1000: SR // 250]) / ac[0]))
    assert np.median(values) > 0.45, np.round(values, 2)


def test_wind_band_rides_the_gusts() -> None:
    x = P.synthesize("wind", duration_s=20.0, rng=np.random.default_rng(0)).mean(axis=0)
    centroid, level = [], []
    for seg in x.reshape(40, -1).astype(np.float64):  # 0.5 s windows
        power = np.abs(np.fft.rfft(seg)) ** 2
        f = np.fft.rfftfreq(seg.size, 1 / SR)
        low = f < 1500.0
        centroid.append(float(np.sum(f[low] * power[low]) / np.sum(power[low])))
        level.append(float(10 * np.log10(np.sum(power))))
    assert max(centroid) / min(centroid) > 1.6  # the roar's band moves…
    assert np.corrcoef(centroid, level)[0, 1] > 0.5  # …brighter as the gust blows harder


def test_an_idle_engine_sounds_where_recorded_idles_do() -> None:
    # Power centroid of recorded idles: 200–460 Hz (the exhaust alone put the model's below 100 Hz).
    x = P.synthesize("engine_idle", duration_s=4.0, rng=np.random.default_rng(0)).mean(axis=0).astype(np.float64)
    power = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(x.size, 1 / SR)
    assert 200.0 <= float(np.sum(f * power) / np.sum(power)) <= 460.0
