"""trace.jsonl: one line per agent, node or tool call, so a developer can see who decided what and why.

Lines carry: time, node, kind (node|agent|tool|llm), backend, a digest of the inputs, prompt, raw output,
parsed output, latency and tokens. API keys never reach it: values are redacted by key name, by value and by pattern (redaction.py).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from foleydesigner.redaction import scrub

_SECRET_KEY = re.compile(r"(api[_-]?key|token|secret|password|authorization)", re.I)


#: Plain values _jsonable and _redact give back as they are (exact types: a subclass takes the general path). A
#: trace line's inputs hold long lists of them (every track's boxes and times, per event): no call per number.
_PLAIN, _KEPT = frozenset({str, int, float, bool, type(None)}), frozenset({int, bool, type(None)})


def _redact(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None  # strict JSON: a NaN in the trace would make the line unreadable to a browser or jq
    if isinstance(value, dict):
        return {k: ("***" if _SECRET_KEY.search(str(k)) and k != "tokens" else _redact(v)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [v if type(v) in _KEPT or (type(v) is float and math.isfinite(v)) else _redact(v) for v in value]
    if isinstance(value, str):
        return scrub(value)  # key values in use, any Authorization scheme, URL credentials
    return value


def digest(value: Any) -> str:
    """Short stable hash of a JSON-able value (what went into a call, without storing all of it)."""
    blob = json.dumps(value, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def _jsonable(value: Any) -> Any:
    if type(value) in _PLAIN:
        return value
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [v if type(v) in _PLAIN else _jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)[:500]


class Tracer:
    """Appends trace lines to a file; safe to share between the graph's parallel branches."""

    def __init__(self, path: str | Path | None, *, append: bool = False) -> None:
        self.path = Path(path) if path else None
        self._lock = threading.Lock()
        self.tokens_in = 0
        self.tokens_out = 0
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not append:  # a resumed run (`foley run --resume`) keeps the lines of the nodes it does not rerun
                self.path.write_text("")

    def write(self, record: dict[str, Any]) -> None:
        line = {"ts": round(time.time(), 3), **_redact(_jsonable(record))}
        usage = record.get("tokens") or {}
        with self._lock:
            self.tokens_in += int(usage.get("input", 0) or 0)
            self.tokens_out += int(usage.get("output", 0) or 0)
            if self.path:
                with self.path.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps(line, default=str, allow_nan=False) + "\n")

    @contextmanager
    def span(self, node: str, kind: str, *, backend: str = "", inputs: Any = None, **extra: Any) -> Iterator[dict[str, Any]]:
        """Time a call; the caller fills record['parsed'] / ['raw'] / ['decision'] before the block ends."""
        record: dict[str, Any] = {"node": node, "kind": kind, "backend": backend, "inputs_digest": digest(_jsonable(inputs)), **extra}
        start = time.perf_counter()
        try:
            yield record
        except Exception as exc:
            record["error"] = f"{exc.__class__.__name__}: {exc}"
            raise
        finally:
            record["latency_s"] = round(time.perf_counter() - start, 4)
            self.write(record)

    def call_tool(self, node: str, tool: Any, args: dict[str, Any]) -> Any:
        """Invoke a LangChain tool (as the heuristic agents do) and trace the call."""
        with self.span(node, "tool", backend="local", inputs=args, tool=getattr(tool, "name", str(tool))) as rec:
            result = tool.invoke(args)
            rec["parsed"] = _summary(result)
            return result


def _summary(value: Any) -> Any:
    """Keep traces readable: long lists are cut, arrays never stored."""
    v = _jsonable(value)
    if isinstance(v, list) and len(v) > 20:
        return {"n": len(v), "head": v[:3]}
    if isinstance(v, str) and len(v) > 4000:
        return v[:4000] + "…"
    return v


def traced(node: str) -> Callable[[Callable[..., dict[str, Any]]], Callable[..., dict[str, Any]]]:
    """Decorator for graph nodes `f(state, runtime)`: one 'node' trace line with latency and updated keys."""

    def wrap(fn: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
        def node_fn(state: Any, runtime: Any) -> dict[str, Any]:
            tracer: Tracer = runtime.context.tracer
            with tracer.span(node, "node", inputs=sorted(state) if isinstance(state, dict) else None) as rec:
                out = fn(state, runtime)
                rec["updated"] = sorted(out)
                return out

        node_fn.__name__ = fn.__name__
        node_fn.__doc__ = fn.__doc__
        node_fn.__annotations__ = fn.__annotations__
        return node_fn

    return wrap


#: A warning as printed and stored in run.json: long enough for what went wrong and where, short enough for one line.
SHORT_WARNING = 300


def warning_lines(warnings: list[str], tracer: Tracer) -> list[str]:
    """The sink of a run's warnings: each once (graph branches and search levels may raise the same one), in the
    order first raised, cut to a short line; the full text of one that was cut goes in the trace (kind 'warning')."""
    lines = []
    for text in dict.fromkeys(str(w) for w in warnings):
        if len(text) > SHORT_WARNING:
            tracer.write({"node": text.split(":", 1)[0][:60], "kind": "warning", "text": text})
            text = text[: SHORT_WARNING - 45].rstrip() + " … (in full: foley trace, kind warning)"
        if text not in lines:
            lines.append(text)
    return lines
