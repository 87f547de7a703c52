"""Span-limited generation: a stem costs its event's length, not the clip's, and long beds loop seamlessly."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from foleydesigner.generation import procedural as P
from foleydesigner.generation.backends import ProceduralGenerator, event_rng
from foleydesigner.generation.base import GenerationRequest, GenerationResult
from foleydesigner.generation.procedural import LOOP_S, LOOP_XFADE_S, MODELS, Ctx, _merge_params
from foleydesigner.generation.spatial import SpatialConfig, render_clues
from foleydesigner.schemas import EventClues, SoundEvent
from foleydesigner.tools import catalog
from foleydesigner.tools.loudness import integrated_lufs

SR = 48_000
ONSETS = [50.0, 50.55, 51.1, 51.65]


def _clues(duration_s: float, *, fps: float = 25.0, depth: tuple[float, float] = (3.0, 3.0),
           azimuth: tuple[float, float] = (0.0, 0.0), source: str = "track") -> EventClues:
    n = int(round(duration_s * fps))
    return EventClues(event_id="e", fps=fps, t_s=(np.arange(n) / fps).tolist(),
                      depth_m=np.linspace(*depth, n).tolist(), azimuth_deg=np.linspace(*azimuth, n).tolist(),
                      activation=[1] * n, source=source)


def _steps(duration_s: float) -> tuple[SoundEvent, EventClues]:
    ev = SoundEvent(id="e", label="footsteps", layer="fg", start_s=50.0, end_s=52.0, onsets_s=ONSETS)
    return ev, _clues(duration_s)


def _generate(ev: SoundEvent, clues: EventClues, duration_s: float, seed: int = 1) -> GenerationResult:
    return ProceduralGenerator().generate(GenerationRequest(event=ev, clues=clues, duration_s=duration_s, seed=seed))


def test_short_event_in_a_long_clip_renders_only_its_segment() -> None:
    ev, clues = _steps(120.0)
    res = _generate(ev, clues, 120.0)
    seg_s = res.audio.shape[1] / SR
    # 0.5 s pre-roll + 1.65 s of hits + 2.5 s ring + propagation and margin: ≈ 4.7 s of a 120 s clip.
    assert 2.0 < seg_s < 15.0 and res.offset == int((50.0 - 0.5) * SR)
    full = res.full()
    assert full.shape == (2, 120 * SR) and full.dtype == np.float32 and res.total_samples == 120 * SR
    assert not full[:, :res.offset].any() and not full[:, res.offset + res.audio.shape[1]:].any()
    # Every step lands on its onset sample (a static source dead ahead: no propagation or ear delay).
    env = np.abs(full).max(axis=0)
    for t in ONSETS:
        i = int(round(t * SR))
        first = i - SR // 100 + int(np.argmax(env[i - SR // 100: i + SR // 10] > 1e-3 * env.max()))
        assert abs(first - i) <= SR // 1000, (t, (first - i) / SR)
    # Linear in the event, not the clip: the same event in a 600 s clip is the same segment at the same offset.
    longer = _generate(ev, _clues(600.0), 600.0)
    assert longer.offset == res.offset and np.array_equal(longer.audio, res.audio)
    assert longer.total_samples == 600 * SR


def test_segment_render_is_the_eval_harness_rerender() -> None:
    from foleydesigner.eval.systems import render_event, synthesize_source

    ev, _ = _steps(60.0)
    clues = _clues(60.0, depth=(2.0, 12.0), azimuth=(-40.0, 40.0))
    res = _generate(ev, clues, 60.0, seed=4)
    src, diffuse = synthesize_source(ev, 60.0, seed=4)
    np.testing.assert_array_equal(render_event("full", ev, clues, src, diffuse), res.full())


def test_result_built_the_old_way_is_the_whole_clip() -> None:
    audio = np.ones((2, 100), np.float32)
    old = GenerationResult(audio=audio, sample_rate=SR)
    assert old.total_samples == 100 and old.full() is audio
    seg = GenerationResult(audio=audio, sample_rate=SR, offset=50, n_total=200)
    assert seg.full()[:, 50:150].all() and not seg.full()[:, :50].any() and not seg.full()[:, 150:].any()
    with pytest.raises(ValueError, match="runs past"):
        GenerationResult(audio=audio, sample_rate=SR, offset=150, n_total=200)
    with pytest.raises(ValueError, match="offset"):
        GenerationResult(audio=audio, sample_rate=SR, offset=-1)


def test_stem_file_is_full_length_and_measured_on_its_segment(tmp_path: Path) -> None:
    ev, clues = _steps(90.0)
    out = tmp_path / "stems" / "e.wav"
    info = catalog.generate_stem.invoke({"event": ev.model_dump(), "clues": clues.model_dump(), "duration_s": 90.0,
                                         "out_path": str(out), "seed": 1})
    meta = sf.info(str(out))
    assert (meta.frames, meta.channels, meta.samplerate, meta.subtype) == (90 * SR, 2, SR, "FLOAT")
    assert info["duration_s"] == 90.0 and info["generator_info"]["offset_s"] == 49.5
    assert [p.name for p in out.parent.iterdir()] == ["e.wav"]  # no temp file left behind
    written, _ = sf.read(str(out), dtype="float32", always_2d=True)
    np.testing.assert_array_equal(written.T, _generate(ev, clues, 90.0).full())
    peak = 20.0 * np.log10(np.abs(written).max())
    assert abs(info["peak_dbfs"] - peak) <= 0.005
    assert abs(info["integrated_lufs"] - integrated_lufs(written.T, SR)) <= 0.01


def _bed(duration_s: float, seed: int) -> GenerationResult:
    ev = SoundEvent(id="bed", label="room_tone", layer="bg", start_s=0.0, end_s=duration_s)
    return _generate(ev, _clues(duration_s, fps=5.0, source="scene"), duration_s, seed=seed)


def test_long_bed_loops_deterministically_without_a_step_or_a_click() -> None:
    dur = 150.0
    a = _bed(dur, 7)
    assert np.array_equal(a.audio, _bed(dur, 7).audio)  # the same seed and event: the same sound
    assert not np.array_equal(a.audio, _bed(dur, 8).audio)
    x = a.full()
    joins = [k * LOOP_S for k in (1, 2)]  # the loop repeats every LOOP_S (+ ≤ 25 ms splice search)
    # Level: 1 s blocks around each join (the 2 s crossfade and 3 s either side) within ±1 dB of the median.
    power = (x[:, : int(dur) * SR] ** 2).sum(axis=0).reshape(int(dur), SR).mean(axis=1)
    level = 10.0 * np.log10(power)
    median = float(np.median(level[5:-5]))  # away from the span's fades
    near = np.concatenate([level[int(j) - 3: int(j) + 6] for j in joins])
    assert np.max(np.abs(near - median)) < 1.0, (near - median).round(2)
    # Clicks: high-pass (first-difference) energy in 1 ms windows across the joins, against everywhere else (a
    # hard-cut loop of this bed scores 3.8; this one ≈ 1).
    hp = (np.diff(x, axis=1) ** 2).sum(axis=0)
    win = SR // 1000
    energy = hp[: hp.size // win * win].reshape(-1, win).sum(axis=1)
    in_join = np.zeros(energy.size, bool)
    for j in joins:
        in_join[int((j - 0.1) * 1000): int((j + LOOP_XFADE_S + 0.2) * 1000)] = True
    clear = slice(5000, -5000)  # away from the 1.5 s span fades
    assert energy[in_join].max() <= 1.5 * energy[clear][~in_join[clear]].max()
    # A loop, crossfaded: past the join it repeats the texture exactly; inside the join it is a blend.
    i, loop = 80 * SR, int(LOOP_S * SR)
    period = next(loop + d for d in range(int(P._SPLICE_SEARCH_S * SR) + 1)
                  if np.array_equal(x[:, i:i + 64], x[:, i - loop - d:i - loop - d + 64]))

    def corr(at: int, width_s: float) -> float:  # the output at period + at against the texture's own sample at
        w = int(width_s * SR)
        u, v = x[0, period + at - w // 2: period + at + w // 2], x[0, at - w // 2: at + w // 2]
        return float(np.dot(u, v) / np.sqrt(np.dot(u, u) * np.dot(v, v)))

    assert corr(10 * SR, 0.2) > 0.999  # the same texture
    mid = corr(int(LOOP_XFADE_S / 2 * SR), 0.05)
    assert 0.5 < mid < 0.9, mid  # equal power: cos 45° ≈ 0.71 of the incoming texture mid-join, not a cut


def test_whole_clip_event_renders_as_the_whole_clip_render() -> None:
    dur = 6.0
    clues = _clues(dur, depth=(2.0, 9.0), azimuth=(-50.0, 30.0))
    config = SpatialConfig(hard_mask=True, distance_reverb=False)
    for label in ("footsteps", "engine_idle"):
        ev = SoundEvent(id="w", label=label, layer="fg", start_s=0.0, end_s=dur)
        res = _generate(ev, clues, dur, seed=2)
        assert res.offset == 0 and res.audio.shape[1] == res.total_samples == dur * SR
        cls = ProceduralGenerator().sound_class(label)
        src = P.synthesize(cls, duration_s=dur, end_s=dur, intensity=ev.intensity, rng=event_rng(2, "w"))
        old = render_clues(src, clues, sr=SR, config=config)
        assert np.corrcoef(old.ravel(), res.audio.ravel())[0, 1] > 0.99
        np.testing.assert_allclose(res.audio, old, atol=1e-6)


def test_long_bed_memory_stays_near_one_stem(tmp_path: Path) -> None:
    dur = 300.0
    ev = SoundEvent(id="bed", label="room_tone", layer="bg", start_s=0.0, end_s=dur)
    clues = _clues(dur, fps=5.0, source="scene")
    stem_bytes = 2 * int(dur * SR) * 4  # one full-length stereo float32 stem: 115 MB
    tracemalloc.start()
    try:
        catalog.generate_stem.invoke({"event": ev.model_dump(), "clues": clues.model_dump(), "duration_s": dur,
                                      "out_path": str(tmp_path / "bed.wav"), "seed": 3})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * stem_bytes, peak / stem_bytes
    assert sf.info(str(tmp_path / "bed.wav")).frames == dur * SR


def test_every_hit_rings_within_its_declared_tail() -> None:
    """The segment ends tail_s after the last hit: no hit model may render longer (default and extreme params)."""
    for name, model in MODELS.items():
        if model.sound.kind != "impulsive":
            continue
        variants: list[dict[str, object]] = [{}]
        for key, default in model.sound.params.items():
            values = model.choices.get(key, ()) if isinstance(default, str) else model.ranges.get(key, ())
            variants += [{key: v} for v in values]
        for params in variants:
            ctx = Ctx(SR, SR, 1.0, _merge_params(model, params), np.random.default_rng(0),
                      2 if model.sound.diffuse else 1)
            hit = np.atleast_2d(model.render(ctx, 1.0))
            assert hit.shape[1] <= model.tail_s * SR, (name, params, hit.shape[1] / SR)
