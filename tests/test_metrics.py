"""Evaluation metrics on analytic signals whose answers are known in closed form."""

from __future__ import annotations

import math

import numpy as np
import pytest

from foleydesigner.eval.metrics import (
    activation_iou,
    av_offset_ms,
    azimuth_error_deg,
    estimate_azimuth_deg,
    fsad,
    gcc_mse,
    gcc_phat_itd,
    ild_db,
    onset_envelope,
    onset_f1,
    windowed_ild_db,
    windowed_itd_ms,
)
from foleydesigner.generation.spatial import SpatialConfig, render_spatial
from foleydesigner.units import SPEED_OF_SOUND

SR = 48_000


def _noise(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(n)


def _delayed(x: np.ndarray, samples: float) -> np.ndarray:
    """x delayed by a (fractional) number of samples, exactly, via a linear phase in the DFT."""
    f = np.fft.rfftfreq(x.size)
    return np.fft.irfft(np.fft.rfft(x) * np.exp(-2j * np.pi * f * samples), x.size)


def _pair(samples: float, n: int = SR, seed: int = 0) -> np.ndarray:
    """Stereo whose left ear lags the right by `samples`: ITD = +samples/sr (source on the right)."""
    x = _noise(n, seed)
    return np.stack([_delayed(x, samples), x])


@pytest.mark.parametrize("samples", [0.0, 1.0, 5.0, -7.0, 0.3, 2.6, -11.45])
def test_gcc_phat_recovers_delay(samples: float) -> None:
    left, right = _pair(samples, SR // 2)
    assert gcc_phat_itd(left, right, SR) == pytest.approx(samples / SR, abs=1e-6)


def test_gcc_phat_integer_roll_and_sign() -> None:
    x = _noise(SR // 4)
    assert gcc_phat_itd(np.roll(x, 3), x, SR) == pytest.approx(3 / SR, abs=1e-7)  # left late: right leads
    assert gcc_phat_itd(x, np.roll(x, 3), SR) == pytest.approx(-3 / SR, abs=1e-7)
    assert gcc_phat_itd(np.zeros(100), np.zeros(100), SR) == 0.0  # silence: no delay, not a search edge


def test_ild_of_known_pan() -> None:
    x = _noise(SR // 4)
    assert ild_db(np.stack([x, 2.0 * x])) == pytest.approx(20 * math.log10(2.0), abs=1e-9)
    _, ild, valid = windowed_ild_db(np.stack([0.5 * x, x]), SR, window_s=0.05)
    assert valid.all() and np.allclose(ild, 20 * math.log10(2.0))


def test_windowed_itd_tracks_a_step_and_flags_silence() -> None:
    n = SR  # 0–0.48 s: 4 samples; 0.48–0.84 s: −6 samples; then silence
    a, b = _pair(4.0, n), _pair(-6.0, n, seed=1)
    stereo = np.concatenate([a[:, : n // 2], b[:, n // 2:]], axis=1)
    stereo[:, int(0.84 * SR):] = 0.0
    times, itd, valid = windowed_itd_ms(stereo, SR, window_s=0.12)
    assert times.size == 8 and not valid[-1] and valid[:-1].all()
    np.testing.assert_allclose(itd[:4], 4 / SR * 1e3, atol=1e-3)
    np.testing.assert_allclose(itd[4:7], -6 / SR * 1e3, atol=1e-3)


@pytest.mark.parametrize("az", [-80.0, -45.0, -10.0, 0.0, 25.0, 60.0, 80.0])
def test_azimuth_from_woodworth_delay(az: float) -> None:
    th = math.radians(abs(az))
    samples = math.copysign(0.0875 / SPEED_OF_SOUND * (th + math.sin(th)), az) * SR
    _, est, valid = estimate_azimuth_deg(_pair(samples), SR)
    assert valid.all() and np.allclose(est, az, atol=1.0)


@pytest.mark.parametrize("mode", ["stereo", "binaural"])
def test_azimuth_estimate_agrees_with_renderer(mode: str) -> None:
    src = (0.1 * _noise(SR // 2)).astype(np.float32)
    truth = np.array([-80.0, -50.0, -20.0, 0.0, 15.0, 40.0, 70.0, 80.0])
    est = [np.nanmean(estimate_azimuth_deg(render_spatial(src, t_s=[0.0], azimuth_deg=[az], depth_m=[3.0], sr=SR,
                                                          config=SpatialConfig(mode=mode)), SR)[1])
           for az in truth]
    assert azimuth_error_deg(est, truth) < 2.0


def test_azimuth_falls_back_to_ild_when_ears_are_incoherent() -> None:
    """Independent noise in each ear has no usable ITD; a +6 dB right ear then reads from its ILD alone."""
    stereo = np.stack([0.5 * _noise(SR // 2, 1), _noise(SR // 2, 2)])
    _, est, valid = estimate_azimuth_deg(stereo, SR)
    # the renderer's stereo pan law ILD = 22·tanh(1.45·sin az), inverted by hand for 6.02 dB
    expected = math.degrees(math.asin(math.atanh(20 * math.log10(2.0) / 22.0) / 1.45))
    assert valid.all() and np.allclose(est, expected, atol=1.5)  # ±0.15 dB of ILD from the noise draw


def test_onset_f1_by_hand() -> None:
    score = onset_f1([1.02, 2.3, 3.0, 3.05, 5.0], [1.0, 2.0, 3.0, 4.0], tolerance_s=0.05)
    # 1.02↔1.0 and 3.0↔3.0 match (3.05 cannot reuse 3.0): P = 2/5, R = 2/4, F1 = 2PR/(P + R) = 4/9.
    assert (score.precision, score.recall) == pytest.approx((0.4, 0.5))
    assert score.f1 == pytest.approx(4 / 9)
    assert sorted(score.errors_s) == pytest.approx([0.0, 0.02])
    assert score.median_error_s == pytest.approx(0.01)


def test_onset_matching_is_optimal_not_greedy() -> None:
    """Greedy nearest-first pairs 1.04↔1.07 and strands 1.11; the optimal one-to-one matching keeps both."""
    score = onset_f1([1.04, 1.11], [1.00, 1.07], tolerance_s=0.05)
    assert score.f1 == pytest.approx(1.0)
    assert sorted(score.errors_s) == pytest.approx([0.04, 0.04])


def test_onset_f1_edge_cases() -> None:
    assert onset_f1([], [], tolerance_s=0.04).f1 == 1.0
    assert onset_f1([1.0], [], tolerance_s=0.04).f1 == 0.0
    empty = onset_f1([], [1.0], tolerance_s=0.04)
    assert empty.recall == 0.0 and math.isnan(empty.median_error_s)


def test_activation_iou() -> None:
    assert activation_iou([1, 1, 0, 0, 1], [1, 0, 0, 1, 1]) == pytest.approx(2 / 4)
    assert activation_iou([0, 0, 0], [0, 0, 0]) == 1.0
    assert activation_iou([1, 1, 0], [0, 0, 1]) == 0.0
    with pytest.raises(ValueError):
        activation_iou([1, 0], [1, 0, 1])


def test_gcc_mse_of_constant_delays() -> None:
    gen = [_pair(10.0, SR // 2, seed=s) for s in (0, 1)]
    ref = [_pair(-5.0, SR // 2, seed=s) for s in (2, 3)]
    expected = ((10.0 - (-5.0)) / SR * 1e3) ** 2 * 1000.0  # (Δ ms)² × 1000
    assert gcc_mse(gen, ref, SR) == pytest.approx(expected, rel=1e-3)
    assert gcc_mse(gen, gen, SR) == pytest.approx(0.0, abs=1e-6)


def _moving_clip(start: float, stop: float, seed: int) -> np.ndarray:
    """1 s of noise whose ITD glides linearly from `start` to `stop` samples (piecewise per 0.24 s window)."""
    pieces = [_pair(d, int(0.24 * SR), seed=seed + i) for i, d in enumerate(np.linspace(start, stop, 4))]
    return np.concatenate(pieces, axis=1)


def test_fsad_zero_for_identical_sets_and_grows_with_offset() -> None:
    base = [_moving_clip(-8.0 + 2 * k, 8.0 - k, seed=10 * k) for k in range(4)]
    assert fsad(base, base, SR) == pytest.approx(0.0, abs=1e-6)
    shifted = [[_moving_clip(-8.0 + 2 * k + off, 8.0 - k + off, seed=10 * k + 5) for k in range(4)]
               for off in (2.0, 6.0, 12.0)]
    values = [fsad(s, base, SR) for s in shifted]
    assert 0.0 < values[0] < values[1] < values[2]
    assert all(math.isfinite(v) for v in values)


def _clicks(times_s: np.ndarray, seconds: float) -> np.ndarray:
    audio = np.zeros(int(seconds * SR))
    for t in times_s:
        i = int(round(t * SR))
        audio[i:i + 480] += np.exp(-np.arange(480) / 60.0) * _noise(480, int(t * 1000))[: audio[i:i + 480].size]
    return audio


def test_onset_envelope_peaks_at_clicks() -> None:
    hop = 0.01
    env = onset_envelope(_clicks(np.array([0.5, 1.234]), 2.0), SR, hop_s=hop)
    peaks = np.sort(np.argsort(env)[-2:]) * hop
    np.testing.assert_allclose(peaks, [0.5, 1.234], atol=hop)


@pytest.mark.parametrize("shift_s", [0.08, -0.12, 0.0])
def test_av_offset_recovers_shift(shift_s: float) -> None:
    fps = 25.0
    frames = np.array([12, 20, 27, 41, 46, 63, 70, 88, 101, 113])  # irregular: one unambiguous lag
    visual = np.zeros(130)
    visual[frames] = 1.0
    audio = _clicks(frames / fps + shift_s, 130 / fps + 0.5)
    assert av_offset_ms(visual, fps, audio, SR) == pytest.approx(shift_s * 1e3, abs=10.0)  # one 10 ms hop


def test_azimuth_error_is_wrap_aware() -> None:
    assert azimuth_error_deg([179.0, -170.0], [-179.0, 170.0]) == pytest.approx((2.0 + 20.0) / 2)
    assert azimuth_error_deg([10.0, 50.0], [0.0, 0.0], mask=[True, False]) == pytest.approx(10.0)
    assert math.isnan(azimuth_error_deg([np.nan], [0.0]))
