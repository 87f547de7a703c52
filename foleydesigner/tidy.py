"""After a graph run that had no --out (LangGraph's dev server, Studio, a script): leave its folder small and few.

Such a run writes into a fresh TEMP_ROOT/foley-run-* folder (context.py). Its outputs stay there to be looked at
(Studio shows the path as `work_dir`), but its scratch (.internal: the mix buses, 3-11 MB a clip) goes when the
run ends, and only the newest few such folders are kept; an older one untouched for an hour goes too. A CLI run's
folder is its staging folder: the pipeline clears it itself, and nothing here touches it.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path
from typing import Any

from foleydesigner import context

log = logging.getLogger(__name__)
PREFIX = "foley-run-"
KEEP_RUNS = 3  # the newest temp run folders kept besides the one just finished
STALE_S = 3600.0  # a folder untouched this long belongs to no run still going


def is_temp_run(folder: Path, root: Path | None = None) -> bool:
    return folder.parent == (root or context.TEMP_ROOT) and folder.name.startswith(PREFIX)


def tidy_temp_runs(work_dir: Path, root: Path | None = None, *, keep: int = KEEP_RUNS, stale_s: float = STALE_S,
                   now: float | None = None) -> list[Path]:
    """Remove work_dir's scratch and the temp run folders beyond the newest `keep` that are stale; returns those."""
    root = root or context.TEMP_ROOT
    if not is_temp_run(work_dir, root):
        return []
    shutil.rmtree(work_dir / ".internal", ignore_errors=True)
    now = time.time() if now is None else now
    others = []
    for p in root.glob(f"{PREFIX}*"):
        try:
            if p.is_dir() and p != work_dir:
                others.append((p.stat().st_mtime, p))
        except OSError:
            continue  # gone meanwhile
    gone = []
    for mtime, p in sorted(others, reverse=True)[keep:]:
        if now - mtime > stale_s:
            shutil.rmtree(p, ignore_errors=True)
            gone.append(p)
    if gone:
        log.info("removed %d old temp run folders under %s", len(gone), root)
    return gone


def tidy_run(state: dict[str, Any], runtime: Any) -> dict[str, Any]:
    """The last node of the foley and mixing graphs: a temp run folder keeps its outputs, not its scratch. Only
    where the graph runs on its own: the mixing subgraph of a foley run leaves the buses to the upmix."""
    from langgraph.config import get_config

    ns = str((get_config().get("configurable") or {}).get("checkpoint_ns") or "")
    if "|" not in ns:  # "tidy:<task>" at the top; "mix:<task>|tidy:<task>" inside a parent (LangGraph's NS_SEP)
        tidy_temp_runs(Path(runtime.context.work_dir))
    return {}
