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
