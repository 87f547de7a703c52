"""BS.1770 edge cases: short clips and partial last blocks (against FFmpeg's ebur128, bundled with PyAV), and the
EBU Tech 3341 minimum requirements test signals, cases 1-6, generated here per the spec."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from foleydesigner.tools.loudness import integrated_lufs, loudness_profile

SR = 48_000


def tone(seconds: float, dbfs: float, channels: int = 2) -> np.ndarray:
    """1 kHz sine whose peak is `dbfs` (Tech 3341's level convention), in every channel."""
    t = np.arange(int(round(seconds * SR))) / SR
    return np.tile(10 ** (dbfs / 20) * np.sin(2 * np.pi * 1000 * t), (channels, 1))


def ffmpeg_integrated(x: np.ndarray) -> float:
    """FFmpeg's ebur128 filter (an implementation we did not write), run through PyAV's filter graph."""
    g = av.filter.Graph()
    src = g.add_abuffer(format="fltp", sample_rate=SR, layout="stereo", time_base=Fraction(1, SR))
    meter, sink = g.add("ebur128", "metadata=1"), g.add("abuffersink")
    src.link_to(meter)
    meter.link_to(sink)
    g.configure()
    last = -70.0
    for i in [*range(0, x.shape[1], 1024), None]:
        if i is None:
            src.push(None)
        else:
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(x[:, i: i + 1024], np.float32), format="fltp",
                                               layout="stereo")
            frame.sample_rate, frame.pts, frame.time_base = SR, i, Fraction(1, SR)
            src.push(frame)
        while True:
            try:
                out = sink.pull()
            except (av.error.BlockingIOError, av.error.EOFError):
                break
            last = float(out.metadata.get("lavfi.r128.I", last))
    return last


@pytest.mark.parametrize("seconds", [0.45, 0.76, 1.23, 2.0])
def test_partial_last_block_is_left_out_as_ffmpeg_does(seconds):
    x = tone(seconds, -23.0)
    assert integrated_lufs(x) == pytest.approx(ffmpeg_integrated(x), abs=0.05)


@pytest.mark.parametrize("seconds", [0.05, 0.2, 0.39])
def test_clip_shorter_than_one_block_reads_its_own_level(seconds):
    """FFmpeg reports nothing (-70) under 400 ms; padding with silence read these up to 10 dB low."""
    assert ffmpeg_integrated(tone(seconds, -23.0)) == -70.0
    assert integrated_lufs(tone(seconds, -23.0)) == pytest.approx(integrated_lufs(tone(2.0, -23.0)), abs=0.05)


def _seq(*parts: tuple[float, float], channels: int = 2) -> np.ndarray:
    return np.concatenate([tone(s, db, channels) for s, db in parts], axis=1)


# EBU Tech 3341 (2016) Table 1: stereo 1 kHz sines unless noted; expected integrated loudness -23.0 (case 2: -33.0).
CASES = {
    1: (_seq((20.0, -23.0)), -23.0),
    2: (_seq((20.0, -33.0)), -33.0),
    3: (_seq((10.0, -36.0), (60.0, -23.0), (10.0, -36.0)), -23.0),
    4: (_seq((10.0, -72.0), (10.0, -36.0), (60.0, -23.0), (10.0, -36.0), (10.0, -72.0)), -23.0),
    5: (_seq((20.0, -26.0), (20.1, -20.0), (20.0, -26.0)), -23.0),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_ebu_tech_3341_cases_1_to_5(case):
    signal, expected = CASES[case]
    assert integrated_lufs(signal) == pytest.approx(expected, abs=0.05)
    if case in (1, 2):  # steady tone: the short-term loudness reads the same
        st = loudness_profile(signal).short_term_lufs()
        assert np.allclose(st, expected, atol=0.05)


def test_ebu_tech_3341_case_6_five_channels():
    """L, R at -28 dBFS, C at -24, Ls, Rs at -30 (the surrounds weighted 1.41): -23.0 LUFS."""
    t = tone(20.0, 0.0, channels=1)[0]
    levels = (-28.0, -28.0, -24.0, -30.0, -30.0)
    five = np.stack([10 ** (db / 20) * t for db in levels])
    assert integrated_lufs(five) == pytest.approx(-23.0, abs=0.05)
    six = np.insert(five, 3, t, axis=0)  # as 5.1 with a full-scale LFE: BS.1770 leaves the LFE out
    assert integrated_lufs(six) == pytest.approx(-23.0, abs=0.05)


@pytest.mark.parametrize("kind", ["noise", "square", "spike", "silence"])
def test_oversampled_peak_equals_the_full_envelopes_maximum(kind):
    """The bounded search skips pieces but must land on exactly the value the full 4x pass gives, in any range."""
    from foleydesigner.tools.loudness import oversampled_envelope, oversampled_peak

    rng = np.random.default_rng(7)
    x = (0.2 * rng.standard_normal((2, 50_000))).astype(np.float32)
    if kind == "square":  # alternating full-scale samples: the largest overshoot between samples
        x = np.where(np.arange(50_000) % 2, 0.9, -0.9)[None, :].repeat(2, 0).astype(np.float32)
    elif kind == "spike":
        x[1, 31_234] = 1.7
    elif kind == "silence":
        x[:] = 0.0
    env = oversampled_envelope(x)
    for a, b in ((0, 50_000), (31_000, 31_300), (4095, 4097), (49_999, 50_000), (10, 10)):
        want = float(env[a:b].max()) if b > a else 0.0
        assert oversampled_peak(x, a, b) == want
    if kind == "square":
        assert oversampled_peak(x) > 1.0  # the intersample peak is above every sample


@pytest.mark.parametrize("kind", ["noise", "square", "spike"])
def test_lazy_envelope_bounds_the_envelope_and_refines_to_it_exactly(kind):
    """Unrefined pieces hold a bound over the true 4x envelope; a refined piece holds the full pass's values, bit
    for bit; only the pieces whose bound the predicate flags are oversampled."""
    from foleydesigner.tools.loudness import LazyPeakEnvelope, oversampled_envelope

    rng = np.random.default_rng(3)
    n = 50_000  # not a whole number of 4096-sample pieces
    x = (0.05 * rng.standard_normal((2, n))).astype(np.float32)
    if kind == "square":
        x = np.where(np.arange(n) % 2, 0.9, -0.9)[None, :].repeat(2, 0).astype(np.float32)
    elif kind == "spike":
        x[0, 20_100] = 1.5
    env = oversampled_envelope(x)
    lazy = LazyPeakEnvelope(np.abs(x).max(axis=0), lambda a, b: x[:, a:b])
    bound = lazy.values(0, n, lambda b: np.zeros(b.shape, bool)).copy()
    assert not lazy.exact.any()
    assert np.all(bound >= env)
    over = lazy.values(0, n, lambda b: b > 1.0)  # the pieces that could pass a ceiling of 1.0
    assert np.array_equal(over[lazy.exact.repeat(4096)[:n]], env[lazy.exact.repeat(4096)[:n]])
    assert np.all(over[env > 1.0] == env[env > 1.0])  # wherever the true envelope is over, it is exact
    assert lazy.exact.sum() == (0 if kind == "noise" else 1 if kind == "spike" else lazy.exact.size)
    assert np.array_equal(lazy.values(0, n, lambda b: np.ones(b.shape, bool)), env)
