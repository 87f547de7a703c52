"""Recorded excitation: real attacks and grains from the committed core recordings drive the procedural models,
and every class still renders with no recording at all (the synthetic fallback)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from foleydesigner.generation import procedural as P
from foleydesigner.generation.procedural import recorded

SR = 48_000
#: The classes whose excitation or source the recordings now supply.
REBUILT = ("impact_wood", "impact_metal", "impact_glass", "glass_clink", "cutlery", "coins", "ball_bounce", "punch",
           "door_knock", "door_slam", "door_close", "car_door", "clock_tick", "applause", "crowd_murmur",
           "cloth_rustle", "paper_rustle")


def _clear() -> None:
    recorded.sources.cache_clear()
    recorded.attacks.cache_clear()


@pytest.mark.parametrize("role", ["crack", "tick", "slam"])  # the roles used as attacks
def test_committed_recordings_give_attacks_that_start_at_their_onset(role: str) -> None:
    cuts = recorded.attacks(role, SR, 0.015)
    assert cuts, f"no attack found in the committed {role} recordings"
    for cut in cuts:
        assert cut.shape == (int(0.015 * SR),) and cut.dtype == np.float32
        # The onset is 1 ms in: before it the cut stays 6 dB under what its first 11 ms reach.
        assert float(np.max(np.abs(cut[: int(0.0008 * SR)]))) < 0.5 * float(np.max(np.abs(cut[: int(0.011 * SR)])))
        assert float(np.max(np.abs(cut[-10:]))) < 0.05  # faded out, no click at the end


def test_grains_are_a_dense_deterministic_texture_of_the_source() -> None:
    n = SR
    a = recorded.grains(np.random.default_rng(1), SR, "water", n, grain_s=0.08, rate_hz=80.0, channels=2)
    b = recorded.grains(np.random.default_rng(1), SR, "water", n, grain_s=0.08, rate_hz=80.0, channels=2)
    c = recorded.grains(np.random.default_rng(2), SR, "water", n, grain_s=0.08, rate_hz=80.0, channels=2)
    assert a is not None and b is not None and c is not None
    assert a.shape == (2, n) and np.array_equal(a, b) and not np.allclose(a, c)
    np.testing.assert_allclose(np.sqrt(np.mean(a.astype(np.float64) ** 2, axis=1)), 1.0, rtol=1e-3)
    # Dense: no 10 ms frame (after the first grain's rise) falls 30 dB under the texture's RMS.
    frames = np.sqrt(np.mean(a[:, 960:].reshape(2, -1, 480) ** 2, axis=2))
    assert float(frames.min()) > 10 ** (-30 / 20)
    # The two channels are independent grain streams (a wide bed), not one copied.
    assert abs(float(np.corrcoef(a[0], a[1])[0, 1])) < 0.3


def test_excite_keeps_the_resonators_length_and_peak() -> None:
    ir = np.exp(-np.arange(SR // 4) / 2000.0) * np.sin(2 * np.pi * 900.0 * np.arange(SR // 4) / SR)
    attack = recorded.attacks("crack", SR, 0.01)[0]
    y = recorded.excite(ir.astype(np.float32), attack)
    assert y.shape == ir.shape
    assert float(np.max(np.abs(y))) == pytest.approx(float(np.max(np.abs(ir))), rel=1e-5)
    assert recorded.excite(ir, None) is ir


@pytest.mark.parametrize("name", REBUILT)
def test_rebuilt_classes_use_the_recordings_and_fall_back_without_them(name: str, monkeypatch: pytest.MonkeyPatch,
                                                                       tmp_path: Path) -> None:
    _clear()
    real = P.synthesize(name, duration_s=2.0, rng=np.random.default_rng(3))
    again = P.synthesize(name, duration_s=2.0, rng=np.random.default_rng(3))
    assert np.array_equal(real, again)  # deterministic per seed with the recordings
    monkeypatch.setattr(recorded, "library_dir", lambda: tmp_path)  # a stripped install: no data/library
    _clear()
    try:
        bare = P.synthesize(name, duration_s=2.0, rng=np.random.default_rng(3))
    finally:
        _clear()
    assert np.isfinite(bare).all() and float(np.max(np.abs(bare))) > 0.1
    assert real.shape == bare.shape and not np.allclose(real, bare, atol=1e-3)  # the recordings are heard


def test_reverb_tail_decays_at_its_t60_with_the_asked_energy() -> None:
    from foleydesigner.generation.procedural.realism import reverb

    dry = np.zeros(SR // 10, np.float32)
    dry[0] = 1.0
    out = reverb(np.random.default_rng(0), SR, dry, 1.2, 0.5, predelay_s=0.01)
    assert out.shape == (dry.size + int(1.2 * SR) + int(0.01 * SR),)
    tail = out[1:].astype(np.float64)  # the dry impulse is sample 0 alone
    # Energy ratio wet/dry as asked (the tail is the wet part once the impulse has passed).
    assert float(np.sum(tail ** 2)) == pytest.approx(0.25, rel=0.1)
    # Level falls 60 dB in T60: fit the slope of the 50 ms-frame energy between 0.1 s and 0.6 s.
    frames = np.sum(out[: int(1.1 * SR)].astype(np.float64).reshape(-1, SR // 20) ** 2, axis=1)
    t = np.arange(frames.size) * 0.05
    keep = (t >= 0.1) & (t <= 0.6)
    slope = np.polyfit(t[keep], 10 * np.log10(frames[keep]), 1)[0]  # dB per second
    assert 60.0 / -slope == pytest.approx(1.2, rel=0.15)
