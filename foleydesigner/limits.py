"""Limits a run states and enforces: screenplay size, number of events, disk space (and what a full disk says).

A screenplay is read whole and every event becomes a stem as long as the clip, so both are capped; the output
size is known once the number of events is (stems × duration × channels × bytes per sample, plus the mixes and
the float32 scratch the mixer spills), and is checked against the free space before the work that writes it.
"""

from __future__ import annotations

import errno
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

from foleydesigner.errors import FoleyError, InputError
from foleydesigner.units import SAMPLE_RATE

#: A feature screenplay is ~120 pages, 200–300 KB of text; the scene a clip shows is a few KB.
MAX_SCREENPLAY_BYTES = 1_000_000
#: Far above what a scene needs (the demo has 6) and low enough that stems stay within a normal disk.
MAX_EVENTS = 256
#: Bytes per sample of each file a run writes: float32 stems (tools/catalog.py) and scratch (tools/streams.py),
#: 24-bit PCM mixes.
_PCM24, _F32 = 3, 4
#: Headroom on top of the estimate: filesystem blocks, JSON, the trace, the AAC tracks.
_SLACK = 1.1


def check_screenplay_size(path: str | Path, limit: int = MAX_SCREENPLAY_BYTES) -> None:
    size = Path(path).stat().st_size if Path(path).is_file() else 0
    if size > limit:
        raise InputError(f"screenplay {path} is {size / 1e6:.1f} MB, above the {limit / 1e6:g} MB limit; pass the "
                         "scene this clip shows (or raise --max-screenplay-mb)")


def check_event_count(n: int, limit: int = MAX_EVENTS) -> None:
    if n > limit:
        raise InputError(f"the Foley script has {n} events, above the limit of {limit} (one stem each); shorten the "
                         "screenplay to the scene this clip shows, or raise --max-events")


def estimate_bytes(n_stems: int, duration_s: float, *, video_bytes: int = 0, stem_bytes: float = _F32) -> int:
    """What a run writes at its peak: stems, their processed float32 copies, the mixer's buses, both mixes, the video."""
    samples = duration_s * SAMPLE_RATE
    stems = n_stems * samples * 2 * (stem_bytes + _F32)  # stems/<id>.wav + .internal/<id>.f32 while mixing
    scratch = samples * (2 + 3 * 2 + 6) * _F32  # premaster, three buses, the 5.1 premaster
    mixes = samples * (2 + 6) * _PCM24
    return int((stems + scratch + mixes + video_bytes) * _SLACK)


def human(n: float) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e8 else f"{n / 1e6:.1f} MB"


def free_bytes(path: Path) -> int:
    while not path.exists():
        path = path.parent
    return shutil.disk_usage(path).free


def check_disk(where: Path, need: int) -> None:
    free = free_bytes(where)
    if need > free:
        raise InputError(f"needs ~{human(need)} at {where}, {human(free)} free; free some space or choose another --out")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]


#: Free space under which a failed write is put down to a full disk: libsndfile reports ENOSPC as "System error".
_NEARLY_FULL = 16 << 20
#: What a write that failed for want of space can look like when ENOSPC itself is lost on the way: libsndfile's
#: "System error", a short write, an I/O error from the muxer.
_WRITE_FAILURE = re.compile(r"system error|unable to write|error writing|write error|short write|input/output error|"
                            r"end of file|could not write", re.I)
#: OSErrors that are no write at all: a network failure, a missing or forbidden path.
_NOT_A_WRITE = (ConnectionError, TimeoutError, FileNotFoundError, PermissionError, IsADirectoryError,
                NotADirectoryError, InterruptedError)


def _looks_like_a_write(e: BaseException) -> bool:
    if isinstance(e, OSError) and not isinstance(e, _NOT_A_WRITE):
        return e.errno in (None, errno.EIO, errno.EFBIG) or e.__class__.__module__.startswith(("av", "soundfile"))
    return bool(_WRITE_FAILURE.search(str(e))) or e.__class__.__name__ == "LibsndfileError"


def is_disk_full(exc: BaseException, where: Path | None = None) -> bool:
    """ENOSPC anywhere in the chain (as OSError or in text), or a failure that looks like a write while `where` had
    next to no space left (its ENOSPC lost on the way). Anything else keeps its own cause, full disk or not: an
    LLM server answering 401 is a 401.

    Call it before the failed run's staging folder is removed: a run that filled the disk frees it by failing.
    """
    chain = list(_chain(exc))
    for e in chain:
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if "No space left on device" in str(e) or "Disk quota exceeded" in str(e):
            return True
    return where is not None and any(_looks_like_a_write(e) for e in chain) and free_bytes(where) < _NEARLY_FULL


def disk_full_error(where: Path, need: int) -> FoleyError:
    return FoleyError(f"disk full: needs ~{human(need)} at {where}, {human(free_bytes(where))} free; nothing was "
                      "written to --out; free some space or choose another --out")
