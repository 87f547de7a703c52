"""Benchmark harness: synthetic clips with exact truth → the pipeline and two baselines → scores (report.json).

Each clip of the set is rendered by ``bench.synthetic.make_clip`` (true boxes, azimuth, depth, visibility and
sound onsets per object), run through ``run_foley`` like ``foley run``, and every foreground stem that the
script ties to a track is matched to the truth object that track follows. The baselines (``eval.systems``)
re-render the very same sources under their own clues. Scores per stem:

- azimuth error: ``estimate_azimuth_deg`` of the stem per 0.24 s window vs the true azimuth at the window
  centre, over windows where the source truly sounds and the stem is above the estimator's floor;
- GCC-MSE and FSAD (SpatialSonic) against the *truth-rendered reference*: the same source rendered along the
  true trajectory with the same renderer (gated by the true visibility, as the pipeline gates tracked sources);
- activation IoU per video frame: the stem's audible activity (frame RMS within 40 dB of its loudest frame;
  between the hits of an impulsive source, gaps up to its longest true inter-onset interval bridged, so a
  missing hit still shows) vs the truth: visibility for continuous
  sources, first onset → last onset + 0.2 s ring for impulsive ones;
- onset F1 (±1 frame) and A/V offset (truth onsets as frame-rate impulses vs the audio onset envelope), for
  impulsive sources; loudness: integrated LUFS error vs the target and true peak of each system's final mix.
"""

from __future__ import annotations

import logging
import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from foleydesigner.eval.activity import ACTIVITY_RANGE_DB, audio_activation, detect_onsets, peak_normalised
from foleydesigner.eval.immersive import direction_scores
from foleydesigner.eval.metrics import (
    activation_iou,
    av_offset_ms,
    azimuth_error_deg,
    estimate_azimuth_deg,
    gcc_mse,
    onset_f1,
)
from foleydesigner.eval.results import ClipResult
from foleydesigner.eval.systems import SYSTEMS, baseline_clues, place, render_event, synthesize_source
from foleydesigner.schemas import EventClues, FoleyScript, SoundEvent, Track
from foleydesigner.units import DEFAULT_HFOV_DEG, SAMPLE_RATE, azimuth_from_x

log = logging.getLogger(__name__)

WINDOW_S = 0.24  # SpatialSonic's ITD window
HIT_RING_S = 0.2  # how long a footfall or bounce counts as sounding after its onset, for the truth activity
AV_MAX_LAG_S = 0.2  # A/V offsets beyond 5 frames are not a sync error but a wrong event
#: The formats every eval run delivers: the immersive ones are scored for direction (eval/immersive.py).
IMMERSIVE_EVAL = ("stereo", "5.1", "foa", "7.1.4")
MATCH_MAX_DEG = 10.0  # a track follows a truth object if their mean azimuths differ by less than this
OFFSCREEN_SIDE_DEG = 70.0  # screenplay convention: "off to the left" is −70° (tools/screenplay.py)
_LEFT_SCENE = "EXT. EMPTY STREET - DAY\n\nA quiet street at noon. A DOG BARKS off to the {side}.\n"


@dataclass(frozen=True)
class ClipSpec:
    """One benchmark clip: a synthetic kind, its seed and length, and an optional screenplay whose off-screen
    cues have a known azimuth (label, degrees)."""

    kind: str
    seed: int
    duration_s: float = 4.0
    screenplay: str | None = None
    offscreen: tuple[tuple[str, float], ...] = ()

    @property
    def name(self) -> str:
        return f"{self.kind}_{self.seed}"


def offscreen_dog(seed: int, side: str, duration_s: float) -> ClipSpec:
    az = -OFFSCREEN_SIDE_DEG if side == "left" else OFFSCREEN_SIDE_DEG
    return ClipSpec("ambience_only", seed, duration_s, _LEFT_SCENE.format(side=side), (("dog_bark", az),))


def benchmark_set(quick: bool = False) -> list[ClipSpec]:
    """--quick: one 4 s clip per kind (a few minutes on 2 cores); else 3 seeds of 6 s, occlusion and approach too."""
    if quick:
        return [*(ClipSpec(k, 0, 4.0) for k in ("single_mover", "crossing", "bouncing_ball", "walker")),
                offscreen_dog(0, "left", 4.0)]
    kinds = ("single_mover", "crossing", "bouncing_ball", "walker", "occlusion", "approach")
    return [*(ClipSpec(k, s, 6.0) for s in range(3) for k in kinds),
            *(offscreen_dog(s, side, 6.0) for s, side in ((0, "left"), (1, "right"), (2, "left")))]


# ---- truth -------------------------------------------------------------------------------------------------

@dataclass
class Truth:
    """What one stem should be: per video frame azimuth, depth, visibility (the render gate of the reference)
    and sounding activity; onsets for impulsive sources."""

    name: str
    fps: float
    azimuth_deg: np.ndarray
    depth_m: np.ndarray
    visible: np.ndarray | None  # None: not gated (off-screen cue)
    active: np.ndarray
    onsets_s: list[float] | None = None
    timing_known: bool = True  # False for a screenplay cue: the text says where, not when, so no IoU

    @property
    def t_s(self) -> np.ndarray:
        return np.arange(self.azimuth_deg.size) / self.fps


def hit_activity(onsets_s: list[float], n_frames: int, fps: float, *, ring_s: float = HIT_RING_S) -> np.ndarray:
    """Truth activity of an impulsive source: every frame from its first onset to the last onset + ring."""
    t = np.arange(n_frames) / fps
    if not onsets_s:
        return np.zeros(n_frames, bool)
    return (t >= min(onsets_s) - 0.5 / fps) & (t < max(onsets_s) + ring_s)


def object_truth(obj: Any, fps: float) -> Truth:
    """Truth of a bench.synthetic SyntheticObject."""
    vis = np.asarray(obj.visible, bool)
    impulsive = obj.onset_kind is not None and bool(obj.onsets_s)
    active = hit_activity(list(obj.onsets_s), vis.size, fps) if impulsive else vis
    return Truth(f"object {obj.id} ({obj.label})", fps, np.asarray(obj.azimuth_deg, float), np.asarray(obj.depth_m, float),
                 vis, active, list(obj.onsets_s) if impulsive else None)


def _track_azimuths(track: Track, hfov_deg: float) -> tuple[np.ndarray, np.ndarray]:
    az = [azimuth_from_x(b[0] + b[2] / 2, track.frame_width, hfov_deg) for b in track.boxes]
    return np.asarray(track.frames, int), np.asarray(az)


def match_truth(events: list[SoundEvent], clues: dict[str, EventClues], tracks: list[Track], manifest: Any,
                offscreen: tuple[tuple[str, float], ...], hfov_deg: float) -> dict[str, Truth]:
    """Truth per evaluable stem: fg events on a track → the truth object the track follows (nearest mean
    azimuth over the frames both exist, < MATCH_MAX_DEG); script-placed events → the screenplay cue's truth."""
    fps, n = manifest.fps, manifest.n_frames
    objects = [object_truth(o, fps) for o in manifest.objects]
    out: dict[str, Truth] = {}
    for ev in events:
        c = clues[ev.id]
        if ev.layer == "fg" and c.source == "track":
            track = next((t for t in tracks if t.id == ev.source_track), None)
            if track is None or not objects:
                continue
            frames, az = _track_azimuths(track, hfov_deg)
            ok = frames < n
            dist = []
            for truth in objects:
                seen = ok & truth.visible[np.minimum(frames, n - 1)]  # type: ignore[index]
                dist.append(float(np.mean(np.abs(az[seen] - truth.azimuth_deg[frames[seen]]))) if seen.any() else math.inf)
            best = int(np.argmin(dist))
            if dist[best] < MATCH_MAX_DEG:
                out[ev.id] = objects[best]
        elif c.source == "script":
            cue = next((az for label, az in offscreen if label == ev.label), None)
            if cue is None:
                continue
            span = np.asarray(c.activation, bool)
            out[ev.id] = Truth(f"off-screen {ev.label}", fps, np.full(n, cue), np.asarray(c.depth_m, float), None, span,
                               timing_known=False)
    return out


# ---- scores from audio -------------------------------------------------------------------------------------

def score_stem(audio: np.ndarray, truth: Truth, sr: int = SAMPLE_RATE) -> dict[str, Any]:
    """Azimuth error, activation IoU, onset F1 and A/V offset of one stem against its truth (see module doc)."""
    n = truth.azimuth_deg.size
    times, az, valid = estimate_azimuth_deg(audio, sr, window_s=WINDOW_S)
    frame = np.clip(np.round(times * truth.fps).astype(int), 0, n - 1)
    mask = valid & truth.active[frame]
    err = azimuth_error_deg(az, np.interp(times, truth.t_s, truth.azimuth_deg), mask)
    # A train of hits is one activity while the next hit comes within the longest true interval; a missed hit
    # leaves a gap of about two intervals, which stays open.
    gaps = np.diff(sorted(truth.onsets_s)) if truth.onsets_s is not None else np.zeros(0)
    act = audio_activation(audio, sr, truth.fps, n, bridge_s=float(gaps.max()) if gaps.size else 0.0)
    iou = activation_iou(act, truth.active) if truth.timing_known else None
    out: dict[str, Any] = {"azimuth_err_deg": err, "activation_iou": iou,
                           "onset_f1": None, "av_offset_ms": None,
                           "windows": {"t_s": times.round(3).tolist(), "azimuth_deg": np.where(mask, az, np.nan).round(2).tolist()}}
    if truth.onsets_s is not None:  # impulsive source
        pred = detect_onsets(audio, sr)
        score = onset_f1(pred, truth.onsets_s, tolerance_s=1.0 / truth.fps)
        visual = np.zeros(n)
        visual[np.clip(np.round(np.asarray(truth.onsets_s) * truth.fps).astype(int), 0, n - 1)] = 1.0
        # Footfalls and bounces repeat every 0.25–0.6 s: a lag search wider than half the shortest interval would
        # lock onto the neighbouring hit.
        max_lag = min(AV_MAX_LAG_S, 0.45 * float(gaps.min())) if gaps.size else AV_MAX_LAG_S
        out.update(onset_f1=score.f1, onset_median_err_ms=score.median_error_s * 1e3,
                   av_offset_ms=av_offset_ms(visual, truth.fps, audio, sr, max_lag_s=max_lag))
    return out


def reference(source: np.ndarray, truth: Truth, sr: int = SAMPLE_RATE) -> np.ndarray:
    """The truth-rendered reference: the shared source along the true trajectory, same renderer."""
    gate = None if truth.visible is None else truth.visible.astype(float)
    return place(source, t_s=truth.t_s, azimuth_deg=truth.azimuth_deg, depth_m=truth.depth_m, activation=gate, sr=sr)


# ---- one clip ----------------------------------------------------------------------------------------------

def _read(path: Path) -> np.ndarray:
    import soundfile as sf

    data, _ = sf.read(str(path), dtype="float32", always_2d=True)
    return np.ascontiguousarray(data.T)


def _mix_loudness(audio: np.ndarray, target: float) -> dict[str, float]:
    from foleydesigner.tools.loudness import integrated_lufs, true_peak_dbfs

    lufs = integrated_lufs(audio)
    return {"integrated_lufs": round(lufs, 2), "lufs_err_lu": round(lufs - target, 2),
            "true_peak_dbtp": round(true_peak_dbfs(audio), 2)}


def _baseline_mix(stems: dict[str, np.ndarray], clues: dict[str, EventClues], script: FoleyScript, seed: int,
                  target: float) -> np.ndarray:
    """The pipeline's mixing stage (same agents, heuristic planner) on a baseline's stems: its final stereo mix."""
    from foleydesigner.context import RunContext
    from foleydesigner.graphs.mixing import run_mixing

    with tempfile.TemporaryDirectory(prefix="foley-eval-mix-") as tmp:
        ctx = RunContext(work_dir=Path(tmp), seed=seed, target_lufs=target)
        out = run_mixing(ctx, stems, script, clues)
        return _read(Path(tmp) / out["mix"]["stereo"])


def evaluate_clip(spec: ClipSpec, work: Path, *, seed: int = 0, target_lufs: float = -24.0,
                  width: int = 640, height: int = 360, fps: float = 25.0, library: Path | None = None) -> ClipResult:
    from foleydesigner.bench.synthetic import make_clip
    from foleydesigner.pipeline import run_foley

    clip = work / "clips" / f"{spec.name}.mp4"
    clip.parent.mkdir(parents=True, exist_ok=True)
    manifest = make_clip(spec.kind, clip, width=width, height=height, fps=fps, duration_s=spec.duration_s,
                         seed=spec.seed)
    screenplay = None
    if spec.screenplay:
        screenplay = clip.with_suffix(".fountain")
        screenplay.write_text(spec.screenplay)
    run_dir = work / "runs" / spec.name
    # The spatial benchmark's references are the procedural sources (systems.py): its pipeline run renders with
    # them too, whatever the default generator (`hybrid`, recordings first) is.
    state = run_foley(clip, run_dir, screenplay_path=screenplay, force=True, seed=seed, target_lufs=target_lufs,
                      deliver=IMMERSIVE_EVAL, generator="procedural")
    script = FoleyScript.model_validate(state["script"])
    events = {e.id: e for e in script.events}
    clues = {k: EventClues.model_validate(v) for k, v in state["clues"].items()}
    tracks = [Track.model_validate(t) for t in state.get("tracks", [])]
    truths = match_truth(script.events, clues, tracks, manifest, spec.offscreen, DEFAULT_HFOV_DEG)
    named = {t.name for t in truths.values()}
    missed = [t.name for t in (object_truth(o, manifest.fps) for o in manifest.objects) if t.name not in named]
    missed += [f"off-screen {label}" for label, _ in spec.offscreen if f"off-screen {label}" not in named]

    stems: dict[str, dict[str, np.ndarray]] = {s: {} for s in SYSTEMS}
    source_check = 0.0
    refs: dict[str, np.ndarray] = {}
    for ev in script.events:
        full = _read(run_dir / "stems" / f"{ev.id}.wav")
        stems["full"][ev.id] = full
        src, diffuse = synthesize_source(ev, script.duration_s, seed=seed)
        for system in SYSTEMS[1:]:
            stems[system][ev.id] = render_event(system, ev, clues[ev.id], src, diffuse)
        if ev.id in truths:
            # The baselines' premise: re-synthesis gives the pipeline's very source (re-rendered, the stem itself).
            again = render_event("full", ev, clues[ev.id], src, diffuse)
            source_check = max(source_check, float(np.max(np.abs(again - full))) / max(1e-9, float(np.max(np.abs(full)))))
            refs[ev.id] = peak_normalised(reference(src, truths[ev.id]))

    systems: tuple[str, ...] = (*SYSTEMS, "truth_ref")
    refs_of = {system: refs for system in systems}
    recorded: dict[str, bool] = {}
    if library is not None:  # the library system: the same script and clues, stems cut from recordings
        from foleydesigner.eval.library_system import library_stems

        stems["library"], lib_src, recorded = library_stems(library, script, clues, seed=seed)
        refs_of["library"] = {eid: peak_normalised(reference(lib_src[eid][0], truths[eid])) if eid in lib_src
                              else refs[eid] for eid in truths}
        systems = (*systems, "library")
    detail: dict[str, Any] = {"clip": spec.name, "kind": spec.kind, "seed": spec.seed, "duration_s": spec.duration_s,
                              "run_dir": str(run_dir), "source_check_rel_err": round(source_check, 6),
                              "truth_objects": len(manifest.objects) + len(spec.offscreen), "missed_truth": missed,
                              "matched": {eid: t.name for eid, t in truths.items()},
                              "unmatched_fg": [e.id for e in script.events if e.layer == "fg" and e.id not in truths],
                              "systems": {}}
    result = ClipResult(detail)
    for system in systems:
        per_stem = {}
        ref = refs_of[system]
        for eid, truth in truths.items():
            audio = refs[eid] if system == "truth_ref" else peak_normalised(stems[system][eid])
            s = score_stem(audio, truth)
            s["gcc_mse"] = gcc_mse([audio], [ref[eid]], SAMPLE_RATE)
            windows = s.pop("windows")
            per_stem[eid] = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in s.items()}
            result.pairs.setdefault(system, []).append((audio, ref[eid]))
            result.plot.append({"event": eid, "system": system, **windows})
        entry: dict[str, Any] = {"stems": per_stem}
        if system == "full":
            entry["mix"] = _mix_loudness(_read(run_dir / "mix_stereo.wav"), target_lufs)
            entry["mix_5_1"] = _mix_loudness(_read(run_dir / "mix_5_1.wav"), target_lufs)
            # Where the FOA and 7.1.4 mixes put each foreground event (eval/immersive.py), and their loudness.
            fg = [eid for eid in truths if events[eid].layer == "fg"]
            entry["immersive"] = direction_scores(run_dir, clues, fg)
            delivered = state["mix_plan"]["verification"]["delivery"]
            entry["mix_foa"] = {"lufs_err_lu": round(delivered["foa"]["integrated_lufs"] - target_lufs, 2),
                                "true_peak_dbtp": delivered["foa"]["true_peak_dbtp"]}
            entry["mix_7_1_4"] = {"lufs_err_lu": round(delivered["7.1.4"]["integrated_lufs"] - target_lufs, 2),
                                  "true_peak_dbtp": delivered["7.1.4"]["true_peak_dbtp"]}
        elif system == "library":
            entry["from_recordings"] = sorted(eid for eid, ok in recorded.items() if ok)
            entry["fallback_procedural"] = sorted(eid for eid, ok in recorded.items() if not ok)
        elif system != "truth_ref":
            bclues = {k: baseline_clues(system, events[k], c) for k, c in clues.items()}
            entry["mix"] = _mix_loudness(_baseline_mix(stems[system], bclues, script, seed, target_lufs), target_lufs)
        detail["systems"][system] = entry
    for eid, truth in truths.items():
        result.plot.append({"event": eid, "system": "truth", "t_s": truth.t_s.round(3).tolist(),
                            "azimuth_deg": truth.azimuth_deg.round(2).tolist(), "active": truth.active.astype(int).tolist()})
        result.plot.append({"event": eid, "system": "clues", "t_s": clues[eid].t_s, "azimuth_deg": clues[eid].azimuth_deg})
    return result


def run_benchmark(out_dir: str | Path, *, quick: bool = False, seed: int = 0, target_lufs: float = -24.0,
                  specs: list[ClipSpec] | None = None, command: str = "",
                  on_clip: Callable[[str, int, int], None] | None = None, library: str | Path | None = None
                  ) -> dict[str, Any]:
    """Evaluate every clip of the set; writes OUT/report.json, OUT/report.md and OUT/plots/*.png.

    The `library` system uses the sound library at `library`, or a stand-in library built under OUT/library/.
    """
    import time

    from foleydesigner.eval.library_system import stand_in_library
    from foleydesigner.eval.report import summarize, write_report
    from foleydesigner.pipeline import versions

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    specs = specs if specs is not None else benchmark_set(quick)
    lib = Path(library) if library is not None else stand_in_library(out / "library")
    t0 = time.perf_counter()
    results = []
    for i, spec in enumerate(specs):
        if on_clip:
            on_clip(spec.name, i, len(specs))
        log.info("eval %s (%d/%d)", spec.name, i + 1, len(specs))
        results.append(evaluate_clip(spec, out, seed=seed, target_lufs=target_lufs, library=lib))
    report = summarize(results, target_lufs=target_lufs)
    report.update(command=command or f"foley eval{' --quick' if quick else ''} --out {out}", versions=versions(),
                  settings={"quick": quick, "seed": seed, "target_lufs": target_lufs, "window_s": WINDOW_S,
                            "activity_range_db": ACTIVITY_RANGE_DB, "hit_bridge": "longest true inter-onset interval", "hit_ring_s": HIT_RING_S,
                            "onset_tolerance": "±1 video frame",
                            "library": str(library) if library is not None else "stand-in (procedural takes, UCS names)"},
                  elapsed_s=round(time.perf_counter() - t0, 1))
    write_report(report, results, out)
    return report
