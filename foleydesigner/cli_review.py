"""`foley run --review`: the paused Foley script shown in the terminal, accepted or edited, checked before it resumes.

The graph pauses (agents/review.py) with the script written to the run's script.json. In a terminal the person
presses Enter to accept, types `e` to edit that file in $VISUAL/$EDITOR, or gives the path of an edited copy; without
a terminal one line is read from stdin: empty (or end of input) accepts, anything else is the edited file's path.
An edit is checked like an LLM's answer; a bad one stops the run with one line (exit 2) before any stem is made.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from foleydesigner.agents.review import ACCEPT, validate_edit
from foleydesigner.errors import InputError

MAX_ERRORS_SHOWN = 4


def show_script(console: Console, payload: dict[str, Any]) -> None:
    script = payload["script"]
    scene = script.get("scene", {})
    table = Table(title=f"Foley script for review: {len(script['events'])} events, {scene.get('location')} "
                        f"{scene.get('time_of_day')} ({len(script.get('candidates', []))} held back)")
    for col in ("id", "label", "layer", "start-end s", "track", "conf"):
        table.add_column(col, no_wrap=col == "id")
    for e in script["events"]:
        table.add_row(e["id"], e["label"], e["layer"], f"{e['start_s']:.2f}-{e['end_s']:.2f}",
                      "" if e.get("source_track") is None else str(e["source_track"]), f"{e.get('confidence', 1.0):.2f}")
    console.print(table)
    console.print(f"the script is in {payload['path']}: Enter accepts it; 'e' edits it in $EDITOR; or give the path "
                  "of an edited copy", highlight=False, soft_wrap=True)


def _interactive() -> bool:
    return sys.stdin.isatty()


def _answer(console: Console) -> str:
    if _interactive():
        return console.input("review> ")
    return sys.stdin.readline()  # "" at the end of input: accept


def read_review(console: Console, payload: dict[str, Any]) -> Any:
    """The answer the paused run resumes with: None to accept, else the edited script (checked first). In a
    terminal a bad edit is shown and asked again (the edit made with 'e' stays in the file, for 'e' to fix);
    without one it stops the run (exit 2), and an edit made in the run's folder is kept in a temp file first."""
    show_script(console, payload)
    while True:
        text = _answer(console).strip()
        try:
            return _resume_with(console, payload, text)
        except InputError as exc:
            if not _interactive():
                raise
            console.print(f"[red]{exc}[/red]", highlight=False, soft_wrap=True)
            console.print("fix it ('e' opens the edited file again), give another path, or press Enter to accept the "
                          "script as it was", highlight=False, soft_wrap=True)


def _resume_with(console: Console, payload: dict[str, Any], text: str) -> Any:
    if text.lower() in ACCEPT:
        return None
    path = Path(payload["path"])
    in_place = text.lower() in ("e", "edit")
    if in_place:
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
        if not editor:
            raise InputError(f"--review: set $EDITOR to edit in place, or edit {path} and give its path")
        subprocess.run([*shlex.split(editor), str(path)], check=False)
    else:
        path = Path(text).expanduser()
    if not path.is_file():
        raise InputError(f"--review: {path} is not a file; press Enter to accept or give the edited script's path")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        _, errors = validate_edit(data, payload["script"], float(payload["duration_s"]), set(payload["track_ids"]))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        errors = [f"not a JSON Foley script ({exc})"]
    if errors:
        more = f"; {len(errors) - MAX_ERRORS_SHOWN} more" if len(errors) > MAX_ERRORS_SHOWN else ""
        kept = _keep(path) if in_place and not _interactive() else ""
        raise InputError(f"--review: {path}: {'; '.join(errors[:MAX_ERRORS_SHOWN])}{more}{kept}")
    console.print(f"review: resuming with the edited script ({len(data.get('events', []))} events)", highlight=False)
    return data


def _keep(path: Path) -> str:
    """A copy of an edit made in the run's folder, which a failed run removes: the person's work is not lost."""
    try:
        fd, copy = tempfile.mkstemp(prefix="foley-review-", suffix=".json")
        with os.fdopen(fd, "wb") as f:
            f.write(path.read_bytes())
    except OSError:
        return ""
    return f" (your edit is kept in {copy})"


def reviewer(console: Console, pause: Callable[[], Any] | None = None,
             resume: Callable[[], Any] | None = None) -> Callable[[dict[str, Any]], Any]:
    """on_review for run_foley; pause/resume stop and restart a progress display around the question."""
    def on_review(payload: dict[str, Any]) -> Any:
        if pause:
            pause()
        try:
            return read_review(console, payload)
        finally:
            if resume:
                resume()
    return on_review
