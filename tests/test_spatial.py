"""Spatial renderer: measured ITD/ILD/distance/Doppler/continuity/mask properties against acoustics theory."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import butter, sosfilt, sosfiltfilt

from foleydesigner.eval.metrics import gcc_phat_itd, ild_db, windowed_itd_ms
from foleydesigner.generation.spatial import SpatialConfig, render_clues, render_spatial, woodworth_itd_s
from foleydesigner.schemas import EventClues
from foleydesigner.units import SPEED_OF_SOUND

SR = 48_000
DRY = SpatialConfig(air_absorption=False, distance_reverb=False)


def _noise(seconds: float, seed: int = 0) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(int(seconds * SR))).astype(np.float32)


def _static(src: np.ndarray, az: float, depth: float = 2.0, config: SpatialConfig = DRY) -> np.ndarray:
    return render_spatial(src, t_s=[0.0], azimuth_deg=[az], depth_m=[depth], sr=SR, config=config)


def _band_db(x: np.ndarray, lo: float, hi: float) -> float:
    spec = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(x.size, 1 / SR)
    return float(10 * np.log10(spec[(f >= lo) & (f < hi)].sum()))


def _peak_hz(x: np.ndarray) -> float:
    """FFT peak with a Hann window, zero padding and parabolic refinement (≪ 0.1 Hz for a 1 s tone)."""
    nfft = 1 << 20
    mag = np.log(np.abs(np.fft.rfft(x * np.hanning(x.size), nfft)) + 1e-20)
    k = int(np.argmax(mag))
    frac = 0.5 * (mag[k - 1] - mag[k + 1]) / (mag[k - 1] - 2 * mag[k] + mag[k + 1])
    return (k + frac) * SR / nfft


@pytest.mark.parametrize("mode", ["stereo", "binaural"])
@pytest.mark.parametrize("az", [-60.0, -30.0, 0.0, 30.0, 60.0, 80.0, 150.0, -120.0])
def test_itd_matches_woodworth(mode: str, az: float) -> None:
    y = _static(_noise(1.0), az, config=SpatialConfig(mode=mode, air_absorption=False, distance_reverb=False))
    itd = gcc_phat_itd(y[0], y[1], SR)
    # Woodworth, written out here: (a/c)(θ + sin θ) on the frontal mirror of the azimuth.
    front = np.radians(180.0 - abs(az) if abs(az) > 90 else abs(az))
    expected = np.sign(az) * 0.0875 / SPEED_OF_SOUND * (front + np.sin(front))
    assert abs(itd - expected) < 0.05e-3
    assert woodworth_itd_s(az) == pytest.approx(expected, abs=1e-12)


def test_ild_sign_and_growth() -> None:
    src = _noise(1.0)
    ild = {az: ild_db(_static(src, az)) for az in (-90.0, -60.0, -30.0, 0.0, 30.0, 60.0, 90.0)}
    assert abs(ild[0.0]) < 0.1
    assert 0.5 < ild[30.0] < ild[60.0] < ild[90.0]
    for az in (30.0, 60.0, 90.0):
        assert ild[-az] == pytest.approx(-ild[az], abs=0.3)


def test_ild_is_frequency_dependent() -> None:
    """Head shadow: the level difference is larger above 4 kHz than below 500 Hz."""
    y = _static(_noise(1.0), 60.0, config=SpatialConfig(mode="binaural", air_absorption=False,
                                                         distance_reverb=False))
    low = _band_db(y[1], 50, 500) - _band_db(y[0], 50, 500)
    high = _band_db(y[1], 4000, 12000) - _band_db(y[0], 4000, 12000)
    assert abs(low) < 3.0 and high > 10.0


def test_inverse_distance_law() -> None:
    src = _noise(1.0)
    levels = [10 * np.log10(np.mean(_static(src, 20.0, d) ** 2)) for d in (1.0, 2.0, 4.0, 8.0)]
    steps = np.diff(levels)
    assert np.all(np.abs(steps + 6.02) < 1.0), steps


def test_air_absorption_follows_iso9613() -> None:
    """8 kHz loses ≈ 105 dB/km more than 1 kHz (ISO 9613-1 Table, 20 °C, 50 % RH; our fit is within 3 dB)."""
    src = _noise(2.0)
    cfg = SpatialConfig(distance_reverb=False)
    near, far = _static(src, 0.0, 2.0, cfg)[0], _static(src, 0.0, 40.0, cfg)[0]
    tilt = lambda y: _band_db(y, 7000, 9000) - _band_db(y, 800, 1200)  # noqa: E731
    assert tilt(near) - tilt(far) == pytest.approx((0.105 - 0.005) * 38.0, abs=3.0)


def test_drr_falls_with_depth() -> None:
    src = sosfilt(butter(8, 3000, fs=SR, output="sos"), _noise(2.0)).astype(np.float32)
    drr = []
    for d in (1.0, 5.0, 20.0):
        wet = _static(src, 0.0, d, SpatialConfig(air_absorption=False))
        dry = _static(src, 0.0, d)
        drr.append(10 * np.log10(np.sum(dry**2) / np.sum((wet - dry) ** 2)))
    assert drr[0] > drr[1] > drr[2]
    assert abs(drr[1]) < 3.0  # 0 dB at the 5 m critical distance


def test_doppler_pitch_matches_moving_source_theory() -> None:
    """A 1 kHz source approaching then receding at 20 m/s: f·c/(c − v) and f·c/(c + v) (moving source)."""
    v, f0 = 20.0, 1000.0
    t = np.arange(0.0, 4.0, 1 / 25)
    tone = np.sin(2 * np.pi * f0 * np.arange(4 * SR) / SR).astype(np.float32)
    y = render_spatial(tone, t_s=t, azimuth_deg=np.zeros_like(t), depth_m=5.0 + v * np.abs(t - 2.0), sr=SR,
                       config=SpatialConfig(distance_reverb=False))
    approach, recede = _peak_hz(y[0, int(0.4 * SR):int(1.6 * SR)]), _peak_hz(y[0, int(2.5 * SR):int(3.7 * SR)])
    c = SPEED_OF_SOUND
    assert approach / (f0 * c / (c - v)) == pytest.approx(1.0, abs=2e-3)
    assert recede / (f0 * c / (c + v)) == pytest.approx(1.0, abs=2e-3)
    assert approach / recede == pytest.approx((c + v) / (c - v), rel=1e-2)


@pytest.mark.parametrize("reverb", [True, False])
def test_fast_moves_do_not_click(reverb: bool) -> None:
    """−80° → 80° → −80° in 0.4 s (from 0.6 s) and a 1 → 4 m depth jump in one frame (1.4 s), 100 Hz sine."""
    f0, dur = 100.0, 2.0
    tone = 0.5 * np.sin(2 * np.pi * f0 * np.arange(int(dur * SR)) / SR).astype(np.float32)
    t = np.arange(0.0, dur, 1 / 25)
    az = np.interp(t, [0.0, 0.6, 0.8, 1.0, dur], [-80.0, -80.0, 80.0, -80.0, -80.0])
    depth = np.where(t < 1.4, 1.0, 4.0)
    y = render_spatial(tone, t_s=t, azimuth_deg=az, depth_m=depth, sr=SR,
                       config=SpatialConfig(distance_reverb=reverb))
    # A sine's steepest step is 2πf·A/sr; Doppler can raise f by ≤ 17 % at the 60 m/s slew limit.
    step = np.max(np.abs(np.diff(y, axis=1)), axis=1)
    assert np.all(step <= 1.3 * 2 * np.pi * f0 / SR * np.max(np.abs(y), axis=1))
    # Energy above 2 kHz per 20 ms window, re the signal: a click is broadband (> −35 dB in its window).
    hf = sosfiltfilt(butter(4, 2000, "highpass", fs=SR, output="sos"), y, axis=1)
    win = int(0.02 * SR)
    ratio_db = 10 * np.log10(np.mean(hf.reshape(2, -1, win) ** 2, axis=2).max(axis=0) / np.mean(y**2) + 1e-30)
    steady, moving = ratio_db[10:28], ratio_db[28:90]  # 0.2–0.56 s still; 0.56–1.8 s sweeps and the jump
    assert moving.max() <= steady.max() + 6.0 if reverb else moving.max() < -80.0  # dry: only tiny kinks
    assert moving.max() < -60.0


def test_azimuth_wraps_through_the_back() -> None:
    """170° → −170° moves 20° behind the head; it must not sweep through the front (ITD stays small)."""
    t = np.arange(0.0, 2.0, 1 / 25)
    y = render_spatial(_noise(2.0), t_s=t, azimuth_deg=np.interp(t, [0, 2], [170.0, 190.0]) - 360.0 * (t > 1),
                       depth_m=np.full_like(t, 2.0), sr=SR, config=DRY)
    _, itd_ms, valid = windowed_itd_ms(y, SR, window_s=0.1)
    assert valid.all() and np.max(np.abs(itd_ms)) < woodworth_itd_s(25.0) * 1e3


@pytest.mark.parametrize("mode", ["stereo", "binaural"])
def test_back_differs_from_front(mode: str) -> None:
    src = _noise(1.0)
    cfg = SpatialConfig(mode=mode, air_absorption=False, distance_reverb=False)
    front, back = _static(src, 30.0, config=cfg), _static(src, 150.0, config=cfg)
    assert gcc_phat_itd(*front, SR) == pytest.approx(gcc_phat_itd(*back, SR), abs=2e-5)  # cone of confusion
    bands = [(2000 * 2**k, 2000 * 2 ** (k + 0.5)) for k in range(4)]
    diff = [abs(_band_db(front[1], lo, hi) - _band_db(back[1], lo, hi)) for lo, hi in bands]
    assert max(diff) > 3.0


def test_binaural_signs_agree_with_stereo() -> None:
    src = _noise(1.0)
    for az in (-45.0, 45.0):
        y = _static(src, az, config=SpatialConfig(mode="binaural", air_absorption=False, distance_reverb=False))
        assert np.sign(gcc_phat_itd(*y, SR)) == np.sign(az) == np.sign(ild_db(y))


def _frame_rms(y: np.ndarray, t: np.ndarray, active: np.ndarray, want: int) -> np.ndarray:
    edges = np.round(np.append(t, t[-1] + t[1] - t[0]) * SR).astype(int)
    return np.array([np.sqrt(np.mean(y[:, edges[i]:edges[i + 1]] ** 2)) for i in np.flatnonzero(active == want)])


def test_masks() -> None:
    t = np.arange(0.0, 2.0, 1 / 25)
    act = ((t // 0.4) % 2 == 0).astype(int)  # 10 frames on, 10 off
    clues = EventClues(event_id="e", fps=25.0, t_s=list(t), depth_m=[3.0] * t.size,
                       azimuth_deg=[20.0] * t.size, activation=list(act))
    src = _noise(2.0)
    plain = render_clues(src, clues, sr=SR)
    hard = render_clues(src, clues, sr=SR, config=SpatialConfig(hard_mask=True))
    soft = render_clues(src, clues, sr=SR, config=SpatialConfig(soft_mask=True))
    on = _frame_rms(hard, t, act, 1).mean()
    assert 20 * np.log10(_frame_rms(hard, t, act, 0).max() / on + 1e-12) <= -40.0
    np.testing.assert_allclose(_frame_rms(soft, t, act, 0) / _frame_rms(plain, t, act, 0), 0.1, rtol=1e-3)
    # Ramps, not steps: the largest sample step of the gated noise stays that of the ungated noise.
    assert np.max(np.abs(np.diff(hard, axis=1))) <= np.max(np.abs(np.diff(plain, axis=1))) * 1.01


def test_shapes_and_validation() -> None:
    stereo_src = np.stack([_noise(0.1), _noise(0.1, 1)])
    y = render_spatial(stereo_src, t_s=[0.0], azimuth_deg=[0.0], depth_m=[1.0], sr=SR)
    assert y.shape == (2, stereo_src.shape[1]) and y.dtype == np.float32
    with pytest.raises(ValueError, match="depth_m"):
        render_spatial(_noise(0.1), t_s=[0.0], azimuth_deg=[0.0], depth_m=[0.0], sr=SR)
    with pytest.raises(ValueError, match="exclusive"):
        SpatialConfig(soft_mask=True, hard_mask=True)
