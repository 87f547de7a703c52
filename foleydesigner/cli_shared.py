"""What every `foley` command shares: the console it writes to, the one-line error with exit code 2, and the
bundled demo files."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import typer
from rich.console import Console

from foleydesigner.errors import FoleyError

console = Console(stderr=True)


def demo_clip() -> Path:
    return Path(str(resources.files("foleydesigner") / "data" / "demo_vtest.mp4"))


def demo_screenplay() -> Path:
    return Path(str(resources.files("foleydesigner") / "data" / "demo_vtest.fountain"))


def demo_library() -> Path:
    return Path(str(resources.files("foleydesigner") / "data" / "library"))


def fail(exc: Exception) -> None:
    from rich.markup import escape

    console.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True, highlight=False)  # "[roles.x]" is no markup
    raise typer.Exit(code=2)


def check_seed(seed: int) -> None:
    if not 0 <= seed < 2**32:  # numpy's and torch's generators take unsigned 32-bit seeds
        raise FoleyError(f"--seed {seed} must be between 0 and {2**32 - 1}")
