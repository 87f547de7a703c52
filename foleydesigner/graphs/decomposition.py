"""Stage ① Fine-grained decomposition: FilmScribe loop -> FoleyScriptWriter -> Tree-of-Thought search. Wiring only.

    filmscribe (generate <-> validate) -> write_script -> ground_script -> check_script -> tot_root -> tot_score -> tot_prune -> [tot_expand -> tot_score -> tot_prune]* -> tot_select
"""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph

from foleydesigner.agents.enforce import ground_script
from foleydesigner.agents.tot import route_tot, tot_expand, tot_prune, tot_root, tot_score, tot_select
from foleydesigner.agents.writer import write_foley_script
from foleydesigner.context import RunContext
from foleydesigner.graphs.filmscribe import build_filmscribe_graph
from foleydesigner.stages import check_script
from foleydesigner.state import DecompositionState, ScribeInput


def build_decomposition_graph() -> Any:
    g = StateGraph(DecompositionState, context_schema=RunContext, input_schema=ScribeInput)  # warnings: see ScribeInput
    g.add_node("filmscribe", build_filmscribe_graph())
    g.add_node("write_script", write_foley_script)
    g.add_node("ground_script", ground_script)
    g.add_node("check_script", check_script)
    g.add_node("tot_root", tot_root)
    g.add_node("tot_expand", tot_expand)
    g.add_node("tot_score", tot_score)
    g.add_node("tot_prune", tot_prune)
    g.add_node("tot_select", tot_select)
    g.add_edge(START, "filmscribe")
    g.add_edge("filmscribe", "write_script")
    g.add_edge("write_script", "ground_script")
    g.add_edge("ground_script", "check_script")
    g.add_edge("check_script", "tot_root")
    g.add_edge("tot_root", "tot_score")
    g.add_edge("tot_expand", "tot_score")
    g.add_edge("tot_score", "tot_prune")
    g.add_conditional_edges("tot_prune", route_tot, {"expand": "tot_expand", "select": "tot_select"})
    g.add_edge("tot_select", END)
    return g.compile()


#: For `langgraph.json` / LangGraph Studio.
graph = build_decomposition_graph()
