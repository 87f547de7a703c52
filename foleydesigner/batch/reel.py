"""The conformed reel: every shot's finished run placed at its record time, as one reel-length session.

Written into `out_dir/reel/`:
  reel.mp4         the movie: the timeline's picture with the 5.1 and stereo mixes (batch/movie.py);
  session.otio     the picture (each shot's source range at its record time), one track per layer lane — FG 1…,
                   BG 1… (clips pointing at the jobs' stems, relative paths, at their record times) — the
                   conformed bed, and the reel mixes as muted reference tracks;
  mix_stereo.wav   reel-length stereo, mastered to the target loudness (BS.1770) under the true-peak ceiling;
  mix_5_1.wav      reel-length 5.1 (L R C LFE Ls Rs, WAVEX) at the same target;
  bed_stereo.wav   the conformed bed as it sits in the stereo mix (after the master gain);
  reel.json        what was placed where, and what the masters measured.

How the sound is conformed. A shot's mix (its run's mix_stereo.wav, already levelled and processed by the
mixer) is split into its bed and the rest: the bed part is the shot's bed stems (events the upmix routes to
the ambience bus) times the gain the mixer gave them, measured as the least-squares projection of the mix on
the stem sum (beds are uncorrelated with the foreground, so the projection reads the bed's level in the mix).
The rest — foreground events, their reverb — is cut at the edit, as the picture is (3 ms fades against clicks).
The bed is not cut: consecutive shots' beds meet in an equal-power (sin/cos) crossfade centred on the cut, long
(BED_XFADE_SCENE_S) within a scene, so the bed reads as one continuous background, and short
(BED_XFADE_CHANGE_S) at a scene change, where the background is meant to change with the picture. A bed
reaches past its shot into the crossfade by reflection (its own texture, played backwards from the edit), so no
handles are needed. Shots whose scene is unknown share one when they come from the same source clip.

The reel is then mastered once, as one programme, by the rule and caps a run masters by (agents/mastering:
layered_target, MAX_MAKEUP_DB; tools/processing.master_source, window by window): the target, or, for a reel
of beds only, the beds' reference level under it. The 5.1 is the BS.775 upmix of the same two parts
(foreground → front bus, bed → ambience bus), mastered to what the stereo reached.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from foleydesigner.batch.movie import MOVIE, write_movie
from foleydesigner.batch.reel_session import build_reel_session, reel_folders, relative_url
from foleydesigner.batch.timeline import TimelineShot
from foleydesigner.errors import FoleyError, InputError
from foleydesigner.limits import free_bytes, human, is_disk_full
from foleydesigner.schemas import EventClues, SoundEvent
from foleydesigner.tools.export import WavWriter, atomic_write_json
from foleydesigner.tools.otio import METADATA_KEY, write_session
from foleydesigner.tools.processing import master_source
from foleydesigner.tools.streams import PREROLL_S, SpillFile, WavAudio, aligned, spans
from foleydesigner.tools.upmix import route_bus, upmix_51
from foleydesigner.units import SAMPLE_RATE

log = logging.getLogger(__name__)

BED_XFADE_SCENE_S = 2.0  # within a scene: long enough that the change of bed texture is not heard as an event
BED_XFADE_CHANGE_S = 0.25  # at a scene change: a soft cut, the background changes with the picture
DECLICK_S = 0.003  # fades on the foreground at the edit
TRUE_PEAK_DBTP = -2.0  # the runs' default ceiling (context.RunContext)
REEL = "reel"


@dataclass
class _Placed:
    shot: TimelineShot
    folder: Path
    mix: WavAudio
    beds: list[tuple[WavAudio, int]]  # bed stem and its first sample in the shot (trimmed stems start later)
    stems: list[dict[str, Any]]  # every stem: id, layer, path, offset, lane track name
    r0: int  # record start sample
    n: int  # record length in samples
    gain: float = 0.0  # the bed's gain in the shot's mix
    fade_in: tuple[int, int] = (0, 0)  # bed fade-in span, reel samples
    fade_out: tuple[int, int] = (0, 0)


def _job_stems(folder: Path) -> list[dict[str, Any]]:
    """Every stem of a finished run from its session.otio (path, first sample, layer) and whether it is a bed."""
    import opentimelineio as otio

    script = json.loads((folder / "script.json").read_text(encoding="utf-8"))
    clues_doc = json.loads((folder / "clues.json").read_text(encoding="utf-8"))
    events = {e["id"]: SoundEvent.model_validate(e) for e in script["events"]}
    clues = {c["event_id"]: EventClues.model_validate(c) for c in clues_doc.get("events", [])}
    session = otio.adapters.read_from_file(str(folder / "session.otio"))
    stems = []
    for track in session.audio_tracks():
        for clip in track.find_clips():
            meta = dict(clip.metadata.get(METADATA_KEY, {}))
            sid = meta.get("event_id")
            if sid not in events:
                continue  # the mix reference tracks
            offset = int(round(float(meta.get("stem_start_s", 0.0)) * SAMPLE_RATE))
            stems.append({"id": sid, "layer": events[sid].layer, "path": folder / clip.media_reference.target_url,
                          "offset": offset, "bed": route_bus(events[sid], clues.get(sid)) == "ambience"})
    return stems


def _place(shots: list[TimelineShot], job_dirs: dict[str, Path]) -> list[_Placed]:
    missing = [s.name for s in shots if s.name not in job_dirs or not (Path(job_dirs[s.name]) / "run.json").is_file()]
    if missing:
        raise InputError(f"{len(missing)} shot(s) have no finished run ({', '.join(missing[:3])}"
                         f"{'…' if len(missing) > 3 else ''}); run them first (foley batch TIMELINE --out DIR)")
    placed = []
    for s in shots:
        folder = Path(job_dirs[s.name])
        try:
            mix = WavAudio(folder / "mix_stereo.wav")
            stems = _job_stems(folder)
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise InputError(f"{folder}: not a complete run ({exc.__class__.__name__}: {exc}); run the shot again") from exc
        if mix.sr != SAMPLE_RATE:
            raise InputError(f"{folder / 'mix_stereo.wav'}: {mix.sr} Hz; the reel is conformed at {SAMPLE_RATE} Hz")
        r0 = int(round(s.record_start_s * SAMPLE_RATE))
        placed.append(_Placed(s, folder, mix, [(WavAudio(st["path"]), st["offset"]) for st in stems if st["bed"]],
                              stems, r0, int(round(s.record_end_s * SAMPLE_RATE)) - r0))
    placed.sort(key=lambda p: p.r0)
    _crossfades(placed)
    return placed


def _same_scene(a: TimelineShot, b: TimelineShot) -> bool:
    if a.scene is not None or b.scene is not None:
        return a.scene == b.scene
    return a.clip == b.clip  # no scene ids: shots of one source clip are one scene


def _crossfades(placed: list[_Placed]) -> None:
    """Bed fade spans: an equal-power crossfade centred on every cut between touching shots, reaching at most a
    quarter of either shot into it; a short fade where the timeline has a gap or ends. So the middle half of
    every shot, at least, plays that shot's own mix alone, as its run delivered it."""
    edge = max(1, int(DECLICK_S * SAMPLE_RATE))
    for p in placed:
        p.fade_in, p.fade_out = (p.r0, p.r0 + min(edge, p.n)), (p.r0 + p.n - min(edge, p.n), p.r0 + p.n)
    for a, b in zip(placed, placed[1:], strict=False):
        cut = b.r0
        if abs(a.r0 + a.n - cut) > 1:
            continue
        x_s = BED_XFADE_SCENE_S if _same_scene(a.shot, b.shot) else BED_XFADE_CHANGE_S
        half = min(int(x_s * SAMPLE_RATE) // 2, a.n // 4, b.n // 4)  # a shot's two fades never meet
        a.fade_out = b.fade_in = (cut - half, cut + half)


def _ramp(t: np.ndarray, span: tuple[int, int], rising: bool) -> np.ndarray:
    lo, hi = span
    u = np.clip((t - lo) / max(hi - lo, 1), 0.0, 1.0)
    return np.sin(0.5 * np.pi * u) if rising else np.cos(0.5 * np.pi * u)


def _read_reflected(src: WavAudio, offset: int, local: np.ndarray, n: int) -> np.ndarray:
    """Samples of a stem (starting at `offset` in the shot) at shot-local indices, mirrored outside [0, n)."""
    idx = np.where(local < 0, -local - 1, np.where(local >= n, 2 * n - 1 - local, local))
    lo, hi = int(idx.min()), int(idx.max()) + 1
    return src.read(lo - offset, hi - offset)[:, idx - lo]


def _bed_sum(p: _Placed, local: np.ndarray) -> np.ndarray:
    out = np.zeros((2, local.size), np.float32)
    for src, offset in p.beds:
        x = _read_reflected(src, offset, local, p.n)
        out += x if x.shape[0] == 2 else np.repeat(x[:1], 2, axis=0)
    return out


def _bed_gains(placed: list[_Placed], window: int) -> None:
    """Least-squares gain of each shot's bed stems in its mix: <mix, bed> / <bed, bed>, over the whole shot."""
    for p in placed:
        if not p.beds:
            continue
        num = den = 0.0
        for a, b in spans(p.n, window):
            bed = _bed_sum(p, np.arange(a, b)).astype(np.float64)
            num += float(np.sum(p.mix.read(a, b) * bed))
            den += float(np.sum(bed * bed))
        p.gain = max(num / den, 0.0) if den > 0 else 0.0


def _render_parts(placed: list[_Placed], n: int, window: int, scratch: Path) -> tuple[SpillFile, SpillFile]:
    """Pass 1: the cut foreground and the crossfaded bed, reel-long, spilled window by window."""
    fg, bed = SpillFile(scratch / "reel_fg.f32", 2, n), SpillFile(scratch / "reel_bed.f32", 2, n)
    for a, b in spans(n, window):
        acc_fg, acc_bed = np.zeros((2, b - a), np.float32), np.zeros((2, b - a), np.float32)
        for p in placed:
            lo, hi = max(a, p.fade_in[0]), min(b, p.fade_out[1])  # the bed's reach, crossfades included
            if lo < hi and p.gain > 0:
                t = np.arange(lo, hi)
                w = (_ramp(t, p.fade_in, True) * _ramp(t, p.fade_out, False)).astype(np.float32)
                acc_bed[:, lo - a: hi - a] += p.gain * w * _bed_sum(p, t - p.r0)
            lo, hi = max(a, p.r0), min(b, p.r0 + p.n)
            if lo < hi:
                t = np.arange(lo, hi)
                x = p.mix.read(lo - p.r0, hi - p.r0)
                if p.gain > 0:
                    x = x - p.gain * _bed_sum(p, t - p.r0)
                edge = max(1, int(DECLICK_S * SAMPLE_RATE))
                w = np.clip(np.minimum(t - p.r0 + 1, p.r0 + p.n - t) / edge, 0.0, 1.0).astype(np.float32)
                acc_fg[:, lo - a: hi - a] += x * w
        fg.write(a, acc_fg)
        bed.write(a, acc_bed)
    return fg, bed


@dataclass(frozen=True)
class _Master:
    """How the reel is mastered: the runs' rule (agents/mastering.layered_target) on what the whole reel holds."""

    target_lufs: float  # what the master aims at: the delivery target, or the beds' level in a beds-only reel
    ceiling_dbtp: float
    warnings: tuple[str, ...] = ()


def _master_rule(placed: list[_Placed], target_lufs: float) -> _Master:
    """The rule a run masters by, applied once to the reel: with any foreground sound in it, the target; a reel
    of beds only sits where beds sit under a foreground (8 LU under by default), as each of its runs did. The
    fg/bg spacing and the true-peak ceiling are the runs' own (their mix_plan.json), else the defaults."""
    from foleydesigner.agents.experts import MixTargets
    from foleydesigner.agents.mastering import layered_target
    from foleydesigner.agents.mixplan import DEFAULT_TARGETS

    targets, ceiling = DEFAULT_TARGETS, TRUE_PEAK_DBTP
    for p in placed:
        try:
            plan = json.loads((p.folder / "mix_plan.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        ceiling = float(plan.get("true_peak_dbtp", ceiling))
        targets = MixTargets(**plan.get("analysis", {}).get("targets", {})) if plan.get("analysis", {}).get("targets") \
            else targets
        break
    layers = {st["layer"] for p in placed for st in p.stems}
    target, warnings = layered_target(target_lufs, has_fg="fg" in layers, has_bg="bg" in layers, targets=targets)
    return _Master(target, ceiling, tuple(warnings))


def _master_to(path: Path, channels: int, pre: SpillFile, target_lufs: float, ceiling_dbtp: float, window: int,
               scratch: Path, max_gain_db: float | None = None) -> dict[str, Any]:
    with WavWriter(path, channels) as wav:
        return master_source(pre, lambda a, y: wav.write(y), target_lufs=target_lufs, ceiling_dbtp=ceiling_dbtp,
                             window=window, scratch=scratch, max_gain_db=max_gain_db)


def _mixes(fg: SpillFile, bed: SpillFile, folder: Path, rule: _Master, window: int, scratch: Path) -> dict[str, Any]:
    """Pass 2: stereo = foreground + bed; 5.1 = BS.775 upmix (front, ambience); each mastered; then the bed stem.

    As in a run (agents/mixing.master_mix, stages.upmix_surround): the stereo's make-up gain is capped at
    MAX_MAKEUP_DB, and the 5.1 aims at what the stereo reached, so both deliveries agree."""
    from foleydesigner.agents.mastering import MAX_MAKEUP_DB

    n = fg.n
    pad = aligned(PREROLL_S)
    pre2, pre6 = SpillFile(scratch / "reel_pre2.f32", 2, n), SpillFile(scratch / "reel_pre6.f32", 6, n)
    for a, b in spans(n, window):
        pre2.write(a, fg.read(a, b) + bed.read(a, b))
        lo, hi = max(0, a - pad), min(n, b + pad)  # the LFE low-pass looks both ways, the surround delay back
        front, amb = fg.read(lo, hi), bed.read(lo, hi)
        pre6.write(a, upmix_51(front, amb, np.zeros_like(front))[:, a - lo: b - lo])
    stereo = _master_to(folder / "mix_stereo.wav", 2, pre2, rule.target_lufs, rule.ceiling_dbtp, window, scratch,
                        max_gain_db=MAX_MAKEUP_DB)
    reached = stereo["integrated_lufs"] if stereo.get("gain_capped") else rule.target_lufs
    surround = _master_to(folder / "mix_5_1.wav", 6, pre6, reached, rule.ceiling_dbtp, window, scratch)
    gain = np.float32(10 ** (stereo.get("gain_db", 0.0) / 20))
    with WavWriter(folder / "bed_stereo.wav", 2) as wav:
        for a, b in spans(n, window):
            wav.write(bed.read(a, b) * gain)
    for s in (pre2, pre6):
        s.remove()
    return {"stereo": stereo, "surround_5_1": surround}


def reel_bytes(samples: int) -> int:
    """Disk a conform needs at its peak: the stereo, 5.1 and bed masters (32-bit) plus their float spill files."""
    return samples * 4 * (2 + 6 + 2) * 2


def conform_reel(shots: list[TimelineShot], job_dirs: dict[str, Path], out_dir: Path, duration_s: float,
                 target_lufs: float, *, folder_name: str = REEL) -> dict:
    """Place every shot's finished run at its record time into `out_dir/reel/` (module doc); returns reel.json.

    folder_name: the reel's folder in out_dir (a batch of several timelines keeps one per timeline).
    """
    if duration_s <= 0:
        raise InputError(f"timeline duration {duration_s:g} s: nothing to conform")
    folder = Path(out_dir) / folder_name
    if folder.exists() and not (folder / "reel.json").is_file():
        raise InputError(f"{folder} exists and is not a conformed reel; choose another --out or move it")
    placed = _place(shots, job_dirs)
    n = int(round(duration_s * SAMPLE_RATE))
    window = aligned(30.0)
    # built beside the reel and swapped in whole: an interrupted conform leaves the previous reel, or none
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{folder_name}.", suffix=".part", dir=out_dir))
    stage.chmod(0o755)  # mkdtemp's 0700 would hide the reel from the rest of the sound team
    scratch = stage / ".internal"
    scratch.mkdir()
    try:
        _bed_gains(placed, window)
        fg, bed = _render_parts(placed, n, window, scratch)
        rule = _master_rule(placed, target_lufs)
        measured = _mixes(fg, bed, stage, rule, window, scratch)
        movie = write_movie(shots, duration_s, stage / "mix_5_1.wav", stage / "mix_stereo.wav", stage / MOVIE, scratch)
        write_session(stage / "session.otio", build_reel_session(placed, folder, duration_s))
        shutil.rmtree(scratch)
        summary = {
            "folder": str(folder), "session": "session.otio", "mix_stereo": "mix_stereo.wav", "mix_5_1": "mix_5_1.wav",
            "bed": "bed_stereo.wav", "movie": movie, "duration_s": duration_s, "samples": n, "sample_rate": SAMPLE_RATE,
            "target_lufs": target_lufs, "master_target_lufs": rule.target_lufs, "true_peak_ceiling_dbtp": rule.ceiling_dbtp,
            "warnings": [*rule.warnings, *([f"make-up gain capped: the reel reads {measured['stereo']['integrated_lufs']:.1f}"
                                            f" LUFS, under its {rule.target_lufs:.0f} LUFS target (the runs are very quiet)"]
                                          if measured["stereo"].get("gain_capped") else [])],
            "stereo": {k: measured["stereo"][k] for k in ("integrated_lufs", "true_peak_dbtp")},
            "surround_5_1": {k: measured["surround_5_1"][k] for k in ("integrated_lufs", "true_peak_dbtp")},
            "shots_placed": len(placed),
            "shots": [{"name": p.shot.name, "scene": p.shot.scene, "run": relative_url(p.folder, folder),
                       "record_start_s": p.shot.record_start_s, "record_end_s": p.shot.record_end_s,
                       "beds": [s["id"] for s in p.stems if s["bed"]],
                       "bed_gain_db": round(20 * np.log10(p.gain), 2) if p.gain > 0 else None,
                       "bed_crossfade_s": [round((p.fade_in[1] - p.fade_in[0]) / SAMPLE_RATE, 4),
                                           round((p.fade_out[1] - p.fade_out[0]) / SAMPLE_RATE, 4)]} for p in placed],
        }
        atomic_write_json(stage / "reel.json", summary)
        if folder.exists():
            old = folder.with_name(f"{stage.name}.old")
            os.replace(folder, old)
            shutil.rmtree(old)
        os.replace(stage, folder)
    except OSError as exc:  # a full disk or a folder we may not write: one line, and the previous reel stays
        if is_disk_full(exc, stage):
            raise FoleyError(f"disk full while conforming the reel: needs ~{human(reel_bytes(n))} at {out_dir}, "
                             f"{human(free_bytes(Path(out_dir)))} free; the previous reel (if any) is unchanged; "
                             "free some space and run it again") from exc
        raise FoleyError(f"cannot write the reel in {out_dir}: {exc.strerror or exc}; choose another --out") from exc
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    log.info("reel: %d shots, %.2f s, %.1f LUFS", len(placed), duration_s, summary["stereo"]["integrated_lufs"])
    return summary


__all__ = ["conform_reel", "build_reel_session", "reel_folders", "BED_XFADE_SCENE_S", "BED_XFADE_CHANGE_S"]
