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
