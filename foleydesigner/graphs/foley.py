"""The top-level pipeline: load video -> decompose (FilmScribe loop, script writer, ToT search) -> review (a pause
for a person with review on; the script held to the facts either way) -> clues -> generate stems (one Send branch
per event) -> mix -> upmix -> deliver -> export -> tidy; the report's stem monitors are rendered beside the upmix
and its mix monitors beside the export (report/early.py), two cores' worth of work at once. Wiring only."""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.types import Send

from foleydesigner import delivery, stages
from foleydesigner.agents.review import review_script
from foleydesigner.context import RunContext
from foleydesigner.graphs.decomposition import build_decomposition_graph
from foleydesigner.graphs.mixing import build_mixing_graph
from foleydesigner.standalone import watch_clip
from foleydesigner.state import FoleyInput, FoleyState
from foleydesigner.tidy import tidy_run


def route_generation(state: FoleyState) -> list[Send]:
    """Fan out: one generation branch per event of the script."""
    script = state["script"]
    return [Send("generate_stem", {"event": ev, "clues": state["clues"][ev["id"]], "duration_s": script["duration_s"],
                                   "scene": script["scene"]}) for ev in script["events"]]


def build_foley_graph(checkpointer: Any = None) -> Any:
    g = StateGraph(FoleyState, context_schema=RunContext, input_schema=FoleyInput)
    g.add_node("load_video", watch_clip)
    g.add_node("decompose", build_decomposition_graph())
    g.add_node("review", review_script)
    g.add_node("extract_clues", stages.extract_clues)
    g.add_node("generate_stem", stages.generate_stem)
    g.add_node("mix", build_mixing_graph())
    g.add_node("upmix", stages.upmix_surround)
    g.add_node("preview", stages.preview_stems)  # the report's stem monitors, beside the upmix (two cores)
    g.add_node("preview_mixes", stages.preview_mixes)  # its mix monitors, beside the export
    g.add_node("deliver", delivery.deliver_immersive)
    g.add_node("export", stages.export_outputs)
    g.add_node("tidy", tidy_run)  # a Studio run's temp folder keeps its outputs, not its 3-11 MB of scratch
    g.add_edge(START, "load_video")
    g.add_edge("load_video", "decompose")
    g.add_edge("decompose", "review")
    g.add_edge("review", "extract_clues")
    g.add_conditional_edges("extract_clues", route_generation, ["generate_stem"])
    g.add_edge("generate_stem", "mix")
    g.add_edge("mix", "upmix")
    g.add_edge("mix", "preview")
    g.add_edge(["upmix", "preview"], "deliver")
    g.add_edge("deliver", "export")
    g.add_edge("deliver", "preview_mixes")
    g.add_edge(["export", "preview_mixes"], "tidy")
    g.add_edge("tidy", END)
    return g.compile(checkpointer=checkpointer)


#: For `langgraph.json` / LangGraph Studio.
graph = build_foley_graph()
