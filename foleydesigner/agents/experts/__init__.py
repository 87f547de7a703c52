"""Mixing experts are plugins: one module with a `BaseExpert` subclass, plus one registration.

Registration is either an entry point in the `foleydesigner.experts` group of any installed package
(`[project.entry-points."foleydesigner.experts"] width = "my_pkg.width:StereoWidth"`) or one call to
`register_expert(StereoWidth)` in-process. The built-in EQ, dynamics and reverb experts are shipped through
the same entry points (and listed in `BUILTIN` so a stale editable install still finds them).
"""

from __future__ import annotations

import importlib
import logging
from importlib.metadata import entry_points
from typing import Any

from foleydesigner.agents.experts.base import (
    BaseExpert,
    ExpertOutput,
    ExpertSpec,
    MixScene,
    MixTargets,
    Plan,
    planned,
)

log = logging.getLogger(__name__)
ENTRY_POINT_GROUP = "foleydesigner.experts"
BUILTIN = {
    "eq": "foleydesigner.agents.experts.eq:EqExpert",
    "dyn": "foleydesigner.agents.experts.dynamics:DynamicsExpert",
    "reverb": "foleydesigner.agents.experts.reverb:ReverbExpert",
}
_registered: dict[str, BaseExpert] = {}


def _instance(obj: Any) -> BaseExpert:
    expert = obj() if isinstance(obj, type) else obj
    spec = getattr(expert, "spec", None)
    if not isinstance(spec, ExpertSpec) or not callable(getattr(expert, "process", None)):
        raise TypeError(f"{obj!r} is not a mixing expert: it needs a `spec: ExpertSpec` and process()/process_stem()")
    return expert  # type: ignore[no-any-return]


def register_expert(expert: Any) -> Any:
    """Register an expert class or instance in-process (usable as a class decorator). Replaces one of that name."""
    inst = _instance(expert)
    _registered[inst.spec.name] = inst
    return expert


def unregister_expert(name: str) -> None:
    _registered.pop(name, None)


def _load(target: str) -> Any:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def load_experts() -> dict[str, BaseExpert]:
    """Every available expert by name, in channel-strip order. A plugin that fails to load is logged and skipped."""
    found: dict[str, BaseExpert] = {}
    sources: list[tuple[str, Any]] = [(name, lambda t=target: _load(t)) for name, target in BUILTIN.items()]
    sources += [(ep.name, ep.load) for ep in entry_points(group=ENTRY_POINT_GROUP)]
    for name, load in sources:
        try:
            expert = _instance(load())
        except Exception as exc:  # a broken third-party plugin must not take the mix down
            log.warning("mixing expert '%s' could not be loaded (%s: %s); skipped", name, exc.__class__.__name__, exc)
            continue
        found[expert.spec.name] = expert
    found.update(_registered)
    return dict(sorted(found.items(), key=lambda kv: (kv[1].spec.order, kv[0])))


def capabilities(experts: dict[str, BaseExpert]) -> list[dict[str, Any]]:
    return [e.spec.capability() for e in experts.values()]


__all__ = ["BaseExpert", "ExpertOutput", "ExpertSpec", "MixScene", "MixTargets", "Plan", "planned",
           "register_expert", "unregister_expert", "load_experts", "capabilities", "ENTRY_POINT_GROUP", "BUILTIN"]
