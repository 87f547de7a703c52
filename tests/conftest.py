"""Shared fixtures. Network sockets are disabled for every test by pytest-socket (pyproject addopts)."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# One empty user cache per test session: what `foley library fetch` or an earlier run left in ~/.cache (the fetched
# core recordings, library indexes) must not change what a test hears, and a fresh clone's CI has none of it.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="foley-test-cache-")
atexit.register(shutil.rmtree, os.environ["XDG_CACHE_HOME"], ignore_errors=True)


@pytest.fixture(scope="session")
def demo_clip() -> Path:
    from foleydesigner.cli import demo_clip as path

    return path()


@pytest.fixture()
def scripted():
    """Register the 'scripted' LLM provider for one test; yields a setter for the model it returns."""
    from foleydesigner.llm import register_chat_model_factory, unregister_chat_model_factory

    holder: dict = {}
    register_chat_model_factory("scripted", lambda name, **kw: holder["model"])
    yield lambda model: holder.__setitem__("model", model) or model
    unregister_chat_model_factory("scripted")


@pytest.fixture()
def core_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty user cache of this test's own, and the hybrid generator's once-only notices reset: where
    `foley library fetch` would put the core recordings (nothing is fetched there)."""
    from foleydesigner.generation.library import hybrid

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(hybrid, "_noticed", set())
    return tmp_path / "cache" / "foleydesigner" / "core"
