"""`foley trace DIR`: a run's trace.jsonl as a per-agent timeline (node, kind, backend, latency, tokens, decision).

Consecutive calls of one node and kind (e.g. 16 extract_clues tool calls) fold into one row with a count, so a
run reads top to bottom: what each agent saw, decided and cost.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from foleydesigner.errors import InputError

_DECISION_WIDTH = 90


def load_trace(run_dir: str | Path) -> list[dict[str, Any]]:
    path = Path(run_dir) / "trace.jsonl"
    if not path.is_file():
        raise InputError(f"{run_dir} has no trace.jsonl; give the --out folder of a `foley run`")
    records = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}:{i} is not JSON ({exc}); the trace is damaged") from exc
    return records


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, separators=(",", ":"))
    return text if len(text) <= _DECISION_WIDTH else text[: _DECISION_WIDTH - 1] + "…"


def decision_of(rec: dict[str, Any]) -> str:
    """The one line that says what a call decided (or why it failed)."""
    if rec.get("error"):
        return f"ERROR {rec['error']}"
    if rec.get("kind") == "fallback":
        return f"FALLBACK {rec.get('warning', '')}"
    parts = []
    if rec.get("retries"):
        parts.append(f"{len(rec['retries'])} retries")
    if rec.get("parse_error"):
        parts.append(f"re-ask: {rec['parse_error']}")
    if rec.get("decision") is not None:
        parts.append(_short(rec["decision"]))
    elif rec.get("kind") == "tool":
        parts.append(f"{rec.get('tool', '')}")
    elif rec.get("kind") == "llm" and rec.get("parsed") is not None:
        parts.append("parsed " + _short(rec["parsed"]))
    if rec.get("attempt"):
        parts.insert(0, f"attempt {rec['attempt']}")
    if rec.get("tot_node"):
        parts.insert(0, f"[{rec['tot_node']}]")
    if rec.get("iteration") is not None:
        parts.insert(0, f"iter {rec['iteration']}")
    return _short(" ".join(parts))


def timeline(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows in time order; consecutive calls of one node+kind fold together (count, summed latency/tokens)."""
    t0 = min((r.get("ts", 0.0) - r.get("latency_s", 0.0) for r in records), default=0.0)
    rows: list[dict[str, Any]] = []
    # Lines are written when a call ends; order by start so an agent precedes the LLM and tool calls it made.
    for r in sorted(records, key=lambda r: r.get("ts", 0.0) - r.get("latency_s", 0.0)):
        node = r.get("node", "?")
        key = node.split("[")[0]  # generate_stem[footsteps_t0] folds with its siblings
        tokens = r.get("tokens") or {}
        row = {"t_s": round(r.get("ts", 0.0) - r.get("latency_s", 0.0) - t0, 3), "node": key, "kind": r.get("kind", ""),
               "backend": r.get("backend", ""), "latency_s": round(float(r.get("latency_s", 0.0)), 4),
               "tokens_in": int(tokens.get("input", 0) or 0), "tokens_out": int(tokens.get("output", 0) or 0),
               "cost_usd": r.get("cost_usd"), "decision": decision_of(r), "count": 1}
        last = rows[-1] if rows else None
        foldable = row["kind"] in ("tool", "node") and not r.get("error")
        if last and foldable and (last["node"], last["kind"]) == (key, row["kind"]):
            last["count"] += 1
            last["latency_s"] = round(last["latency_s"] + row["latency_s"], 4)
            last["tokens_in"] += row["tokens_in"]
            last["tokens_out"] += row["tokens_out"]
            continue
        rows.append(row)
    return rows


def per_agent(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Totals per node: calls, latency, tokens, LLM calls."""
    out: dict[str, dict[str, Any]] = {}
    for r in records:
        key = r.get("node", "?").split("[")[0]
        row = out.setdefault(key, {"calls": 0, "llm_calls": 0, "latency_s": 0.0, "tokens_in": 0, "tokens_out": 0})
        tokens = r.get("tokens") or {}
        row["calls"] += 1
        row["llm_calls"] += r.get("kind") == "llm"
        row["latency_s"] = round(row["latency_s"] + float(r.get("latency_s", 0.0)), 4)
        row["tokens_in"] += int(tokens.get("input", 0) or 0)
        row["tokens_out"] += int(tokens.get("output", 0) or 0)
    return out


def report(run_dir: str | Path) -> dict[str, Any]:
    """Everything `foley trace --json` prints: run facts, the timeline, per-agent totals, the ToT outcome."""
    run_dir = Path(run_dir)
    records = load_trace(run_dir)
    run = json.loads((run_dir / "run.json").read_text()) if (run_dir / "run.json").is_file() else {}
    tot = None
    if (run_dir / "tot_tree.json").is_file():
        tree = json.loads((run_dir / "tot_tree.json").read_text())
        nodes = {n["id"]: n for n in tree["nodes"]}
        win = nodes[tree["winner"]]
        tot = {"winner": tree["winner"], "stop_reason": tree["stop_reason"], "nodes": len(nodes),
               "kept": sum(n["status"] in ("kept", "winner") for n in nodes.values()),
               "pruned": sum(n["status"] == "pruned" for n in nodes.values()),
               "winner_scores": {k: win["scores"][k] for k in ("align", "layer", "emotion", "total")},
               "winner_operator": win["expansion"].get("operator")}
    return {"run_dir": str(run_dir), "backends": run.get("backends", {}), "endpoints": run.get("endpoints", {}),
            "error": run.get("error"), "failed_stage": run.get("failed_stage"), "tokens": run.get("tokens", {}),
            "cost_usd": run.get("cost_usd"), "warnings": run.get("warnings", []), "tot": tot,
            "timeline": timeline(records), "per_agent": per_agent(records)}


def render(rep: dict[str, Any], console: Console) -> None:
    b = rep["backends"]
    console.print(f"[bold]{rep['run_dir']}[/]  " + "  ".join(f"{k}={v}" for k, v in b.items()), highlight=False)
    if rep.get("error"):
        console.print(f"[bold red]FAILED[/] in {escape(str(rep.get('failed_stage')))}: {escape(rep['error'])}", highlight=False)
    cost = rep["cost_usd"]
    console.print(f"tokens {rep['tokens'].get('input', 0)} in / {rep['tokens'].get('output', 0)} out, "
                  f"cost {'n/a' if cost is None else f'${cost:.4f}'}", highlight=False)
    table = Table(title="timeline", show_lines=False)
    for col in ("t s", "node", "kind", "backend", "latency s", "tokens", "decision"):
        table.add_column(col, overflow="fold")
    for r in rep["timeline"]:
        tokens = f"{r['tokens_in']}/{r['tokens_out']}" if r["tokens_in"] or r["tokens_out"] else ""
        node = r["node"] + (f" ×{r['count']}" if r["count"] > 1 else "")
        style = "red" if r["decision"].startswith(("ERROR", "FALLBACK")) else None
        table.add_row(f"{r['t_s']:.2f}", escape(node), r["kind"], escape(r["backend"]), f"{r['latency_s']:.3f}", tokens,
                      escape(r["decision"]), style=style)
    console.print(table)
    agents = Table(title="per agent")
    for col in ("node", "calls", "llm calls", "latency s", "tokens in", "tokens out"):
        agents.add_column(col)
    for node, a in rep["per_agent"].items():
        agents.add_row(node, str(a["calls"]), str(a["llm_calls"]), f"{a['latency_s']:.3f}", str(a["tokens_in"]),
                       str(a["tokens_out"]))
    console.print(agents)
    if rep["tot"]:
        t = rep["tot"]
        console.print(f"Tree-of-Thought: {t['nodes']} nodes, {t['pruned']} pruned; winner {t['winner']} "
                      f"({t['winner_operator']}) {t['winner_scores']}; stopped: {t['stop_reason']}", highlight=False)
    for w in rep["warnings"]:
        console.print(f"[yellow]warning:[/] {w}", highlight=False)
