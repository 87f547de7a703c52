"""Benchmark report: per-system summary (report.json), a readable report.md, and azimuth-over-time plots."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from foleydesigner.eval.metrics import fsad, gcc_mse
from foleydesigner.eval.results import ClipResult
from foleydesigner.eval.systems import SYSTEMS
from foleydesigner.tools.export import atomic_write_json, atomic_write_text
from foleydesigner.units import SAMPLE_RATE

TRUE_PEAK_LIMIT_DBTP = -2.0  # the pipeline's default ceiling (RunContext.true_peak_dbtp)
LUFS_TOLERANCE_LU = 1.0  # ATSC A/85 / EBU R128 delivery tolerance
# (key, column title, format); "g": 3 significant digits, for scores spanning decades (GCC-MSE, FSAD).
_COLUMNS = (("azimuth_err_deg", "azimuth err (°)", ".1f"), ("gcc_mse", "GCC-MSE", ".3g"), ("fsad", "FSAD", ".3g"),
            ("activation_iou", "activation IoU", ".3f"), ("onset_f1", "onset F1", ".3f"),
            ("av_offset_ms", "mean abs A/V offset (ms)", ".1f"), ("lufs_err_lu", "mean abs LUFS err (LU)", ".2f"),
            ("true_peak_dbtp", "max true peak (dBTP)", ".1f"))


def _mean(values: Sequence[float | None]) -> float | None:
    v = [x for x in values if x is not None and math.isfinite(x)]
    return round(float(np.mean(v)), 4) if v else None


def _stem_scores(results: Sequence[ClipResult], system: str, kind: str | None = None) -> list[dict[str, Any]]:
    return [s for r in results if kind in (None, r.detail["kind"])
            for s in r.detail["systems"][system]["stems"].values()]


def _system_summary(results: Sequence[ClipResult], system: str, target_lufs: float) -> dict[str, Any]:
    stems = _stem_scores(results, system)
    pairs = [p for r in results for p in r.pairs.get(system, [])]
    gen, ref = [p[0] for p in pairs], [p[1] for p in pairs]
    out: dict[str, Any] = {
        "n_stems": len(stems),
        "azimuth_err_deg": _mean([s["azimuth_err_deg"] for s in stems]),
        "gcc_mse": round(gcc_mse(gen, ref, SAMPLE_RATE), 4) if pairs else None,
        "fsad": round(fsad(gen, ref, SAMPLE_RATE), 4) if pairs else None,
        "activation_iou": _mean([s["activation_iou"] for s in stems]),
        "onset_f1": _mean([s["onset_f1"] for s in stems]),
        "av_offset_ms": _mean([abs(s["av_offset_ms"]) for s in stems if s["av_offset_ms"] is not None]),
        "av_offset_signed_ms": _mean([s["av_offset_ms"] for s in stems]),
    }
    mixes = [r.detail["systems"][system]["mix"] for r in results if "mix" in r.detail["systems"][system]]
    if mixes:
        out["lufs_err_lu"] = _mean([abs(m["lufs_err_lu"]) for m in mixes])
        out["true_peak_dbtp"] = max(m["true_peak_dbtp"] for m in mixes)
        out["loudness_compliant"] = f"{sum(abs(m['lufs_err_lu']) <= LUFS_TOLERANCE_LU and m['true_peak_dbtp'] <= TRUE_PEAK_LIMIT_DBTP + 0.05 for m in mixes)}/{len(mixes)}"
    surround = [r.detail["systems"][system]["mix_5_1"] for r in results if "mix_5_1" in r.detail["systems"][system]]
    if surround:
        out["lufs_err_lu_5_1"] = _mean([abs(m["lufs_err_lu"]) for m in surround])
        out["true_peak_dbtp_5_1"] = max(m["true_peak_dbtp"] for m in surround)
    return out


def _immersive_summary(results: Sequence[ClipResult]) -> dict[str, Any]:
    """Mean over foreground stems of the FOA / 7.1.4 direction errors (eval/immersive.py), and the loudness."""
    full = [r.detail["systems"]["full"] for r in results]
    stems = [s for f in full for s in f.get("immersive", {}).values()]
    out: dict[str, Any] = {"n_stems": sum(1 for s in stems if s["foa_dir_err_deg"] is not None),
                           "windows": sum(s["windows"] for s in stems)}
    out["solo_n_stems"] = sum(1 for s in stems if s.get("solo_foa_dir_err_deg") is not None)
    out["solo_windows"] = sum(s.get("solo_windows", 0) for s in stems)
    for fmt in ("foa", "7_1_4"):
        out[f"solo_{fmt}_dir_err_deg"] = _mean([s.get(f"solo_{fmt}_dir_err_deg") for s in stems])
        out[f"solo_{fmt}_dir_max_err_deg"] = max((s[f"solo_{fmt}_dir_max_err_deg"] for s in stems
                                                  if s.get(f"solo_{fmt}_dir_max_err_deg") is not None), default=None)
        out[f"{fmt}_dir_err_deg"] = _mean([s[f"{fmt}_dir_err_deg"] for s in stems])
        out[f"{fmt}_dir_max_err_deg"] = max((s[f"{fmt}_dir_max_err_deg"] for s in stems
                                             if s[f"{fmt}_dir_max_err_deg"] is not None), default=None)
        out[f"{fmt}_within_5deg"] = _mean([s[f"{fmt}_within_5deg"] for s in stems])
        mixes = [f[f"mix_{fmt}"] for f in full if f"mix_{fmt}" in f]
        out[f"{fmt}_lufs_err_lu"] = _mean([abs(m["lufs_err_lu"]) for m in mixes])
    return out


def summarize(results: Sequence[ClipResult], *, target_lufs: float) -> dict[str, Any]:
    """report.json's body: per system, the truth-rendered floor, per kind, the acceptance checks, per clip."""
    systems = {s: _system_summary(results, s, target_lufs) for s in SYSTEMS}
    with_library = bool(results) and all("library" in r.detail["systems"] for r in results)
    if with_library:
        systems["library"] = _system_summary(results, "library", target_lufs)
    floor = _system_summary(results, "truth_ref", target_lufs)
    kinds = sorted({r.detail["kind"] for r in results})
    by_kind = {k: {s: {m: _mean([x[m] for x in _stem_scores(results, s, k)])
                       for m in ("azimuth_err_deg", "gcc_mse", "activation_iou", "onset_f1")} for s in SYSTEMS}
               for k in kinds}
    full = systems["full"]

    def beats(metric: str) -> bool:
        vals = [systems[s][metric] for s in SYSTEMS]
        return None not in vals and all(vals[0] < v for v in vals[1:])

    immersive = _immersive_summary(results)
    missed = sum(len(r.detail["missed_truth"]) for r in results)
    checks = {"full_beats_baselines_azimuth": beats("azimuth_err_deg"), "full_beats_baselines_gcc_mse": beats("gcc_mse"),
              "full_activation_iou_ge_0_8": full["activation_iou"] is not None and full["activation_iou"] >= 0.8,
              "every_truth_object_has_a_stem": missed == 0,
              "sources_identical": max(r.detail["source_check_rel_err"] for r in results) < 1e-3 if results else True,
              **{f"{k}_direction_within_5deg": immersive[f"{k}_dir_err_deg"] is not None and immersive[f"{k}_dir_err_deg"] <= 5.0
                 for k in ("foa", "7_1_4", "solo_foa", "solo_7_1_4")}}
    if with_library:
        lib = systems["library"]
        # Placed by the same renderer on the same clues: within 2° of azimuth and 0.05 of activation IoU.
        checks["library_places_like_full"] = (lib["azimuth_err_deg"] is not None and full["azimuth_err_deg"] is not None
                                              and lib["azimuth_err_deg"] <= full["azimuth_err_deg"] + 2.0
                                              and (lib["activation_iou"] or 0.0) >= (full["activation_iou"] or 0.0) - 0.05)
    return {"systems": systems, "immersive": immersive, "floor_truth_rendered": floor, "truth_objects": sum(r.detail["truth_objects"] for r in results),
            "truth_objects_missed": missed, "by_kind": by_kind, "checks": checks,
            "target_lufs": target_lufs, "clips": [r.detail for r in results]}


def _fmt(v: Any, spec: str = ".3f") -> str:
    if v is None:
        return "–"
    if not isinstance(v, float):
        return str(v)
    return f"{v:.0f}" if spec == ".3g" and abs(v) >= 100 else format(v, spec)  # 16806, not 1.68e+04


def markdown_table(report: dict[str, Any]) -> str:
    """The headline table: one row per system, then the truth-rendered floor."""
    head = "| system | stems | " + " | ".join(c[1] for c in _COLUMNS) + " |"
    rows = [head, "|" + "---|" * (len(_COLUMNS) + 2)]
    for name, s in report["systems"].items():
        rows.append(f"| {name} | {s['n_stems']} | " + " | ".join(_fmt(s.get(k), d) for k, _, d in _COLUMNS) + " |")
    floor = report["floor_truth_rendered"]  # only its azimuth error is a floor: its timing is the script's
    rows.append(f"| truth-rendered reference (estimator floor) | {floor['n_stems']} | {_fmt(floor['azimuth_err_deg'], '.1f')} | "
                + " | ".join("–" for _ in _COLUMNS[1:]) + " |")
    return "\n".join(rows)


def _markdown(report: dict[str, Any], plots: list[str]) -> str:
    lines = ["# FoleyDesigner benchmark", "", f"`{report['command']}` — {len(report['clips'])} synthetic clips with exact "
             f"truth, {report.get('elapsed_s', '?')} s.", "", markdown_table(report), "",
             "Azimuth error: `estimate_azimuth_deg` (GCC-PHAT ITD, ILD fallback) per 0.24 s window vs the true azimuth, "
             "over truly active windows. GCC-MSE (10⁻³ ms²) and FSAD (ITD-trajectory Fréchet distance ×1000) against the "
             "truth-rendered references (the same source rendered along the true trajectory); GCC-MSE compares clip-mean ITDs "
             "only, so a static centre scores ~0 on a symmetric left→right pass (see per kind), while FSAD and the "
             "azimuth error see the motion. Activation IoU per video frame: "
             "audible stem activity vs truth visibility (continuous) or onset span (impulsive). Onset F1 within ±1 frame and "
             "A/V offset for impulsive sources. Loudness: each system's final stereo mix vs "
             f"{report['target_lufs']} LUFS; the full system's 5.1: |err| {_fmt(report['systems']['full'].get('lufs_err_lu_5_1'), '.2f')} LU, "
             f"true peak {_fmt(report['systems']['full'].get('true_peak_dbtp_5_1'), '.1f')} dBTP. The floor row scores the "
             "references themselves (estimator error, not the system's).", "", "## Checks", ""]
    lines += [f"- {k}: **{'pass' if v else 'FAIL'}**" for k, v in report["checks"].items()]
    imm = report.get("immersive", {})
    lines += ["", "## Immersive mixes: direction per 0.24 s window vs the clue azimuth", "",
              "FOA: active intensity vector of mix_foa.wav; 7.1.4: energy vector of mix_7_1_4.wav. *Mix*: on the windows "
              "where the event carries at least half of the mix's W power (beds and reverb stay in); *solo*: the event's "
              "object alone through the same renderer, every active window (eval/immersive.py).", "",
              "| format | fg stems | windows | mean abs err (°) | max err (°) | windows within 5° | mean abs LUFS err (LU) |",
              "|---|---|---|---|---|---|---|"]
    for fmt, label in (("foa", "FOA (AmbiX), mix"), ("7_1_4", "7.1.4, mix")):
        lines.append(f"| {label} | {imm.get('n_stems', 0)} | {imm.get('windows', 0)} | {_fmt(imm.get(f'{fmt}_dir_err_deg'), '.2f')} | "
                     f"{_fmt(imm.get(f'{fmt}_dir_max_err_deg'), '.1f')} | {_fmt(imm.get(f'{fmt}_within_5deg'), '.3f')} | "
                     f"{_fmt(imm.get(f'{fmt}_lufs_err_lu'), '.2f')} |")
    for fmt, label in (("foa", "FOA (AmbiX), solo"), ("7_1_4", "7.1.4, solo")):
        lines.append(f"| {label} | {imm.get('solo_n_stems', 0)} | {imm.get('solo_windows', 0)} | "
                     f"{_fmt(imm.get(f'solo_{fmt}_dir_err_deg'), '.2f')} | {_fmt(imm.get(f'solo_{fmt}_dir_max_err_deg'), '.1f')} | – | – |")
    lines += ["", "## Per kind (mean over stems)", "", "| kind | metric | " + " | ".join(SYSTEMS) + " |",
              "|---|---|" + "---|" * len(SYSTEMS)]
    for kind, per in report["by_kind"].items():
        for m in ("azimuth_err_deg", "gcc_mse", "activation_iou", "onset_f1"):
            lines.append(f"| {kind} | {m} | " + " | ".join(_fmt(per[s][m], ".3g") for s in SYSTEMS) + " |")
    lines += ["", "## Per stem", "", "| clip | event | truth | " + " | ".join(f"az err {s}" for s in SYSTEMS)
              + " | IoU full | onset F1 full | A/V ms full |", "|---|---|---|" + "---|" * (len(SYSTEMS) + 3)]
    for clip in report["clips"]:
        for eid, truth in clip["matched"].items():
            s = {k: clip["systems"][k]["stems"][eid] for k in SYSTEMS}
            lines.append(f"| {clip['clip']} | {eid} | {truth} | " + " | ".join(_fmt(s[k]["azimuth_err_deg"], ".1f") for k in SYSTEMS)
                         + f" | {_fmt(s['full']['activation_iou'])} | {_fmt(s['full']['onset_f1'])}"
                         f" | {_fmt(s['full']['av_offset_ms'], '.1f')} |")
        if clip["unmatched_fg"]:
            lines.append(f"| {clip['clip']} | {', '.join(clip['unmatched_fg'])} | *no truth match* |" + " |" * (len(SYSTEMS) + 3))
        if clip["missed_truth"]:
            lines.append(f"| {clip['clip']} | *no stem* | {', '.join(clip['missed_truth'])} (missed) |" + " |" * (len(SYSTEMS) + 3))
    lines += ["", "## Azimuth over time", ""] + [f"![{p}](plots/{p})" for p in plots]
    return "\n".join(lines) + "\n"


def plot_clip(result: ClipResult, path: Path) -> bool:
    """Truth azimuth vs each system's estimated azimuth per window (and the pipeline's clue), one panel per stem."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    events = sorted({p["event"] for p in result.plot})
    if not events:
        return False
    fig, axes = plt.subplots(len(events), 1, figsize=(8, 2.6 * len(events)), squeeze=False)
    style = {"full": ("o", "tab:blue"), "no_stc": ("s", "tab:orange"), "coarse_text": ("^", "tab:green"),
             "truth_ref": ("x", "0.6"), "library": ("d", "tab:purple")}
    for ax, eid in zip(axes[:, 0], events, strict=True):
        for p in (p for p in result.plot if p["event"] == eid):
            if p["system"] == "truth":
                az = np.where(np.asarray(p["active"]) > 0, p["azimuth_deg"], np.nan)
                ax.plot(p["t_s"], p["azimuth_deg"], color="k", lw=0.8, alpha=0.3)
                ax.plot(p["t_s"], az, color="k", lw=2, label="truth")
            elif p["system"] == "clues":
                ax.plot(p["t_s"], p["azimuth_deg"], color="tab:blue", ls="--", lw=1, alpha=0.6, label="full: clue")
            else:
                marker, colour = style[p["system"]]
                ax.plot(p["t_s"], p["azimuth_deg"], marker, color=colour, ms=4, ls="none", label=p["system"])
        ax.set_title(f"{result.detail['clip']} · {eid} · {result.detail['matched'][eid]}", fontsize=9)
        ax.set_ylabel("azimuth (°)")
        ax.set_ylim(-90, 90)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=7, ncol=3, loc="upper left")
    axes[-1, 0].set_xlabel("time (s)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True


def write_report(report: dict[str, Any], results: Sequence[ClipResult], out: Path) -> None:
    plots = []
    (out / "plots").mkdir(parents=True, exist_ok=True)
    for r in results:
        name = f"{r.detail['clip']}.png"
        if plot_clip(r, out / "plots" / name):
            plots.append(name)
    atomic_write_json(out / "report.json", report)
    atomic_write_text(out / "report.md", _markdown(report, plots))
