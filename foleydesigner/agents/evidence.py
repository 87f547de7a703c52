"""What the agents know about the visual evidence: track text for prompts, a track-detail tool, motion rules.

Shared by FilmScribe, its validator, the script writer and the Tree-of-Thought search, so every agent reads
the same facts the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from langchain_core.tools import StructuredTool

from foleydesigner.schemas import SceneContext, Track

#: Normal walking is 1.6–2.2 steps/s (Ji 2005); used when the tracker found no footfalls in a walker's boxes.
DEFAULT_CADENCE_HZ = 1.8
#: Step length ≈ 0.41 × body height, so cadence ≈ speed in body heights per second / 0.41 (tools/onsets.py).
STEP_PER_HEIGHT = 0.41
#: A sliding or thrown object faster than this (frame widths per second) swishes; slower ones are silent.
WHOOSH_SPEED = 0.35


def side_of(x_center: float, width: float) -> str:
    third = width / 3.0
    return "left" if x_center < third else "right" if x_center > 2 * third else "centre"


def track_path(track: Track) -> str:
    x0 = track.boxes[0][0] + track.boxes[0][2] / 2
    x1 = track.boxes[-1][0] + track.boxes[-1][2] / 2
    a, b = side_of(x0, track.frame_width), side_of(x1, track.frame_width)
    return a if a == b else f"{a}->{b}"


def track_speed(track: Track) -> float:
    """Mean horizontal speed in frame widths per second."""
    span = track.end_s - track.start_s
    if span <= 0:
        return 0.0
    x0 = track.boxes[0][0] + track.boxes[0][2] / 2
    x1 = track.boxes[-1][0] + track.boxes[-1][2] / 2
    return abs(x1 - x0) / track.frame_width / span


def track_summary(tracks: list[Track]) -> str:
    if not tracks:
        return "(no moving objects found)"
    lines = []
    for t in tracks:
        onsets = ", ".join(f"{o:.2f}" for o in t.onsets_s[:12]) + (" …" if len(t.onsets_s) > 12 else "")
        lines.append(f"- track {t.id}: {t.label}, {t.motion}, {t.start_s:.2f}-{t.end_s:.2f} s, {track_path(t)}, "
                     f"onsets [{onsets}]")
    return "\n".join(lines)


def track_details(track: Track) -> dict[str, Any]:
    """Where a track is every half second (x centre as a fraction of the width, box height in pixels)."""
    path = []
    next_t = track.start_s
    for t, (x, _y, w, h) in zip(track.t_s, track.boxes, strict=True):
        if t + 1e-9 >= next_t:
            path.append({"t_s": round(t, 2), "x": round((x + w / 2) / track.frame_width, 3), "h_px": round(h)})
            next_t = t + 0.5
    return {"id": track.id, "label": track.label, "motion": track.motion, "start_s": track.start_s,
            "end_s": track.end_s, "speed_widths_per_s": round(track_speed(track), 3), "onsets_s": track.onsets_s,
            "path": path}


def describe_track_tool(tracks: list[Track]) -> StructuredTool:
    """A LangChain tool over this clip's tracks, for LLM agents that want more than the summary."""
    by_id = {t.id: t for t in tracks}

    def describe_track(track_id: int) -> dict[str, Any]:
        """Details of one motion track: label, motion class, time span, speed, visual onsets (footfalls,
        bounces, impacts) and its position every half second (x as a fraction of the frame width)."""
        if track_id not in by_id:
            raise ValueError(f"no track {track_id}; tracks are {sorted(by_id)}")
        return track_details(by_id[track_id])

    return StructuredTool.from_function(describe_track)


# --- motion-track rules: what a tracked thing sounds like --------------------------------------------------

@dataclass(frozen=True)
class TrackSound:
    label: str  # lexicon class
    onsets_s: list[float]
    params: dict[str, Any] = field(default_factory=dict)
    intensity: float = 0.7


def cadence_onsets(track: Track) -> list[float]:
    """Footfalls for a walker whose boxes gave none: a regular gait at the cadence its speed implies."""
    heights = sorted(b[3] for b in track.boxes)
    height_px = heights[len(heights) // 2] or 1.0
    speed_heights = track_speed(track) * track.frame_width / height_px
    cadence = min(2.8, max(1.4, speed_heights / STEP_PER_HEIGHT)) if speed_heights > 0.05 else DEFAULT_CADENCE_HZ
    out, t = [], track.start_s + 0.5 / cadence
    while t <= track.end_s:
        out.append(round(t, 3))
        t += 1.0 / cadence
    return out


def sound_for_track(track: Track, scene: SceneContext) -> TrackSound | None:
    """Foley practice as rules: people walk (footsteps on the scene's surface, one onset per step), balls bounce,
    vehicles pass or idle, objects that stop hard hit something, fast objects swish. None: it makes no sound."""
    onsets = list(track.onsets_s)
    surface = next((s for s in scene.surfaces), None) or ("concrete" if scene.location == "outdoor" else "wood")
    if track.label == "person" and track.motion in ("walking", "moving", "bouncing"):
        steps = onsets or cadence_onsets(track)
        duration = max(track.end_s - track.start_s, 1e-3)
        label = "running_footsteps" if len(steps) / duration > 2.5 else "footsteps"
        return TrackSound(label, steps, {"surface": surface})
    if track.label == "vehicle":
        return TrackSound("engine_idle" if track.motion == "static" else "engine_passby", [], {}, 0.7)
    if track.motion == "bouncing" or (track.label == "ball" and onsets):
        return TrackSound("ball_bounce", onsets, {}, 0.7)
    if track.motion == "walking":
        return TrackSound("footsteps", onsets or cadence_onsets(track), {"surface": surface})
    if track.motion == "moving" and onsets:
        metal = "metal" in scene.surfaces
        return TrackSound("impact_metal" if metal else "impact_wood", onsets, {}, 0.65)
    if track.motion == "moving" and track_speed(track) >= WHOOSH_SPEED:
        return TrackSound("whoosh", [], {}, 0.4)
    return None


def sounding(track: Track, scene: SceneContext) -> bool:
    return sound_for_track(track, scene) is not None
