"""Immersive delivery (`--deliver foa,7.1.4,binaural`): every format rendered from the same events and
trajectories, mixed by the same plan, mastered to the same loudness target.

What is rendered. The mixer's processed stems (after the plan's EQ, dynamics, ducking and fader; before the
master) and its reverb returns, kept in the scratch folder when an immersive format is asked for:
 - each placed event (upmix bus front/rear) becomes a mono *object* along its clue trajectory. The stereo
   stem is "de-panned": both ears are re-aligned by the renderer's per-ear delays at the clue azimuth and summed
   with the renderer's own pan gains, o = √2·(gL·L + gR·R)/(gL² + gR²), which gives back the source without
   the comb filter a plain (L+R)/2 of two delayed copies has. The √2 keeps the stereo stem's power (a centred
   source is L = R = x, power 2x²; o² = 2x²), so the fg/bg balance of the plan holds in every format;
 - beds (bus ambience) are diffuse: each side's signal feeds four directions on its side (±45° and ±135°,
   on the ear plane and at 30° up), each through its own decorrelation filter and at −6 dB
   (power kept); a bed keeps its left/right balance (traffic on the left stays left);
 - reverb returns are a room's diffuse field, which arrives from everywhere: the sum of both channels feeds all
   eight directions (−9 dB each, decorrelated, opposite directions alike: see _decorrelators). Kept on their sides, the reverb of a source on the right
   would pull every decoded direction to the right (measured: +14° on a far pass-by, whose DRR is ~0 dB);
 - the distance (1/d level, air absorption, Doppler) is already in the stem: the formats only place direction.
Elevation comes from the clues (vertical position on screen through the field of view) or is 0.

Formats: FOA AmbiX (tools/ambisonics.py), 7.1.4 by VBIP (tools/vbap.py), binaural through HRTFs
(tools/hrtf.py). Loudness per format is BS.1770 with its channel weights: 7.1.4 by Table 4's weights; FOA on
W alone, the omnidirectional pressure, which equals the stereo mix's summed power for the same content (objects
o² = 2x², beds Σ = L² + R²), so FOA lands on the same target without choosing a decoder; binaural as stereo.
"""

from __future__ import annotations

import csv
import io
import logging
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from foleydesigner.context import RunContext
from foleydesigner.schemas import EventClues, SoundEvent
from foleydesigner.tools import ambisonics, vbap
from foleydesigner.tools.export import WavWriter, atomic_write_json, atomic_write_text
from foleydesigner.tools.processing import master_source
from foleydesigner.tools.streams import PREROLL_S, SpillFile, WavAudio, aligned, spans
from foleydesigner.tools.upmix import downmix_bs775, lfe_from, route_bus
from foleydesigner.units import SAMPLE_RATE

log = logging.getLogger(__name__)
IMMERSIVE = ("foa", "7.1.4", "binaural")
FORMATS = ("stereo", "5.1", *IMMERSIVE)
FILES = {"foa": "mix_foa.wav", "7.1.4": "mix_7_1_4.wav", "binaural": "mix_binaural.wav"}
CHANNELS = {"foa": 4, "7.1.4": 12, "binaural": 2}
_HOP = 32  # control period of moving gains (0.67 ms), interpolated per sample
_READ_AHEAD = 64  # de-panning reads the late ear up to 0.7 ms ahead
#: Diffuse directions per side (azimuth on the right, elevation).
#: Front and back mirror each other, so a bed has no net front/back intensity (nothing is below the horizon
#: in 7.1.4, so it keeps an upward one, which no azimuth reads).
_DIFFUSE = ((45.0, 0.0), (135.0, 0.0), (45.0, 30.0), (135.0, 30.0))
_DECORRELATOR_S = 0.02  # decorrelation filters: 20 ms all-pass


def parse_deliver(text: str) -> tuple[str, ...]:
    """'stereo,5.1,foa' → the formats, in FORMATS order; stereo and 5.1 are always made (the mux carries them)."""
    asked = [p.strip().lower() for p in text.split(",") if p.strip()]
    bad = [p for p in asked if p not in FORMATS]
    if bad:
        from foleydesigner.errors import InputError

        raise InputError(f"--deliver {text}: unknown format {', '.join(bad)}; choose from {', '.join(FORMATS)}")
    return tuple(f for f in FORMATS if f in ("stereo", "5.1") or f in asked)


# --- trajectories and objects -----------------------------------------------------------------------------

def trajectory(clues: EventClues, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(azimuth °, elevation °) of an event at times t (s), held outside the clue frames; azimuth unwrapped."""
    t_f = np.asarray(clues.t_s, np.float64)
    az = np.interp(t, t_f, np.unwrap(np.asarray(clues.azimuth_deg, np.float64), period=360.0))
    el = np.interp(t, t_f, np.asarray(clues.elevation_deg, np.float64)) if clues.elevation_deg else np.zeros_like(t)
    return az, el


def depan(stereo: np.ndarray, az: np.ndarray, *, binaural: bool = False) -> np.ndarray:
    """The mono object of a stereo stem rendered at per-sample azimuth `az` (n,): stereo has n + _READ_AHEAD
    samples. See the module doc; `binaural` stems were rendered without a level pan (gL = gR)."""
    from foleydesigner.generation.spatial import stereo_ear_model

    n = az.size
    g_l, g_r, d_l, d_r = stereo_ear_model(az, binaural=binaural)
    t = np.arange(n, dtype=np.float64)
    m = stereo.shape[1]
    base = np.floor(-0.0875 / 343.0 * SAMPLE_RATE)  # the lit ear's earliest delay, whole samples: reads stay ≥ t
    left = np.interp(t + d_l * SAMPLE_RATE - base, np.arange(m), stereo[0], right=0.0)
    right = np.interp(t + d_r * SAMPLE_RATE - base, np.arange(m), stereo[1], right=0.0)
    return (np.sqrt(2.0) * (g_l * left + g_r * right) / (g_l * g_l + g_r * g_r)).astype(np.float32)


def _stereo(x: np.ndarray) -> np.ndarray:
    """A mono spill (an expert plugin's mono return) as two equal channels; stereo as it is."""
    return x if x.shape[0] == 2 else np.repeat(x[:1], 2, axis=0)


def _per_sample(ctrl: np.ndarray, n: int) -> np.ndarray:
    return np.interp(np.arange(n), np.arange(ctrl.shape[-1]) * _HOP, ctrl).astype(np.float32)


@lru_cache(maxsize=4)
def _decorrelators(sr: int) -> np.ndarray:
    """(8, taps) all-pass FIRs of random phase (flat magnitude: every direction gets the same spectrum): four for
    the directions of a side of a bed, four for a room. A bed's left and right sides use the same filters
    mirrored, so whatever they leave correlated between two directions is left/right symmetric and cancels in
    the intensity and energy vectors (independent random filters per direction put a wind bed at −80°: its low
    end has too few frequency bins to decorrelate). A room (a reverb return, correlated with the sources it
    comes from) gives a direction and its opposite the same signal: its horizontal intensity is then exactly
    zero, and it cannot pull a source's decoded direction however wet the mix is."""
    taps = int(_DECORRELATOR_S * sr)
    rng = np.random.default_rng(2051)  # fixed: the same field for every run
    phase = rng.uniform(-np.pi, np.pi, (8, taps // 2 + 1))
    phase[:, 0] = 0.0
    phase[:, -1] = 0.0
    return np.fft.irfft(np.exp(1j * phase), taps, axis=1).astype(np.float32)


def _diffuse(bed: np.ndarray, sr: int, *, room: bool = False) -> list[tuple[float, float, np.ndarray]]:
    """(azimuth, elevation, signal) of the decorrelated directions a stereo bed (or, `room`, a reverb return)
    feeds (module doc)."""
    from scipy.signal import oaconvolve

    h, n = _decorrelators(sr), bed.shape[1]
    out = []
    for side, near in ((-1, 0), (1, 1)):
        for k, (az, el) in enumerate(_DIFFUSE):
            if room:  # the sum into every direction; a direction and its opposite (az + 180°) share a filter
                sig = oaconvolve(bed[0] + bed[1], h[4 + (k if side < 0 else k ^ 1)])[:n] / np.sqrt(8.0)
            else:
                sig = 0.5 * oaconvolve(bed[near], h[k])[:n]
            out.append((side * az, el, sig.astype(np.float32)))
    return out


class Renderer:
    """Window-by-window renders of objects and diffuse beds into the asked formats (pre-master)."""

    def __init__(self, formats: tuple[str, ...], hrirs: Any = None, sr: int = SAMPLE_RATE) -> None:
        self.formats, self.hrirs, self.sr = formats, hrirs, sr

    def empty(self, n: int) -> dict[str, np.ndarray]:
        return {f: np.zeros((CHANNELS[f], n), np.float32) for f in self.formats}

    def add_object(self, acc: dict[str, np.ndarray], o: np.ndarray, az: np.ndarray, el: np.ndarray, start: int) -> None:
        """Add mono `o` (n,) along per-sample (az, el); `start` is o[0]'s absolute sample index."""
        n = o.size
        static = np.ptp(az) < 1e-6 and np.ptp(el) < 1e-6
        ctrl = np.arange(0, n + _HOP, _HOP).clip(max=n - 1) if n else np.zeros(0, int)
        if "foa" in acc:
            g = ambisonics.encode_gains(az[ctrl], el[ctrl])
            for k in range(4):
                acc["foa"][k] += (float(g[k, 0]) if static else _per_sample(g[k], n)) * o
        if "7.1.4" in acc:
            g = vbap.vbap_gains(az[ctrl], el[ctrl])
            for k in np.flatnonzero(g.max(axis=1) > 0):
                acc["7.1.4"][k] += (float(g[k, 0]) if static else _per_sample(g[k], n)) * o
        if "binaural" in acc:
            from foleydesigner.tools.hrtf import BLOCK, render_binaural

            centres = np.minimum(np.arange(0, n, BLOCK) + BLOCK // 2, n - 1)
            vecs = vbap.unit_vectors(az[centres], el[centres])
            acc["binaural"] += render_binaural(o, vecs, self.hrirs, start=start)

    def add_bed(self, acc: dict[str, np.ndarray], bed: np.ndarray, start: int, *, room: bool = False) -> None:
        n = bed.shape[1]
        for az, el, sig in _diffuse(bed, self.sr, room=room):
            self.add_object(acc, sig, np.full(n, az), np.full(n, el), start)


# --- the stage --------------------------------------------------------------------------------------------

def automation_lane(clues: EventClues) -> list[dict[str, float]]:
    """Per video frame: time, azimuth, elevation (°, this project's convention: + = right, up) and distance (m)."""
    el = clues.elevation_deg or [0.0] * len(clues.t_s)
    return [{"time_s": round(t, 4), "azimuth_deg": round(a, 3), "elevation_deg": round(e, 3), "distance_m": round(d, 3)}
            for t, a, e, d in zip(clues.t_s, clues.azimuth_deg, el, clues.depth_m, strict=True)]


def _write_lane(folder: Path, event_id: str, clues: EventClues) -> dict[str, str]:
    rows = automation_lane(clues)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(folder / f"{event_id}.automation.csv", buf.getvalue())
    atomic_write_json(folder / f"{event_id}.automation.json", {
        "event_id": event_id, "convention": "azimuth 0 ahead, + right (clockwise), elevation + up, distance metres",
        "fps": clues.fps, "points": rows})
    return {"stem": f"objects/{event_id}.wav", "csv": f"objects/{event_id}.automation.csv",
            "json": f"objects/{event_id}.automation.json"}


def deliver_immersive(state: dict[str, Any], runtime: Any) -> dict[str, Any]:
    """Render, master and write the immersive formats asked for (no-op for the default stereo + 5.1)."""
    ctx: RunContext = runtime.context
    formats = tuple(f for f in IMMERSIVE if f in ctx.deliver)
    if not formats:
        return {}
    t0 = time.perf_counter()
    scratch = ctx.work_dir / ".internal"
    folder = scratch / "render"
    events = {e["id"]: SoundEvent.model_validate(e) for e in state["script"]["events"]}
    clues = {k: EventClues.model_validate(v) for k, v in state["clues"].items()}
    kept = state["mix"].get("render") or {  # the mixer says what it kept; else every stereo spill there is
        "stems": {sid: 2 for sid in events if (folder / f"{sid}.f32").is_file()},
        "returns": {p.name: 2 for p in folder.glob("return_*.f32")}}
    stems = {sid: SpillFile.existing(folder / f"{sid}.f32", ch) for sid, ch in sorted(kept["stems"].items())}
    returns = [SpillFile.existing(folder / name, ch) for name, ch in sorted(kept["returns"].items())]
    n = max((s.n for s in [*stems.values(), *returns]), default=0)
    objects = {sid for sid in stems if route_bus(events[sid], clues.get(sid)) != "ambience"}
    warnings: list[str] = []
    hrirs = None
    if "binaural" in formats:
        from foleydesigner.tools.hrtf import default_set

        hrirs, warn = default_set(ctx.hrtf)
        warnings += [warn] if warn else []
    renderer = Renderer(formats, hrirs)
    binaural_stems = bool(dict(ctx.generator_options).get("binaural"))
    window, pad = aligned(ctx.window_s), aligned(PREROLL_S)
    pre = {f: SpillFile(scratch / f"premaster_{f}.f32", CHANNELS[f], n) for f in formats}
    out_dir = ctx.work_dir / "objects"
    lanes = {sid: _write_lane(out_dir, sid, clues[sid]) for sid in sorted(objects)}
    mono = {sid: WavWriter(out_dir / f"{sid}.wav", 1).__enter__() for sid in sorted(objects)}
    try:
        for a, b in spans(n, window):
            lo, hi = max(0, a - pad), min(n, b + pad)
            t = np.arange(lo, hi) / SAMPLE_RATE
            acc = renderer.empty(hi - lo)
            bed = np.zeros((2, hi - lo), np.float32)
            everything = np.zeros((2, hi - lo), np.float32)
            for sid, src in stems.items():
                if sid in objects:
                    az, el = trajectory(clues[sid], t)
                    stereo = _stereo(src.read(lo, hi + _READ_AHEAD))
                    o = depan(stereo, az, binaural=binaural_stems)
                    renderer.add_object(acc, o, az, el, lo)
                    mono[sid].write(o[None, a - lo: b - lo])
                    everything += stereo[:, : hi - lo]
                else:
                    x = _stereo(src.read(lo, hi))
                    bed += x
                    everything += x
            room = np.zeros((2, hi - lo), np.float32)
            for src in returns:
                x = _stereo(src.read(lo, hi))
                room += x
                everything += x
            renderer.add_bed(acc, bed, lo)
            renderer.add_bed(acc, room, lo, room=True)
            if "7.1.4" in acc:
                acc["7.1.4"][vbap.LFE_714] = lfe_from(everything)
            for f, y in acc.items():
                pre[f].write(a, y[:, a - lo: b - lo])
        for w in mono.values():
            w.__exit__(None, None, None)
    except BaseException as exc:
        for w in mono.values():
            w.__exit__(type(exc), exc, None)
        raise
    measured = {f: _master(ctx, f, pre[f], scratch) for f in formats}
    for s in pre.values():
        s.remove()
    for src in (*stems.values(), *returns):
        src.remove()
    delivery = {**state["mix_plan"]["verification"].get("delivery", {}), **measured}
    if hrirs is not None:
        delivery["binaural"]["hrtf"] = hrirs.name
    plan = {**state["mix_plan"], "verification": {**state["mix_plan"]["verification"], "delivery": delivery}}
    outputs = {f"mix_{f.replace('.', '_')}": FILES[f] for f in formats}
    for sid, lane in lanes.items():
        outputs.update({f"object:{sid}": lane["stem"], f"automation:{sid}": lane["csv"]})
    return {"mix_plan": plan, "mix": {**state["mix"], "immersive": {f: FILES[f] for f in formats}, "objects": lanes},
            "outputs": outputs, "warnings": warnings, "timings": {"deliver_immersive": time.perf_counter() - t0}}


def _master(ctx: RunContext, fmt: str, src: SpillFile, scratch: Path) -> dict[str, Any]:
    """Master one format to the run's loudness target; 7.1.4 is also folded down to 5.1 and stereo and
    correlated with the direct renders (mix_5_1.wav, mix_stereo.wav), as the BS.775 check does for 5.1."""
    weights = {"foa": (1.0, 0.0, 0.0, 0.0), "7.1.4": vbap.LOUDNESS_WEIGHTS_714, "binaural": (1.0, 1.0)}[fmt]
    mask = {"foa": ambisonics.FOA_CHANNEL_MASK, "7.1.4": vbap.CHANNEL_MASK_714}.get(fmt)
    path = ctx.work_dir / FILES[fmt]
    dots = np.zeros((8, 3))  # 5 channels of 5.1 (LFE left out) + 2 of stereo: Σ down·ref, Σ down², Σ ref²
    refs = (WavAudio(ctx.work_dir / "mix_5_1.wav"), WavAudio(ctx.work_dir / "mix_stereo.wav")) if fmt == "7.1.4" else None

    def write(a: int, y: np.ndarray) -> None:
        wav.write(y)
        if refs is None:
            return
        d51 = vbap.downmix_714_to_51(y)
        pairs = [(d51[[0, 1, 2, 4, 5]], refs[0].read(a, a + y.shape[1])[[0, 1, 2, 4, 5]]),
                 (downmix_bs775(d51), refs[1].read(a, a + y.shape[1]))]
        down = np.concatenate([p[0] for p in pairs]).astype(np.float64)
        ref = np.concatenate([p[1] for p in pairs]).astype(np.float64)
        dots[:7] += np.stack([np.sum(down * ref, axis=1), np.sum(down * down, axis=1), np.sum(ref * ref, axis=1)], axis=1)

    writer = vbap.MaskedWavWriter(path, CHANNELS[fmt], mask) if mask is not None else WavWriter(path, CHANNELS[fmt])
    with writer as wav:
        m = master_source(src, write, target_lufs=ctx.target_lufs, ceiling_dbtp=ctx.true_peak_dbtp,
                          window=aligned(ctx.window_s), scratch=scratch, weights=weights)
    out: dict[str, Any] = {"integrated_lufs": m["integrated_lufs"], "true_peak_dbtp": m["true_peak_dbtp"],
                           "gain_db": m.get("gain_db", 0.0), "file": FILES[fmt]}
    if fmt == "foa":
        out["loudness_on"] = "W (omnidirectional)"
    if refs is not None:
        corr = [round(float(d[0] / np.sqrt(d[1] * d[2])), 4) if d[1] * d[2] > 0 else 1.0 for d in dots[:7]]
        out["downmix_correlation_5_1"] = dict(zip(("L", "R", "C", "Ls", "Rs"), corr[:5], strict=True))
        out["downmix_correlation_stereo"] = dict(zip(("L", "R"), corr[5:], strict=True))
        # Correlation punishes the sub-millisecond ear delays the stereo stems carry and the objects do not, and
        # the diffuse beds' decorrelating delays: the level each folded channel carries is the balance check.
        level = [round(float(10 * np.log10(d[1] / d[2])), 2) if d[1] > 0 and d[2] > 0 else 0.0 for d in dots[:7]]
        out["downmix_level_db_5_1"] = dict(zip(("L", "R", "C", "Ls", "Rs"), level[:5], strict=True))
        out["downmix_level_db_stereo"] = dict(zip(("L", "R"), level[5:], strict=True))
    return out


__all__ = ["deliver_immersive", "parse_deliver", "depan", "trajectory", "Renderer", "automation_lane"]
