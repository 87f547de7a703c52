"""Add the committed CC0 / public-domain recordings of the core library (beyond the demo set of
scripts/make_demo_library.py) to foleydesigner/data/library/, as FLAC under UCS names, and print their
MANIFEST.tsv rows.

    apt-get download openclonk-data trigger-rally-data gcompris-qt-data endless-sky-data minetest-mod-mobs-redo
    for d in *.deb; do p=${d%%_*}; mkdir -p x/$p && dpkg-deb -x $d x/$p; done
    python scripts/make_core_committed.py x

Each file's licence is what its package states for its path: OpenClonk's `Sound.ocg/authors.txt` ("licensed under
the CC 0 license (public domain)"), the `usr/share/doc/PACKAGE/copyright` stanza of the others. A path
`…/Sound.ocg!Hits.ocg/…` names a member of OpenClonk's packed C4Group, `…/data.zip!sounds/…` a zip member and
`…/canal_lock.rcc!…` a file in a Qt resource bundle. Each take keeps its channels, is trimmed to where it is within
60 dB of its peak (5 ms before, a 30 ms fade after) and written as 16-bit FLAC at its rate (at most 48 kHz).
"""

from __future__ import annotations

import gzip
import io
import math
import struct
import sys
import zipfile
import zlib
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

OUT = Path(__file__).resolve().parents[1] / "foleydesigner" / "data" / "library"
_OC = ("openclonk-data", "8.1-3", "/usr/share/games/openclonk/Sound.ocg", "CC0-1.0")
_TR = ("trigger-rally-data", "0.6.6.1-3", "/usr/share/games/trigger-rally/data.zip", "CC0-1.0")
_GC = ("gcompris-qt-data", "3.1-2", "/usr/share/gcompris-qt/rcc", "CC0-1.0")
_ES = ("endless-sky-data", "0.9.8-1.2", "/usr/share/games/endless-sky/sounds", "public-domain")
_MR = ("minetest-mod-mobs-redo", "20210923-1", "/usr/share/games/minetest/mods/mobs_redo/sounds", "CC0-1.0")
_OC_NOTE = "OpenClonk Sound.ocg/authors.txt: CC 0 (public domain)"
#: (class, package, version, container, licence, member, UCS name, attribution)
FILES = (
    ("impact_metal", *_OC, "Hits.ocg/Materials.ocg/Metal.ocg/DullMetalHit1.ogg",
     "METLImpt_DullMetalHit1_FDCORE_OpenClonk", f"adcbicycle (freesound 13854); {_OC_NOTE}"),
    ("impact_metal", *_OC, "Hits.ocg/Materials.ocg/Metal.ocg/DullMetalHit2.ogg",
     "METLImpt_DullMetalHit2_FDCORE_OpenClonk", f"adcbicycle (freesound 13876); {_OC_NOTE}"),
    ("impact_metal", *_OC, "Hits.ocg/Materials.ocg/Metal.ocg/DullMetalHit3.ogg",
     "METLImpt_DullMetalHit3_FDCORE_OpenClonk", f"adcbicycle (freesound 13831); {_OC_NOTE}"),
    ("impact_metal", *_OC, "Hits.ocg/Materials.ocg/Metal.ocg/LightMetalHit2.ogg",
     "METLImpt_LightMetalHit_FDCORE_OpenClonk", f"kibibu (freesound 22435); {_OC_NOTE}"),
    ("impact_wood", *_OC, "Hits.ocg/Materials.ocg/Wood.ocg/DullWoodHit2.ogg",
     "WOODImpt_DullWoodHit_FDCORE_OpenClonk", f"adcbicycle (freesound 13958); {_OC_NOTE}"),
    ("impact_glass", *_OC, "Hits.ocg/Materials.ocg/Glass.ocg/GlassHit1.ogg",
     "GLASImpt_GlassHit1_FDCORE_OpenClonk", f"adcbicycle (freesound 13936); {_OC_NOTE}"),
    ("impact_glass", *_OC, "Hits.ocg/Materials.ocg/Glass.ocg/GlassHit2.ogg",
     "GLASImpt_GlassHit2_FDCORE_OpenClonk", f"adcbicycle (freesound 13931); {_OC_NOTE}"),
    ("wind", *_TR, "sounds/wind.wav", "WINDGen_WindBed_FDCORE_TriggerRally",
     "Trigger Rally contributors, CC0 (copyright: data/data.zip/sounds/wind.wav)"),
    ("door_open", *_GC, "canal_lock.rcc!/gcompris/src/activities/canal_lock/resource/door_open.wav",
     "DOORMisc_DoorOpen_FDCORE_GCompris", "lolamadeus (freesound 161228), CC0"),
    ("door_close", *_GC, "canal_lock.rcc!/gcompris/src/activities/canal_lock/resource/door_close.wav",
     "DOORMisc_DoorClose_FDCORE_GCompris", "lolamadeus (freesound 161230), CC0"),
    ("coins", *_GC, "money.rcc!/gcompris/src/activities/money/resource/money1.wav",
     "COINHndl_CoinsHandling1_FDCORE_GCompris", "florian_reinke (freesound 63523), CC0"),
    ("coins", *_GC, "money.rcc!/gcompris/src/activities/money/resource/money2.wav",
     "COINHndl_CoinsHandling2_FDCORE_GCompris", "keweldog (freesound 181761), CC0"),
    ("explosion", *_ES, "final explosion small.wav", "EXPLMisc_ExplosionSmall_FDCORE_EndlessSky",
     "Endless Sky: based on public-domain sounds from freesound.org"),
    ("explosion", *_ES, "final explosion medium.wav", "EXPLMisc_ExplosionMedium_FDCORE_EndlessSky",
     "Endless Sky: based on public-domain sounds from freesound.org"),
    ("explosion", *_ES, "final explosion large.wav", "EXPLMisc_ExplosionLarge_FDCORE_EndlessSky",
     "Endless Sky: based on public-domain sounds from freesound.org"),
    ("whoosh", *_MR, "mobs_swing.ogg", "WHSHAir_SwingWhoosh_FDCORE_MobsRedo", "qubodup (2008), CC0"),
)


def c4group(blob: bytes) -> dict[str, bytes]:
    """The files of an OpenClonk C4Group: a gzip stream whose magic is 1E 8C, each group a scrambled 204-byte
    header (XOR 0xED, every 3 bytes reversed), then 316-byte entry records, then the entries' data."""
    raw = gzip.decompress(b"\x1f\x8b" + blob[2:])
    out: dict[str, bytes] = {}

    def group(off: int, prefix: str) -> None:
        h = bytearray(x ^ 0xED for x in raw[off:off + 204])
        for i in range(0, 202, 3):
            h[i], h[i + 2] = h[i + 2], h[i]
        n = struct.unpack_from("<i", h, 36)[0]
        base = off + 204 + 316 * n
        for k in range(n):
            rec = raw[off + 204 + 316 * k: off + 204 + 316 * (k + 1)]
            name = rec[:260].split(b"\0")[0].decode("latin1")
            _, child, size, _, offset = struct.unpack_from("<5i", rec, 260)
            if child:
                group(base + offset, f"{prefix}{name}/")
            else:
                out[prefix + name] = raw[base + offset: base + offset + size]

    group(0, "")
    return out


def qt_resource(blob: bytes, member: str) -> bytes:
    """A file in a Qt resource bundle (.rcc): big-endian tree of nodes, names (UTF-16) and data blocks."""
    ver, tree, data, names = struct.unpack_from(">4I", blob, 4)
    size = 22 if ver >= 2 else 14

    def name(i: int) -> str:
        off = struct.unpack_from(">I", blob, tree + i * size)[0]
        n = struct.unpack_from(">H", blob, names + off)[0]
        return blob[names + off + 6: names + off + 6 + 2 * n].decode("utf-16-be")

    node, parts = 0, [p for p in member.split("/") if p]
    for part in parts:
        flags = struct.unpack_from(">H", blob, tree + node * size + 4)[0]
        count, first = struct.unpack_from(">II", blob, tree + node * size + 6)
        node = next(c for c in range(first, first + count) if name(c) == part)
    flags = struct.unpack_from(">H", blob, tree + node * size + 4)[0]
    off = struct.unpack_from(">I", blob, tree + node * size + 10)[0]
    n = struct.unpack_from(">I", blob, data + off)[0]
    body = blob[data + off + 4: data + off + 4 + n]
    return zlib.decompress(body[4:]) if flags & 1 else body


def read(root: Path, package: str, container: str, member: str) -> bytes:
    if package == "openclonk-data":
        return c4group((root / package / container.lstrip("/")).read_bytes())[member]
    if container.endswith(".zip"):
        with zipfile.ZipFile(root / package / container.lstrip("/")) as z:
            return z.read(member)
    if "!" in member:
        rcc, inner = member.split("!")
        return qt_resource((root / package / container.lstrip("/") / rcc).read_bytes(), inner)
    return (root / package / container.lstrip("/") / member).read_bytes()


def trim(x: np.ndarray, sr: int) -> np.ndarray:
    env = np.abs(x).max(axis=1)
    keep = np.flatnonzero(env >= env.max() * 10 ** (-60 / 20))
    a = max(0, keep[0] - int(0.005 * sr))
    b = min(len(x), keep[-1] + int(0.03 * sr))
    y = x[a:b].copy()
    n = min(int(0.03 * sr), len(y))
    y[len(y) - n:] *= np.linspace(1.0, 0.0, n)[:, None]
    return y


def main(root: Path) -> None:
    for cls, package, version, container, licence, member, name, credit in FILES:
        x, sr = sf.read(io.BytesIO(read(root, package, container, member)), dtype="float32", always_2d=True)
        if sr > 48_000:
            g = math.gcd(48_000, sr)
            x = resample_poly(x, 48_000 // g, sr // g, axis=0).astype(np.float32)
            sr = 48_000
        y = np.clip(trim(x, sr), -1.0, 1.0)
        sf.write(str(OUT / f"{name}.flac"), y, sr, format="FLAC", subtype="PCM_16")
        where = f"{container}!{member}" if package in ("openclonk-data", "trigger-rally-data") else (
            f"{container}/{member}")
        print("\t".join((cls, "", "committed", f"library/{name}.flac", package, version, where, licence,
                         f"{credit}; none required (credits: /usr/share/doc/{package}/copyright)")))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
