"""An edits run (`foley run CLIP --edits edits.json`): reuse the unchanged stems -> render the changed ones (one
Send branch each) -> mix -> upmix -> deliver -> export, with the pipeline's own nodes. Wiring only; the edits
are checked and applied before the graph starts (edit_run.py)."""

from __future__ import annotations

from typing import Any, Literal

from langgraph.graph import END, START, StateGraph
from langgraph.types import Send

from foleydesigner import delivery, stages
from foleydesigner.context import RunContext
from foleydesigner.graphs.mixing import build_mixing_graph
from foleydesigner.reuse import reuse_stems
from foleydesigner.state import EditState


def route_rerender(state: EditState) -> list[Send] | Literal["mix"]:
    """Fan out: one generation branch per event an edit changed; none changed, straight to the mix."""
    script, changed = state["script"], state.get("rerender", {})
    sends = [Send("generate_stem", {"event": ev, "clues": state["clues"][ev["id"]], "duration_s": script["duration_s"],
                                    "scene": script["scene"]}) for ev in script["events"] if ev["id"] in changed]
    return sends or "mix"


def build_edits_graph(checkpointer: Any = None) -> Any:
    g = StateGraph(EditState, context_schema=RunContext)
    g.add_node("reuse_stems", reuse_stems)
    g.add_node("generate_stem", stages.generate_stem)
    g.add_node("mix", build_mixing_graph())
    g.add_node("upmix", stages.upmix_surround)
    g.add_node("deliver", delivery.deliver_immersive)
    g.add_node("export", stages.export_outputs)
    g.add_edge(START, "reuse_stems")
    g.add_conditional_edges("reuse_stems", route_rerender, ["generate_stem", "mix"])
    g.add_edge("generate_stem", "mix")
    g.add_edge("mix", "upmix")
    g.add_edge("upmix", "deliver")
    g.add_edge("deliver", "export")
    g.add_edge("export", END)
    return g.compile(checkpointer=checkpointer)
