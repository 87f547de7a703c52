"""FilmScribe subgraph: [watch ->] generate -> validate -> (retry | done). Wiring only.

On its own (LangGraph Studio) it starts from a clip path and watches the clip first; in the pipeline the clip
was watched before it and `watch` is never reached."""

from __future__ import annotations

from typing import Any, Literal

from langgraph.graph import END, START, StateGraph

from foleydesigner.agents.filmscribe import generate_scene_script, validate_scene_script
from foleydesigner.context import RunContext
from foleydesigner.standalone import route_watch, watch_clip
from foleydesigner.state import ScribeInput, ScribeState


def route_scribe(state: ScribeState, runtime: Any) -> Literal["generate", "__end__"]:
    fb = state.get("scribe_feedback") or {}
    if fb.get("valid") or int(state.get("scribe_iterations", 0)) >= runtime.context.max_scribe_iters:
        return END
    return "generate"


def build_filmscribe_graph() -> Any:
    g = StateGraph(ScribeState, context_schema=RunContext, input_schema=ScribeInput)  # warnings: see ScribeInput
    g.add_node("watch", watch_clip)
    g.add_node("generate", generate_scene_script)
    g.add_node("validate", validate_scene_script)
    g.add_conditional_edges(START, route_watch, ["watch", "generate"])
    g.add_edge("watch", "generate")
    g.add_edge("generate", "validate")
    g.add_conditional_edges("validate", route_scribe, ["generate", END])
    return g.compile()


#: For `langgraph.json` / LangGraph Studio.
graph = build_filmscribe_graph()
