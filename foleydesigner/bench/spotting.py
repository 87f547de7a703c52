"""Score spotting on real footage against hand annotations (benchmarks/annotations/real_clips.json).

A predicted event matches an annotated sound when its label is one of the entry's labels and at least half of
its span lies inside the entry's window. Each entry says how many instances recall needs (`need`, 0 for an
optional sound) and how many predictions it can absorb (`allow`); predictions that match nothing, or arrive after
an entry is full, are invented sounds. Cuts match within a tolerance, one to one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class SpottingScore:
    predicted: int = 0
    matched: int = 0
    needed: int = 0
    found: int = 0
    invented: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)
    cuts_true: int = 0
    cuts_pred: int = 0
    cuts_hit: int = 0
    through_cuts: list[str] = field(default_factory=list)

    def __iadd__(self, other: SpottingScore) -> SpottingScore:
        for name in ("predicted", "matched", "needed", "found", "cuts_true", "cuts_pred", "cuts_hit"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.invented += other.invented
        self.missed += other.missed
        self.through_cuts += other.through_cuts
        return self

    @property
    def precision(self) -> float:
        return self.matched / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.found / self.needed if self.needed else 1.0

    @property
    def cut_f1(self) -> float:
        den = self.cuts_true + self.cuts_pred
        return 2 * self.cuts_hit / den if den else 1.0


def _inside(event: dict[str, Any], entry: dict[str, Any]) -> bool:
    a, b = float(event["start_s"]), float(event["end_s"])
    inter = max(0.0, min(b, entry["end_s"]) - max(a, entry["start_s"]))
    return inter >= 0.5 * max(b - a, 1e-3)


def match_cuts(true_s: list[float], pred_s: list[float], tol_s: float) -> int:
    """One-to-one matches within tol_s, nearest first."""
    pairs = sorted((abs(t - p), i, j) for i, t in enumerate(true_s) for j, p in enumerate(pred_s) if abs(t - p) <= tol_s)
    used_t: set[int] = set()
    used_p: set[int] = set()
    for _, i, j in pairs:
        if i not in used_t and j not in used_p:
            used_t.add(i)
            used_p.add(j)
    return len(used_t)


def score_clip(script: dict[str, Any], annotation: dict[str, Any], cut_tolerance_s: float) -> SpottingScore:
    """Score one run's script.json (rendered events and shots) against one clip's annotation."""
    events = script.get("events", [])
    entries = [dict(e, taken=0) for e in annotation["sounds"]]
    out = SpottingScore(predicted=len(events), needed=sum(e["need"] for e in entries))
    # Longest events first: a bed is matched before a short hit competes for the same entry.
    for ev in sorted(events, key=lambda e: e["start_s"] - e["end_s"]):
        entry = next((e for e in entries if ev["label"] in e["labels"] and e["taken"] < e["allow"] and _inside(ev, e)
                      and e.get("layer", ev["layer"]) == ev["layer"]), None)
        if entry is None:
            entry = next((e for e in entries if ev["label"] in e["labels"] and e["taken"] < e["allow"] and _inside(ev, e)), None)
        if entry is None:
            out.invented.append(f"{annotation['name']}:{ev['id']}")
            continue
        entry["taken"] += 1
        out.matched += 1
    for e in entries:
        out.found += min(e["taken"], e["need"])
        if e["taken"] < e["need"]:
            out.missed.append(f"{annotation['name']}:{'/'.join(e['labels'])} {e['start_s']:g}-{e['end_s']:g} s")
    cuts = [float(s["start_s"]) for s in script.get("shots", [])[1:]]
    out.cuts_true, out.cuts_pred = len(annotation["cuts_s"]), len(cuts)
    out.cuts_hit = match_cuts(annotation["cuts_s"], cuts, cut_tolerance_s)
    # A track-bound event may not run through a cut (annotated cuts: the truth, not the detector's).
    for ev in events:
        if ev.get("source_track") is not None and any(ev["start_s"] + 0.04 < c < ev["end_s"] - 0.04 for c in annotation["cuts_s"]):
            out.through_cuts.append(f"{annotation['name']}:{ev['id']}")
    return out
