"""A neutral realism judge: renders ranked against groups of real recordings by the aiSFX embedding.

aiSFX (the `aisfx` wheel: a CNN trained on professional sound-effects libraries, weights CC BY 4.0; ISMIR 2022)
gives a 512-d embedding per ~2.3 s block of a 96-band log-mel at 44.1 kHz, computed with the package's own front
end and normalisation; a sound's embedding is the mean over its blocks. Nothing in this project was tuned on it,
which is what makes it a judge (the MFCC distance of `benchmarks/realism.py` was tuned on, and said procedural ≈
real where listeners heard otherwise).

A render is compared with groups of real recordings (one group per sound class), listed in
`judge_references.tsv` (Debian package, path, class). They come from packages the generator never plays (the
core library's sources are other packages), so the judge never scores a copy. Per render it reports:

- the nearest group: the one whose centroid (mean embedding) lies closest (cosine distance);
- whether that is the render's own class (top-1 hit);
- the distance to the right group ÷ that group's real-to-real distance (its recordings' mean distance to each
  other): 1.0 means the render sits among the real takes as they sit among each other.

The same figures for each real recording against the others (itself left out) calibrate the judge: real sounds
do not find their own group every time either. Fréchet distance (as FAD) between the renders' and the real
recordings' embeddings is reported too; it is on the aiSFX embedding, so it cannot be compared with FAD figures
computed on VGGish (the paper's 1.88).

aisfx is optional (`pip install '.[judge]'` then `pip install --no-deps aisfx==0.1.2`: its wheel pins an old numpy
it does not need); it is imported only when a judge is built.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

from foleydesigner.errors import BackendError, InputError

log = logging.getLogger(__name__)

JUDGE_SR = 44_100  # aiSFX's front end: 44.1 kHz, 2048-sample Hann frames, hop 1024, 96 HTK mel bands to 22.05 kHz
_N_FFT, _HOP, _MELS = 2048, 1024, 96
_BLOCK, _BLOCK_HOP = 100, 50  # frames per embedding block (~2.3 s) and its hop (the package's default 0.5)
_SPEC_MAX = 9.457798957824707  # the package's 'original' min-max normalisation (its training spectrograms' maximum)
MAX_S = 30.0  # a long bed is judged on its first 30 s: enough blocks, a bounded cost
TRIM_DB = -60.0  # leading and trailing audio this far under the peak is not the sound (a stem's silence, a fade)
REFERENCES = Path(__file__).with_name("judge_references.tsv")


def missing() -> str | None:
    """None when the judge can run; else the one line saying what to install."""
    import importlib.util

    for mod in ("torch", "librosa", "aisfx"):
        if importlib.util.find_spec(mod) is None:
            return (f"the realism judge needs {mod}: pip install 'foleydesigner[judge]' && "
                    "pip install --no-deps aisfx==0.1.2")
    return None


def active(audio: np.ndarray, floor_db: float = TRIM_DB) -> np.ndarray:
    """Mono, without the leading and trailing stretch quieter than `floor_db` re the peak (10 ms frames)."""
    x = np.asarray(audio, np.float64)
    x = x.mean(axis=0) if x.ndim == 2 else x
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak <= 0:
        return x
    loud = np.flatnonzero(np.abs(x) >= peak * 10.0 ** (floor_db / 20.0))
    return x[loud[0]: loud[-1] + 1]


def to_judge_rate(mono: np.ndarray, sr: int) -> np.ndarray:
    if sr == JUDGE_SR:
        return np.asarray(mono, np.float64)
    f = Fraction(JUDGE_SR, sr).limit_denominator(1000)
    return resample_poly(np.asarray(mono, np.float64), f.numerator, f.denominator)


class Embedder:
    """aiSFX's embedding network with its own spectrogram front end (see the module doc)."""

    def __init__(self, device: str = "cpu") -> None:
        why = missing()
        if why:
            raise BackendError(why)
        import torch
        from aisfx import inference

        torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
        # The checkpoint holds numpy scalars in its dataset table, which torch's weights-only loader refuses; it is
        # the file inside the installed wheel, read by its path.
        weights, datasets = torch.load(inference.get_path_modelWeights(), map_location=device, weights_only=False)
        self.model = inference.load_bestModel(weights, datasets, device)
        self.device = device
        self._torch = torch

    def spectrogram(self, mono: np.ndarray) -> np.ndarray:
        """(frames, 96) normalised log-mel of audio at JUDGE_SR, as aisfx's librosa front end computes it."""
        import librosa

        y = np.asarray(mono, np.float32)
        peak = float(np.max(np.abs(y))) if y.size else 0.0
        y = y / (peak if peak > 0 else 1.0)  # the package normalises every file to its peak
        spec = librosa.feature.melspectrogram(y=y, sr=JUDGE_SR, n_fft=_N_FFT, win_length=_N_FFT, hop_length=_HOP,
                                              n_mels=_MELS, fmin=0.0, fmax=JUDGE_SR / 2, htk=True, norm=1.0,
                                              power=2.0)
        return (np.log10(spec * 10_000.0 + 1.0) / _SPEC_MAX).T

    def embed(self, audio: np.ndarray, sr: int) -> np.ndarray:
        """The 512-d embedding of a sound (any channels, any rate): mean over its blocks."""
        from aisfx.preprocessing import blocking

        mono = to_judge_rate(active(audio), sr)[: int(MAX_S * JUDGE_SR)]
        if mono.size < _N_FFT:
            mono = np.pad(mono, (0, _N_FFT - mono.size))
        spec = self.spectrogram(mono)
        blocks = blocking(spec, block_size=_BLOCK, hop_size=_BLOCK_HOP, drop_partial_block=True)
        with self._torch.no_grad():
            emb = self.model.get_embedding(self._torch.tensor(blocks, dtype=self._torch.float32, device=self.device))
        return emb.cpu().numpy().mean(axis=0).astype(np.float64)

    def embed_file(self, path: Path, cache: Path | None = None) -> np.ndarray:
        """A file's embedding, cached by path, size and mtime (references are embedded once)."""
        import soundfile as sf

        key = None
        if cache is not None:
            st = path.stat()
            key = cache / (hashlib.sha1(f"{path.resolve()}|{st.st_size}|{st.st_mtime}".encode()).hexdigest() + ".npy")
            if key.exists():
                return np.load(key)
        audio, sr = sf.read(str(path), dtype="float32", always_2d=True, frames=int(MAX_S * 2 * 96_000))
        vec = self.embed(audio.T, int(sr))
        if key is not None:
            key.parent.mkdir(parents=True, exist_ok=True)
            np.save(key, vec)
        return vec


# ---- references ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Reference:
    package: str
    path: str  # in the package
    cls: str
    set: int = 1  # the judge set that added it (JUDGE_SETS)


#: The judge's reference sets, each the previous plus its rows (the 4th column of judge_references.tsv; none: 1).
#: 1: the original 163 recordings of 22 groups. 2: the thin impact and surf groups widened from the same packages
#: (chosen by file name and spectrogram before any render was judged against them): its doors still have two.
JUDGE_SETS = {1: "original", 2: "sturdier"}
JUDGE_SET = 2  # the default


def check_judge_set(judge_set: int, name: str = "judge set") -> None:
    """InputError naming the sets, for a judge set that does not exist (`name`: what the user called it)."""
    if judge_set not in JUDGE_SETS:
        raise InputError(f"{name} {judge_set}: unknown; the sets are "
                         + ", ".join(f"{k} ({v})" for k, v in JUDGE_SETS.items()))


def read_references(tsv: Path = REFERENCES, judge_set: int = JUDGE_SET) -> list[Reference]:
    """The references of `judge_set` (its rows and every earlier set's)."""
    check_judge_set(judge_set)
    rows = []
    for line in tsv.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            fields = [f.strip() for f in line.split("\t")]
            pkg, path, cls = fields[:3]
            added = int(fields[3]) if len(fields) > 3 and fields[3] else 1
            if added <= judge_set:
                rows.append(Reference(pkg, path, cls, added))
    return rows


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "foleydesigner" / "judge"


def cached(cache: Path, pkg: str, path: str) -> Path:
    """Where a reference lives in the cache: `pkg/<path>`; a zip member `a.zip!m` at `pkg/a.zip.d/m`."""
    archive, _, member = path.lstrip("/").partition("!")
    return cache / pkg / (f"{archive}.d/{member.lstrip('/')}" if member else archive)


def fetch_references(refs: list[Reference], cache: Path, *, download: bool = True) -> list[tuple[Path, str]]:
    """(file, class) of every reference, downloading (`apt-get download`, `dpkg-deb -x`) the packages whose listed
    files are not cached yet; only the listed files are kept. download=False: only what is cached."""
    out: list[tuple[Path, str]] = []
    for pkg in sorted({r.package for r in refs}):
        mine = [r for r in refs if r.package == pkg]
        missing_files = [r for r in mine if not cached(cache, pkg, r.path).is_file()]
        if missing_files and download:
            _fetch_package(pkg, [r.path for r in missing_files], cache)
        out += [(cached(cache, pkg, r.path), r.cls) for r in mine if cached(cache, pkg, r.path).is_file()]
    return out


def _fetch_package(pkg: str, paths: list[str], cache: Path) -> None:
    import zipfile

    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        raise BackendError(f"fetching the judge's references needs apt-get and dpkg-deb (Debian package {pkg})")
    with tempfile.TemporaryDirectory() as tmp:
        got = subprocess.run(["apt-get", "download", pkg], cwd=tmp, capture_output=True, text=True)
        debs = list(Path(tmp).glob(f"{pkg}_*.deb"))
        if got.returncode != 0 or not debs:
            raise BackendError(f"apt-get download {pkg} failed ({got.stderr.strip().splitlines()[-1:]}); "
                               "run `apt-get update` or pass --references with the files")
        x = Path(tmp) / "x"
        x.mkdir()
        # Only the listed files (or their archives) leave the package: 0ad-data unpacks to 3 GB otherwise.
        members = sorted({"./" + p.lstrip("/").partition("!")[0] for p in paths})
        tar = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(debs[0])], stdout=subprocess.PIPE)
        subprocess.run(["tar", "-x", "-C", str(x), "-f", "-", *members], stdin=tar.stdout, capture_output=True)
        if tar.stdout is not None:
            tar.stdout.close()
        tar.wait()
        for p in paths:
            archive, _, member = p.lstrip("/").partition("!")
            src, dst = x / archive, cached(cache, pkg, p)
            dst.parent.mkdir(parents=True, exist_ok=True)
            if not src.is_file():
                log.warning("judge: %s has no %s", pkg, p)
            elif member:
                with zipfile.ZipFile(src) as z:
                    dst.write_bytes(z.read(member.lstrip("/")))
            else:
                shutil.copy2(src, dst)


# ---- ranking -------------------------------------------------------------------------------------------------

@dataclass
class Verdict:
    name: str
    cls: str
    nearest: str
    hit: bool
    ratio: float  # distance to the right group ÷ its real-to-real distance (nan: no group of ≥ 2 recordings)
    distance: float


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / (np.linalg.norm(a, axis=-1, keepdims=True) + 1e-12)
    b = b / (np.linalg.norm(b, axis=-1, keepdims=True) + 1e-12)
    return 1.0 - a @ b.T


class RealSet:
    """Groups of real embeddings by class."""

    def __init__(self, items: list[tuple[str, np.ndarray]]) -> None:
        if not items:
            raise InputError("the judge has no reference recordings")
        self.classes = np.array([c for c, _ in items])
        self.vecs = np.stack([v for _, v in items])
        self.groups = sorted(set(self.classes.tolist()))
        d = _cos(self.vecs, self.vecs)
        self.real_to_real = {}
        for g in self.groups:
            idx = np.flatnonzero(self.classes == g)
            self.real_to_real[g] = float(d[np.ix_(idx, idx)][np.triu_indices(idx.size, 1)].mean()) \
                if idx.size >= 2 else float("nan")

    def rank(self, name: str, cls: str, vec: np.ndarray, *, leave_out: int | None = None) -> Verdict:
        d = _cos(vec[None], self.vecs)[0]
        keep = np.ones(d.size, bool)
        if leave_out is not None:
            keep[leave_out] = False
        per = {g: float(d[keep & (self.classes == g)].mean()) for g in self.groups
               if np.any(keep & (self.classes == g))}
        # The nearest group: the closest centroid among groups of ≥ 2 recordings (a lone file is no group).
        # Chosen on the real recordings alone: real sounds find their own group by centroid about two times in
        # three, by mean distance to the members about two in five (broad groups draw everything to them).
        near = {g: float(_cos(vec[None], self.vecs[keep & (self.classes == g)].mean(axis=0)[None])[0, 0])
                for g in self.groups if np.sum(keep & (self.classes == g)) >= 2}
        nearest = min(near or per, key=(near or per).__getitem__)
        rr = self.real_to_real.get(cls, float("nan"))
        dist = per.get(cls, float("nan"))
        return Verdict(name, cls, nearest, nearest == cls, dist / rr if rr == rr and rr > 0 else float("nan"), dist)

    def calibration(self) -> list[Verdict]:
        """Each real recording of a group of ≥ 3 judged against the others, itself left out (≥ 3: its group keeps
        two, so it still has a real-to-real distance to be compared with)."""
        out = []
        for i, (c, v) in enumerate(zip(self.classes.tolist(), self.vecs, strict=True)):
            if np.sum(self.classes == c) >= 3:
                out.append(self.rank(f"real {i}", c, v, leave_out=i))
        return out


def frechet(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two embedding sets (FAD's formula). Covariances are shrunk
    slightly towards their diagonal: with fewer sounds than dimensions they are singular."""
    from scipy.linalg import sqrtm

    def fit(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cov = np.cov(x, rowvar=False)
        return x.mean(axis=0), 0.9 * cov + 0.1 * np.diag(np.diag(cov)) + 1e-6 * np.eye(cov.shape[0])

    (m1, c1), (m2, c2) = fit(a), fit(b)
    root = sqrtm(c1 @ c2)
    root = root.real if np.iscomplexobj(root) else root
    return float(np.sum((m1 - m2) ** 2) + np.trace(c1 + c2 - 2.0 * root))


@dataclass
class Summary:
    n: int
    hit_rate: float
    median_ratio: float


def summarise(verdicts: list[Verdict], groups: dict[str, float]) -> Summary:
    """Over the verdicts whose class has a group of ≥ 2 real recordings."""
    judged = [v for v in verdicts if groups.get(v.cls, float("nan")) == groups.get(v.cls, float("nan"))
              and v.cls in groups]
    if not judged:
        return Summary(0, float("nan"), float("nan"))
    ratios = [v.ratio for v in judged if v.ratio == v.ratio]
    return Summary(len(judged), float(np.mean([v.hit for v in judged])),
                   float(np.median(ratios)) if ratios else float("nan"))
