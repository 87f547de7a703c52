"""Stage ③ subgraph (paper §4): load → analyse → plan → experts (one Send branch each) → render → verify →
(re-plan | master). Wiring only; the nodes are in agents/mixing.py, the experts are plugins (agents/experts).
On its own (LangGraph Studio) it may start from a script alone: `render_script` lays out the clues and renders
the stems first (foleydesigner/standalone.py)."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from langgraph.graph import END, START, StateGraph
from langgraph.types import Send

from foleydesigner.agents import mixing as M
from foleydesigner.context import RunContext
from foleydesigner.schemas import EventClues, FoleyScript
from foleydesigner.standalone import render_script, route_render
from foleydesigner.state import MixInput, MixOutput, MixState
from foleydesigner.tidy import tidy_run


def route_experts(state: MixState) -> list[Send] | Literal["render"]:
    """Fan out: one branch per expert the plan uses, each with its operations (channel-strip order)."""
    plan, r = state["plan"], state["round"]
    sends = []
    for name, expert in state["experts"].items():
        ops = {sid: dict(op.params) for sid, items in plan.items() for op in items if op.expert == name}
        if ops:
            sends.append(Send("expert", {"expert": expert, "ops": ops, "scene": state["scene"], "plan": plan, "round": r}))
    return sends or "render"


def route_verify(state: MixState) -> Literal["plan", "master"]:
    """Re-plan while a target is missed, at most MAX_ROUNDS rounds in all."""
    last = state["rounds"][-1]
    return "master" if last["passed"] or state["round"] >= M.MAX_ROUNDS else "plan"


def build_mixing_graph() -> Any:
    g = StateGraph(MixState, context_schema=RunContext, input_schema=MixInput, output_schema=MixOutput)
    g.add_node("render_script", render_script)
    g.add_node("load", M.load_stems)
    g.add_node("analyse", M.analyse_stems)
    g.add_node("plan", M.plan_mix)
    g.add_node("expert", M.run_expert)
    g.add_node("render", M.render_mix)
    g.add_node("verify", M.verify_mix)
    g.add_node("master", M.master_mix)
    g.add_node("tidy", tidy_run)  # on its own (Studio): its temp folder keeps the mix, not the scratch
    g.add_conditional_edges(START, route_render, {"render": "render_script", "load": "load"})
    g.add_edge("render_script", "load")
    g.add_edge("load", "analyse")
    g.add_edge("analyse", "plan")
    g.add_conditional_edges("plan", route_experts, ["expert", "render"])
    g.add_edge("expert", "render")
    g.add_edge("render", "verify")
    g.add_conditional_edges("verify", route_verify, ["plan", "master"])
    g.add_edge("master", "tidy")
    g.add_edge("tidy", END)
    # Audio arrays and analysis objects live in this state: never checkpoint them, even under a parent's saver.
    return g.compile(checkpointer=False)


def run_mixing(ctx: RunContext, audio: dict[str, np.ndarray], script: FoleyScript,
               clues: dict[str, EventClues]) -> dict[str, Any]:
    """Mix stems held in memory (writes mix_stereo.wav and the upmix buses into ctx.work_dir)."""
    inputs = {"audio": audio, "script": script.model_dump(mode="json"),
              "clues": {k: v.model_dump(mode="json") for k, v in clues.items()}}
    return build_mixing_graph().invoke(inputs, context=ctx)  # type: ignore[no-any-return]


#: For `langgraph.json` / LangGraph Studio.
graph = build_mixing_graph()
