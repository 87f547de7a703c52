"""Backend strings to chat models: the one factory, each role's endpoint, and the offline `heuristic` name.

`heuristic` means no LLM: agents run their offline rules. Anything else is an `init_chat_model` string
(`openai:gpt-4o-mini`, `anthropic:claude-…`, `ollama:llama3.1`, or any OpenAI-compatible server via base_url).

Each role has an endpoint (`Endpoint`): its backend, the base URL its SDK is given, the variable its key is read
from, a timeout and a temperature. The provider decides how a base URL is used: OpenAI's client appends
`/chat/completions` to a URL that carries the API version (`/v1`); Anthropic's appends `/v1/messages` itself and
Ollama's `/api/chat`, so a `/v1` given to them is taken off. `--llm-base-url` (an OpenAI-compatible server) only
applies to roles whose provider speaks that protocol; any other role takes its own URL, or its SDK's variable
(ANTHROPIC_BASE_URL, ...), or the provider's default, and run.json records which.

Test hook: `register_chat_model_factory("scripted", factory)` makes `--llm scripted:NAME` resolve to
`factory(NAME, base_url=..., temperature=...)`. Nothing is registered in normal use.
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from foleydesigner.errors import BackendError
from foleydesigner.redaction import add_secret, add_secret_env, add_url_credentials, scrub

HEURISTIC = "heuristic"
#: Agent roles that can each get their own LLM backend (`--llm-ROLE provider:model`); context.py re-exports them.
#: They live here, at the bottom of context -> llm -> models, so no module imports back up that chain.
ROLES = ("scribe", "validator", "writer", "scorer", "planner", "experts")
_KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY", "google_genai": "GOOGLE_API_KEY",
            "mistralai": "MISTRAL_API_KEY", "groq": "GROQ_API_KEY", "deepseek": "DEEPSEEK_API_KEY"}
#: The LangChain integration package each provider needs (checked before its key, so the first error is the real one).
_INSTALL = {"openai": "langchain-openai", "anthropic": "langchain-anthropic", "ollama": "langchain-ollama",
            "google_genai": "langchain-google-genai", "mistralai": "langchain-mistralai", "groq": "langchain-groq",
            "deepseek": "langchain-deepseek", "bedrock": "langchain-aws", "bedrock_converse": "langchain-aws"}
#: Where each SDK reads a base URL from the environment when none is given, in the order it reads them.
_URL_ENV = {"openai": ("OPENAI_API_BASE", "OPENAI_BASE_URL"), "anthropic": ("ANTHROPIC_API_URL", "ANTHROPIC_BASE_URL"),
            "ollama": ("OLLAMA_HOST",)}
_DEFAULT_URL = {"openai": "https://api.openai.com/v1", "anthropic": "https://api.anthropic.com",
                "ollama": "http://127.0.0.1:11434"}
#: The path each SDK appends to its base URL for one chat call (recorded in run.json as `chat_url`).
_CHAT_PATH = {"openai": "/chat/completions", "anthropic": "/v1/messages", "ollama": "/api/chat"}
#: Providers whose SDK appends its own API version: a trailing /v1 in a URL given to them would be doubled.
_OWN_VERSION_PATH = ("anthropic", "ollama")
DEFAULT_TIMEOUT_S = 120.0
DEFAULT_TEMPERATURE = 0.2
#: Models that take images: keyframes are sent to these (or to any model with --llm-vision).
_VISION = re.compile(r"gpt-4o|gpt-4\.1|gpt-4-turbo|gpt-5|\bo[134]\b|\bo[134]-|claude-3|claude-(?:sonnet|opus|haiku)-4|"
                     r"gemini|llava|vision|-vl\b|pixtral|minicpm-v|moondream|gemma3", re.I)
ChatModelFactory = Callable[..., Any]
_FACTORIES: dict[str, ChatModelFactory] = {}


def register_chat_model_factory(provider: str, factory: ChatModelFactory) -> None:
    """Make 'provider:MODEL' resolve to factory(MODEL, base_url=..., temperature=...) (a test hook)."""
    _FACTORIES[provider] = factory


def unregister_chat_model_factory(provider: str) -> None:
    _FACTORIES.pop(provider, None)


def parse_backend(spec: str) -> tuple[str, str]:
    """'provider:model' -> (provider, model); 'heuristic' -> ('heuristic', '')."""
    spec = spec.strip()
    if spec == HEURISTIC:
        return HEURISTIC, ""
    if ":" not in spec or not spec.split(":", 1)[1] or not spec.split(":", 1)[0]:
        raise BackendError(f"LLM backend '{spec}' is not 'heuristic' or 'provider:model' (e.g. openai:gpt-4o-mini, "
                           "anthropic:claude-sonnet-4-5, ollama:llama3.1)")
    provider, model = spec.split(":", 1)
    return provider, model


def is_vision_model(spec: str) -> bool:
    """Whether a backend is known to take images (keyframes); --llm-vision overrides for unknown ones."""
    return spec != HEURISTIC and bool(_VISION.search(parse_backend(spec)[1]))


def redact_url(url: str | None) -> str | None:
    """A base URL fit for run.json: no user:password@, no ?query (keys hide in both)."""
    if not url:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))



def speaks_openai(provider: str) -> bool:
    """Whether --llm-base-url (an OpenAI-compatible server) fits this provider (test factories take any URL)."""
    return provider == "openai" or provider in _FACTORIES


def provider_url(provider: str, url: str) -> str:
    """A base URL as this provider's SDK wants it (see the module docstring); query and credentials kept."""
    parts = urlsplit(url.strip())
    path = parts.path.rstrip("/")
    if provider in _OWN_VERSION_PATH and path.endswith("/v1"):
        path = path[:-3]
    elif provider == "openai" and not path:
        path = "/v1"  # vLLM, llama.cpp, LM Studio and Ollama all serve the OpenAI API under /v1
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))


@dataclass(frozen=True)
class Endpoint:
    """Where and how one role's model is called."""

    backend: str
    base_url: str | None = None  # as given to the SDK, already shaped for the provider; None = the SDK's default
    source: str = ""  # where base_url came from: a flag, a config key, env:NAME, or "default"
    api_key_env: str | None = None  # the variable the key is read from
    timeout_s: float = DEFAULT_TIMEOUT_S
    temperature: float = DEFAULT_TEMPERATURE
    flag: str = "--llm "  # how the user chose this backend, for messages: "--llm-planner ", "--llm-role experts=",
    #                       or a config table: "[roles.scribe] in /path/foley.toml"
    key_required: bool = True  # False for a server the user named (a local one takes no key) unless a key variable is
    key_source: str = ""  # where api_key_env was named ("[roles.scribe] api_key_env in foley.toml"), for messages

    def record(self) -> dict[str, Any]:
        """This endpoint for run.json: no key, no user:password@, no ?query."""
        if self.backend == HEURISTIC:
            return {"backend": HEURISTIC}
        provider = parse_backend(self.backend)[0]
        url = self.base_url or _DEFAULT_URL.get(provider)
        out: dict[str, Any] = {"backend": self.backend, "base_url": redact_url(url), "source": self.source or "default"}
        if url and provider in _CHAT_PATH:
            out["chat_url"] = redact_url(url.split("?")[0].rstrip("/") + _CHAT_PATH[provider])
        out.update(api_key_env=self.api_key_env, timeout_s=self.timeout_s, temperature=self.temperature)
        return out

    def server(self) -> str | None:
        """The URL a call goes to, for error messages (no credentials, no query)."""
        rec = self.record()
        return rec.get("chat_url") or rec.get("base_url")

    def model(self) -> Any:
        return make_chat_model(self.backend, base_url=self.base_url, temperature=self.temperature,
                               timeout_s=self.timeout_s, api_key_env=self.api_key_env, flag=self.flag,
                               key_optional=not self.key_required, key_source=self.key_source)


def role_flag(ctx: Any, role: str) -> str:
    """The flag that chose a role's backend, for messages."""
    if role not in (getattr(ctx, "llm_roles", None) or {}):
        return "--llm "
    return "--llm-role experts=" if role == "experts" else f"--llm-{role} "


def endpoint_for(ctx: Any, role: str) -> Endpoint:
    """A role's endpoint: its own settings (ctx.llm_endpoints[role]: base_url, source, api_key_env, timeout_s,
    temperature), else --llm-base-url where it fits the provider, else the SDK's environment variable, else the
    provider's default."""
    backend = ctx.llm_for(role)
    if backend == HEURISTIC:
        return Endpoint(HEURISTIC)
    provider = parse_backend(backend)[0]
    own = dict((getattr(ctx, "llm_endpoints", None) or {}).get(role) or {})
    url, source = own.get("base_url"), own.get("source") or f"roles.{role}.base_url"
    if not url and getattr(ctx, "llm_base_url", None) and speaks_openai(provider):
        url, source = ctx.llm_base_url, "--llm-base-url"
    if not url:
        name = next((n for n in _URL_ENV.get(provider, ()) if os.environ.get(n)), None)
        url, source = (os.environ[name], f"env:{name}") if name else (None, "default")
    named = url is not None and source != "default" and not source.startswith("env:")
    add_secret_env(own.get("api_key_env"))
    add_url_credentials(url)
    return Endpoint(backend, provider_url(provider, url) if url else None, source,
                    own.get("api_key_env") or _KEY_ENV.get(provider),
                    float(own.get("timeout_s") or getattr(ctx, "llm_timeout_s", None) or DEFAULT_TIMEOUT_S),
                    float(own["temperature"]) if own.get("temperature") is not None else DEFAULT_TEMPERATURE,
                    str(own.get("chosen_by") or role_flag(ctx, role)), key_required=not named or bool(own.get("api_key_env")),
                    key_source=str(own.get("key_source") or ""))


def endpoints(ctx: Any) -> dict[str, dict[str, Any]]:
    """Every role's effective endpoint, for run.json."""
    return {role: endpoint_for(ctx, role).record() for role in ROLES}


def _missing_package(provider: str) -> str | None:
    pkg = _INSTALL.get(provider)
    return pkg if pkg and importlib.util.find_spec(pkg.replace("-", "_")) is None else None


def make_chat_model(spec: str, *, base_url: str | None = None, temperature: float = DEFAULT_TEMPERATURE,
                    timeout_s: float = DEFAULT_TIMEOUT_S, api_key_env: str | None = None, flag: str = "--llm ",
                    key_optional: bool | None = None, key_source: str = "") -> Any:
    """A LangChain chat model for 'provider:model'. Fails with the package to install, then the variable to set.

    A key may be missing when a base URL was given (a local server takes none), unless `api_key_env` names it."""
    provider, model = parse_backend(spec)
    if provider == HEURISTIC:
        raise BackendError("the heuristic backend has no chat model")
    if provider in _FACTORIES:
        return _FACTORIES[provider](model, base_url=base_url, temperature=temperature)
    table = flag.startswith("[")  # chosen in foley.toml, not by a flag
    who = f"{spec} ({flag})" if table else f"{flag}{spec}"
    if pkg := _missing_package(provider):
        hint = (" (or use its OpenAI-compatible endpoint: --llm openai:MODEL --llm-base-url http://localhost:11434/v1)"
                if provider == "ollama" else "")
        raise BackendError(f"{who} needs {pkg} installed: pip install {pkg}{hint}")
    env = api_key_env or _KEY_ENV.get(provider)
    key = os.environ.get(env) if env else None
    add_secret_env(env)  # from now on its value is redacted everywhere, even echoed back by a server
    add_secret(key)
    add_url_credentials(base_url)
    optional = (base_url is not None and api_key_env is None) if key_optional is None else key_optional
    if env and not key and not optional:
        named = f" (named by {key_source})" if key_source else ""
        other = f'backend = "heuristic" in {flag}' if table else f"{flag}heuristic"
        raise BackendError(f"{who} needs an API key: set {env}{named}, or pick {other} for the offline backend")
    from langchain.chat_models import init_chat_model

    kwargs: dict[str, Any] = {"temperature": temperature}
    if provider in ("openai", "anthropic", "deepseek"):
        # Our RetryPolicy is the only retry layer, so every retry is visible in the trace.
        kwargs.update(max_retries=0, timeout=timeout_s)
    if base_url:
        kwargs["base_url"] = provider_url(provider, base_url)
    if key or base_url:
        kwargs["api_key"] = key or "not-needed"
    try:
        return init_chat_model(model, model_provider=provider, **kwargs)
    except ImportError as exc:
        pkg = _INSTALL.get(provider, f"the LangChain integration for '{provider}'")
        raise BackendError(f"{flag}{spec} needs {pkg} installed") from exc
    except Exception as exc:
        raise BackendError(f"cannot create chat model '{spec}': {scrub(str(exc), [base_url or '', key or ''])}") from exc


def check_backends(ctx: Any) -> None:
    """Construct each distinct role endpoint once (no network), so a missing package or key fails before the work."""
    for ep in dict.fromkeys(endpoint_for(ctx, r) for r in ROLES):
        if ep.backend != HEURISTIC:
            ep.model()
