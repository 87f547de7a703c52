"""The camera's per-cell flow vote (tools/camera._cell_flows): every cell's median at once, as np.median gives it."""

from __future__ import annotations

import numpy as np
import pytest

from foleydesigner.tools.camera import _cell_flows


@pytest.mark.parametrize("spread", [0.01, 1.0, 10.0])
def test_cell_medians_equal_numpys_median_per_cell_bit_for_bit(spread):
    rng = np.random.default_rng(int(spread * 100))
    for trial in range(200):
        n = int(rng.integers(0, 150))
        pts = rng.uniform(0, 200, (n, 1, 2)).astype(np.float32)
        nxt = (pts + rng.normal(0, spread, (n, 1, 2))).astype(np.float32)
        if trial % 2:
            nxt = np.round(nxt)  # ties, and flows of exactly 0
        ok, owner = rng.random(n) < 0.8, rng.integers(0, int(rng.integers(1, 30)), n)
        got = _cell_flows(pts, nxt, ok, owner)
        flow = (nxt - pts).reshape(-1, 2)
        cells = [c for c in np.unique(owner) if np.count_nonzero((owner == c) & ok) >= 3]
        assert list(got) == [int(c) for c in cells]  # cells with under 3 tracked points do not vote
        for c in cells:
            want = np.median(flow[(owner == c) & ok], axis=0)
            assert got[int(c)].dtype == want.dtype and got[int(c)].tobytes() == want.tobytes()


def test_a_nan_flow_makes_its_cell_nan_as_numpy_does():
    pts = np.zeros((4, 1, 2), np.float32)
    nxt = np.array([[[1, 1]], [[2, 2]], [[np.nan, 3]], [[4, 4]]], np.float32)
    got = _cell_flows(pts, nxt, np.ones(4, bool), np.zeros(4, int))
    assert np.isnan(got[0][0]) and got[0][1] == 2.5
