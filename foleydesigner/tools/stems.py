"""Delivering the stems: full length (the default), or trimmed to where they sound, as WAV or FLAC.

A trimmed stem keeps its place on the timeline twice over: in session.otio (its media starts at its time) and,
as WAV, in a Broadcast Wave `bext` chunk whose TimeReference is its first sample counted from the clip's start
(EBU Tech 3285), which DAWs read to spot the file. FLAC has no bext chunk; its place is in session.otio.
"""

from __future__ import annotations

import os
import shutil
import struct
from pathlib import Path

import numpy as np

from foleydesigner.tools.export import tmp_beside
from foleydesigner.tools.streams import WavAudio

STEM_MODES = ("full", "trimmed")
STEM_FORMATS = ("wav", "flac")
_BLOCK = 1 << 20  # samples per read: memory stays a few MB whatever the stem's length
#: Quieter than this is silence for trimming: half the step of 24-bit PCM (-144 dBFS), what a 24-bit delivery keeps.
SILENCE = 2.0 ** -24
#: EBU Tech 3285 v2 bext fields before CodingHistory: Description 256, Originator 32, OriginatorReference 32,
#: OriginationDate 10, OriginationTime 8, TimeReference 2×uint32, Version uint16, UMID 64, 5 loudness int16, 180 reserved.
_BEXT = struct.Struct("<256s32s32s10s8sIIH64s5h180s")


def sounding_span(path: str | Path) -> tuple[int, int]:
    """First and one-past-last sample above SILENCE in any channel (0, 0 for a silent stem)."""
    src = WavAudio(path)
    first, last = -1, 0
    for a in range(0, src.n, _BLOCK):
        x = src.read(a, min(src.n, a + _BLOCK))
        nz = np.flatnonzero(np.any(np.abs(x) > SILENCE, axis=0))
        if nz.size:
            first = a + int(nz[0]) if first < 0 else first
            last = a + int(nz[-1]) + 1
    return (first, last) if first >= 0 else (0, 0)


def bext_chunk(time_reference: int, description: str) -> bytes:
    body = _BEXT.pack(description.encode()[:256], b"FoleyDesigner", b"", b"", b"",
                      time_reference & 0xFFFFFFFF, time_reference >> 32, 2, b"", 0x7FFF, 0x7FFF, 0x7FFF, 0x7FFF, 0x7FFF, b"")
    return b"bext" + struct.pack("<I", len(body)) + body


def _with_bext(wav: Path, out: Path, chunk: bytes) -> None:
    """Copy a RIFF WAVE file, inserting `chunk` right after its fmt chunk (where BWF readers look first)."""
    with open(wav, "rb") as f, open(out, "wb") as g:
        riff, size, wave = struct.unpack("<4sI4s", f.read(12))
        if riff != b"RIFF" or wave != b"WAVE":
            raise ValueError(f"{wav} is not a RIFF WAVE file")
        g.write(struct.pack("<4sI4s", b"RIFF", size + len(chunk), b"WAVE"))
        while header := f.read(8):
            cid, n = struct.unpack("<4sI", header)
            g.write(header)
            if cid == b"data":
                shutil.copyfileobj(f, g)  # the samples, and whatever follows them, as they are
                break
            g.write(f.read(n + (n & 1)))
            if cid == b"fmt ":
                g.write(chunk)


def time_reference(path: str | Path) -> int | None:
    """The bext TimeReference of a WAV (samples since the timeline's start), None without a bext chunk."""
    with open(path, "rb") as f:
        f.seek(12)
        while header := f.read(8):
            cid, n = struct.unpack("<4sI", header)
            if cid == b"bext":
                fields = _BEXT.unpack(f.read(_BEXT.size))
                return int(fields[5]) | int(fields[6]) << 32
            f.seek(n + (n & 1), 1)
    return None


def deliver_stem(path: Path, *, mode: str, fmt: str, description: str = "") -> tuple[Path, int, int]:
    """Rewrite a full-length stem WAV as asked; returns the new path, its first sample on the timeline and its
    length in samples. A silent stem trimmed keeps one sample, so every event still has a file."""
    import soundfile as sf

    src = WavAudio(path)
    subtype = sf.info(str(path)).subtype if fmt == "wav" else "PCM_24"  # stems are float WAVs; FLAC is integer only
    a, b = sounding_span(path) if mode == "trimmed" else (0, src.n)
    b = max(b, a + 1) if src.n else b
    dst = path.with_suffix(f".{fmt}")
    tmp = tmp_beside(dst, suffix=f".part.{fmt}")
    bwf = tmp_beside(dst, suffix=".part.wav")
    try:
        with sf.SoundFile(str(tmp), "w", src.sr, src.channels, subtype=subtype, format=fmt.upper()) as f:
            for s in range(a, b, _BLOCK):
                f.write(src.read(s, min(b, s + _BLOCK)).T)
        if fmt == "wav":
            _with_bext(tmp, bwf, bext_chunk(a, description))
            os.replace(bwf, tmp)
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
        bwf.unlink(missing_ok=True)
    if dst != path:
        path.unlink()
    return dst, a, b - a
