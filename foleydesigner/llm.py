"""The one place that turns a backend string into a chat model, and calls it for structured output.

`heuristic` means no LLM: agents run their offline rules. Anything else is an `init_chat_model` string
(`openai:gpt-4o-mini`, `anthropic:claude-…`, `ollama:llama3.1`, or any OpenAI-compatible server via base_url).
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from foleydesigner.errors import BackendError
from foleydesigner.trace import Tracer

log = logging.getLogger(__name__)
T = TypeVar("T", bound=BaseModel)

HEURISTIC = "heuristic"
_KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY", "google_genai": "GOOGLE_API_KEY",
            "mistralai": "MISTRAL_API_KEY", "groq": "GROQ_API_KEY"}
_TRANSIENT = ("RateLimit", "Timeout", "APIConnection", "InternalServer", "ServiceUnavailable", "Overloaded", "APITimeout")


def parse_backend(spec: str) -> tuple[str, str]:
    """'provider:model' -> (provider, model); 'heuristic' -> ('heuristic', '')."""
    spec = spec.strip()
    if spec == HEURISTIC:
        return HEURISTIC, ""
    if ":" not in spec or not spec.split(":", 1)[1]:
        raise BackendError(f"LLM backend '{spec}' is not 'heuristic' or 'provider:model' (e.g. openai:gpt-4o-mini, "
                           "anthropic:claude-sonnet-4-5, ollama:llama3.1)")
    provider, model = spec.split(":", 1)
    return provider, model


def make_chat_model(spec: str, *, base_url: str | None = None, temperature: float = 0.2) -> Any:
    """A LangChain chat model for 'provider:model'. Fails with the env var to set when a key is missing."""
    provider, model = parse_backend(spec)
    if provider == HEURISTIC:
        raise BackendError("the heuristic backend has no chat model")
    env = _KEY_ENV.get(provider)
    if env and not os.environ.get(env) and not base_url:
        raise BackendError(f"--llm {spec} needs an API key: set {env}, or pick --llm heuristic for the offline backend")
    from langchain.chat_models import init_chat_model

    kwargs: dict[str, Any] = {"temperature": temperature}
    if base_url:
        kwargs["base_url"] = base_url
        kwargs.setdefault("api_key", os.environ.get(env or "OPENAI_API_KEY") or "not-needed")
    try:
        return init_chat_model(model, model_provider=provider, **kwargs)
    except Exception as exc:
        raise BackendError(f"cannot create chat model '{spec}': {exc}") from exc


def _usage(raw: Any) -> dict[str, int]:
    meta = getattr(raw, "usage_metadata", None) or {}
    return {"input": int(meta.get("input_tokens", 0) or 0), "output": int(meta.get("output_tokens", 0) or 0)}


def structured_call(model: Any, messages: list[Any], schema: type[T], *, tracer: Tracer, node: str, backend: str,
                    max_retries: int = 3, backoff_s: float = 1.0) -> T:
    """Ask for `schema`; re-ask once with the validation error; retry transient provider errors with backoff."""
    runnable = model.with_structured_output(schema, include_raw=True)
    convo = list(messages)
    for attempt in range(2):
        for retry in range(max_retries + 1):
            with tracer.span(node, "llm", backend=backend, inputs=[str(m) for m in convo],
                             prompt=[getattr(m, "content", str(m)) for m in convo], attempt=attempt) as rec:
                try:
                    out = runnable.invoke(convo)
                except Exception as exc:
                    if retry < max_retries and any(t in exc.__class__.__name__ for t in _TRANSIENT):
                        rec["retry_after_error"] = f"{exc.__class__.__name__}: {exc}"
                        time.sleep(backoff_s * 2**retry)
                        continue
                    raise BackendError(f"{node}: the {backend} call failed ({exc.__class__.__name__}: {exc})") from exc
                raw = out.get("raw")
                rec["raw"] = getattr(raw, "content", None) or str(getattr(raw, "tool_calls", ""))
                rec["tokens"] = _usage(raw)
                parsed, error = out.get("parsed"), out.get("parsing_error")
                if parsed is not None and error is None:
                    rec["parsed"] = parsed
                    return parsed  # type: ignore[no-any-return]
                rec["parse_error"] = str(error or "no structured output")
            break
        from langchain_core.messages import HumanMessage

        problem = error if isinstance(error, ValidationError) else (error or "the reply had no structured output")
        convo = convo + [HumanMessage(f"Your previous reply was not a valid {schema.__name__}: {problem}. "
                                      f"Reply again with a valid {schema.__name__}.")]
    raise BackendError(f"{node}: {backend} returned malformed output twice ({problem}); "
                       "try another model or --fallback heuristic")
