"""Generator backends by name: `--generator NAME` → a FoleyGenerator.

Built-in backends are named here as data (module, factory), so the registry imports a backend's module only when
that backend is built (torch stays unimported until `dit` is chosen) and no backend imports the registry: the
imports run one way, registry → backends → base. A plug-in adds itself with `register_generator`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from foleydesigner.errors import BackendError
from foleydesigner.generation.base import FoleyGenerator

Factory = Callable[..., FoleyGenerator]

#: name -> ("module:factory", one-line description, what it needs)
BUILTIN: dict[str, tuple[str, str, str]] = {
    "hybrid": ("foleydesigner.generation.library.hybrid:hybrid_factory",
               "real recordings from the core library where it has the class (footsteps on the scene's surface), "
               "procedural synthesis otherwise; placed by the renderer (default)",
               "nothing (`foley library fetch` adds the free-licensed recordings)"),
    "procedural": ("foleydesigner.generation.backends:procedural_factory",
                   "physically informed DSP synthesis + ITD/ILD/distance renderer (offline, CPU)", "nothing"),
    "library": ("foleydesigner.generation.library.hybrid:library_factory",
                "your sound-effects library: UCS names and metadata searched per event, hits cut at onsets, beds "
                "looped, placed by the renderer", "--library DIR (a folder of WAV/FLAC/OGG/MP3)"),
    "dit": ("foleydesigner.generation.backends:dit_factory",
            "FoleyDiT: Stable-Audio-style DiT with position-aware clue injection (paper §3)",
            "--dit-checkpoint PATH (a `foley train` checkpoint folder); torch"),
}
_PLUGINS: dict[str, tuple[Factory, str, str]] = {}


def register_generator(name: str, description: str, needs: str) -> Callable[[Factory], Factory]:
    """Decorator for a plug-in backend's factory (keyword options → FoleyGenerator)."""

    def wrap(factory: Factory) -> Factory:
        _PLUGINS[name] = (factory, description, needs)
        return factory

    return wrap


def available_generators() -> dict[str, tuple[str, str]]:
    """name → (description, what it needs), built-ins first."""
    return {**{n: (d, needs) for n, (_, d, needs) in BUILTIN.items()},
            **{n: (d, needs) for n, (_, d, needs) in _PLUGINS.items()}}


def make_generator(name: str, **options: Any) -> FoleyGenerator:
    if name in _PLUGINS:
        return _PLUGINS[name][0](**options)
    if name not in BUILTIN:
        raise BackendError(f"unknown generator '{name}'; choose one of: {', '.join(sorted({*BUILTIN, *_PLUGINS}))}")
    module, _, attr = BUILTIN[name][0].partition(":")
    factory: Factory = getattr(importlib.import_module(module), attr)
    return factory(**options)
