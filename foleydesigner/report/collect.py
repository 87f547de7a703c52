"""Gather what the report shows from a run folder's output contract files (DESIGN.md), and nothing else.

The page gets one JSON object. Per-frame arrays are thinned to a few hundred points per event so that the page
of a 300 s run stays small (the 5 MB budget is for the HTML; media live beside it in report_media/).
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

from foleydesigner.errors import InputError
from foleydesigner.report.mixdown import stem_path
from foleydesigner.report.review import depth_scale, immersive, readable, vocabulary
from foleydesigner.trace_view import load_trace, per_agent, timeline
from foleydesigner.units import DEFAULT_HFOV_DEG

log = logging.getLogger(__name__)
#: Points per curve in the placement plots: one every ~0.75 s on a 300 s clip, every frame on the demo.
MAX_POINTS = 400


def _read_json(path: Path, *, required: bool = False) -> Any:
    if not path.is_file():
        if required:
            raise InputError(f"{path.parent} has no {path.name}; give the --out folder of a `foley run`")
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path} is not JSON ({exc}); the run folder is damaged — rerun `foley run`") from exc


def _thin(values: list[Any], step: int, ndigits: int) -> list[Any]:
    return [round(float(v), ndigits) for v in values[::step]]


def active_spans(t_s: list[float], activation: list[int], frame_s: float) -> list[list[float]]:
    """Frame-level 0/1 activation -> [[start, end], ...] in seconds (end = last active frame + one frame)."""
    spans: list[list[float]] = []
    start = None
    for t, a in zip(t_s, activation, strict=False):
        if a and start is None:
            start = t
        elif not a and start is not None:
            spans.append([round(start, 3), round(t, 3)])
            start = None
    if start is not None and t_s:
        spans.append([round(start, 3), round(t_s[-1] + frame_s, 3)])
    return spans


def _shots(script: dict[str, Any], clues: dict[str, Any]) -> list[dict[str, Any]]:
    """Shots from script.json or clues.json when the spotting recorded them; the camera motion's name is read
    from whichever field carries it (a string, or a dict with a 'kind')."""
    raw = script.get("shots") or clues.get("shots") or []
    out = []
    for i, s in enumerate(raw):
        if not isinstance(s, dict) or "start_s" not in s:
            continue
        cam = s.get("camera_motion", s.get("camera", s.get("motion", "")))
        if isinstance(cam, dict):
            cam = cam.get("kind", cam.get("type", ""))
        out.append({"index": int(s.get("index", i)), "start_s": float(s["start_s"]),
                    "end_s": float(s.get("end_s", s["start_s"])), "camera": str(cam or "")})
    return out


def _events(script: dict[str, Any], run_dir: Path) -> list[dict[str, Any]]:
    keep = ("id", "label", "description", "layer", "start_s", "end_s", "source_track", "intensity", "origin",
            "azimuth_deg", "depth_m")
    out = []
    for e in script.get("events", []):
        ev = {k: e.get(k) for k in keep}
        ev["onsets_s"] = [round(float(t), 3) for t in e.get("onsets_s", [])]
        conf = e.get("confidence")
        ev["confidence"] = None if conf is None else round(float(conf), 3)
        ev["evidence"] = readable(e.get("evidence"))
        ev["surface"] = (e.get("params") or {}).get("surface")
        path = stem_path(run_dir, e["id"])  # `--stem-format flac` delivers stems/<id>.flac
        ev["stem"] = path.relative_to(run_dir).as_posix() if path else None
        out.append(ev)
    return out


def _clues(clues: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for c in clues.get("events", []):
        t = c.get("t_s", [])
        if not t:
            continue
        step = max(1, math.ceil(len(t) / MAX_POINTS))
        out[c["event_id"]] = {"source": c.get("source", ""), "t": _thin(t, step, 3), "az": _thin(c["azimuth_deg"], step, 1),
                              "depth": _thin(c["depth_m"], step, 2),
                              "active": active_spans(t, c["activation"], 1.0 / float(c.get("fps") or 25.0))}
    return out


def _tracks(records: list[dict[str, Any]], wanted: set[int]) -> dict[str, Any]:
    """On-screen boxes of the tracks events are tied to, from load_video's line in trace.jsonl."""
    out: dict[str, Any] = {}
    for r in records:
        if r.get("node") != "load_video" or not isinstance(r.get("parsed"), list):
            continue
        for tr in r["parsed"]:
            if not isinstance(tr, dict) or tr.get("id") not in wanted or "boxes" not in tr:
                continue
            step = max(1, math.ceil(len(tr["t_s"]) / MAX_POINTS))
            out[str(tr["id"])] = {"label": tr.get("label", ""), "w": tr.get("frame_width"), "h": tr.get("frame_height"),
                                  "t": _thin(tr["t_s"], step, 3),
                                  "box": [[round(float(v), 1) for v in b] for b in tr["boxes"][::step]]}
    return out


def _scribe(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """FilmScribe's generate/validate rounds: what each round wrote and what the validator found."""
    out = []
    for r in records:
        node = r.get("node", "")
        if not node.startswith("filmscribe.") or r.get("kind") != "agent":
            continue
        parsed = r.get("parsed") if isinstance(r.get("parsed"), dict) else {}
        row = {"iteration": r.get("iteration"), "step": node.split(".", 1)[1], "backend": r.get("backend", ""),
               "latency_s": r.get("latency_s"), "error": r.get("error")}
        if "valid" in parsed:
            row.update(valid=parsed.get("valid"), issues=parsed.get("issues", []),
                       missing=parsed.get("missing_track_ids", []))
        else:
            row.update(summary=parsed.get("summary", ""),
                       entities=[f"{e.get('name')}: {e.get('action')} {e.get('start_s', 0):.1f}-{e.get('end_s', 0):.1f} s"
                                 for e in parsed.get("entities", []) if isinstance(e, dict)][:40])
        out.append(row)
    return out


def _tot(tree: dict[str, Any] | None) -> dict[str, Any] | None:
    if not tree:
        return None
    nodes = {n["id"]: n for n in tree.get("nodes", [])}
    path, cur = [], tree.get("winner")
    while cur in nodes:
        path.append(cur)
        cur = nodes[cur].get("parent")
    slim = []
    for n in nodes.values():
        script = n.get("script") or {}
        exp = n.get("expansion") or {}
        slim.append({"id": n["id"], "parent": n.get("parent"), "depth": n.get("depth", 0), "status": n.get("status"),
                     "scores": n.get("scores"), "events": len(script.get("events", [])) if script else None,
                     "principle": exp.get("principle"), "operator": exp.get("operator"),
                     "rationale": exp.get("rationale"), "edits": exp.get("edits", [])[:30], "backend": exp.get("backend")})
    return {"params": tree.get("params", {}), "winner": tree.get("winner"), "stop_reason": tree.get("stop_reason"),
            "nodes": slim, "edges": tree.get("edges", []), "path": path[::-1]}


def _agents(records: list[dict[str, Any]]) -> dict[str, Any]:
    rows = timeline(records)
    t0 = min((r.get("ts", 0.0) - r.get("latency_s", 0.0) for r in records), default=0.0)
    retries = sum(len(r.get("retries") or []) for r in records)
    fallbacks = [r.get("warning", "") for r in records if r.get("kind") == "fallback"]
    errors = [f"{r.get('node')}: {r.get('error')}" for r in records if r.get("error")]
    for row in rows:
        row["end_s"] = round(row["t_s"] + row["latency_s"], 3)
    span = max((r.get("ts", 0.0) - t0 for r in records), default=0.0)
    return {"rows": rows, "per_agent": per_agent(records), "retries": retries, "fallbacks": fallbacks,
            "errors": errors, "span_s": round(span, 3)}


def _mix(plan: dict[str, Any] | None) -> dict[str, Any] | None:
    if not plan:
        return None
    feats = []
    for f in plan.get("features", []):
        feats.append({k: f.get(k) for k in ("event_id", "label", "layer", "integrated_lufs", "peak_dbfs", "crest_db",
                                            "masked_by_db", "masked_by_bg_db", "masked_bands_hz", "rt60_s", "drr_db",
                                            "short_term_max_lufs", "loudness_range_lu")})
    ver = plan.get("verification", {})
    return {"target_lufs": plan.get("target_lufs"), "true_peak_dbtp": plan.get("true_peak_dbtp"), "features": feats,
            "plan": plan.get("plan", {}), "space": plan.get("space", {}), "targets": plan.get("analysis", {}).get("targets", {}),
            "planner": ver.get("planner"), "rounds": ver.get("rounds", []), "master": ver.get("master", {}),
            "delivery": ver.get("delivery", {})}


def page_data(run_dir: str | Path) -> dict[str, Any]:
    """The report's data from the contract files of one run folder (raises InputError when it is not one)."""
    run_dir = Path(run_dir)
    run = _read_json(run_dir / "run.json", required=True)
    script = _read_json(run_dir / "script.json", required=True)
    clues = _read_json(run_dir / "clues.json") or {}
    records = load_trace(run_dir) if (run_dir / "trace.jsonl").is_file() else []
    warnings = list(run.get("warnings", []))
    plan = _read_json(run_dir / "mix_plan.json")
    events = _events(script, run_dir)
    video = run.get("video", {})
    video_file = run.get("outputs", {}).get("video")
    if not video_file or not (run_dir / video_file).is_file():
        warnings.append("the muxed video is missing from the run folder: the report shows no picture")
        video_file = None
    missing = [e["id"] for e in events if e["stem"] is None]
    if missing:
        warnings.append(f"stems missing for {', '.join(missing)}: their mixer strips are silent")
    wanted = {int(e["source_track"]) for e in events if e.get("source_track") is not None}
    return {
        "clip": Path(video.get("path", run_dir.name)).name,
        "duration_s": float(script.get("duration_s") or video.get("duration_s") or 0.0),
        "video": {"file": video_file, "width": video.get("width"), "height": video.get("height"), "fps": video.get("fps"),
                  "codec": video.get("codec")},
        "scene": script.get("scene", {}), "notes": script.get("notes", []), "events": events, "clues": _clues(clues),
        "shots": _shots(script, clues), "tracks": _tracks(records, wanted), "mix": _mix(plan),
        "tot": _tot(_read_json(run_dir / "tot_tree.json")), "scribe": _scribe(records), "agents": _agents(records),
        "run": {k: run.get(k) for k in ("versions", "backends", "seed", "timings_s", "tokens", "cost_usd", "llm_usage")},
        "warnings": warnings, "hfov_deg": float(run.get("hfov_deg") or DEFAULT_HFOV_DEG),
        "depth_scale_m": depth_scale(clues), "immersive": immersive(run_dir, plan, clues), "vocabulary": vocabulary(script),
        "run_dir": run_dir.resolve().name,
    }
