"""The sound-library index: one SQLite row per recording, rebuilt incrementally, searched with BM25.

The index lives in the user cache (`$XDG_CACHE_HOME/foleydesigner/libraries/`, one file per library folder), so
indexing never writes into the user's library. A file is re-analysed only when its size or mtime changed;
vanished files are dropped. Search ranks the files' words (UCS name, folders, BWF description, tags) against an
event's label and description with Okapi BM25 (the `bm25s` package), the query widened by the lexicon's words
for the sound the label names, so 'slams the door' finds `DOORWood_Slam…` and 'pooch barks' finds a dog.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from foleydesigner.errors import InputError
from foleydesigner.generation.library.analysis import analyse, describe

log = logging.getLogger(__name__)

AUDIO_SUFFIXES = (".wav", ".wave", ".bwf", ".flac", ".ogg", ".oga", ".mp3")
SCHEMA_VERSION = 1  # bump when the analysis changes: every file is measured again
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY, size INTEGER, mtime REAL, duration_s REAL, sample_rate INTEGER, channels INTEGER,
    peak_db REAL, rms_db REAL, kind TEXT, onsets TEXT, cat_id TEXT, category TEXT, text TEXT);
"""
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset("a an and the of on in at to from with by for is it its his her their off into onto".split())


@dataclass(frozen=True)
class Recording:
    path: str  # relative to the library root, POSIX separators
    duration_s: float
    sample_rate: int
    channels: int
    peak_db: float
    rms_db: float
    kind: str
    onsets_s: tuple[float, ...]
    cat_id: str
    category: str
    text: str


@dataclass(frozen=True)
class Match:
    recording: Recording
    score: float


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "foleydesigner" / "libraries"


def index_path(root: Path) -> Path:
    digest = hashlib.sha1(str(root.resolve()).encode()).hexdigest()[:16]
    return cache_dir() / f"{root.resolve().name}-{digest}.sqlite"


def tokens(text: str) -> list[str]:
    """Lower-case words without stop words, each also as its crude singular ('doors' → 'doors', 'door')."""
    out: list[str] = []
    for w in _WORD.findall(text.lower()):
        if w in _STOP:
            continue
        out.append(w)
        if len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
            out.append(w[:-1])
    return out


class SoundLibrary:
    """A folder of recordings and its index. `SoundLibrary(DIR).search("door creak")` → ranked matches."""

    def __init__(self, root: str | Path, *, update: bool = True,
                 on_file: Callable[[str, int, int], None] | None = None) -> None:
        self.root = Path(root).expanduser()
        if not self.root.is_dir():
            raise InputError(f"--library {root}: no such folder; give a folder of WAV/FLAC/OGG/MP3 recordings")
        self.db_path = index_path(self.root)
        self.recordings: list[Recording] = []
        self.stats = {"added": 0, "updated": 0, "removed": 0, "unchanged": 0, "unreadable": 0}
        if update:
            self.update(on_file)
        else:
            self._load()
        self._bm25: dict[str | None, tuple[list[Recording], Any]] = {}

    # ---- index ----------------------------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.db_path)
        con.executescript(_SCHEMA)
        row = con.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        if row is None or int(row[0]) != SCHEMA_VERSION:
            con.execute("DELETE FROM files")
            con.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            con.execute("INSERT OR REPLACE INTO meta VALUES ('root', ?)", (str(self.root.resolve()),))
        return con

    def update(self, on_file: Callable[[str, int, int], None] | None = None) -> dict[str, int]:
        """Analyse new and changed files, drop vanished ones; returns counts (added, updated, removed, …)."""
        files = sorted(p for p in self.root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file()
                       and not any(part.startswith(".") for part in p.relative_to(self.root).parts))
        con = self._connect()
        try:
            known = {r[0]: (r[1], r[2]) for r in con.execute("SELECT path, size, mtime FROM files")}
            seen = set()
            for i, p in enumerate(files):
                rel = p.relative_to(self.root).as_posix()
                seen.add(rel)
                st = p.stat()
                if known.get(rel) == (st.st_size, st.st_mtime):
                    self.stats["unchanged"] += 1
                    continue
                if on_file:
                    on_file(rel, i, len(files))
                cat_id, category, text = describe(p, self.root)
                try:
                    a = analyse(p, category)
                except (RuntimeError, ValueError, OSError) as exc:  # libsndfile cannot read it: skip, say so
                    log.warning("library: skipped %s (%s)", rel, exc)
                    self.stats["unreadable"] += 1
                    continue
                self.stats["updated" if rel in known else "added"] += 1
                con.execute("INSERT OR REPLACE INTO files VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                            (rel, st.st_size, st.st_mtime, a.duration_s, a.sample_rate, a.channels, a.peak_db,
                             a.rms_db, a.kind, json.dumps(a.onsets_s), cat_id, category, text))
            gone = [k for k in known if k not in seen]
            con.executemany("DELETE FROM files WHERE path = ?", [(k,) for k in gone])
            self.stats["removed"] = len(gone)
            con.commit()
        finally:
            con.close()
        self._load()
        return self.stats

    def _load(self) -> None:
        if not self.db_path.exists():
            raise InputError(f"{self.root} has no index yet; run `foley library index {self.root}`")
        con = sqlite3.connect(self.db_path)
        try:
            rows = con.execute("SELECT path, duration_s, sample_rate, channels, peak_db, rms_db, kind, onsets, cat_id, "
                               "category, text FROM files ORDER BY path").fetchall()
        finally:
            con.close()
        self.recordings = [Recording(r[0], r[1], r[2], r[3], r[4], r[5], r[6], tuple(json.loads(r[7])), r[8], r[9], r[10])
                           for r in rows]
        self._bm25 = {}

    def file(self, rec: Recording) -> Path:
        return self.root / rec.path

    # ---- search ---------------------------------------------------------------------------------------------

    def search(self, query: str, *, k: int = 10, kind: str | None = None) -> list[Match]:
        """Recordings ranked by BM25 of their words against `query` (only those sharing a word), best first;
        `kind` keeps only one-shots or textures."""
        q = tokens(query)
        if kind not in self._bm25:
            import bm25s

            logging.getLogger("bm25s").setLevel(logging.WARNING)  # it sets DEBUG on import, and logs every build
            pool = [r for r in self.recordings if kind in (None, r.kind)]
            retriever = bm25s.BM25()
            if pool:  # bm25s takes pre-split documents; its vocabulary is what the documents hold
                retriever.index([tokens(r.text) for r in pool], show_progress=False)
            self._bm25[kind] = (pool, retriever)
        pool, retriever = self._bm25[kind]
        known = [w for w in q if pool and w in retriever.vocab_dict]
        if not known:
            return []
        scores = retriever.get_scores(known)
        ranked = sorted(((float(s), r) for s, r in zip(scores, pool, strict=True) if s > 0),
                        key=lambda t: (-t[0], t[1].path))
        return [Match(r, round(s, 4)) for s, r in ranked[:k]]
