"""Graph state. Values are JSON-able (pydantic models are stored as model_dump() dicts) so any checkpointer works.

TypedDicts come from typing_extensions: pydantic (which LangGraph's dev server uses for the input and output JSON
Schemas Studio shows) rejects typing.TypedDict before Python 3.12.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any

from typing_extensions import TypedDict


def merge_dicts(left: dict[str, Any] | None, right: dict[str, Any] | None) -> dict[str, Any]:
    return {**(left or {}), **(right or {})}


class FoleyInput(TypedDict, total=False):
    """What a run starts from: the clip, and the screenplay's text if there is one."""

    video_path: str
    screenplay: str | None


class FoleyState(TypedDict, total=False):
    video_path: str
    work_dir: str  # the folder the run writes into (its trace.jsonl): shown by Studio, where no --out names it
    screenplay: str | None
    video: dict[str, Any]  # VideoInfo
    tracks: list[dict[str, Any]]  # Track
    shots: list[dict[str, Any]]  # Shot: cuts, fades, dissolves and the camera in each
    picture: dict[str, Any]  # SceneContext read from the picture (place, light) when no screenplay says
    scene_script: dict[str, Any]  # SceneScript (FilmScribe's T)
    scribe_feedback: dict[str, Any]  # ScribeFeedback
    scribe_iterations: int
    script: dict[str, Any]  # FoleyScript
    tot_tree: dict[str, Any]  # TotTree under construction (nodes + edges, JSON-able)
    tot_frontier: list[str]  # ToT node ids kept at the current level
    tot_level: int
    tot_stop: str  # why the search stopped ('' while it runs)
    clues: Annotated[dict[str, dict[str, Any]], merge_dicts]  # event id -> EventClues
    stems: Annotated[list[dict[str, Any]], operator.add]  # StemInfo, one per generation branch
    mix: dict[str, Any]  # paths of the mixes and buses written by the mixer
    mix_plan: dict[str, Any]  # MixPlan
    outputs: Annotated[dict[str, str], merge_dicts]
    warnings: Annotated[list[str], operator.add]
    timings: Annotated[dict[str, float], merge_dicts]


class ScribeInput(TypedDict, total=False):
    """What a subgraph of stage ① reads from its parent: everything but `warnings`. A subgraph hands back its
    whole state and the parent's reducer adds its warnings, so a subgraph given the parent's warnings would hand
    them back again (each warning was stored once per nesting level: three times)."""

    video_path: str
    video: dict[str, Any]
    tracks: list[dict[str, Any]]
    shots: list[dict[str, Any]]
    picture: dict[str, Any]
    screenplay: str | None
    scene_script: dict[str, Any]
    scribe_feedback: dict[str, Any]
    scribe_iterations: int


class ScribeState(ScribeInput, total=False):
    """The FilmScribe subgraph's state: shares keys with FoleyState so it plugs in as a node."""

    warnings: Annotated[list[str], operator.add]
    work_dir: str  # set when the subgraph watched the clip itself (run on its own, e.g. from Studio)
    timings: Annotated[dict[str, float], merge_dicts]


class DecompositionState(ScribeState, total=False):
    """Stage ① (FilmScribe loop, script writer, Tree-of-Thought search): shares keys with FoleyState."""

    script: dict[str, Any]
    tot_tree: dict[str, Any]
    tot_frontier: list[str]
    tot_level: int
    tot_stop: str
    outputs: Annotated[dict[str, str], merge_dicts]


class StemTask(TypedDict):
    """Payload of one generation branch (LangGraph Send)."""

    event: dict[str, Any]
    clues: dict[str, Any]
    duration_s: float
    scene: dict[str, Any]


class MixState(TypedDict, total=False):
    """Stage ③, the mixing subgraph (paper §4). In: script, clues, stems (from FoleyState) or audio given directly;
    out: mix_plan, mix, timings, warnings. The rest holds audio arrays and analysis objects: the subgraph is
    compiled without a checkpointer, so none of it is ever serialised."""

    script: dict[str, Any]
    clues: dict[str, dict[str, Any]]
    stems: list[dict[str, Any]]  # StemInfo
    audio: dict[str, Any]  # stem id -> (2, n) float32, unprocessed stems handed over directly (run_mixing, tests)
    work_dir: str  # set when the subgraph rendered the script's stems itself (run on its own, e.g. from Studio)
    sources: dict[str, Any]  # stem id -> tools.streams.AudioSource: the unprocessed stems, read window by window
    experts: dict[str, Any]  # name -> expert plugin, loaded once per run
    scene: Any  # agents.experts.MixScene: the analysis every expert reads
    round: int
    plan: dict[str, list[Any]]  # stem id -> MixOperation
    settings: Annotated[dict[str, dict[str, Any]], merge_dicts]  # expert -> {round, ops} from its Send branch
    processed: dict[str, Any]  # stem id -> SpillFile of the processed stem (this round)
    returns: dict[str, Any]  # "expert:bus" -> SpillFile of a bus return
    notes: dict[str, Any]
    rounds: Annotated[list[dict[str, Any]], operator.add]  # what verification measured, per round
    started: float
    mix_plan: dict[str, Any]
    mix: dict[str, Any]
    warnings: Annotated[list[str], operator.add]
    timings: Annotated[dict[str, float], merge_dicts]


class MixInput(TypedDict, total=False):
    script: dict[str, Any]
    clues: dict[str, dict[str, Any]]
    stems: list[dict[str, Any]]
    audio: dict[str, Any]


class MixOutput(TypedDict, total=False):
    work_dir: str
    mix_plan: dict[str, Any]
    mix: dict[str, Any]
    warnings: Annotated[list[str], operator.add]
    timings: Annotated[dict[str, float], merge_dicts]


class EditState(FoleyState, total=False):
    """An edits run (graphs/edits.py): the pipeline's state, filled from a source run, plus what to reuse."""

    source_dir: str  # the finished run the edits apply to: its stems are copied where no edit changed them
    rerender: dict[str, str]  # event id -> why its stem is rendered again (changed class, moved clues, restored)
