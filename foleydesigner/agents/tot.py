"""Tree-of-Thought decomposition (paper §1): search over layered scripts on a directed graph G = (N, E).

(i) Expand: each kept node gets k children, each made by edits that follow one Foley principle (narrative
separation, visual alignment, emotional modulation): real rule-based edits (heuristic) or an LLM's (role `writer`).
(ii) Score: Score(S, V, F) = w1·s_align + w2·s_layer + w3·s_emotion, computed from measurable facts
(agents/tot_rules.py); an LLM judge (role `scorer`) may add its opinion on top. (iii) Keep the top-b per level;
stop when a node scores above τ or at the maximum depth. The tree is a networkx.DiGraph, stored in the graph
state as node-link JSON and written to tot_tree.json so a user can see why the winner won.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import networkx as nx

from foleydesigner.agents.enforce import cap_events, enforce
from foleydesigner.agents.evidence import track_summary
from foleydesigner.agents.grounding import Ground, grounded_ask, grounding_warning
from foleydesigner.agents.script_writer import gate
from foleydesigner.agents.tot_operators import propose
from foleydesigner.agents.tot_rules import Evidence, apply_edits, computed_scores, facts, script_key
from foleydesigner.context import RunContext
from foleydesigner.errors import FoleyError
from foleydesigner.lexicon import ENTRIES, ambience_for_place
from foleydesigner.llm import HEURISTIC, ask, with_fallback
from foleydesigner.prompts import tot as P
from foleydesigner.schemas import (
    FoleyScript,
    ScriptCandidate,
    ScriptCandidates,
    ScriptJudgement,
    Shot,
    TotNode,
    TotScores,
    TotTree,
    Track,
    VideoInfo,
)
from foleydesigner.tools.export import atomic_write_json
from foleydesigner.tools.screenplay import parse_screenplay

#: How far the judge may move each computed score: alignment and layering are facts, mood is partly taste.
JUDGE_SHARE = {"align": 0.3, "layer": 0.3, "emotion": 0.5}


def evidence(state: dict[str, Any], script: FoleyScript, min_confidence: float = 0.5) -> Evidence:
    video = VideoInfo.model_validate(state["video"])
    tracks = [Track.model_validate(t) for t in state.get("tracks", [])]
    sp = parse_screenplay(state["screenplay"], default_scene=script.scene) if state.get("screenplay") else None
    beds = sp.ambience if sp and sp.ambience else ambience_for_place(script.scene.description)
    return Evidence(video, tracks, script.scene, sp.cues if sp else [], beds, min_confidence)


def ground(state: dict[str, Any], script: FoleyScript, min_confidence: float = 0.5) -> Ground:
    """The hard facts every node's script is held to: the heading, the sounding tracks, the evidence."""
    return Ground.of(VideoInfo.model_validate(state["video"]), [Track.model_validate(t) for t in state.get("tracks", [])],
                     state.get("screenplay"), script.scene, min_confidence)


def rank(g: nx.DiGraph, nodes: list[str]) -> list[str]:
    """Best first: a node that contradicts fewer measured facts always outranks one that contradicts more, a clean
    node every flagged one, whatever the scores (the judge may move a score, not a fact); then by total score,
    then by creation order."""
    return sorted(nodes, key=lambda n: (len(g.nodes[n].get("flags") or []), -g.nodes[n]["scores"]["total"],
                                        g.nodes[n]["depth"], int(n[1:])))


# --- the tree -------------------------------------------------------------------------------------------------

def load_tree(data: dict[str, Any]) -> nx.DiGraph:
    g = nx.DiGraph(params=data["params"])
    for node in data["nodes"]:
        g.add_node(node["id"], **node)
    g.add_edges_from(tuple(e) for e in data["edges"])
    return g


def _order(g: nx.DiGraph) -> list[str]:
    return sorted(g.nodes, key=lambda n: (g.nodes[n]["depth"], int(n[1:])))


def dump_tree(g: nx.DiGraph) -> dict[str, Any]:
    return {"params": g.graph["params"], "nodes": [dict(g.nodes[n]) for n in _order(g)], "edges": [list(e) for e in g.edges]}


def _add(g: nx.DiGraph, node: TotNode) -> None:
    g.add_node(node.id, **node.model_dump(mode="json"))
    if node.parent is not None:
        g.add_edge(node.parent, node.id)


def _level(g: nx.DiGraph, depth: int) -> list[str]:
    return [n for n in g.nodes if g.nodes[n]["depth"] == depth]


# --- scoring --------------------------------------------------------------------------------------------------

def _brief(script: FoleyScript, ev: Evidence) -> dict[str, str]:
    events = "\n".join(f"- {e.id}: {e.label} {e.layer} {e.start_s:.2f}-{e.end_s:.2f}s track={e.source_track} "
                       f"intensity={e.intensity:.2f} onsets={len(e.onsets_s)} az={e.azimuth_deg}" for e in script.events)
    cues = "\n".join(sorted({f"- {c.entry.name} {c.entry.layer}{' CAPS' if c.caps else ''}{' off-screen' if c.offscreen else ''}"
                             for c in ev.cues})) or "(no screenplay)"
    return {"events": events, "cues": cues, "track_summary": track_summary(ev.tracks),
            "scene": ev.scene.model_dump_json()}


def _judge(ctx: RunContext, script: FoleyScript, ev: Evidence, f: dict[str, Any]) -> ScriptJudgement:
    from langchain_core.messages import HumanMessage, SystemMessage

    user = P.JUDGE_USER.format(duration_s=ev.duration, facts=json.dumps(f), **_brief(script, ev))
    return ask(ctx, "scorer", "tot.judge", [SystemMessage(P.JUDGE_SYSTEM), HumanMessage(user)], ScriptJudgement)


def score_script(ctx: RunContext, script: FoleyScript, ev: Evidence, flags: list[str] = ()) -> tuple[TotScores, list[str]]:  # type: ignore[assignment]
    """Computed scores; blended with the LLM judge's opinion when the scorer role has a model. A script that
    contradicts a measured fact (`flags`) may be marked down by the judge, never up."""
    f = facts(script, ev)
    comp = computed_scores(f)
    judge, warnings = None, []
    if ctx.llm_for("scorer") != HEURISTIC:
        judge, warnings = with_fallback(ctx, "scorer", "tot.judge", lambda: _judge(ctx, script, ev, f), lambda: None)  # type: ignore[arg-type, return-value]
    final = dict(comp)
    if judge is not None:
        final = {k: round((1 - JUDGE_SHARE[k]) * comp[k] + JUDGE_SHARE[k] * getattr(judge, k), 4) for k in comp}
        if flags:
            final = {k: min(v, comp[k]) for k, v in final.items()}
    w = ctx.tot_weights
    total = (w[0] * final["align"] + w[1] * final["layer"] + w[2] * final["emotion"]) / (sum(w) or 1.0)
    return TotScores(**final, total=round(total, 4), computed=comp, judge=judge,
                     facts={k: v for k, v in f.items() if v is not None}), warnings


# --- expansion ------------------------------------------------------------------------------------------------

def _llm_candidates(ctx: RunContext, script: FoleyScript, ev: Evidence, scores: dict[str, Any],
                    hard: Ground | None = None) -> tuple[list[ScriptCandidate], list[str]]:
    """The expander's candidates; with `hard`, a candidate whose edits break a measured fact the script kept goes
    back once with the facts. Returns the candidates and the violations that remain."""
    from langchain_core.messages import HumanMessage, SystemMessage

    classes = ", ".join(sorted(e.name for e in ENTRIES))
    user = P.EXPAND_USER.format(duration_s=ev.duration, facts=json.dumps(scores.get("facts", {})),
                                scores=json.dumps({k: scores.get(k) for k in ("align", "layer", "emotion", "total")}),
                                **_brief(script, ev))
    messages = [SystemMessage(P.EXPAND_SYSTEM.format(k=ctx.tot_k, classes=classes)), HumanMessage(user)]
    if hard is None:
        return ask(ctx, "writer", "tot.expand", messages, ScriptCandidates).candidates, []
    before = set(hard.script_violations(script))

    def check(out: ScriptCandidates) -> list[str]:
        problems = []
        for i, c in enumerate(out.candidates, 1):
            try:
                child = apply_edits(script, c.edits, ev)
            except ValueError:
                continue  # not applied at all: reported as dropped
            problems += [f"candidate {i} ({c.principle}): {v}" for v in hard.script_violations(child) if v not in before]
        return problems

    out, problems = grounded_ask(ctx, "writer", "tot.expand", messages, ScriptCandidates, check, hard)
    return out.candidates, problems


def expand(ctx: RunContext, g: nx.DiGraph, source: str, ev: Evidence, next_id: int, k: int,
           parent: str | None = None, hard: Ground | None = None) -> tuple[list[TotNode], list[str], list[str]]:
    """Up to k new children made from `source`'s script (never a script already in the tree), attached to
    `parent` (default: source); notes on candidates that could not apply; fallback and grounding warnings."""
    node = g.nodes[source]
    script = FoleyScript.model_validate(node["script"])
    seen = {g.nodes[n]["key"] for n in g.nodes}
    backend = ctx.llm_for("writer")
    parent = parent or source

    def heuristic() -> list[dict[str, Any]]:
        return [{"principle": p.principle, "operator": p.operator, "rationale": p.rationale, "edits": p.edits,
                 "priority": round(p.priority, 3), "backend": HEURISTIC}
                for p in propose(script, ev, facts(script, ev))]

    grounding: list[str] = []

    def llm() -> list[dict[str, Any]]:
        candidates, problems = _llm_candidates(ctx, script, ev, node["scores"] or {}, hard)
        grounding.extend([grounding_warning("tot.expand", backend, problems)] if problems else [])
        return [{"principle": c.principle, "operator": f"llm:{c.principle}", "rationale": c.rationale, "edits": c.edits,
                 "backend": backend} for c in candidates]

    proposals, warnings = with_fallback(ctx, "writer", "tot.expand", llm, heuristic)
    warnings = warnings + grounding
    children, notes = [], []
    for prop in proposals:
        if len(children) >= k:
            break
        try:
            child = apply_edits(script, prop["edits"], ev)
        except ValueError as exc:
            notes.append(f"{prop['operator']}: {exc}")
            continue
        key = script_key(child)
        if key in seen:
            continue
        seen.add(key)
        expansion = {**prop, "edits": [e.model_dump(mode="json", exclude_none=True) for e in prop["edits"]],
                     **({"derived_from": source} if source != parent else {})}
        children.append(TotNode(id=f"n{next_id + len(children)}", parent=parent, depth=g.nodes[parent]["depth"] + 1,
                                script=child, expansion=expansion))
    return children, notes, warnings


# --- graph nodes ----------------------------------------------------------------------------------------------

def _stop(ctx: RunContext, g: nx.DiGraph, ids: list[str], depth: int) -> str:
    if any(g.nodes[n]["scores"]["total"] > ctx.tot_tau and not g.nodes[n].get("flags") for n in ids):  # facts first
        return "tau"
    if depth >= ctx.tot_depth:
        return "depth"
    return "" if ids else "exhausted"


def _attach(g: nx.DiGraph, children: list[TotNode]) -> None:
    for child in children:
        _add(g, child)
        g.nodes[child.id]["key"] = script_key(child.script)  # type: ignore[arg-type]


def tot_root(state: dict[str, Any], runtime: Any) -> dict[str, Any]:
    """The root is the inputs (V, F); its first children are the writer's script and k-1 principle-guided
    variants of it. They are scored next like every other level."""
    ctx: RunContext = runtime.context
    script = FoleyScript.model_validate(state["script"])
    ev = evidence(state, script, ctx.min_confidence)
    params = {"k": ctx.tot_k, "beam": ctx.tot_beam, "tau": ctx.tot_tau, "max_depth": ctx.tot_depth,
              "weights": list(ctx.tot_weights), "expander": ctx.llm_for("writer"), "scorer": ctx.llm_for("scorer")}
    g = nx.DiGraph(params=params)
    _add(g, TotNode(id="n0", parent=None, depth=0, status="root",
                    expansion={"operator": "inputs", "screenplay": bool(state.get("screenplay")), "tracks": len(ev.tracks)}))
    g.nodes["n0"]["key"] = "inputs"
    base = TotNode(id="n1", parent="n0", depth=1, script=script,
                   expansion={"operator": "script_writer", "backend": ctx.llm_for("writer"),
                              "rationale": "FoleyScriptWriter's merge of the scene script and the screenplay"})
    _attach(g, [base])
    with ctx.tracer.span("tot.expand", "agent", backend=ctx.llm_for("writer"), inputs="n0", tot_node="n0") as rec:
        variants, notes, warnings = expand(ctx, g, "n1", ev, 2, ctx.tot_k - 1, parent="n0",
                                           hard=ground(state, script, ctx.min_confidence))
        _attach(g, variants)
        rec["decision"] = {"children": {"n1": "script_writer", **{c.id: c.expansion["operator"] for c in variants}},
                           "dropped": notes}
    return {"tot_tree": dump_tree(g), "tot_frontier": ["n0"], "tot_level": 1, "tot_stop": "", "warnings": warnings}


def tot_expand(state: dict[str, Any], runtime: Any) -> dict[str, Any]:
    """(i) Expand every kept node of the level into k candidate children."""
    ctx: RunContext = runtime.context
    g = load_tree(state["tot_tree"])
    base = FoleyScript.model_validate(state["script"])
    ev, hard = evidence(state, base, ctx.min_confidence), ground(state, base, ctx.min_confidence)
    warnings: list[str] = []
    for parent in state["tot_frontier"]:
        with ctx.tracer.span("tot.expand", "agent", backend=ctx.llm_for("writer"), inputs=parent, tot_node=parent) as rec:
            children, notes, warn = expand(ctx, g, parent, ev, g.number_of_nodes(), ctx.tot_k, hard=hard)
            _attach(g, children)
            warnings += warn
            rec["decision"] = {"children": {c.id: c.expansion["operator"] for c in children}, "dropped": notes}
    return {"tot_tree": dump_tree(g), "tot_level": int(state["tot_level"]) + 1, "warnings": warnings}


def tot_score(state: dict[str, Any], runtime: Any) -> dict[str, Any]:
    """(ii) Score each new node: computed facts, plus the judge's opinion when the scorer is an LLM."""
    ctx: RunContext = runtime.context
    g = load_tree(state["tot_tree"])
    base = FoleyScript.model_validate(state["script"])
    ev, hard = evidence(state, base, ctx.min_confidence), ground(state, base, ctx.min_confidence)
    warnings: list[str] = []
    for n in _level(g, int(state["tot_level"])):
        node = g.nodes[n]
        with ctx.tracer.span("tot.score", "agent", backend=ctx.llm_for("scorer"), inputs=node["key"], tot_node=n,
                             parent=node["parent"], operator=node["expansion"].get("operator")) as rec:
            script = FoleyScript.model_validate(node["script"])
            node["flags"] = hard.script_violations(script)
            scores, warn = score_script(ctx, script, ev, node["flags"])
            node["scores"] = scores.model_dump(mode="json")
            warnings += warn
            rec["decision"] = {"node": n, **scores.model_dump(include={"align", "layer", "emotion", "total"}),
                               **({"flags": node["flags"]} if node["flags"] else {})}
    return {"tot_tree": dump_tree(g), "warnings": warnings}


def tot_prune(state: dict[str, Any], runtime: Any) -> dict[str, Any]:
    """(iii) Keep the top-b nodes of the level; decide whether to stop (above τ, max depth, nothing new)."""
    ctx: RunContext = runtime.context
    g = load_tree(state["tot_tree"])
    depth = int(state["tot_level"])
    ranked = rank(g, _level(g, depth))
    kept, pruned = ranked[: ctx.tot_beam], ranked[ctx.tot_beam:]
    for n in kept:
        g.nodes[n]["status"] = "kept"
    for n in pruned:
        g.nodes[n]["status"] = "pruned"
    stop = _stop(ctx, g, ranked, depth)
    with ctx.tracer.span("tot.prune", "agent", backend="computed", inputs=ranked, level=depth) as rec:
        rec["decision"] = {"kept": kept, "pruned": pruned, "stop": stop or "continue"}
    return {"tot_tree": dump_tree(g), "tot_frontier": kept, "tot_stop": stop}


def route_tot(state: dict[str, Any]) -> Literal["expand", "select"]:
    return "select" if state.get("tot_stop") else "expand"


def tot_select(state: dict[str, Any], runtime: Any) -> dict[str, Any]:
    """The best node of the whole tree wins; write tot_tree.json and hand the winner on as the script."""
    ctx: RunContext = runtime.context
    g = load_tree(state["tot_tree"])
    scored = [n for n in g.nodes if g.nodes[n].get("scores")]
    winner = rank(g, scored)[0]
    g.nodes[winner]["status"] = "winner"
    # The search may not bring back what the writer held: the winner is gated on the evidence like the writer's
    # script, and the clip's shots travel with it into script.json (and into the tree, which records what ran).
    best = FoleyScript.model_validate(g.nodes[winner]["script"])
    best = gate(best, [Track.model_validate(t) for t in state.get("tracks", [])], ctx.min_confidence)
    # what the search brought back that the facts reject is held back like the writer's (agents/enforce.py)
    best, enforced = enforce(best, ground(state, best, ctx.min_confidence), node="tot.select")
    if ctx.llm_for("writer") != HEURISTIC:  # the model's expansions and the cues added may pass --max-events
        best, cut = cap_events(best, ctx.max_events, node="tot.select")
        enforced += cut
    best = best.model_copy(update={"shots": [Shot.model_validate(s) for s in state.get("shots", [])]})
    g.nodes[winner]["script"] = best.model_dump(mode="json")
    path = nx.shortest_path(g, "n0", winner)
    stop = state.get("tot_stop") or "depth"
    tree = TotTree(params=g.graph["params"], winner=winner, stop_reason=stop,
                   nodes=[TotNode.model_validate({k: v for k, v in g.nodes[n].items() if k != "key"})
                          for n in _order(g)], edges=list(g.edges))
    atomic_write_json(ctx.work_dir / "tot_tree.json", tree)
    with ctx.tracer.span("tot.select", "agent", backend="computed", inputs=winner) as rec:
        rec["decision"] = {"winner": winner, "path": path, "stop": stop, "nodes": g.number_of_nodes(),
                           "total": g.nodes[winner]["scores"]["total"], "writer_total": g.nodes["n1"]["scores"]["total"]}
    flags = g.nodes[winner].get("flags") or []
    warnings = [f"tot.select: every candidate contradicts a measured fact; the winner {winner} had "
                f"{len(flags)} flags; what it contradicted is held back"] if flags else []
    warnings += enforced
    return {"script": best.model_dump(), "tot_tree": dump_tree(g), "outputs": {"tot_tree": "tot_tree.json"},
            "warnings": warnings}


def tot_settings(k: int, beam: int, tau: float, depth: int, weights: str) -> dict[str, Any]:
    """RunContext fields from the --tot-* flags, with errors that name the flag and its range."""
    if not 1 <= k <= 10:
        raise FoleyError(f"--tot-k {k} must be between 1 and 10 candidates per node")
    if not 1 <= beam <= 10:
        raise FoleyError(f"--tot-beam {beam} must be between 1 and 10 nodes kept per level")
    if not 0.0 <= tau <= 1.0:
        raise FoleyError(f"--tot-tau {tau} must be in [0, 1] (scores are in [0, 1])")
    if not 1 <= depth <= 8:
        raise FoleyError(f"--tot-depth {depth} must be between 1 and 8 levels")
    try:
        w = tuple(float(x) for x in weights.split(","))
    except ValueError:
        w = ()
    if len(w) != 3 or any(x < 0 for x in w) or sum(w) <= 0:
        raise FoleyError(f"--tot-weights '{weights}' must be three non-negative numbers w1,w2,w3 (align, layer, "
                         "emotion), e.g. 0.5,0.3,0.2; they are normalised to sum to 1")
    return {"tot_k": k, "tot_beam": beam, "tot_tau": tau, "tot_depth": depth, "tot_weights": w}
