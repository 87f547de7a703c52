"""`foley eval realism`: renders (one `<class>.wav` each, or a run's stems) judged by the aiSFX judge.

The judge and its references are `eval.realism_judge`; this module gathers what is judged, embeds it, and lays
out the per-class table: nearest real group, top-1 hit, distance to the right group ÷ its real-to-real distance,
and the MFCC cosine distance (the older figure, kept as a secondary column), then the summary and FAD.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from foleydesigner.errors import InputError
from foleydesigner.eval.realism_judge import (
    JUDGE_SET,
    JUDGE_SETS,
    REFERENCES,
    Embedder,
    RealSet,
    Summary,
    Verdict,
    cache_root,
    fetch_references,
    frechet,
    read_references,
    summarise,
)

log = logging.getLogger(__name__)


@dataclass
class RealismReport:
    verdicts: list[Verdict]
    summary: Summary
    calibration: Summary
    fad: float
    fad_real_halves: float  # FAD between two halves of the real set: the figure's floor at this sample size
    n_references: int
    groups: dict[str, float]
    mfcc: dict[str, float] = field(default_factory=dict)
    judge_set: int = JUDGE_SET

    def as_dict(self) -> dict[str, object]:
        return {"judge_set": self.judge_set, "summary": self.summary.__dict__, "real_calibration": self.calibration.__dict__,
                "fad_aisfx": self.fad, "fad_real_halves": self.fad_real_halves, "references": self.n_references,
                "real_to_real": self.groups,
                "verdicts": [{**v.__dict__, "mfcc": self.mfcc.get(v.name)} for v in self.verdicts]}


def renders_in(folder: Path) -> list[tuple[str, str, Path]]:
    """(name, class, file) of each `<class>.wav` in a folder (as `foley sounds --render` writes)."""
    files = sorted(p for p in folder.glob("*.wav") if not p.name.startswith("."))
    if not files:
        raise InputError(f"--renders {folder} holds no .wav files; make them with `foley sounds --render {folder}`")
    return [(p.stem, p.stem, p) for p in files]


def stems_in(run: Path) -> list[tuple[str, str, Path]]:
    """(event id, its sound class, stem file) of a `foley run` folder, from script.json."""
    from foleydesigner.errors import BackendError
    from foleydesigner.generation.backends import ProceduralGenerator

    script = run / "script.json"
    if not script.is_file():
        raise InputError(f"--run {run} has no script.json; give a `foley run` output folder")
    events = json.loads(script.read_text()).get("events", [])
    gen = ProceduralGenerator()
    out = []
    for ev in events:
        stem = run / "stems" / f"{ev['id']}.wav"
        if not stem.is_file():
            continue
        try:
            cls = gen.sound_class(ev.get("label", ""), ev.get("description", ""))
        except BackendError:
            cls = ev.get("label", "")
        out.append((ev["id"], cls, stem))
    if not out:
        raise InputError(f"--run {run}: no stems/<id>.wav for the events of script.json")
    return out


def judge(items: list[tuple[str, str, Path]], *, references: Path | None = None, download: bool = True,
          refs_tsv: Path = REFERENCES, judge_set: int = JUDGE_SET) -> RealismReport:
    """Embed `items` and the real references of `judge_set` and rank each item (see realism_judge)."""
    cache = references or cache_root() / "references"
    refs = fetch_references(read_references(refs_tsv, judge_set), cache, download=download)
    if not refs:
        raise InputError(f"no reference recordings in {cache}; run without --offline to fetch them")
    emb = Embedder()
    vec_cache = cache_root() / "embeddings"
    real = RealSet([(cls, emb.embed_file(p, vec_cache)) for p, cls in refs])
    verdicts, vecs = [], []
    for name, cls, path in items:
        audio, sr = sf.read(str(path), dtype="float32", always_2d=True)
        if not np.any(audio):
            log.warning("realism: %s is silent; not judged", path)
            continue
        v = emb.embed(audio.T, int(sr))
        vecs.append(v)
        verdicts.append(real.rank(name, cls, v))
    groups = {g: rr for g, rr in real.real_to_real.items() if rr == rr}
    mine = np.stack(vecs) if vecs else np.zeros((0, real.vecs.shape[1]))
    half = np.arange(len(real.vecs)) % 2 == 0
    return RealismReport(
        verdicts, summarise(verdicts, groups), summarise(real.calibration(), groups),
        frechet(mine, real.vecs) if len(mine) >= 2 else float("nan"), frechet(real.vecs[half], real.vecs[~half]),
        len(refs), groups, mfcc_column(items, refs), judge_set)


def mfcc_column(items: list[tuple[str, str, Path]], refs: list[tuple[Path, str]]) -> dict[str, float]:
    """The MFCC cosine distance of each item to its class's recordings (z-scored on the recordings), the figure
    `benchmarks/realism.py` used before the judge: secondary, since the procedural models were tuned on it."""
    from foleydesigner.eval.mfcc import mfcc_stats, mono_at

    def stats(path: Path) -> np.ndarray:
        audio, sr = sf.read(str(path), dtype="float32", always_2d=True, frames=int(30 * 96_000))
        return mfcc_stats(mono_at(audio.T, int(sr)))

    real = [(cls, stats(p)) for p, cls in refs]
    allv = np.stack([v for _, v in real])
    mu, sd = allv.mean(axis=0), allv.std(axis=0) + 1e-9
    out = {}
    for name, cls, path in items:
        mine = [(v - mu) / sd for c, v in real if c == cls]
        if not mine:
            continue
        p = (stats(path) - mu) / sd
        out[name] = float(np.mean([1.0 - p @ m / (np.linalg.norm(p) * np.linalg.norm(m) + 1e-12) for m in mine]))
    return out


def table(report: RealismReport) -> str:
    """Markdown: one row per judged item, then the summary lines."""
    lines = ["| item | class | nearest real group | top-1 | distance ÷ real-to-real | MFCC distance (secondary) |",
             "|---|---|---|---|---|---|"]
    for v in report.verdicts:
        ratio = f"{v.ratio:.2f}" if v.ratio == v.ratio else "—"
        mf = report.mfcc.get(v.name)
        lines.append(f"| {v.name} | {v.cls} | {v.nearest} | {'yes' if v.hit else 'no'} | {ratio} | "
                     f"{f'{mf:.3f}' if mf is not None else '—'} |")
    s, c = report.summary, report.calibration
    lines += ["", f"over {s.n} items whose class has a real group: top-1 {s.hit_rate:.0%}, median distance ÷ "
              f"real-to-real {s.median_ratio:.2f}",
              f"real recordings judged the same way (each left out of its group): top-1 {c.hit_rate:.0%}, median "
              f"{c.median_ratio:.2f} (n = {c.n})",
              f"FAD on the aiSFX embedding: {report.fad:.2f} (two halves of the real set: {report.fad_real_halves:.2f}); "
              "the paper's FAD 1.88 is on another embedding (VGGish) and is not comparable",
              f"{report.n_references} reference recordings in {len(report.groups)} groups of ≥ 2 (judge set "
              f"{report.judge_set}, {JUDGE_SETS[report.judge_set]})"]
    return "\n".join(lines)
