"""Shared fixtures. Network sockets are disabled for every test by pytest-socket (pyproject addopts)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


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
