"""Publishing a run into --out without ever losing a user's file.

A run owns its --out for its whole length (a lock file beside it), writes into a hidden staging folder that
records its owner, and at the end swaps the staging folder in only if --out still holds what was there at
the start. What can go wrong, and what happens then:

- a second run on the same --out fails at once, naming the run that holds it;
- a run killed with -9 leaves a lock nobody holds (taken over) and a staging folder whose process is gone
  (removed by the next run on that --out);
- a file that appeared in --out during the run is never touched: the finished run is kept beside it as
  `<out>.foley-<time>` and the run fails with one line saying so;
- --out that cannot be renamed over (a mount point, a folder another process has open as its cwd on some
  systems) is filled by moving entries into it;
- published files and folders get the permissions the user's umask asks for (mkdtemp makes 0700, mkstemp 0600),
  and so does a run kept aside;
- --force replaces a previous run only when --out holds nothing but the files that run listed in its run.json
  (`files`); anything else there (a user's notes, a project that happens to hold a run.json) is refused;
- a temp file (`.NAME.XXXX.part…`) left by a killed run is never published: a resumed run drops them.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import re
import shutil
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

from foleydesigner.errors import FoleyError, InputError

log = logging.getLogger(__name__)
OWNER_FILE = ".foley-owner"  # inside a staging folder: "PID HOST", so a later run can tell whether it is stale
RESUME_DIR = ".checkpoint"  # inside a staging folder: the graph's SQLite checkpoints and the run's key.json
_HOST = socket.gethostname()
FILES_KEY = "files"  # in run.json: every file the run published, relative to --out (what --force may replace)
#: tools/export.tmp_beside's names: ".<name>.<random>.part" with an optional suffix (".part.mp4", ".part.flac").
_PARTIAL = re.compile(r"^\..+\.part(\.[A-Za-z0-9]+)?$")


def lock_path(out: Path) -> Path:
    return out.parent / f".{out.name}.lock"


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


class OutLock:
    """An exclusive lock on one --out, held for the whole run: `.<out>.lock` beside it holds "PID HOST start".

    flock() is released by the kernel when the process dies, so a lock left by kill -9 is simply taken over;
    the PID in the file is only there to name the holder in the error a second run prints.
    """

    def __init__(self, out: Path) -> None:
        self.out, self.path = out, lock_path(out)
        self._fd: int | None = None

    def __enter__(self) -> OutLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 200).decode("utf-8", "replace").split()
                os.close(fd)
                who = f"run PID {holder[0]} on {holder[1]}" if len(holder) >= 2 else "another run"
                raise InputError(f"--out {self.out} is in use by {who} (lock {self.path}); wait for it to finish "
                                 "or choose another --out") from None
            # The holder may have unlinked the file between our open and our flock: then we locked a dead inode.
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {_HOST} {time.strftime('%Y-%m-%dT%H:%M:%S')}\n".encode())
        self._fd = fd
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._fd is not None:
            self.path.unlink(missing_ok=True)  # unlink while still holding it, so no one locks a file about to go
            os.close(self._fd)
            self._fd = None


def run_files(folder: Path) -> list[str]:
    """Every file in a finished run folder, relative and '/'-separated: the list run.json keeps under `files`."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                  if (p.is_file() or p.is_symlink()) and p.name != OWNER_FILE)


def not_the_runs(out: Path) -> list[str] | None:
    """What in --out a previous run did not write (its run.json's `files`): None if there is no such list (not a
    run, or one made before runs listed their files), else the entries no run listed, sorted; run-owned hidden
    staging folders aside."""
    try:
        listed = json.loads((out / "run.json").read_text(encoding="utf-8")).get(FILES_KEY)
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(listed, list) or not all(isinstance(f, str) for f in listed):
        return None
    ours = set(listed)
    folders = {a.as_posix() for f in listed for a in Path(f).parents if a != Path(".")}

    def owned(rel: str, folder: bool) -> bool:
        report = rel in ("report.html", "report_media") or rel.startswith("report_media/")  # `foley report` rebuilds
        return report or rel in (folders if folder else ours)

    foreign = []
    for root, dirs, files in os.walk(out):
        here = Path(root).relative_to(out)
        for d in list(dirs):
            rel = (here / d).as_posix()
            if here == Path(".") and d.startswith(f".{out.name}."):
                dirs.remove(d)  # a staging folder of a run on this --out (a mount point's)
            elif Path(root, d).is_symlink() or not owned(rel, True):
                foreign.append(rel + "/")
                dirs.remove(d)  # the user's, all of it
        foreign += [rel for f in files if not owned(rel := (here / f).as_posix(), False)]
    return sorted(foreign)


def is_partial(name: str) -> bool:
    return bool(_PARTIAL.match(name))


def remove_partials(folder: Path) -> list[Path]:
    """Delete the temp files a killed write left in a staging folder (never a finished file: those were renamed)."""
    gone = [p for p in folder.rglob(".*") if p.is_file() and is_partial(p.name)]
    for p in gone:
        p.unlink(missing_ok=True)
    if gone:
        log.info("removed %d temp file(s) of an interrupted write in %s", len(gone), folder)
    return gone


def make_staging(out: Path) -> Path:
    """A hidden staging folder on the filesystem --out lives on, recording its owner."""
    inside = out.is_dir() and os.path.ismount(out)  # a mount point: stage inside it, so entries move by rename
    parent = out if inside else out.parent
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-{os.getpid()}-", dir=parent))
    (staging / OWNER_FILE).write_text(f"{os.getpid()} {_HOST}\n")
    return staging


def _stale(folder: Path) -> bool:
    try:
        pid, host = (folder / OWNER_FILE).read_text().split()[:2]
    except (OSError, ValueError):
        return True  # no owner: made before owners were recorded, and we hold the lock on this --out
    return host == _HOST and not pid_alive(int(pid)) if pid.isdigit() else True


def adopt_resumable(out: Path, key: dict[str, str]) -> Path | None:
    """The newest staging folder of an interrupted run on this --out made from the same inputs and settings
    (its RESUME_DIR/key.json), now recorded as ours so remove_stale leaves it; None if there is none. Call with
    the lock held."""
    found = []
    for place in [out.parent, *([out] if out.is_dir() else [])]:
        for folder in place.glob(f".{out.name}.partial-*"):
            marker = folder / RESUME_DIR / "key.json"
            try:
                same = folder.is_dir() and _stale(folder) and json.loads(marker.read_text()) == key
            except (OSError, ValueError):
                same = False
            if same:
                found.append(folder)
    if not found:
        return None
    folder = max(found, key=lambda p: p.stat().st_mtime)
    (folder / OWNER_FILE).write_text(f"{os.getpid()} {_HOST}\n")
    remove_partials(folder)  # a write the kill cut short: its node reruns, and its temp file must not be published
    return folder


def remove_stale(out: Path) -> list[Path]:
    """Staging and trash folders of earlier runs on this --out whose process is gone (call with the lock held)."""
    removed = []
    places = [out.parent, *([out] if out.is_dir() else [])]
    for place in places:
        for pattern in (f".{out.name}.partial-*", f".{out.name}.old-*"):
            for folder in place.glob(pattern):
                if folder.is_dir() and _stale(folder):
                    shutil.rmtree(folder, ignore_errors=True)
                    removed.append(folder)
    if removed:
        log.info("removed %d stale staging folder(s) of earlier runs on %s", len(removed), out)
    return removed


def snapshot(out: Path) -> dict[str, tuple[int, int]]:
    """What --out holds: relative path -> (size, mtime_ns), every file and folder; run-owned hidden folders aside."""
    if not out.is_dir():
        return {}
    seen: dict[str, tuple[int, int]] = {}
    for root, dirs, files in os.walk(out):
        dirs[:] = [d for d in dirs if not (root == str(out) and d.startswith(f".{out.name}."))]
        for name in [*dirs, *files]:
            p = Path(root) / name
            try:
                st = p.lstat()
            except FileNotFoundError:
                continue
            seen[str(p.relative_to(out))] = (0 if p.is_dir() else st.st_size, st.st_mtime_ns)
    return seen


def apply_umask(staging: Path) -> None:
    """Give the run's files and folders the permissions a plain `touch`/`mkdir` would get under this umask."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(staging, 0o777 & ~mask)
    for root, dirs, files in os.walk(staging):
        for d in dirs:
            os.chmod(Path(root) / d, 0o777 & ~mask)
        for f in files:
            os.chmod(Path(root) / f, 0o666 & ~mask)


def _keep_aside(staging: Path, out: Path) -> Path:
    kept = out.parent / f"{out.name}.foley-{time.strftime('%Y%m%d-%H%M%S')}"
    i = 1
    while kept.exists():
        i += 1
        kept = kept.with_name(f"{out.name}.foley-{time.strftime('%Y%m%d-%H%M%S')}-{i}")
    if staging.parent == out:  # staged inside a mount point: the kept run stays on that filesystem
        kept = out / kept.name
    apply_umask(staging)  # kept for the user: the permissions a finished run gets, not mkdtemp's 0700
    os.replace(staging, kept)
    (kept / OWNER_FILE).unlink(missing_ok=True)
    return kept


def _fill(staging: Path, out: Path, old: list[str]) -> None:
    """Publish by moving entries: for a --out that cannot be renamed over (a mount point)."""
    trash = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out))
    (trash / OWNER_FILE).write_text(f"{os.getpid()} {_HOST}\n")
    for name in old:  # a previous run (checked at the start, re-checked just now)
        os.replace(out / name, trash / name)
    for entry in staging.iterdir():
        if entry.name != OWNER_FILE:
            shutil.move(str(entry), str(out / entry.name))  # a rename on one filesystem, a copy across two
    shutil.rmtree(staging, ignore_errors=True)
    shutil.rmtree(trash, ignore_errors=True)


def publish(staging: Path, out: Path, before: dict[str, tuple[int, int]]) -> None:
    """Swap the finished staging folder in as --out, if --out still holds exactly `before` (its snapshot at start)."""
    remove_partials(staging)  # a temp file is never an output (writes are temp + rename)
    now = snapshot(out)
    if now != before:
        added = sorted(set(now) - set(before)) or sorted(k for k in now if now[k] != before.get(k)) or sorted(before)
        kept = _keep_aside(staging, out)
        raise FoleyError(f"--out {out} changed during the run ({', '.join(added[:3])}{' …' if len(added) > 3 else ''}); "
                         f"nothing in it was touched, and the finished run is in {kept}")
    (staging / OWNER_FILE).unlink(missing_ok=True)
    apply_umask(staging)
    if not out.exists():
        os.replace(staging, out)
        return
    top = [p.name for p in out.iterdir() if not p.name.startswith(f".{out.name}.")]
    if staging.parent != out:
        trash = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        (trash / OWNER_FILE).write_text(f"{os.getpid()} {_HOST}\n")
        try:
            os.replace(out, trash / "old")
        except OSError as exc:
            shutil.rmtree(trash, ignore_errors=True)
            if exc.errno not in (errno.EBUSY, errno.EXDEV, errno.EPERM, errno.EACCES, errno.EINVAL):
                raise
            log.info("--out %s cannot be renamed (%s): filling it in place", out, exc.strerror)
        else:
            os.replace(staging, out)
            shutil.rmtree(trash, ignore_errors=True)
            return
    _fill(staging, out, top)
