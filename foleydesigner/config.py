"""`foley.toml`: a run's settings kept in a file, and how they meet the command line.

Every `foley run` option may be set in the file under its flag's name with underscores (`target_lufs = -23.0`,
`llm_base_url = "http://127.0.0.1:8000/v1"`), and each agent role gets its own table:

    [roles.scribe]
    backend = "openai:qwen2.5-vl"
    base_url = "http://127.0.0.1:8000/v1"
    timeout_s = 60

Precedence: a flag given on the command line, else the file, else the flag's default. A role named on the
command line (`--llm-scribe`, `--llm-role scribe=...`) keeps its table's other settings while the provider stays
the same, and drops the table when it changes (a local server's URL is no place for a cloud model). The file is
`--config FILE`, else `foley.toml` in the current folder; relative paths in it are relative to the file.
The settings model is built from `foley run`'s own signature, so the file always offers exactly its options.
"""

from __future__ import annotations

import difflib
import inspect
import json
import re
import sys
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator

from foleydesigner.context import ROLES
from foleydesigner.errors import FoleyError, InputError
from foleydesigner.llm import HEURISTIC, parse_backend, speaks_openai

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

CONFIG_NAME = "foley.toml"
#: `foley run` parameters the file does not hold: the clip, the file itself, and the role flags (tables instead).
ROLE_FLAGS = {"llm_role": None, **{f"llm_{r}": r for r in ROLES if r != "experts"}}
NOT_IN_FILE = {"ctx", "clip", "config", "resume", "edits", "from_run", *ROLE_FLAGS}  # --resume is about one interrupted run, not a setup; --edits about one review
_URL = re.compile(r"^https?://[^\s/?#]+", re.I)
_ROLE_URL = re.compile(r"^(?P<spec>.+?)@(?P<url>https?://\S+)$", re.I)  # model names may hold '@' (Vertex ids)


class RoleSettings(BaseModel):
    """One agent role's LLM: its backend and where and how it is called."""

    model_config = ConfigDict(extra="forbid")
    backend: str | None = Field(default=None, description="heuristic or provider:model")
    base_url: str | None = Field(default=None, description="the server; the provider decides how /v1 is used")
    api_key_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
                                    description="the environment variable holding this role's key")
    timeout_s: float | None = Field(default=None, gt=0, le=3600, description="seconds per request")
    temperature: float | None = Field(default=None, ge=0, le=2)

    @field_validator("backend")
    @classmethod
    def _backend(cls, v: str | None) -> str | None:
        try:
            return v if v is None else parse_backend(v) and v.strip()
        except FoleyError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("base_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None and not _URL.match(v):
            raise ValueError(f"'{v}' is not an http(s):// URL")
        return v


def _optional(annotation: Any) -> Any:
    """The type a file value takes for a parameter annotated `Annotated[T, typer.Option]` (always optional)."""
    base = typing.get_args(annotation)[0] if typing.get_origin(annotation) is typing.Annotated else annotation
    args = [a for a in typing.get_args(base) if a is not type(None)] if isinstance(base, types.UnionType) else [base]
    return (args[0] if len(args) == 1 else base) | None


def settings_model(command: Callable[..., Any]) -> type[BaseModel]:
    """The pydantic model of a config file for `command` (foley run): one optional field per option, plus roles."""
    hints = typing.get_type_hints(command, include_extras=True)
    fields: dict[str, Any] = {name: (_optional(hints[name]), None) for name in inspect.signature(command).parameters
                              if name in hints and name not in NOT_IN_FILE}
    roles = dict[Literal[ROLES], RoleSettings]  # type: ignore[valid-type]
    return create_model("RunSettings", __config__=ConfigDict(extra="forbid"), roles=(roles, {}), **fields)


@dataclass
class Loaded:
    """A config file read and validated: its path and the values it sets (None: no file)."""

    path: Path | None = None
    values: dict[str, Any] = field(default_factory=dict)
    roles: dict[str, RoleSettings] = field(default_factory=dict)

    def label(self, key: str) -> str:
        return f"{key} in {self.path}"


def find_config(explicit: Path | None, cwd: Path | None = None) -> Path | None:
    if explicit is not None:
        if not explicit.is_file():
            raise InputError(f"--config {explicit}: no such file; `foley config --init` writes a commented one")
        return explicit
    found = (cwd or Path.cwd()) / CONFIG_NAME
    return found if found.is_file() else None


def _problem(exc: ValidationError, path: Path, known: list[str]) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    if err["type"] == "extra_forbidden":
        key = str(err["loc"][-1])
        if key in ROLE_FLAGS and len(err["loc"]) == 1:
            return f"{path}: {key}: a role's backend goes in its table: [roles.{ROLE_FLAGS[key] or 'ROLE'}] backend = \"...\""
        close = difflib.get_close_matches(key, known, n=1)
        return f"{path}: unknown key '{loc}'" + (f" (did you mean '{close[0]}'?)" if close else "")
    if err["type"] == "literal_error" and err["loc"][0] == "roles":
        return f"{path}: [roles.{err['loc'][1]}]: no such role; roles are {', '.join(ROLES)}"
    msg = str(err["msg"]).removeprefix("Value error, ")
    return f"{path}: {loc}: {msg}" + (f" (got {err['input']!r})" if not isinstance(err.get("input"), dict) else "")


def load_config(path: Path | None, command: Callable[..., Any]) -> Loaded:
    """Read and validate a config file; a bad one fails with one line naming the file and the key."""
    if path is None:
        return Loaded()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read it ({exc})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML: {exc}") from exc
    model = settings_model(command)
    try:
        settings = model.model_validate(data)
    except ValidationError as exc:
        raise InputError(_problem(exc, path, [*model.model_fields, "roles"])) from None
    values = {k: v for k, v in settings.model_dump(exclude={"roles"}).items() if k in data}
    for key, v in values.items():  # paths in the file are relative to the file, as in pyproject.toml
        if isinstance(v, Path) and not v.is_absolute():
            values[key] = path.parent / v
    if "llm" in values:
        try:
            parse_backend(values["llm"])
        except FoleyError as exc:
            raise InputError(f"{path}: llm: {exc}") from None
    if values.get("llm_base_url") and not _URL.match(values["llm_base_url"]):
        raise InputError(f"{path}: llm_base_url: '{values['llm_base_url']}' is not an http(s):// URL")
    return Loaded(path, values, dict(settings.roles))  # type: ignore[attr-defined]


# --- meeting the command line ----------------------------------------------------------------------------------

def role_spec(text: str, flag: str) -> tuple[str, str | None]:
    """'provider:model' or 'provider:model@https://host' -> (backend, url or None)."""
    m = _ROLE_URL.match(text.strip())
    spec, url = (m["spec"], m["url"]) if m else (text.strip(), None)
    try:
        parse_backend(spec)
    except FoleyError as exc:
        raise InputError(f"{flag}{text}: {exc}") from None
    return spec, url


def resolve_roles(llm: str, flag_roles: Mapping[str, tuple[str, str | None, str]], loaded: Loaded,
                  base_url: str | None, base_url_source: str) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """Per role: its backend override, and its endpoint settings (llm.endpoint_for reads them).

    `flag_roles` maps a role to (backend, url or None, the flag that named it)."""
    backends: dict[str, str] = {}
    ends: dict[str, dict[str, Any]] = {}
    for role, table in loaded.roles.items():
        if table.backend:
            backends[role] = table.backend
        ends[role] = {k: v for k, v in table.model_dump(exclude={"backend"}).items() if v is not None}
        if "base_url" in ends[role]:
            ends[role]["source"] = loaded.label(f"roles.{role}.base_url")
        # errors about this role name the file's table and key, never a flag the user did not type (llm.py)
        if table.backend:
            ends[role]["chosen_by"] = f"[roles.{role}] in {loaded.path}"
        if table.api_key_env:
            ends[role]["key_source"] = f"[roles.{role}] api_key_env in {loaded.path}"
    for role, (spec, url, flag) in flag_roles.items():
        before = backends.get(role, llm)
        if spec == HEURISTIC or before == HEURISTIC or parse_backend(spec)[0] != parse_backend(before)[0]:
            ends.pop(role, None)  # another provider: the table's server and key are not its own
        ends.get(role, {}).pop("chosen_by", None)  # typed: the flag chose it
        backends[role] = spec
        if url:
            ends.setdefault(role, {}).update(base_url=url, source=flag)
    used = {r: backends.get(r, llm) for r in ROLES}
    calls = {r: parse_backend(b)[0] for r, b in used.items() if b != HEURISTIC}
    if base_url:
        fits = [r for r, provider in calls.items() if speaks_openai(provider)]
        if calls and not fits:
            raise InputError(f"{base_url_source} is an OpenAI-compatible server, and no role uses one "
                             f"({', '.join(sorted(set(calls.values())))}); give another provider's URL per role: "
                             "--llm-role ROLE=provider:model@URL, or base_url in its [roles.ROLE] table")
        for r in fits:
            if "base_url" not in ends.get(r, {}):
                ends.setdefault(r, {}).update(base_url=base_url, source=base_url_source)
    return backends, ends


def given(ctx: Any, name: str) -> bool:
    """Whether the user typed this option (click's parameter source), rather than leaving its default."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT", "PROMPT")


def apply_config(ctx: Any, command: Callable[..., Any]) -> Loaded:
    """Before `foley run`'s body: every option not typed on the command line takes the file's value."""
    loaded = load_config(find_config(ctx.params.get("config")), command)
    for key, value in loaded.values.items():
        if not given(ctx, key):
            ctx.params[key] = value
    ctx.meta["foley.config"] = loaded
    return loaded


def run_roles(ctx: Any, llm: str, llm_role: list[str], per_role: Mapping[str, str | None],
              llm_base_url: str | None) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """`foley run`'s role flags and the file's role tables, resolved (see resolve_roles)."""
    flag_roles: dict[str, tuple[str, str | None, str]] = {}
    for pair in llm_role:
        role, _, text = pair.partition("=")
        if role not in ROLES or not text:
            raise InputError(f"--llm-role takes ROLE=provider:model[@URL] with ROLE one of {', '.join(ROLES)}; got '{pair}'")
        flag_roles[role] = (*role_spec(text, f"--llm-role {role}="), f"--llm-role {role}=")
    for role, text in per_role.items():
        if text:
            flag_roles[role] = (*role_spec(text, f"--llm-{role} "), f"--llm-{role}")
    loaded: Loaded = ctx.meta.get("foley.config") or Loaded()
    source = "--llm-base-url" if given(ctx, "llm_base_url") or not loaded.path else loaded.label("llm_base_url")
    if llm_base_url and not _URL.match(llm_base_url):
        raise InputError(f"{source} {llm_base_url} is not an http(s):// URL")
    return resolve_roles(llm, flag_roles, loaded, llm_base_url, source)


def blame(exc: FoleyError, ctx: Any) -> FoleyError:
    """An error about `--flag` whose value came from the config file says so (the user never typed that flag)."""
    loaded: Loaded | None = ctx.meta.get("foley.config")
    m = re.search(r"--([a-z][a-z0-9-]*)", str(exc))
    key = m[1].replace("-", "_") if m else ""
    if loaded and loaded.path and key in loaded.values and not given(ctx, key):
        return type(exc)(f"{exc} (set by {loaded.label(key)})")
    return exc


def batch_options(loaded: Loaded, llm_flag: str | None = None) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """A config file's setup for `foley batch`: (its run options as manifest columns, its LLM roles and endpoints
    as run_foley keywords, the keys a batch does not take from a file: per-run ones such as out or script).
    A typed --llm (llm_flag) replaces the file's `llm` as `foley run --llm` does: the file's [roles.*] tables,
    fallback and llm_timeout stay in force."""
    from foleydesigner.batch.sources import OPTIONS, PATH_OPTIONS

    columns = {k: v for k, v in loaded.values.items() if k in OPTIONS or k in PATH_OPTIONS}
    llm = llm_flag or str(loaded.values.get("llm", HEURISTIC))
    backends, ends = resolve_roles(llm, {}, loaded, loaded.values.get("llm_base_url"), loaded.label("llm_base_url"))
    llm_kw: dict[str, Any] = {"llm_roles": backends, "llm_endpoints": ends} if backends or ends else {}
    for key, target in (("llm_base_url", "llm_base_url"), ("llm_timeout", "llm_timeout_s"), ("fallback", "fallback")):
        if loaded.values.get(key) is not None:
            llm_kw[target] = loaded.values[key]
    ignored = sorted(set(loaded.values) - set(columns) - {"llm_base_url", "llm_timeout", "fallback"})
    return columns, llm_kw, ignored


# --- foley config --show / --init ------------------------------------------------------------------------------

def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)  # a JSON string is a TOML basic string


def show(command: Callable[..., Any], defaults: Mapping[str, Any], loaded: Loaded) -> str:
    """The effective settings (file over defaults) as TOML with each value's source; each role's endpoint as it
    would be called, from the file or the environment. Credentials never appear: URLs lose user:password@ and
    ?query, keys are named by their variable only."""
    from foleydesigner.context import RunContext
    from foleydesigner.llm import endpoints, redact_url

    where = str(loaded.path) if loaded.path else f"no {CONFIG_NAME} here: defaults"
    lines = [f"# effective `foley run` settings ({where}); flags typed on the command line win over these"]
    for name in settings_model(command).model_fields:
        if name == "roles":
            continue
        value = loaded.values.get(name, defaults.get(name))
        origin = "config" if name in loaded.values else "default"
        if name == "llm_base_url" and value:
            value = redact_url(str(value))
        lines.append(f"{name} = {_toml(value)}  # {origin}" if value is not None else f"# {name} = (unset)")
    llm = str(loaded.values.get("llm", defaults.get("llm", HEURISTIC)))
    backends, ends = resolve_roles(llm, {}, loaded, loaded.values.get("llm_base_url"), loaded.label("llm_base_url"))
    timeout = loaded.values.get("llm_timeout") or defaults.get("llm_timeout") or 120.0
    ctx = RunContext(work_dir=Path("."), llm=llm, llm_roles=backends, llm_endpoints=ends,
                     llm_base_url=loaded.values.get("llm_base_url"), llm_timeout_s=float(timeout))
    for role, ep in endpoints(ctx).items():  # set in the file: `key = value`; derived (defaults, env): a comment
        mine = {"backend", *loaded.roles[role].model_dump(exclude_none=True)} if role in loaded.roles else set()
        lines += ["", f"[roles.{role}]"] + [f"{k} = {_toml(v)}" if k in mine else f"# {k}: {v}"
                                            for k, v in ep.items() if v is not None]
    return "\n".join(lines) + "\n"


def template(command: Callable[..., Any], helps: Mapping[str, str], defaults: Mapping[str, Any]) -> str:
    """A commented foley.toml: every option at its default (commented out), and the roles, with a worked setup."""
    lines = ["# foley.toml: settings for `foley run` in this folder (or `foley run --config FILE`).",
             "# Flags typed on the command line win over this file; this file wins over the defaults.",
             "# Uncomment what you change. `foley config --show` prints what a run would use.", ""]
    for name in settings_model(command).model_fields:
        if name == "roles":
            continue
        value = defaults.get(name)
        shown = f"{name} = {_toml(value)}" if value is not None else f"{name} = ..."
        lines.append(f"# {shown:<40} # {helps.get(name, '')}".rstrip())
    lines += ["", "# Agent roles: " + ", ".join(ROLES) + ". A role without a table uses `llm`.",
              "# backend: heuristic or provider:model; base_url: its server (OpenAI-compatible servers want /v1,",
              "# Anthropic's SDK adds /v1/messages itself); api_key_env: the variable holding its key;",
              "# timeout_s: seconds per request; temperature: 0-2.", "",
              "# A local vLLM writes the scene script, a cloud model judges the candidates, the rest is offline:",
              "# [roles.scribe]", '# backend = "openai:Qwen/Qwen2.5-VL-7B-Instruct"',
              '# base_url = "http://127.0.0.1:8000/v1"', "# timeout_s = 60", "#",
              "# [roles.scorer]", '# backend = "anthropic:claude-sonnet-4-5"', '# api_key_env = "ANTHROPIC_API_KEY"',
              "# temperature = 0.0", ""]
    return "\n".join(lines)
