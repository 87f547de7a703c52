"""The Tree-of-Thought's heuristic expansion (paper §1): real script edits, one Foley principle each (visual
alignment, narrative separation, emotional emphasis), proposed from the parent's measured facts
(agents/tot_rules.py computes those facts and applies the edits).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from foleydesigner.agents.script_writer import (
    COMPATIBLE,
    ambience_for,
    bed_event,
    family,
    place_beds,
    track_event,
)
from foleydesigner.agents.tot_rules import (
    CAPS_BOOST,
    MAX_BEDS,
    MOOD_LEVELS,
    MURCH_LIMIT,
    Evidence,
    active_at,
    bed_fits,
    bed_fits_here,
    expected_layer,
    span_iou,
)
from foleydesigner.schemas import (
    EventChanges,
    FoleyScript,
    Principle,
    ScriptEdit,
    SoundEvent,
)

# --- heuristic expansion: real edits, one Foley principle each ---------------------------------------------------

@dataclass(frozen=True)
class Proposal:
    principle: Principle
    operator: str
    rationale: str
    edits: list[ScriptEdit]
    priority: float  # how much the parent's facts call for it (0..1); orders proposals within a principle


def _upd(event_id: str, **changes: Any) -> ScriptEdit:
    return ScriptEdit(op="update", event_id=event_id, changes=EventChanges(**changes))


def _visual(script: FoleyScript, ev: Evidence, f: dict[str, float | None]) -> list[Proposal]:
    out: list[Proposal] = []
    tracks = {t.id: t for t in ev.tracks}
    tied_ids = {e.source_track for e in script.events if e.source_track is not None}
    for tr in sorted(ev.sounding_tracks(), key=lambda t: t.start_s - t.end_s):
        if tr.id not in tied_ids and (new := track_event(tr, ev.scene)) is not None:
            out.append(Proposal("visual_alignment", "cover_track", f"track {tr.id} ({tr.label}, {tr.motion}) makes no sound yet",
                                [ScriptEdit(op="add", event_id=new.id, event=new)], (tr.end_s - tr.start_s) / ev.duration))
    for e in script.events:
        tr = tracks.get(e.source_track) if e.source_track is not None else None
        if tr is None:
            continue
        ref = track_event(tr, ev.scene)
        iou = span_iou((e.start_s, e.end_s), (tr.start_s, tr.end_s))
        if ref is not None and (iou < 0.9 or (ref.onsets_s and e.onsets_s != ref.onsets_s)):
            out.append(Proposal("visual_alignment", "snap_to_track", f"{e.id} drifts from track {tr.id} (IoU {iou:.2f})",
                                [_upd(e.id, start_s=tr.start_s, end_s=tr.end_s, onsets_s=ref.onsets_s)], 1.0 - iou * 0.5))
        if e.source_track is not None and tr.motion not in COMPATIBLE.get(e.label, {tr.motion}):
            out.append(Proposal("visual_alignment", "untie_cue", f"{e.label} does not fit a {tr.motion} track",
                                [_upd(e.id, untie=True, azimuth_deg=0.0)], 0.6))
        gaps = np.diff(e.onsets_s) if len(e.onsets_s) > 2 else np.array([])
        if gaps.size and gaps.max() > max(1.5, 3 * float(np.median(gaps))):
            cut = int(np.argmax(gaps))
            a, b = e.onsets_s[: cut + 1], e.onsets_s[cut + 1:]
            second = e.model_copy(update={"id": f"{e.id}_b", "start_s": b[0], "onsets_s": b})
            out.append(Proposal("visual_alignment", "split_event", f"{e.id} pauses {gaps.max():.1f} s: two events",
                                [_upd(e.id, end_s=a[-1] + 0.3, onsets_s=a), ScriptEdit(op="add", event_id=second.id, event=second)],
                                float(gaps.max()) / ev.duration))
    untied_tracks = [t for t in ev.sounding_tracks() if t.id not in tied_ids]
    for e in script.events:
        if e.layer == "fg" and e.source_track is None and e.origin == "screenplay" and (e.depth_m or 0) < 6.0:
            match = [t for t in untied_tracks if t.motion in COMPATIBLE.get(e.label, set())]
            if match:
                tr = max(match, key=lambda t: t.end_s - t.start_s)
                ref = track_event(tr, ev.scene)
                out.append(Proposal("visual_alignment", "retie_cue", f"screenplay {e.label} is what track {tr.id} does",
                                    [_upd(e.id, source_track=tr.id, start_s=tr.start_s, end_s=tr.end_s,
                                          onsets_s=ref.onsets_s if ref else [])], 0.55))
    return out


def _narrative(script: FoleyScript, ev: Evidence, f: dict[str, float | None]) -> list[Proposal]:
    out: list[Proposal] = []
    beds = [e for e in script.events if e.layer == "bg" and e.source_track is None]
    have = {e.label for e in script.events}
    cued = set(ev.cue_families())
    # Shots in different places have their beds laid run by run (script_writer); a whole-clip bed fits none of them.
    wanted = [] if ev.scene.evidence.get("places") else [*place_beds(ev.place_beds, ev.scene), ambience_for(ev.scene)[0]]
    for name in dict.fromkeys(wanted):
        if name not in have and bed_fits(name, ev.scene, cued):
            new = bed_event(name, f"{name}_bed", ev.duration, f"{name.replace('_', ' ')} bed under the scene", intensity=0.35)
            out.append(Proposal("narrative_separation", "add_bed", f"lay a {name} bed",
                                [ScriptEdit(op="add", event_id=new.id, event=new)], 0.9 if not beds else 0.25))
    for e in beds:
        fits = bed_fits_here(e, ev.scene, cued)
        if not fits or len(beds) > MAX_BEDS:
            out.append(Proposal("narrative_separation", "remove_bed", f"{e.label} does not belong or beds crowd the mix",
                                [ScriptEdit(op="remove", event_id=e.id)], 0.7 if not fits else 0.4))
    for e in script.events:
        want = expected_layer(e)
        if e.layer != want and e.source_track is None:
            out.append(Proposal("narrative_separation", "relayer", f"{e.label} belongs in {want}",
                                [_upd(e.id, layer=want)], 0.6))
    if (f.get("clarity") or 1.0) < 1.0:
        fg = [e for e in script.events if e.layer == "fg" and e.source_track is not None]
        t = np.arange(max(1, ev.video.n_frames)) / ev.video.fps
        counts = {fam: active_at([e for e in fg if family(e.label) == fam], t).sum(axis=0) for fam in {family(e.label) for e in fg}}
        crowded = [e for e in fg if (counts[family(e.label)][(t >= e.start_s) & (t <= e.end_s)] > MURCH_LIMIT).any()]
        tracks = {tr.id: tr for tr in ev.tracks}
        crowded.sort(key=lambda e: (np.median([b[3] for b in tracks[e.source_track].boxes]), e.id))  # type: ignore[index]
        if crowded:
            k = max(1, len(crowded) // 3)  # the smallest (farthest) third becomes texture
            out.append(Proposal("narrative_separation", "demote_texture",
                                f"{len(crowded)} concurrent {family(crowded[0].label)}: the farthest {k} become texture",
                                [_upd(e.id, layer="bg", intensity=0.4) for e in crowded[:k]], 1.0 - (f.get("clarity") or 0.0)))
    if (f.get("no_duplicates") or 1.0) < 1.0:
        seen: dict[tuple[str, Any], SoundEvent] = {}
        for e in script.events:
            key = (family(e.label), e.source_track if e.source_track is not None else e.azimuth_deg)
            first = seen.get(key)
            if first is not None and max(0.0, min(e.end_s, first.end_s) - max(e.start_s, first.start_s)) > 0:
                onsets = sorted(set(first.onsets_s) | set(e.onsets_s))
                out.append(Proposal("narrative_separation", "merge_events", f"{e.id} doubles {first.id}: one event",
                                    [_upd(first.id, start_s=min(first.start_s, e.start_s), end_s=max(first.end_s, e.end_s),
                                          onsets_s=onsets, intensity=max(first.intensity, e.intensity)),
                                     ScriptEdit(op="remove", event_id=e.id)], 0.8))
            seen.setdefault(key, e)
    return out


def _emotional(script: FoleyScript, ev: Evidence, f: dict[str, float | None]) -> list[Proposal]:
    fg_t, bg_t = MOOD_LEVELS.get(ev.scene.mood, MOOD_LEVELS["neutral"])
    caps = {family(c.entry.name) for c in ev.cues if c.caps}

    def target(e: SoundEvent) -> float:
        return bg_t if e.layer == "bg" else min(1.0, fg_t + (CAPS_BOOST if family(e.label) in caps else 0.0))

    out: list[Proposal] = []
    for share, name in ((1.0, "modulate_mood"), (0.5, "ease_toward_mood")):
        edits = [_upd(e.id, intensity=round(e.intensity + share * (target(e) - e.intensity), 3))
                 for e in script.events if abs(target(e) - e.intensity) > 0.02]
        if edits:
            out.append(Proposal("emotional_modulation", name, f"levels toward a {ev.scene.mood} scene (fg {fg_t}, bg {bg_t})",
                                edits, (1.0 - (f.get("level_fit") or 0.0)) * share))
    quiet = [e for e in script.events if family(e.label) in caps and e.intensity < target(e) - 0.02]
    if quiet:  # only the cues: the rest of the mix stays where it is
        out.append(Proposal("emotional_modulation", "emphasise_cues", "the screenplay's CAPS cues must be heard",
                            [_upd(e.id, intensity=round(target(e), 3)) for e in quiet], 1.0 - (f.get("emphasis") or 0.0)))
    return out


OPERATORS: tuple[Callable[[FoleyScript, Evidence, dict[str, float | None]], list[Proposal]], ...] = (
    _visual, _narrative, _emotional)


def propose(script: FoleyScript, ev: Evidence, f: dict[str, float | None]) -> list[Proposal]:
    """Every applicable edit, ordered by taking the most called-for edit of each principle in turn, so the first
    k children explore visual alignment, narrative separation and emotional modulation rather than k variants
    of one idea."""
    queues = [sorted(op(script, ev, f), key=lambda p: -p.priority) for op in OPERATORS]
    queues = sorted([q for q in queues if q], key=lambda q: -q[0].priority)
    out: list[Proposal] = []
    while any(queues):
        for q in queues:
            if q:
                out.append(q.pop(0))
    return out
