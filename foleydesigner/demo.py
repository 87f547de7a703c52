"""The demo that ships with the package: 10 s of Debian's vtest.avi (pedestrians on a campus), its screenplay,
and a small CC0 sound library (foleydesigner/data/)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def _data(name: str) -> Path:
    return Path(str(resources.files("foleydesigner") / "data" / name))


def demo_clip() -> Path:
    return _data("demo_vtest.mp4")


def demo_screenplay() -> Path:
    return _data("demo_vtest.fountain")


def demo_library() -> Path:
    return _data("library")
