"""Procedural Foley library: every class renders valid, plausible and distinct audio, and the API contract holds.

All assertions are on measured audio: levels, spectral centroids, onset times, correlations, silence.
"""

from __future__ import annotations

import itertools
import math
import re

import numpy as np
import pytest
import soundfile as sf
from scipy import signal

from foleydesigner.generation import procedural as P

SR = 48_000
NAMES = sorted(P.CLASSES)
IMPULSIVE = [n for n in NAMES if P.CLASSES[n].kind == "impulsive"]
CONTINUOUS = [n for n in NAMES if P.CLASSES[n].kind == "continuous"]
#: Onsets far enough apart that every tail (bell, thunder) has died before the next hit.
ONSETS = (0.5, 15.5)
HIT_CLIP_S = 30.0


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def rms_db(x: np.ndarray) -> float:
    return 10.0 * math.log10(float(np.mean(np.square(x, dtype=np.float64))) + 1e-30)


def centroid_hz(x: np.ndarray, sr: int = SR) -> float:
    """Magnitude-weighted spectral centroid of the long-term (Welch) spectrum of the channel mix."""
    f, pxx = signal.welch(x.mean(axis=0).astype(np.float64), sr, nperseg=4096)
    mag = np.sqrt(pxx)
    return float((f * mag).sum() / mag.sum())


_EDGES = 31.5 * 2.0 ** (np.arange(28) / 3.0)  # third-octave band edges, 31.5 Hz … 16 kHz


def profile(x: np.ndarray) -> np.ndarray:
    """Level-independent timbre/texture fingerprint: third-octave long-term spectrum (dB re its maximum,
    floored at −60), the spread of frame energy in dB (steady bed vs. sparse hits) and the mean spectral
    flatness in dB (noise vs. tone)."""
    f, _, z = signal.stft(x.mean(axis=0).astype(np.float64), SR, nperseg=4096, noverlap=2048)
    power = np.abs(z) ** 2
    bands = np.stack([power[(f >= lo) & (f < hi)].sum(axis=0) for lo, hi in zip(_EDGES[:-1], _EDGES[1:], strict=True)])
    frames = bands.sum(axis=0)
    active = frames > frames.max() * 1e-4
    spec = 10.0 * np.log10(bands[:, active].mean(axis=1) + 1e-20)
    spec = np.maximum(spec - spec.max(), -60.0)
    band = (f > 100.0) & (f < 10_000.0)
    p = power[band][:, active] + 1e-20
    flatness = 10.0 * np.log10(np.exp(np.mean(np.log(p), axis=0)) / np.mean(p, axis=0))
    return np.append(spec, [np.std(10.0 * np.log10(frames[active] + 1e-20)), float(np.mean(flatness))])


@pytest.fixture(scope="module")
def examples() -> dict[str, np.ndarray]:
    """3 s of every class with default parameters (natural pattern for impulsive classes)."""
    return {n: P.synthesize(n, duration_s=3.0, rng=rng(7)) for n in NAMES}


@pytest.fixture(scope="module")
def two_hits() -> dict[str, np.ndarray]:
    """Every impulsive class struck at ONSETS in a 30 s clip."""
    return {n: P.synthesize(n, duration_s=HIT_CLIP_S, onsets_s=ONSETS, rng=rng(11)) for n in IMPULSIVE}


# ---- registry ----------------------------------------------------------------------------------------------

def test_registry_has_at_least_40_well_formed_classes() -> None:
    assert len(P.CLASSES) >= 40
    assert [c.name for c in P.list_classes()] == list(P.CLASSES)
    for name, c in P.CLASSES.items():
        assert c.name == name and re.fullmatch(r"[a-z]+(_[a-z]+)*", name)
        assert c.kind in ("impulsive", "continuous") and c.default_layer in ("fg", "bg")
        assert 0 < c.centroid_hz[0] < c.centroid_hz[1] < SR / 2
        assert c.description and all(s == s.lower() for s in c.synonyms)
    assert {"footsteps", "door_slam", "rain_light", "engine_idle", "room_tone", "bell", "dog_bark"} <= set(P.CLASSES)


@pytest.mark.parametrize("name", NAMES)
def test_parameter_defaults_are_within_their_declared_options(name: str) -> None:
    options = P.param_options(name)
    assert set(options) == set(P.CLASSES[name].params)
    for key, default in P.CLASSES[name].params.items():
        allowed = options[key]
        if isinstance(default, str):
            assert default in allowed
        else:
            assert allowed[0] <= default <= allowed[1]  # type: ignore[operator]


# ---- every class: valid, audible, plausible, distinct -------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_render_is_valid_audible_and_unclipped(name: str, examples: dict[str, np.ndarray]) -> None:
    x = examples[name]
    assert x.dtype == np.float32
    assert x.shape == (2 if P.CLASSES[name].diffuse else 1, 3 * SR)
    assert np.all(np.isfinite(x))
    assert float(np.abs(x).max()) <= 0.99
    assert rms_db(x) > -60.0, f"{name} is (nearly) silent"


@pytest.mark.parametrize("name", NAMES)
def test_spectral_centroid_is_in_declared_range(name: str, examples: dict[str, np.ndarray]) -> None:
    lo, hi = P.CLASSES[name].centroid_hz
    c = centroid_hz(examples[name])
    assert lo <= c <= hi, f"{name}: centroid {c:.0f} Hz outside {lo}–{hi} Hz"


def test_centroid_ranges_order_physically() -> None:
    # Low rumbles sit below bright clicks and rings, whatever the exact ranges.
    lows = ("room_tone", "engine_idle", "heartbeat", "thunder")
    highs = ("glass_shatter", "keyboard_typing", "coins", "crickets")
    assert max(P.CLASSES[n].centroid_hz[1] for n in lows) <= min(P.CLASSES[n].centroid_hz[0] for n in highs)


def test_every_pair_of_classes_is_measurably_distinct(examples: dict[str, np.ndarray]) -> None:
    profiles = {n: profile(x) for n, x in examples.items()}
    close = []
    for a, b in itertools.combinations(NAMES, 2):
        d = float(np.sqrt(np.mean((profiles[a] - profiles[b]) ** 2)))
        if d < 2.5:
            close.append((a, b, round(d, 2)))
    assert not close, f"indistinct class pairs (RMS dB distance < 2.5): {close}"


@pytest.mark.parametrize("name", NAMES)
def test_every_parameter_choice_renders(name: str) -> None:
    for key, values in P.param_options(name).items():
        if not isinstance(P.CLASSES[name].params[key], str):
            continue
        renders = []
        for value in values:
            x = P.synthesize(name, duration_s=1.5, params={key: value}, rng=rng(3))
            assert np.all(np.isfinite(x)) and float(np.abs(x).max()) <= 0.99
            assert rms_db(x) > -70.0, f"{name} {key}={value} is silent"
            renders.append(profile(x))
        for (va, pa), (vb, pb) in itertools.combinations(zip(values, renders, strict=True), 2):
            assert np.sqrt(np.mean((pa - pb) ** 2)) > 0.5, f"{name}: {key}={va} sounds like {key}={vb}"


@pytest.mark.parametrize("name", NAMES)
def test_other_sample_rates(name: str) -> None:
    x = P.synthesize(name, duration_s=0.75, sr=16_000, rng=rng(1))
    assert x.shape[1] == 12_000 and np.all(np.isfinite(x)) and float(np.abs(x).max()) <= 0.99


# ---- impulsive classes -------------------------------------------------------------------------------------

def _detected_onset(x: np.ndarray, t: float) -> float:
    """First sample after t−20 ms whose level exceeds 5 % of the hit's peak (the hit's start)."""
    env = np.abs(x).max(axis=0)
    i0 = int(round(t * SR))
    hit_peak = float(env[i0: i0 + SR].max())
    start = i0 - int(0.02 * SR)
    above = np.flatnonzero(env[start: i0 + SR] > 0.05 * hit_peak)
    return (start + int(above[0])) / SR


@pytest.mark.parametrize("name", IMPULSIVE)
def test_hits_start_at_the_requested_onsets(name: str, two_hits: dict[str, np.ndarray]) -> None:
    x = two_hits[name]
    i0 = int(round(ONSETS[0] * SR))
    assert float(np.abs(x[:, : i0 - int(0.0005 * SR)]).max()) == 0.0, "sound before the first onset"
    for t in ONSETS:
        assert abs(_detected_onset(x, t) - t) <= 0.002, f"{name}: hit at {_detected_onset(x, t):.4f}, asked {t}"


@pytest.mark.parametrize("name", IMPULSIVE)
def test_two_hits_are_never_identical(name: str, two_hits: dict[str, np.ndarray]) -> None:
    x = two_hits[name].mean(axis=0)
    a, b = (x[int(t * SR): int(t * SR) + int(0.4 * SR)] for t in ONSETS)
    corr = float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-20))
    assert corr < 0.99, f"{name}: two hits correlate at {corr:.4f}"


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_is_bit_identical_and_seeds_differ(name: str) -> None:
    kwargs = {"duration_s": 1.0, "onsets_s": (0.1, 0.6)} if name in IMPULSIVE else {"duration_s": 1.0}
    a = P.synthesize(name, rng=rng(5), **kwargs)
    b = P.synthesize(name, rng=rng(5), **kwargs)
    c = P.synthesize(name, rng=rng(6), **kwargs)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_default_patterns_follow_the_physics() -> None:
    # Footsteps at the gait rate: heel onsets in 10 s ≈ 10·rate_hz (± one step).
    x = P.synthesize("footsteps", duration_s=10.0, params={"rate_hz": 2.0}, intensity=0.8, rng=rng(2))[0]
    frames = np.abs(x[: 10 * SR].reshape(-1, 480)).max(axis=1)  # 10 ms frames
    strong = frames > 0.3 * frames.max()
    onsets = np.flatnonzero(strong[1:] & ~strong[:-1])
    heel_onsets = onsets[np.insert(np.diff(onsets) > 25, 0, True)]  # merge the toe (≤ 250 ms later)
    assert abs(heel_onsets.size - 20) <= 2
    # Without onsets the pattern fills [start_s, end_s): nothing before start_s, no new step after end_s.
    w = P.synthesize("footsteps", duration_s=6.0, start_s=1.0, end_s=3.0, rng=rng(2))[0]
    assert float(np.abs(w[: SR - 24]).max()) == 0.0 and float(np.abs(w[SR: 3 * SR]).max()) > 0.1
    # After the last step's ring only the room air remains (realism.AIR_DB under the peak), and it fades out.
    assert float(np.abs(w[int(3.6 * SR):]).max()) < 1e-3 * float(np.abs(w).max())
    assert float(np.abs(w[-SR // 100:]).max()) == 0.0
    # A door slam is one hit at start_s, nothing before it.
    y = P.synthesize("door_slam", duration_s=2.0, start_s=0.7, rng=rng(2))[0]
    assert float(np.abs(y[: int(0.7 * SR) - 24]).max()) == 0.0 and float(np.abs(y[int(0.7 * SR):]).max()) > 0.1
    # A dropped ball bounces faster and faster (restitution e < 1 shortens each flight). A bounce is where the
    # level jumps 4× within 10 ms: the hall's tail of the bounce before decays smoothly under it.
    z = P.synthesize("ball_bounce", duration_s=4.0, rng=rng(2))[0]
    env = np.abs(z).reshape(-1, 48).max(axis=1)  # 1 ms frames
    hits = 10 + np.flatnonzero((env[10:] > 4.0 * env[:-10]) & (env[10:] > 0.3 * env.max()))
    gaps = np.diff(hits[np.insert(np.diff(hits) > 8, 0, True)])
    assert gaps.size >= 3 and np.all(np.diff(gaps[:4]) < 0)


def _period_s(x: np.ndarray, lo: float, hi: float) -> float:
    """Strongest autocorrelation lag in [lo, hi] seconds (the pulse period of a source–filter sound)."""
    x = x - x.mean()
    ac = signal.fftconvolve(x, x[::-1], mode="full")[x.size - 1:]
    a, b = int(lo * SR), int(hi * SR)
    return (a + int(np.argmax(ac[a:b]))) / SR


@pytest.mark.parametrize(("rpm", "cylinders"), [(800, 4), (1200, 4), (900, 6)])
def test_engine_fires_at_rpm_over_60_times_half_the_cylinders(rpm: int, cylinders: int) -> None:
    x = P.synthesize("engine_idle", duration_s=3.0, params={"rpm": rpm, "cylinders": cylinders}, rng=rng(0))[0]
    period = 1.0 / (rpm / 60.0 * cylinders / 2.0)
    assert _period_s(x, 0.6 * period, 1.5 * period) == pytest.approx(period, rel=0.02)


def test_passby_pitch_drops_by_the_doppler_ratio() -> None:
    v = 90.0 / 3.6
    x = P.synthesize("engine_passby", duration_s=6.0, params={"speed_kmh": 90.0}, rng=rng(0))[0]
    period = 1.0 / (3000.0 / 60.0 * 2.0)
    approach = _period_s(x[int(0.5 * SR): int(2.0 * SR)], 0.6 * period, 1.5 * period)
    recede = _period_s(x[int(4.0 * SR): int(5.5 * SR)], 0.6 * period, 1.5 * period)
    # Source moving at v: f_approach / f_recede → (c + v)/(c − v) far from the closest point (≈ 1.16 here);
    # the engine's own rpm wander (±1–2 %) rides on top.
    assert 1.08 < recede / approach < (343.0 + v) / (343.0 - v) + 0.06


def test_bell_has_its_tuned_partials() -> None:
    x = P.synthesize("bell", duration_s=4.0, onsets_s=(0.0,), params={"pitch_hz": 400.0}, rng=rng(0))[0]
    f, pxx = signal.welch(x.astype(np.float64), SR, nperseg=16384)
    for ratio in (0.5, 1.0, 1.2, 1.5, 2.0):  # hum, prime, minor-third tierce, quint, nominal
        peak = pxx[(f > 400 * ratio * 0.97) & (f < 400 * ratio * 1.03)].max()
        beside = np.median(pxx[(f > 400 * ratio * 1.08) & (f < 400 * ratio * 1.15)])
        assert 10 * np.log10(peak / beside) > 20.0, f"no partial at {ratio}× the strike note"


def test_distant_thunder_is_darker() -> None:
    cents = [centroid_hz(P.synthesize("thunder", duration_s=8.0, onsets_s=(0.0,), params={"distance_km": d},
                                      rng=rng(0))) for d in (0.5, 3.0, 15.0)]
    assert cents[0] > cents[1] > cents[2]


@pytest.mark.parametrize("temp_c", [15.0, 30.0])
def test_crickets_chirp_at_dolbears_rate(temp_c: float) -> None:
    x = P.synthesize("crickets", duration_s=20.0, params={"temperature_c": temp_c, "count": 1.0}, rng=rng(0))
    env = np.abs(x).max(axis=0).reshape(-1, 480).max(axis=1)  # 10 ms frames
    on = env > 0.2 * env.max()
    starts = np.flatnonzero(on[1:] & ~on[:-1])
    chirps = starts[np.insert(np.diff(starts) > 15, 0, True)]
    interval = float(np.median(np.diff(chirps))) * 0.01
    assert interval == pytest.approx(60.0 / (7.0 * temp_c - 30.0), rel=0.1)


@pytest.mark.parametrize("name", [n for n in NAMES if P.CLASSES[n].diffuse])
def test_diffuse_classes_are_decorrelated_stereo(name: str, examples: dict[str, np.ndarray]) -> None:
    left, right = examples[name].astype(np.float64)
    assert abs(float(np.corrcoef(left, right)[0, 1])) < 0.9, "dual-mono, not a diffuse bed"


# ---- continuous classes ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", CONTINUOUS)
def test_continuous_is_silent_outside_span_with_smooth_fades(name: str) -> None:
    start, end = 0.8, 2.6
    x = P.synthesize(name, duration_s=3.2, start_s=start, end_s=end, rng=rng(4))
    s, e = int(start * SR), int(end * SR)
    floor = 10.0 ** (-60.0 / 20.0)
    assert float(np.abs(x[:, :s]).max()) <= floor and float(np.abs(x[:, e:]).max()) <= floor
    span = x[:, s:e]
    peak = float(np.abs(span).max())
    assert rms_db(span) > -60.0
    edge = int(0.002 * SR)  # fades ≥ 20 ms: the first/last 2 ms stay near silence
    assert float(np.abs(span[:, :edge]).max()) <= 0.1 * peak
    assert float(np.abs(span[:, -edge:]).max()) <= 0.1 * peak


# ---- intensity ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_intensity_raises_level_monotonically(name: str) -> None:
    levels = [rms_db(P.synthesize(name, duration_s=1.5, intensity=i, rng=rng(9))) for i in (0.2, 0.5, 0.9)]
    assert levels[0] < levels[1] < levels[2], f"{name}: {levels}"


def test_harder_hits_are_brighter() -> None:
    soft, hard = (P.synthesize("impact_metal", duration_s=2.0, onsets_s=(0.1,), intensity=i, rng=rng(1))
                  for i in (0.2, 1.0))
    assert centroid_hz(hard) > centroid_hz(soft) * 1.1


# ---- naming and validation ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("label", "expected"), [
    ("footfalls", "footsteps"), ("Foot steps", "footsteps"), ("FOOTSTEPS", "footsteps"),
    ("door slams", "door_slam"), ("door_slam", "door_slam"), ("Door-Knocks", "door_knock"),
    ("footsteps on gravel", "footsteps"), ("a dog barking", "dog_bark"), ("glasses clink", "glass_clink"),
])
def test_resolve_class_handles_synonyms_and_plurals(label: str, expected: str) -> None:
    assert P.resolve_class(label) == expected


def test_resolve_class_rain_and_unknown() -> None:
    assert (P.resolve_class("rain") or "").startswith("rain")
    assert P.resolve_class("heavy rain") == "rain_heavy"
    assert P.resolve_class("quantum flux capacitor") is None


@pytest.mark.parametrize(("kwargs", "word"), [
    ({"name": "fotsteps"}, "footsteps"),  # unknown class: close matches are listed
    ({"duration_s": 0.0}, "duration_s"),
    ({"duration_s": -1.0}, "duration_s"),
    ({"intensity": 1.5}, "intensity"),
    ({"params": {"surface": "lava"}}, "surface"),
    ({"params": {"colour": "red"}}, "params"),
    ({"params": {"rate_hz": 50.0}}, "rate_hz"),
    ({"onsets_s": (5.0,)}, "onsets_s"),
    ({"start_s": 1.0, "end_s": 0.5}, "end_s"),
])
def test_bad_arguments_raise_value_error_naming_them(kwargs: dict[str, object], word: str) -> None:
    args: dict[str, object] = {"name": "footsteps", "duration_s": 2.0, "rng": rng()} | kwargs
    name = args.pop("name")
    with pytest.raises(ValueError, match=word):
        P.synthesize(name, **args)  # type: ignore[arg-type]


# ---- examples on disk --------------------------------------------------------------------------------------

def test_render_examples_writes_one_48k_24bit_wav_per_class(tmp_path) -> None:
    paths = P.render_examples(tmp_path, seconds=0.5, seed=1)
    assert sorted(p.stem for p in paths) == NAMES
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{n}.wav" for n in NAMES)
    for path in paths:
        info = sf.info(path)
        assert (info.samplerate, info.subtype, info.frames) == (48_000, "PCM_24", 24_000)
        assert info.channels == (2 if P.CLASSES[path.stem].diffuse else 1)
        data, _ = sf.read(path, dtype="float32", always_2d=True)
        assert np.abs(data).max() > 0.0
