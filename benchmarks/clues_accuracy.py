"""Accuracy and speed of the visual clue extractors against synthetic ground truth.

    python benchmarks/clues_accuracy.py [--seeds 3] [--out DIR]     # synthetic set, per clip and overall
    python benchmarks/clues_accuracy.py --vtest PATH [--out DIR]    # per-track summary of a real clip

Targets: azimuth MAE ≤ 3°, onset F1 ≥ 0.9 within ±1 frame, activation IoU ≥ 0.85, analysis ≥ 4× real time
on 640×360 at 25 fps. Speed is a ratio measured in this run (frames analysed per second ÷ clip fps), both
on wall-clock time and on this process's CPU time (the latter is robust to other jobs sharing the cores).
"""

from __future__ import annotations

import argparse
import logging
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from foleydesigner.bench import KINDS, ObjectScore, make_clip, score_object  # noqa: E402
from foleydesigner.schemas import Track  # noqa: E402
from foleydesigner.tools.depth import geometric_depth_m  # noqa: E402
from foleydesigner.tools.onsets import gait_analysis  # noqa: E402
from foleydesigner.tools.tracking import track_objects  # noqa: E402
from foleydesigner.tools.video import iter_frames, probe_video  # noqa: E402
from foleydesigner.units import azimuth_from_x  # noqa: E402


def _decode_s(path: Path) -> float:
    """Wall time of decoding every frame and nothing else: the yardstick measured in the same run."""
    t0 = time.perf_counter()
    for _ in iter_frames(path):
        pass
    return time.perf_counter() - t0


def _timed_tracks(path: Path) -> tuple[list[Track], float, float, int, float]:
    """Tracks, best-of-2 wall time (other jobs on a shared machine only ever add time), CPU time, frames, fps."""
    info = probe_video(path)
    walls = []
    for _ in range(2):
        wall, cpu = time.perf_counter(), time.process_time()
        tracks = track_objects(path, info)
        walls.append(time.perf_counter() - wall)
        cpu = time.process_time() - cpu
    return tracks, min(walls), cpu, info.n_frames, info.fps


def _fmt(x: float, spec: str = ".2f") -> str:
    return "  n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def run_synthetic(out: Path, seeds: int, width: int, height: int, fps: float, duration: float) -> int:
    scores: list[tuple[str, ObjectScore]] = []
    wall_total = cpu_total = decode_total = 0.0
    frames_total, false_tracks = 0, 0
    print(f"{'clip':<22}{'obj':>4} {'label/motion':<18}{'az MAE°':>8}{'depth err':>10}{'+ground':>8}"
          f"{'act IoU':>8}{'cover':>6}{'ids':>4}{'onset F1':>9}{'med ms':>7}")
    for kind in KINDS:
        for seed in range(seeds):
            path = out / f"{kind}_{seed}.mp4"
            truth = make_clip(kind, path, width=width, height=height, fps=fps, duration_s=duration, seed=seed)
            tracks, wall, cpu, n, clip_fps = _timed_tracks(path)
            wall_total, cpu_total, frames_total = wall_total + wall, cpu_total + cpu, frames_total + n
            decode_total += min(_decode_s(path) for _ in range(2))
            matched = set()
            for obj in truth.objects:
                sc = score_object(obj, tracks, truth)
                matched.add(sc.track_id)
                scores.append((kind, sc))
                med = statistics.median([abs(e) for e in sc.onset_errors_ms]) if sc.onset_errors_ms else float("nan")
                print(f"{path.stem:<22}{obj.id:>4} {sc.label + '/' + sc.motion:<18}{_fmt(sc.azimuth_mae_deg):>8}"
                      f"{_fmt(sc.depth_rel_err, '.1%'):>10}{_fmt(sc.depth_rel_err_ground, '.1%'):>8}"
                      f"{sc.activation_iou:>8.3f}{sc.coverage:>6.2f}{sc.n_ids:>4}{sc.onset_f1:>9.3f}{_fmt(med, '.0f'):>7}")
            extra = [tr for tr in tracks if tr.id not in matched]
            false_tracks += len(extra)
            if extra or not truth.objects:
                print(f"{path.stem:<22}  false tracks: {len(extra)} "
                      f"{[(tr.label, tr.motion, round(tr.end_s - tr.start_s, 1)) for tr in extra]}")
    print("\nper kind and overall (means over objects; onset F1 pooled over all onsets)")
    groups = {k: [s for kk, s in scores if kk == k] for k in KINDS} | {"OVERALL": [s for _, s in scores]}
    for name, ss in groups.items():
        if not ss:
            continue
        tp, fp, fn = (sum(getattr(s, a) for s in ss) for a in ("onset_tp", "onset_fp", "onset_fn"))
        f1 = 1.0 if 2 * tp + fp + fn == 0 else 2 * tp / (2 * tp + fp + fn)
        errs = [abs(e) for s in ss for e in s.onset_errors_ms]
        az = [s.azimuth_mae_deg for s in ss if not math.isnan(s.azimuth_mae_deg)]
        de = [s.depth_rel_err for s in ss if not math.isnan(s.depth_rel_err)]
        dg = [s.depth_rel_err_ground for s in ss if not math.isnan(s.depth_rel_err_ground)]
        print(f"{name:<15} az MAE {_fmt(statistics.fmean(az) if az else float('nan'))}°  "
              f"depth err {_fmt(statistics.fmean(de) if de else float('nan'), '.1%')} "
              f"(+ground {_fmt(statistics.fmean(dg) if dg else float('nan'), '.1%')})  "
              f"act IoU {statistics.fmean(s.activation_iou for s in ss):.3f}  "
              f"single id {sum(s.n_ids == 1 for s in ss)}/{len(ss)}  "
              f"onset F1 {f1:.3f} (tp {tp} fp {fp} fn {fn})  median |err| {_fmt(statistics.median(errs) if errs else float('nan'), '.0f')} ms")
    print(f"false tracks (no truth object): {false_tracks}")
    print(f"speed on {width}x{height} @ {fps:g} fps: {frames_total / wall_total:.0f} frames/s wall "
          f"= {frames_total / wall_total / fps:.1f}x real time; {frames_total / cpu_total:.0f} frames per CPU-second "
          f"= {frames_total / cpu_total / fps:.1f}x real time per core; analysis / decode-only time "
          f"= {wall_total / decode_total:.1f} (decode alone: {frames_total / decode_total / fps:.1f}x real time)")
    return 0


def run_vtest(path: Path) -> int:
    tracks, wall, cpu, n, fps = _timed_tracks(path)
    print(f"{path}: {n} frames, {len(tracks)} tracks, {n / wall:.0f} frames/s wall ({n / wall / fps:.1f}x real time), "
          f"{n / cpu:.0f} frames per CPU-second")
    print(f"{'id':>3} {'label':<8}{'motion':<9}{'start':>6}{'end':>6}{'seen':>5}{'onsets':>7}{'/s':>6}"
          f"{'gait':>9}{'az°':>7}{'depth m':>8}")
    for tr in tracks:
        span = max(tr.end_s - tr.start_s, 1e-6)
        mid = tr.boxes[len(tr.boxes) // 2]
        az = azimuth_from_x(mid[0] + mid[2] / 2, tr.frame_width)
        depth = geometric_depth_m(mid, label=tr.label, frame_width=tr.frame_width, frame_height=tr.frame_height)
        gait = gait_analysis(tr, fps).method if tr.motion == "walking" else "-"
        print(f"{tr.id:>3} {tr.label:<8}{tr.motion:<9}{tr.start_s:>6.1f}{tr.end_s:>6.1f}{len(tr.frames):>5}"
              f"{len(tr.onsets_s):>7}{len(tr.onsets_s) / span:>6.2f}{gait:>9}{az:>7.1f}{depth:>8.1f}")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, help="folder for the generated clips (default: a temp folder)")
    ap.add_argument("--seeds", type=int, default=3, help="clips per kind")
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=360)
    ap.add_argument("--fps", type=float, default=25.0)
    ap.add_argument("--duration", type=float, default=4.0)
    ap.add_argument("--vtest", type=Path, help="summarise the tracks of a real clip instead")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.vtest:
        return run_vtest(args.vtest)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        return run_synthetic(args.out, args.seeds, args.width, args.height, args.fps, args.duration)
    with tempfile.TemporaryDirectory() as tmp:
        return run_synthetic(Path(tmp), args.seeds, args.width, args.height, args.fps, args.duration)


if __name__ == "__main__":
    raise SystemExit(main())
