"""What the library index measures of one recording: level, onsets, one-shot or texture, and its words.

Onsets are where the short-time energy rises sharply out of what came before (a hit out of its room), refined to
the first sample of the attack, so a hit cut there can be laid with its attack on a picture's onset frame.
A recording is a *texture* when its level is steady (a bed: rain, a room, a river) and a *one-shot* when it is
made of separable hits or is one event (a slam, a bark, a take of footsteps).
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from foleydesigner.generation.library.ucs import TEXTURE_CATEGORIES, parse_ucs

_HOP_S = 0.005  # onset envelope hop: 5 ms, a fraction of a video frame
_RISE_DB = 10.0  # a hit rises at least this much above the quietest of the 50 ms before it
_LOOKBACK_S = 0.05
_FLOOR_BELOW_MAX_DB = 35.0  # rises quieter than this below the file's loudest frame are texture, not hits
_REFRACTORY_S = 0.08  # at most one onset per 80 ms
_DECAYED_DB = 20.0  # a hit has ended when its level fell this far below its peak before the next rise
_GROUP_S = 0.15  # a rise this soon after a hit's onset…
_WEAKER_DB = 3.0  # …and this much weaker than it is the same hit's second transient (heel → toe)
_STEADY_SPAN_DB = 20.0  # a texture's 10th and 90th percentile 100 ms levels lie within this
_TEXTURE_MIN_S = 3.0  # shorter recordings are one event, however steady
#: libsndfile's string fields (WAV LIST/INFO, Vorbis comments in OGG/FLAC, ID3 in MP3 where it reads them).
_TAG_FIELDS = ("title", "comment", "artist", "album", "genre")


@dataclass
class Analysis:
    duration_s: float
    sample_rate: int
    channels: int
    peak_db: float
    rms_db: float
    kind: str  # "oneshot" | "texture"
    onsets_s: list[float] = field(default_factory=list)


def read_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """float32 (channels, n) and the file's rate."""
    data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    return np.ascontiguousarray(data.T), int(sr)


def detect_onsets(mono: np.ndarray, sr: int) -> list[float]:
    """Attack times (s) of the hits in a recording (see the module doc)."""
    hop = max(1, int(round(_HOP_S * sr)))
    n = mono.size // hop
    if n < 3:
        return [0.0] if mono.size and np.max(np.abs(mono)) > 0 else []
    frames = mono[: n * hop].astype(np.float64).reshape(n, hop)
    db = 10.0 * np.log10(np.mean(frames * frames, axis=1) + 1e-20)
    back = max(1, int(round(_LOOKBACK_S / _HOP_S)))
    # the quietest frame of the lookback window before each frame (the file's start counts as silence)
    padded = np.concatenate([np.full(back, -200.0), db])
    before = np.min(np.lib.stride_tricks.sliding_window_view(padded[:-1], back), axis=1)[:n]
    rising = (db - before >= _RISE_DB) & (db >= db.max() - _FLOOR_BELOW_MAX_DB)
    onsets: list[float] = []
    k, prev = 0, -1
    refractory = int(round(_REFRACTORY_S / _HOP_S))
    while k < n:
        if not rising[k]:
            k += 1
            continue
        if prev >= 0:
            # A new hit only once the last one has died down, and not a weaker transient right after it: a
            # footstep's toe 0.1 s after its heel, a slam's latch, a bounce's rattle belong to their hit.
            before = db[prev:k]
            rise = float(np.max(db[k:k + 4]))
            if float(np.max(before)) - float(np.min(db[prev:k + 1])) < _DECAYED_DB or \
                    (k - prev) * _HOP_S < _GROUP_S and rise < float(np.max(before)) - _WEAKER_DB:
                k += 1
                continue
        prev = k
        seg = mono[max(0, (k - 1) * hop): (k + 2) * hop]
        peak = float(np.max(np.abs(seg))) if seg.size else 0.0
        first = int(np.argmax(np.abs(seg) >= 0.1 * peak)) if peak > 0 else 0
        onsets.append(round((max(0, (k - 1) * hop) + first) / sr, 5))
        k += refractory
    return onsets


def analyse(path: str | Path, category: str = "") -> Analysis:
    audio, sr = read_audio(path)
    mono = audio.mean(axis=0)
    peak = float(np.max(np.abs(mono))) if mono.size else 0.0
    rms = float(np.sqrt(np.mean(mono.astype(np.float64) ** 2))) if mono.size else 0.0
    dur = mono.size / sr
    return Analysis(dur, sr, audio.shape[0], _db(peak), _db(rms),
                    "texture" if is_texture(mono, sr, category) else "oneshot", detect_onsets(mono, sr))


def is_texture(mono: np.ndarray, sr: int, category: str = "") -> bool:
    """Steady level over at least _TEXTURE_MIN_S, or a UCS category that is always a bed (ambience, rain…)."""
    if category in TEXTURE_CATEGORIES:
        return True
    hop = int(0.1 * sr)
    n = mono.size // hop
    if mono.size < _TEXTURE_MIN_S * sr or n < 4:
        return False
    frames = mono[: n * hop].astype(np.float64).reshape(n, hop)
    db = 10.0 * np.log10(np.mean(frames * frames, axis=1) + 1e-20)
    lo, hi = np.percentile(db, [10, 90])
    return bool(hi - lo <= _STEADY_SPAN_DB)


def _db(x: float) -> float:
    return round(20.0 * np.log10(x), 2) if x > 0 else -200.0


# ---- words ---------------------------------------------------------------------------------------------------

def describe(path: Path, root: Path) -> tuple[str, str, str]:
    """(CatID, UCS category, searchable text) of a file: its UCS name or plain name, its folders, its BWF
    description and its tags."""
    rel = path.relative_to(root)
    ucs = parse_ucs(path.stem)
    words = [ucs.words if ucs else re.sub(r"[_\-.]+", " ", path.stem)]
    words += [p for p in rel.parts[:-1]]
    if path.suffix.lower() in (".wav", ".wave", ".bwf"):
        words.append(bext_description(path))
    words += tags(path)
    text = " ".join(w for w in words if w)
    return (ucs.cat_id if ucs else ""), (ucs.category if ucs else ""), text


def bext_description(path: Path) -> str:
    """The Description field (the first 256 bytes) of a Broadcast Wave `bext` chunk (EBU Tech 3285), or ''."""
    try:
        with open(path, "rb") as f:
            head = f.read(12)
            if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
                return ""
            while True:
                chunk = f.read(8)
                if len(chunk) < 8:
                    return ""
                cid, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
                if cid == b"bext":
                    return f.read(min(size, 256)).split(b"\0", 1)[0].decode("ascii", "replace").strip()
                f.seek(size + (size & 1), 1)  # chunks are word-aligned
    except OSError:
        return ""


def tags(path: Path) -> list[str]:
    """Text tags libsndfile reads (title, comment, artist, album, genre): Vorbis comments, WAV INFO, ID3."""
    try:
        with sf.SoundFile(str(path)) as f:
            return [v for v in (getattr(f, k, "") for k in _TAG_FIELDS) if isinstance(v, str) and v.strip()]
    except (RuntimeError, sf.LibsndfileError, AttributeError):
        return []
