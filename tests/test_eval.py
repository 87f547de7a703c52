"""Benchmark harness pieces on signals with known answers, plus one tiny end-to-end `foley eval`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from foleydesigner.eval.harness import (
    ClipSpec,
    Truth,
    audio_activation,
    detect_onsets,
    hit_activity,
    offscreen_dog,
    peak_normalised,
    run_benchmark,
    score_stem,
)
from foleydesigner.eval.metrics import activation_iou
from foleydesigner.eval.systems import (
    COARSE_AZIMUTH_DEG,
    FIXED_DEPTH_M,
    SYSTEMS,
    baseline_clues,
    coarse_azimuth_deg,
    render_event,
    synthesize_source,
)
from foleydesigner.schemas import EventClues, SoundEvent

SR = 48_000
FPS = 25.0


def _burst(n_s: float, spans: list[tuple[float, float]], seed: int = 0) -> np.ndarray:
    """Stereo white noise gated on the given spans (s), silent elsewhere."""
    x = np.zeros((2, int(n_s * SR)), np.float32)
    rng = np.random.default_rng(seed)
    for a, b in spans:
        x[:, int(a * SR):int(b * SR)] = rng.standard_normal(int(b * SR) - int(a * SR)).astype(np.float32)
    return x


def _clicks(times: list[float], n_s: float, delay_s: float = 0.0) -> np.ndarray:
    """Decaying noise hits (8 ms time constant) starting at the given times."""
    x = np.zeros(int(n_s * SR), np.float32)
    rng = np.random.default_rng(1)
    hit = (rng.standard_normal(int(0.08 * SR)) * np.exp(-np.arange(int(0.08 * SR)) / (0.008 * SR))).astype(np.float32)
    for t in times:
        i = int(round((t + delay_s) * SR))
        x[i:i + hit.size] += hit[: x.size - i]
    return np.stack([x, x])


@pytest.mark.parametrize(("text", "az"), [
    ("A DOG BARKS off to the left.", -COARSE_AZIMUTH_DEG),
    ("a door slams to the right", COARSE_AZIMUTH_DEG),
    ("person 0 walks (track 0: person, walking, 0.00-3.96 s, left->right)", 0.0),  # a move between sides: centre
    ("ball 0 bounces (track 0: ball, bouncing, left->centre)", -COARSE_AZIMUTH_DEG),
    ("engine idles", 0.0),
    ("LEFT and left again, then right", -COARSE_AZIMUTH_DEG),
])
def test_coarse_text_placement_words(text: str, az: float) -> None:
    assert coarse_azimuth_deg(text) == az


def test_gated_noise_burst_gives_known_iou() -> None:
    # 1.0–2.0 s of noise on a 25 fps grid: frames 25..49 sound. Truth 0.8–2.4 s: frames 20..59. IoU = 25/40.
    x = _burst(4.0, [(1.0, 2.0)])
    act = audio_activation(x, SR, FPS, 100)
    assert np.flatnonzero(act).tolist() == list(range(25, 50))
    truth = np.zeros(100, bool)
    truth[20:60] = True
    assert activation_iou(act, truth) == pytest.approx(25 / 40)


def test_activation_bridges_gaps_between_hits_only_when_asked() -> None:
    x = _burst(4.0, [(1.0, 1.2), (1.6, 1.8)])  # a 0.4 s (10-frame) gap
    assert np.count_nonzero(audio_activation(x, SR, FPS, 100)) == 10
    bridged = audio_activation(x, SR, FPS, 100, bridge_s=0.5)
    assert np.flatnonzero(bridged).tolist() == list(range(25, 45))
    quiet = _burst(4.0, [(1.0, 2.0)]) * 1e-3  # relative to the stem's own peak: level does not matter
    assert np.count_nonzero(audio_activation(quiet, SR, FPS, 100)) == 25


def test_hit_activity_spans_first_onset_to_last_plus_ring() -> None:
    act = hit_activity([1.0, 1.5, 2.0], 100, FPS, ring_s=0.2)
    assert np.flatnonzero(act).tolist() == list(range(25, 55))  # 2.16 s is in, 2.20 s is out
    assert not hit_activity([], 10, FPS).any()


def test_detect_onsets_one_per_hit() -> None:
    times = [0.3, 0.9, 1.45, 2.0]
    x = _clicks(times, 3.0) + 0.3 * _clicks([t + 0.1 for t in times], 3.0)  # a softer "toe" 0.1 s after each
    got = detect_onsets(x, SR)
    assert got.size == len(times)
    assert np.max(np.abs(got - times)) <= 0.011  # one 10 ms hop


def test_score_stem_av_offset_does_not_alias_on_periodic_hits() -> None:
    onsets = [0.2 + 0.48 * k for k in range(7)]  # footfalls every 0.48 s (12 frames)
    n = 100
    truth = Truth("walker", FPS, np.zeros(n), np.full(n, 5.0), np.ones(n, bool), hit_activity(onsets, n, FPS), onsets)
    in_sync, late = (score_stem(peak_normalised(_clicks(onsets, 4.0, delay_s=d) * 0.01), truth, SR) for d in (0.0, 0.06))
    assert abs(in_sync["av_offset_ms"]) < 12.0  # one 10 ms envelope hop
    assert late["av_offset_ms"] - in_sync["av_offset_ms"] == pytest.approx(60.0, abs=6.0)  # not 60 − 480
    assert in_sync["onset_f1"] == 1.0 and late["onset_f1"] == 0.0  # 60 ms is outside ±1 frame (40 ms)
    assert in_sync["azimuth_err_deg"] < 1.0  # a centred render of a centred truth


def test_a_missed_hit_shows_in_the_activation() -> None:
    onsets = [0.5 + 0.5 * k for k in range(6)]
    n = 100
    truth = Truth("ball", FPS, np.zeros(n), np.full(n, 5.0), np.ones(n, bool), hit_activity(onsets, n, FPS), onsets)
    every = score_stem(_clicks(onsets, 4.0), truth, SR)["activation_iou"]
    missed = score_stem(_clicks([t for t in onsets if t != 1.5], 4.0), truth, SR)["activation_iou"]
    assert every > 0.9  # the train of hits reads as one activity
    assert missed < every - 0.15  # the gap where a hit is missing stays open


def _tracked_event() -> tuple[SoundEvent, EventClues]:
    ev = SoundEvent(id="footsteps_t0", label="footsteps", description="person 0 walks (left->right)", layer="fg",
                    start_s=0.2, end_s=1.8, onsets_s=[0.3, 0.8, 1.3], source_track=0, params={"surface": "wood"})
    t = np.arange(50) / FPS
    act = ((t > 0.1) & (t < 1.9)).astype(int).tolist()
    clues = EventClues(event_id=ev.id, fps=FPS, t_s=t.round(4).tolist(), depth_m=[8.0] * 50,
                       azimuth_deg=np.linspace(-20, 20, 50).round(3).tolist(), activation=act, source="track")
    return ev, clues


def test_baseline_clues_are_static_and_span_the_event() -> None:
    ev, clues = _tracked_event()
    no = baseline_clues("no_stc", ev, clues)
    assert set(no.azimuth_deg) == {0.0} and set(no.depth_m) == {FIXED_DEPTH_M}
    t = np.asarray(no.t_s)
    assert np.asarray(no.activation).tolist() == (((t + 0.02) > 0.2) & ((t - 0.02) <= 1.8)).astype(int).tolist()
    assert set(baseline_clues("coarse_text", ev, clues).azimuth_deg) == {0.0}  # left->right: centre
    assert baseline_clues("full", ev, clues) is clues
    with pytest.raises(ValueError, match="system must be one of"):
        baseline_clues("oracle", ev, clues)


def test_resynthesised_source_is_the_generators() -> None:
    from foleydesigner.generation.backends import ProceduralGenerator
    from foleydesigner.generation.base import GenerationRequest

    ev, clues = _tracked_event()
    stem = ProceduralGenerator().generate(GenerationRequest(event=ev, clues=clues, duration_s=2.0, seed=3)).full()
    src, diffuse = synthesize_source(ev, 2.0, seed=3)
    assert not diffuse
    np.testing.assert_allclose(render_event("full", ev, clues, src, diffuse), stem, atol=1e-6)
    left = render_event("no_stc", ev, clues, src, diffuse)
    assert left.shape == stem.shape and not np.allclose(left, stem)


def test_tiny_eval_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # the stand-in library's index stays here
    specs = [ClipSpec("single_mover", 0, 2.0), offscreen_dog(0, "left", 2.0)]
    report = run_benchmark(tmp_path, specs=specs, command="pytest")
    saved = json.loads((tmp_path / "report.json").read_text())
    assert set(saved) >= {"systems", "clips", "command", "versions", "checks"}
    assert set(saved["systems"]) == {*SYSTEMS, "library"}
    for name, s in saved["systems"].items():
        assert set(s) >= {"azimuth_err_deg", "gcc_mse", "fsad", "activation_iou", "onset_f1", "av_offset_ms"}
        assert name == "library" or set(s) >= {"lufs_err_lu", "true_peak_dbtp"}  # the library system is not mixed
        assert s["n_stems"] == 2
    # the library system: the same clues, sources cut from the stand-in library's recordings, placed as well
    assert report["systems"]["library"]["azimuth_err_deg"] < 3.0
    assert report["checks"]["library_places_like_full"]
    assert "dog_bark_1" in saved["clips"][1]["systems"]["library"]["from_recordings"]
    full, no_stc, coarse = (report["systems"][k] for k in SYSTEMS)
    assert full["azimuth_err_deg"] < 3.0 < no_stc["azimuth_err_deg"]
    assert full["gcc_mse"] < min(no_stc["gcc_mse"], coarse["gcc_mse"])
    assert full["activation_iou"] >= 0.8
    assert abs(full["lufs_err_lu"]) <= 1.0
    dog = saved["clips"][1]["systems"]
    assert dog["full"]["stems"]["dog_bark_1"]["azimuth_err_deg"] < 5.0  # placed at −70° as the screenplay says
    assert dog["coarse_text"]["stems"]["dog_bark_1"]["azimuth_err_deg"] == pytest.approx(40.0, abs=5.0)
    assert saved["clips"][0]["source_check_rel_err"] < 1e-3
    assert (tmp_path / "report.md").read_text().startswith("# FoleyDesigner benchmark")
    assert (tmp_path / "plots" / "single_mover_0.png").stat().st_size > 1000
