"""A keyed ride (duck, keyed carve) is measured as the gain it took off, whatever the stem's level.

A far footsteps stem sits near BS.1770's -70 LUFS absolute gate; a 3 dB duck takes its blocks under it. Read as
two gated integrations, the ride came out ~50 LU and mix verification judged the bed layer 10 LU too loud
(`foley demo` on a machine without the fetched core library).
"""

from __future__ import annotations

import numpy as np
import pytest

from foleydesigner.agents.experts import load_experts
from foleydesigner.agents.mastering import layer_ride
from foleydesigner.agents.mixplan import analyse
from foleydesigner.tools.analysis import loudness_profile, ride_lu
from tests.test_mixing import SR, overlap


def _at(x: np.ndarray, lufs: float) -> np.ndarray:
    return (x * 10 ** ((lufs - loudness_profile(x, SR).integrated()) / 20)).astype(np.float32)


def test_ride_reads_the_gain_change_near_and_under_the_absolute_gate():
    x = np.random.default_rng(3).standard_normal((2, 4 * SR)).astype(np.float32)
    for level in (-20.0, -68.0):
        y = _at(x, level)
        assert ride_lu(y, y * 10 ** (-3 / 20), SR) == pytest.approx(3.0, abs=0.01)
        assert ride_lu(y, y * 10 ** (-6 / 20), SR, k_weighted=False) == pytest.approx(6.0, abs=0.01)
    assert ride_lu(np.zeros((2, SR), np.float32), np.zeros((2, SR), np.float32), SR) == 0.0


def test_duck_on_a_bed_at_the_gate_declares_at_most_its_depth():
    audio, script, clues = overlap()
    audio["bed"] = _at(audio["bed"], -68.5)  # a far bg stem, as the demo's footsteps_t5
    scene = analyse(audio, script, clues)
    out = load_experts()["dyn"].process(audio, {"bed": {"duck_db": 3.0}}, scene)
    ride = out.notes["bed"]["ride_lu"]
    assert 0.0 < ride <= 3.0 + 0.05
    # and a layer of a loud bed plus that quiet one is ridden by no more than the depth either
    assert layer_ride([1.0, 10 ** (-34 / 10)], [1.0, ride]) <= 3.0
