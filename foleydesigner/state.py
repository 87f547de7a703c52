"""Graph state. Values are JSON-able (pydantic models are stored as model_dump() dicts) so any checkpointer works."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict


def merge_dicts(left: dict[str, Any] | None, right: dict[str, Any] | None) -> dict[str, Any]:
    return {**(left or {}), **(right or {})}


class FoleyState(TypedDict, total=False):
    video_path: str
    screenplay: str | None
    video: dict[str, Any]  # VideoInfo
    tracks: list[dict[str, Any]]  # Track
    scene_script: dict[str, Any]  # SceneScript (FilmScribe's T)
    scribe_feedback: dict[str, Any]  # ScribeFeedback
    scribe_iterations: int
    script: dict[str, Any]  # FoleyScript
    clues: Annotated[dict[str, dict[str, Any]], merge_dicts]  # event id -> EventClues
    stems: Annotated[list[dict[str, Any]], operator.add]  # StemInfo, one per generation branch
    mix: dict[str, Any]  # paths of the mixes and buses written by the mixer
    mix_plan: dict[str, Any]  # MixPlan
    outputs: Annotated[dict[str, str], merge_dicts]
    warnings: Annotated[list[str], operator.add]
    timings: Annotated[dict[str, float], merge_dicts]


class ScribeState(TypedDict, total=False):
    """The FilmScribe subgraph's state: shares keys with FoleyState so it plugs in as a node."""

    video: dict[str, Any]
    tracks: list[dict[str, Any]]
    screenplay: str | None
    scene_script: dict[str, Any]
    scribe_feedback: dict[str, Any]
    scribe_iterations: int
    warnings: Annotated[list[str], operator.add]


class StemTask(TypedDict):
    """Payload of one generation branch (LangGraph Send)."""

    event: dict[str, Any]
    clues: dict[str, Any]
    duration_s: float
    scene: dict[str, Any]
