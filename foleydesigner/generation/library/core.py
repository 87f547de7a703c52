"""The core library: real recordings the default (`hybrid`) generator plays, with their provenance.

`data/core/MANIFEST.tsv` lists every recording: its sound class (a procedural class name), a walking surface for
footsteps, whether it ships (`committed`: CC0 or public domain, under foleydesigner/data/) or is fetched on first
use (`fetch`: other free licences, e.g. CC BY-SA game data, into the user cache by `foley library fetch`), its
Debian package, version and path there, licence and attribution. `data/core/FETCH.tsv` pins each fetched package's
version and the sha256 of its .deb.

The files present (committed, plus fetched where fetched) are linked into one folder in the cache, named
`<class>/<surface>/<file>`, and indexed by the library index (onsets, level, one-shot or texture), so the library
generator's machinery (a take per onset, round-robin, pitch and level variation, looped beds) plays them.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from foleydesigner.errors import BackendError

log = logging.getLogger(__name__)

FETCH_HINT = "foley library fetch"


@dataclass(frozen=True)
class Entry:
    cls: str
    surface: str
    source: str  # "committed" | "fetch"
    file: str  # committed: relative to foleydesigner/data/; fetch: the file's name
    package: str
    version: str
    path: str  # in the package
    licence: str
    attribution: str

    @property
    def key(self) -> str:
        """Its name in the linked folder: `<class>/<surface or any>/<package>__<file>`, with the suffix of the file
        that plays (a committed take is re-encoded, e.g. an .ogg in the package ships as .flac)."""
        name = Path(self.path.rpartition('!')[2]).name
        if self.source == "committed":
            name = Path(name).stem + Path(self.file).suffix
        return f"{self.cls}/{self.surface or 'any'}/{self.package}__{name}"


def data_dir() -> Path:
    return Path(str(resources.files("foleydesigner") / "data"))


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "foleydesigner" / "core"


def manifest() -> list[Entry]:
    rows = []
    for line in (data_dir() / "core" / "MANIFEST.tsv").read_text().splitlines():
        if not line.strip() or line.startswith("#") or line.startswith("class\t"):
            continue
        rows.append(Entry(*(f.strip() for f in line.split("\t")[:9])))
    return rows


def pinned() -> dict[str, tuple[str, str]]:
    """package → (version, sha256 of its .deb)."""
    out = {}
    for line in (data_dir() / "core" / "FETCH.tsv").read_text().splitlines():
        if line.strip() and not line.startswith("#") and not line.startswith("package\t"):
            pkg, ver, sha = line.split("\t")[:3]
            out[pkg] = (ver.strip(), sha.strip())
    return out


def fetched_path(e: Entry, cache: Path | None = None) -> Path:
    return (cache or cache_dir()) / "fetched" / e.package / e.path.lstrip("/")


def location(e: Entry, cache: Path | None = None) -> Path:
    return data_dir() / e.file if e.source == "committed" else fetched_path(e, cache)


def missing_fetched(cache: Path | None = None) -> list[Entry]:
    return [e for e in manifest() if e.source == "fetch" and not fetched_path(e, cache).is_file()]


def linked_root(cache: Path | None = None) -> Path:
    """The folder of links to every core recording present. Named by what it holds, built aside and renamed into
    place, so processes with another manifest or fetch state (two checkouts, a fetch under way) never rebuild a
    folder another is reading."""
    base = (cache or cache_dir()) / "linked"
    want = {e.key: location(e, cache) for e in manifest() if location(e, cache).is_file()}
    tag = hashlib.sha1("\n".join(f"{k}={v}" for k, v in sorted(want.items())).encode()).hexdigest()[:12]
    root = base / tag
    if root.is_dir():
        return root
    base.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(prefix=".build-", dir=base))
    for key, target in want.items():
        link = build / key
        link.parent.mkdir(parents=True, exist_ok=True)
        try:
            link.symlink_to(target.resolve())
        except OSError:  # a file system without links: a copy
            shutil.copy2(target, link)
    try:
        os.rename(build, root)
    except OSError:  # another process put the same folder in place first
        shutil.rmtree(build, ignore_errors=True)
    return root


def by_key(cache: Path | None = None) -> dict[str, Entry]:
    return {e.key: e for e in manifest()}


# ---- fetching ------------------------------------------------------------------------------------------------

def fetch(cache: Path | None = None, *, deb_dir: Path | None = None) -> dict[str, int]:
    """Download each pinned package (`apt-get download PKG=VERSION`, or a .deb already in `deb_dir`), check its
    sha256, and keep only the files the manifest lists. Returns files fetched per package."""
    cache = cache or cache_dir()
    wanted: dict[str, list[Entry]] = {}
    for e in missing_fetched(cache):
        wanted.setdefault(e.package, []).append(e)
    pins = pinned()
    done: dict[str, int] = {}
    for pkg, entries in sorted(wanted.items()):
        if pkg not in pins:
            raise BackendError(f"core library: {pkg} is not pinned in FETCH.tsv")
        version, sha = pins[pkg]
        with tempfile.TemporaryDirectory() as tmp:
            deb = _download(pkg, version, Path(tmp), deb_dir)
            digest = hashlib.sha256(deb.read_bytes()).hexdigest()
            if digest != sha:
                raise BackendError(f"{deb.name}: sha256 {digest[:12]}… is not the pinned {sha[:12]}…; not used")
            x = Path(tmp) / "x"
            subprocess.run(["dpkg-deb", "-x", str(deb), str(x)], check=True, capture_output=True)
            n = 0
            for e in entries:
                data = _member(x, e.path)
                if data is None:
                    log.warning("core library: %s %s has no %s", pkg, version, e.path)
                    continue
                dst = fetched_path(e, cache)
                dst.parent.mkdir(parents=True, exist_ok=True)
                tmp_dst = dst.with_name(f".{dst.name}.tmp")
                tmp_dst.write_bytes(data)
                os.replace(tmp_dst, dst)
                n += 1
            done[pkg] = n
    return done


def _member(root: Path, path: str) -> bytes | None:
    """A listed file's bytes: `/path/in/package`, or `/path/to/archive.pk3!member` for a file inside a zip archive
    the package ships (game data such as ufoai-sound packs its sounds in .pk3 zips), or
    `/path/to/sounds.cat!N-name.wav` for sample N of an OpenTTD sample catalogue (openttd-opensfx)."""
    outer, _, inner = path.partition("!")
    src = root / outer.lstrip("/")
    if not src.is_file():
        return None
    if not inner:
        return src.read_bytes()
    if outer.endswith(".cat"):
        return catalogue_sample(src.read_bytes(), int(inner.split("-", 1)[0]))
    import zipfile

    try:
        with zipfile.ZipFile(src) as z:
            return z.read(inner)
    except (KeyError, zipfile.BadZipFile):
        return None


def catalogue_sample(cat: bytes, n: int) -> bytes | None:
    """Sample n of an OpenTTD sample catalogue: a table of (offset, size) little-endian uint32 pairs (the first
    offset ÷ 8 is the count), each sample a length byte, its name, then a RIFF WAVE file."""
    import struct

    if len(cat) < 8:
        return None
    count = (struct.unpack_from("<I", cat, 0)[0] & 0x7FFFFFFF) // 8
    if not 0 <= n < count or 8 * n + 8 > len(cat):
        return None
    off, size = struct.unpack_from("<II", cat, 8 * n)
    off &= 0x7FFFFFFF
    if off >= len(cat) or off + size > len(cat):
        return None
    data = cat[off + 1 + cat[off]: off + size]
    return data if data[:4] == b"RIFF" else None


def _download(pkg: str, version: str, tmp: Path, deb_dir: Path | None) -> Path:
    if deb_dir is not None:
        debs = sorted(deb_dir.glob(f"{pkg}_*.deb"))
        if not debs:
            raise BackendError(f"--deb-dir {deb_dir} has no {pkg}_*.deb")
        return debs[0]
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        raise BackendError("foley library fetch needs apt-get and dpkg-deb (Debian or Ubuntu); or pass --deb-dir "
                           f"with {pkg}_{version}_all.deb")
    got = subprocess.run(["apt-get", "download", f"{pkg}={version}"], cwd=tmp, capture_output=True, text=True)
    debs = sorted(tmp.glob(f"{pkg}_*.deb"))
    if got.returncode != 0 or not debs:
        last = (got.stderr.strip().splitlines() or ["no output"])[-1]
        raise BackendError(f"apt-get download {pkg}={version} failed: {last}; run `apt-get update` first")
    return debs[0]
