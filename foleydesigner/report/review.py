"""What the review desk adds to the report's data: the immersive deliveries and their objects, a placement scale
that one depth glitch cannot set, and the vocabulary the edits panel offers (classes, surfaces, candidates)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

#: Top view and depth plot span this percentile of every clue's depth: a walker tracked at 116 m for a few
#: frames (a depth glitch) must not shrink every other source onto the listener.
DEPTH_PERCENTILE = 95.0
_FILES = {"binaural": "mix_binaural.wav", "foa": "mix_foa.wav", "7.1.4": "mix_7_1_4.wav"}
_CHANNELS = {"binaural": 2, "foa": 4, "7.1.4": 12}
_MAX_POINTS = 400


def depth_scale(clues: dict[str, Any]) -> float:
    """Metres the top view and the depth plot span: the 95th percentile of the depths of every event's active
    frames (what the top view draws), at least 2 m, with 10 % headroom, rounded up."""
    parts = []
    for c in clues.get("events", []):
        d = np.asarray(c.get("depth_m") or [], dtype=float)
        act = np.asarray(c.get("activation") or [1] * len(d), dtype=bool)
        parts.append(d[act[: len(d)]] if act.size >= len(d) else d)
    depths = np.concatenate(parts) if parts else np.zeros(0)
    depths = depths[np.isfinite(depths) & (depths > 0)]
    if not depths.size:
        return 2.0
    return float(max(2.0, math.ceil(np.percentile(depths, DEPTH_PERCENTILE) * 1.1)))


def immersive(run_dir: Path, plan: dict[str, Any] | None, clues: dict[str, Any]) -> dict[str, Any]:
    """The immersive deliveries present in the run (file, channels, loudness and true peak as mastered), and the
    objects they place: per event, time, azimuth and elevation (thinned) from objects/<id>.automation.json."""
    delivery = ((plan or {}).get("verification") or {}).get("delivery") or {}
    formats = {}
    for fmt, name in _FILES.items():
        if (run_dir / name).is_file():
            m = delivery.get(fmt) or {}
            formats[fmt] = {"file": name, "channels": _CHANNELS[fmt], "integrated_lufs": m.get("integrated_lufs"),
                            "true_peak_dbtp": m.get("true_peak_dbtp"), "hrtf": m.get("hrtf")}
    objects: dict[str, Any] = {}
    for path in sorted((run_dir / "objects").glob("*.automation.json")) if formats else []:
        try:
            lane = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        pts = lane.get("points") or []
        step = max(1, math.ceil(len(pts) / _MAX_POINTS))
        objects[str(lane.get("event_id", path.name.split(".")[0]))] = {
            "t": [round(float(p["time_s"]), 3) for p in pts[::step]],
            "az": [round(float(p["azimuth_deg"]), 1) for p in pts[::step]],
            "el": [round(float(p["elevation_deg"]), 1) for p in pts[::step]]}
    if formats and not objects:  # no lanes written: the clues' own azimuth and elevation are what was rendered
        for c in clues.get("events", []):
            t = c.get("t_s") or []
            step = max(1, math.ceil(len(t) / _MAX_POINTS))
            el = c.get("elevation_deg") or [0.0] * len(t)
            objects[c["event_id"]] = {"t": [round(v, 3) for v in t[::step]],
                                      "az": [round(v, 1) for v in c["azimuth_deg"][::step]],
                                      "el": [round(v, 1) for v in el[::step]]}
    return {"formats": formats, "objects": objects}


def _surfaces_of(name: str) -> list[str]:
    """The walking surfaces a class's generator takes ([] when it has none: a surface edit would be refused)."""
    from foleydesigner.generation import procedural

    cls = procedural.resolve_class(name)
    choices = procedural.param_options(cls).get("surface") if cls else None
    return [str(c) for c in choices] if choices and isinstance(choices[0], str) else []


def vocabulary(script: dict[str, Any]) -> dict[str, Any]:
    """What the edits panel offers: every class name the lexicon knows (with its layer and the surfaces its
    generator takes), and the candidates a supervisor may restore."""
    from foleydesigner.lexicon import ENTRIES

    seen: dict[str, Any] = {}
    for e in ENTRIES:
        if e.name not in seen:
            seen[e.name] = {"name": e.name, "layer": e.layer, "surfaces": _surfaces_of(e.sound_class)}
    for ev in script.get("events", []):  # a label the generator knows but the lexicon does not keeps its own entry
        name = str(ev.get("label") or "")
        if name and name not in seen:
            seen[name] = {"name": name, "layer": ev.get("layer"), "surfaces": _surfaces_of(name)}
    cands = [{"id": c.get("id"), "label": c.get("label"), "layer": c.get("layer"), "start_s": c.get("start_s"),
              "end_s": c.get("end_s"), "onsets": len(c.get("onsets_s") or []), "confidence": c.get("confidence"),
              "evidence": readable(c.get("evidence"))} for c in script.get("candidates", []) if isinstance(c, dict)]
    return {"classes": sorted(seen.values(), key=lambda c: c["name"]), "candidates": cands}


def readable(value: Any, limit: int = 400) -> str:
    """Evidence as a person reads it: a list one fact per '; ', a mapping as 'key: value', numbers rounded,
    text as written (no JSON quoting or \\u escapes); cut at limit characters."""
    def text(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.3g}"
        if isinstance(v, dict):
            return ", ".join(f"{k}: {text(x)}" for k, x in v.items() if x is not None)
        if isinstance(v, (list, tuple)):
            return "; ".join(text(x) for x in v if x is not None)
        return "" if v is None else str(v)

    out = text(value)
    return out if len(out) <= limit else out[: limit - 1] + "…"
