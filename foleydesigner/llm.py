"""Calls a role's chat model for structured output (the models themselves: foleydesigner/models.py).

Every call is traced (prompt, raw reply, parsed result, latency, tokens, cost); malformed output is re-asked
once with the validation error; rate limits, 5xx and timeouts are retried with exponential backoff.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from foleydesigner.errors import BackendError
from foleydesigner.models import (  # noqa: F401  (re-exported: agents and tests import them from here)
    HEURISTIC,
    Endpoint,
    check_backends,
    endpoint_for,
    endpoints,
    is_vision_model,
    make_chat_model,
    parse_backend,
    provider_url,
    redact_url,
    register_chat_model_factory,
    speaks_openai,
    unregister_chat_model_factory,
)
from foleydesigner.redaction import scrub
from foleydesigner.trace import Tracer, digest

log = logging.getLogger(__name__)
T = TypeVar("T", bound=BaseModel)

FALLBACK_HINT = "try another model, or pass --fallback heuristic to use the offline rules for this step"
#: One LLM step (its calls, retries, re-ask and tool rounds) may take this many request timeouts at most: without a
#: bound, 5 tries × 120 s plus backoff kept a step waiting about 10 minutes on a server that hangs.
STEP_TIMEOUTS = 3.0
#: USD per million input / output tokens, list prices (2025). Unknown models cost None: never a guess.
PRICES_PER_MTOK: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60), "gpt-4o": (2.50, 10.00), "gpt-4.1-nano": (0.10, 0.40), "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1": (2.00, 8.00), "gpt-5-nano": (0.05, 0.40), "gpt-5-mini": (0.25, 2.00), "gpt-5": (1.25, 10.00),
    "o4-mini": (1.10, 4.40), "o3": (2.00, 8.00), "claude-3-5-haiku": (0.80, 4.00), "claude-haiku-4-5": (1.00, 5.00),
    "claude-3-7-sonnet": (3.00, 15.00), "claude-sonnet-4": (3.00, 15.00), "claude-opus-4": (15.00, 75.00),
}
#: HTTP statuses worth retrying: timeout, conflict, rate limit, server errors, Anthropic's 529 "overloaded".
_TRANSIENT_STATUS = {408, 409, 429, 500, 502, 503, 504, 529}
_TRANSIENT_NAMES = ("RateLimit", "Timeout", "APIConnection", "InternalServer", "ServiceUnavailable", "Overloaded")


class StepFailed(BackendError):
    """An LLM step that failed after its retries and re-ask. `reason` is what went wrong; the message adds what to
    do, which a warning written after --fallback heuristic has already acted on leaves out."""

    def __init__(self, reason: str, hint: str = FALLBACK_HINT) -> None:
        super().__init__(f"{reason}; {hint}" if hint else reason)
        self.reason = reason


class InvalidAnswer(StepFailed):
    """The model answered, twice, but not with a valid answer: a content failure, not a transport one. `checked`:
    the last answer was well-formed and the caller's check refused it (a plan that cannot run); a caller with an
    offline answer of its own may then use it (the mixing planner's rule-based plan)."""

    def __init__(self, reason: str, hint: str = FALLBACK_HINT, *, checked: bool = False) -> None:
        super().__init__(reason, hint)
        self.checked = checked


# --- retries, usage, cost ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff for transient provider errors; `sleep` is injectable so tests never wait."""

    max_retries: int = 4
    base_s: float = 1.0
    factor: float = 2.0
    max_s: float = 30.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic  # injectable with `sleep`, so a test's fake time moves

    def delay(self, retry: int, exc: BaseException) -> float:
        headers = getattr(getattr(exc, "response", None), "headers", None) or {}
        try:  # the server knows best how long to wait
            after = float(headers.get("retry-after", "")) if hasattr(headers, "get") else None
        except (TypeError, ValueError):
            after = None
        return min(self.max_s, after if after is not None else self.base_s * self.factor**retry)


def is_transient(exc: BaseException) -> bool:
    """Rate limits, 5xx, overload and timeouts: worth another try after a pause."""
    if isinstance(exc, (TimeoutError, ConnectionError)):
        return True
    if getattr(exc, "status_code", None) in _TRANSIENT_STATUS:
        return True
    return any(n in c.__name__ for c in type(exc).__mro__ for n in _TRANSIENT_NAMES)


def price_for(spec: str) -> tuple[float, float] | None:
    provider, model = parse_backend(spec)
    if provider == "ollama":
        return (0.0, 0.0)  # runs locally
    best = max((k for k in PRICES_PER_MTOK if model.startswith(k)), key=len, default=None)
    return PRICES_PER_MTOK[best] if best else None


@dataclass
class Usage:
    """Per-run LLM tally: calls, tokens and cost per backend (cost None where the price is not known)."""

    per_backend: dict[str, dict[str, Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, backend: str, tokens: dict[str, int]) -> float | None:
        price = price_for(backend) if ":" in backend else None
        cost = None if price is None else (tokens["input"] * price[0] + tokens["output"] * price[1]) / 1e6
        with self._lock:
            row = self.per_backend.setdefault(backend, {"calls": 0, "input_tokens": 0, "output_tokens": 0,
                                                        "cost_usd": 0.0 if price is not None else None})
            row["calls"] += 1
            row["input_tokens"] += tokens["input"]
            row["output_tokens"] += tokens["output"]
            if cost is not None:
                row["cost_usd"] = round(row["cost_usd"] + cost, 6)
        return cost

    @property
    def cost_usd(self) -> float | None:
        costs = [r["cost_usd"] for r in self.per_backend.values()]
        return None if not costs or any(c is None for c in costs) else round(sum(costs), 6)


_USAGE: weakref.WeakKeyDictionary[Tracer, Usage] = weakref.WeakKeyDictionary()


def usage_for(tracer: Tracer) -> Usage:
    """The usage tally of the run that owns this tracer (every call through structured_call is counted)."""
    return _USAGE.setdefault(tracer, Usage())


def _tokens(raw: Any) -> dict[str, int]:
    meta = getattr(raw, "usage_metadata", None) or {}
    return {"input": int(meta.get("input_tokens", 0) or 0), "output": int(meta.get("output_tokens", 0) or 0)}


# --- messages ------------------------------------------------------------------------------------------------

def image_block(jpeg_b64: str) -> dict[str, Any]:
    """A standard LangChain image content block (converted per provider by langchain-openai/-anthropic)."""
    return {"type": "image", "base64": jpeg_b64, "mime_type": "image/jpeg"}


def _trace_content(content: Any) -> Any:
    """Message content for the trace: images become a digest, never kilobytes of base64."""
    if not isinstance(content, list):
        return content
    out = []
    for block in content:
        if isinstance(block, dict) and block.get("type") in ("image", "image_url"):
            data = block.get("base64") or str(block.get("image_url", ""))
            out.append({"type": "image", "bytes_b64": len(data), "digest": digest(data)})
        else:
            out.append(block)
    return out


def _trace_messages(messages: Sequence[Any]) -> list[dict[str, Any]]:
    return [{"role": getattr(m, "type", "?"), "content": _trace_content(getattr(m, "content", str(m)))}
            for m in messages]


def _raw(msg: Any) -> dict[str, Any]:
    return {"content": getattr(msg, "content", str(msg)), "tool_calls": getattr(msg, "tool_calls", []) or [],
            "invalid_tool_calls": getattr(msg, "invalid_tool_calls", []) or [],
            "refusal": (getattr(msg, "additional_kwargs", {}) or {}).get("refusal")}


def _no_output_reason(msg: Any, schema: type[BaseModel]) -> str:
    raw = _raw(msg)
    if raw["refusal"]:
        return f"the model refused: {str(raw['refusal'])[:300]}"
    if raw["invalid_tool_calls"]:
        bad = raw["invalid_tool_calls"][0]
        return f"malformed JSON for {schema.__name__}: {bad.get('error') or bad.get('args')}"[:500]
    text = raw["content"] if isinstance(raw["content"], str) else json.dumps(raw["content"], default=str)
    return f"no {schema.__name__} in the reply (it said: {text[:300]!r})" if text else f"no {schema.__name__} in the reply"


# --- the call ------------------------------------------------------------------------------------------------

def _past(retry: RetryPolicy, deadline: float | None, node: str, backend: str, at: str) -> None:
    if deadline is not None and retry.clock() >= deadline:
        raise StepFailed(f"{node}: the {backend} step{at} ran past its deadline ({STEP_TIMEOUTS:g} × its request "
                         "timeout, --llm-timeout); stopped retrying")


def _invoke(runnable: Any, convo: list[Any], *, tracer: Tracer, node: str, backend: str, retry: RetryPolicy,
            rec: dict[str, Any], server: str | None = None, deadline: float | None = None) -> Any:
    at = f" to {server}" if server else ""  # which server: a connection error alone does not say
    for n in range(retry.max_retries + 1):
        _past(retry, deadline, node, backend, at)
        try:
            return runnable.invoke(convo)
        except Exception as exc:
            text = scrub(f"{exc.__class__.__name__}: {exc}")
            left = None if deadline is None else deadline - retry.clock()
            if n < retry.max_retries and is_transient(exc) and (left is None or retry.delay(n, exc) < left):
                wait = retry.delay(n, exc)
                rec.setdefault("retries", []).append({"error": text[:300], "wait_s": round(wait, 3)})
                log.warning("%s: %s, retrying in %.1f s", node, text[:200], wait)
                retry.sleep(wait)
                continue
            late = " (no time left before the step's deadline)" if left is not None and is_transient(exc) and \
                n < retry.max_retries else ""
            raise StepFailed(f"{node}: the {backend} call{at} failed ({text[:500]})"
                             + (f" after {n} retries" if n else "") + late) from None
    raise AssertionError("unreachable")


def structured_call(model: Any, messages: list[Any], schema: type[T], *, tracer: Tracer, node: str, backend: str,
                    tools: Sequence[Any] = (), retry: RetryPolicy | None = None, max_tool_rounds: int = 4,
                    max_retries: int | None = None, backoff_s: float | None = None,
                    check: Callable[[T], str | None] | None = None, server: str | None = None,
                    step_timeout_s: float | None = None, salvage: Callable[[Any], T | None] | None = None) -> T:
    """Ask for `schema`; re-ask once with the validation error, then fail the node with a clear error.

    With `tools`, the model may call them first (they run locally and their results go back to it); it answers
    by calling the schema as a tool. Transient provider errors are retried with `retry` (exponential backoff).
    `check(parsed)` may refuse a well-formed answer (out of range) with the text to re-ask with: that re-ask is
    the same one, so the trace shows attempt 0 refused, then attempt 1. `step_timeout_s` bounds the whole step:
    no retry starts past it (a request already sent is bounded by its own timeout). `salvage(args)` may read what
    it can of the arguments of a second answer the schema still refuses (agents/salvage.py) instead of failing."""
    from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

    policy = retry or RetryPolicy()
    if max_retries is not None or backoff_s is not None:
        policy = RetryPolicy(max_retries if max_retries is not None else policy.max_retries,
                             backoff_s if backoff_s is not None else policy.base_s, policy.factor, policy.max_s, policy.sleep, policy.clock)
    by_name = {getattr(t, "name", ""): t for t in tools}
    runnable = model.bind_tools([*tools, schema]) if tools else _structured(model, schema)
    convo, problems, rounds = list(messages), [], 0
    args: Any = None  # the arguments of the last answer the schema refused
    deadline = None if step_timeout_s is None else policy.clock() + step_timeout_s
    while len(problems) < 2:
        with tracer.span(node, "llm", backend=backend, inputs=_trace_messages(convo), prompt=_trace_messages(convo),
                         attempt=len(problems), model=backend) as rec:
            out = _invoke(runnable, convo, tracer=tracer, node=node, backend=backend, retry=policy, rec=rec,
                          server=server, deadline=deadline)
            raw = out if tools else out.get("raw")
            rec["raw"] = _raw(raw)
            rec["tokens"] = _tokens(raw)
            rec["cost_usd"] = usage_for(tracer).add(backend, rec["tokens"])
            if not tools:
                parsed, error = out.get("parsed"), out.get("parsing_error")
                refused = check(parsed) if check and parsed is not None and error is None else None
                if parsed is not None and error is None:
                    rec["parsed"] = parsed
                    if refused is None:
                        return parsed  # type: ignore[no-any-return]
                problem = refused or (str(error) if error is not None else _no_output_reason(raw, schema))
                args = next((c.get("args") for c in getattr(raw, "tool_calls", None) or []
                             if c.get("name") == schema.__name__), None) if error is not None else None
                convo = convo + [HumanMessage(refused or f"Your previous reply was not a valid {schema.__name__}: "
                                              f"{problem}. Reply again with a valid {schema.__name__}.")]
            else:
                calls = list(getattr(raw, "tool_calls", []) or [])
                answer = next((c for c in calls if c["name"] == schema.__name__), None)
                refused = None
                if answer is not None:
                    try:
                        parsed = schema.model_validate(answer["args"])
                        rec["parsed"] = parsed
                        if (refused := check(parsed) if check else None) is None:
                            return parsed
                        problem = refused
                    except ValidationError as exc:
                        problem, args = str(exc), answer["args"]
                elif calls and rounds < max_tool_rounds:
                    rounds += 1
                    convo = convo + [raw] + [_run_tool(by_name, c, tracer, node) for c in calls]
                    rec["decision"] = f"called {', '.join(c['name'] for c in calls)}"
                    continue
                else:
                    problem = (f"more than {max_tool_rounds} tool rounds without an answer" if calls
                               else _no_output_reason(raw, schema))
                note = refused or f"Not a valid {schema.__name__}: {problem}. Answer by calling {schema.__name__} with valid arguments."
                reply = raw if isinstance(raw, AIMessage) else AIMessage(str(raw))
                convo = convo + [reply] + ([ToolMessage(note, tool_call_id=c["id"]) for c in calls] or [HumanMessage(note)])
            rec["parse_error"] = problem[:1000]
            problems.append(problem)
    if salvage is not None and refused is None and args is not None and (kept := salvage(args)) is not None:
        tracer.write({"node": node, "kind": "salvage", "backend": backend, "parsed": kept,
                      "decision": f"kept what the schema could read of the answer it refused: {problems[-1][:300]}"})
        return kept
    raise InvalidAnswer(f"{node}: {backend} gave no valid {schema.__name__} after a re-ask ({' '.join(problems[-1].split())[:300]})",
                        checked=refused is not None)


def _structured(model: Any, schema: type[BaseModel]) -> Any:
    """Structured output by function calling: OpenAI's default json_schema mode is strict and rejects the free-form
    `params` dicts of our schemas; models without a `method` argument take the plain call."""
    try:
        return model.with_structured_output(schema, include_raw=True, method="function_calling")
    except (TypeError, ValueError, NotImplementedError):
        return model.with_structured_output(schema, include_raw=True)


def _run_tool(by_name: dict[str, Any], call: dict[str, Any], tracer: Tracer, node: str) -> Any:
    from langchain_core.messages import ToolMessage

    tool = by_name.get(call["name"])
    with tracer.span(node, "tool", backend="local", inputs=call.get("args"), tool=call["name"]) as rec:
        if tool is None:
            result: Any = f"error: there is no tool named {call['name']}; available: {', '.join(by_name)}"
        else:
            try:
                result = tool.invoke(call.get("args") or {})
            except Exception as exc:  # the model sees the error and can correct its arguments
                result = f"error: {exc.__class__.__name__}: {exc}"
        rec["parsed"] = result
    content = result if isinstance(result, str) else json.dumps(result, default=str)
    return ToolMessage(content, tool_call_id=call.get("id") or call["name"])


# --- agents' entry points ------------------------------------------------------------------------------------

def ask(ctx: Any, role: str, node: str, messages: list[Any], schema: type[T], *, tools: Sequence[Any] = (),
        check: Callable[[T], str | None] | None = None, salvage: Callable[[Any], T | None] | None = None) -> T:
    """One structured call for an agent role, with the role's endpoint, the run's retry policy and tracer.

    `check` may refuse a well-formed answer (a parameter out of range): it returns the re-ask text, or None."""
    ep = endpoint_for(ctx, role)
    return structured_call(ep.model(), messages, schema, tracer=ctx.tracer, node=node, backend=ep.backend, tools=tools,
                           retry=getattr(ctx, "llm_retry", None), check=check, server=ep.server(),
                           step_timeout_s=STEP_TIMEOUTS * ep.timeout_s, salvage=salvage)


def wants_images(ctx: Any, role: str) -> bool:
    backend = ctx.llm_for(role)
    return backend != HEURISTIC and (bool(getattr(ctx, "llm_vision", False)) or is_vision_model(backend))


def with_fallback(ctx: Any, role: str, node: str, llm_fn: Callable[[], T], heuristic_fn: Callable[[], T]) -> tuple[T, list[str]]:
    """Run the LLM path; on its failure use the heuristic only when --fallback heuristic, with a warning."""
    backend = ctx.llm_for(role)
    if backend == HEURISTIC:
        return heuristic_fn(), []
    try:
        return llm_fn(), []
    except BackendError as exc:
        if getattr(ctx, "fallback", None) != HEURISTIC:
            raise
        reason = (exc.reason if isinstance(exc, StepFailed) else str(exc)).removeprefix(f"{node}: ")
        reason = reason if len(reason) <= 160 else reason[:157] + "..."  # the trace has it whole
        warning = f"{node}: {backend} failed, used the heuristic backend instead (--fallback heuristic): {reason}"
        ctx.tracer.write({"node": node, "kind": "fallback", "backend": HEURISTIC, "warning": warning})
        log.warning("%s", warning)
        return heuristic_fn(), [warning]
