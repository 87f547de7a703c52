"""What every `foley` command shares: the console it writes to and the one-line error with exit code 2."""

from __future__ import annotations

import typer
from rich.console import Console

from foleydesigner.errors import FoleyError

console = Console(stderr=True)


def fail(exc: Exception) -> None:
    from rich.markup import escape

    from foleydesigner.redaction import scrub

    console.print(f"[bold red]error:[/] {escape(scrub(str(exc)))}", soft_wrap=True, highlight=False)  # "[roles.x]" is no markup
    raise typer.Exit(code=2)


def check_seed(seed: int) -> None:
    if not 0 <= seed < 2**32:  # numpy's and torch's generators take unsigned 32-bit seeds
        raise FoleyError(f"--seed {seed} must be between 0 and {2**32 - 1}")
