"""The Tree-of-Thought's measurable side (paper §1): scores computed from facts, and script edits applied (the
heuristic expansions that propose them: agents/tot_operators.py).

Score(S, V, F) = w1·s_align + w2·s_layer + w3·s_emotion, each in [0, 1] and each a weighted mean of facts:
  s_align   event↔track temporal overlap (IoU), coverage of the sounding tracks, onset agreement within ±1 frame,
            coverage of the screenplay's sounds, and support (no event that neither picture nor screenplay asks for);
  s_layer   bed coverage, layers that fit the class and the source, bed count, per-frame clarity (Murch's "two and a
            half" rule: beyond about three concurrent sounds of one kind the ear hears a texture), no duplicates;
  s_emotion levels that fit the mood, the story's CAPS cues heard, beds consistent with place and time of day.
A fact that does not apply (no screenplay, no tracks) drops out and the others are renormalised.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from foleydesigner.agents.evidence import lasts, sound_for_track, sounding
from foleydesigner.agents.script_writer import (
    ambience_for,
    family,
    fit_to_clip,
    scene_at,
)
from foleydesigner.lexicon import BY_NAME
from foleydesigner.schemas import (
    EventChanges,
    FoleyScript,
    SceneContext,
    ScriptEdit,
    SoundEvent,
    Track,
    VideoInfo,
)
from foleydesigner.tools.screenplay import ScreenplayCue

REQUIRED_TRACK_S = 0.5  # the FilmScribe validator's bar: anything moving this long could make a sound
MURCH_LIMIT = 3  # concurrent fg sounds of one family the ear still follows one by one (Murch's "two and a half")
MAX_BEDS = 3  # a tone, a character bed and one detail bed; more beds mask the foreground
#: Foreground / background intensity a mood asks for: tension lives in quiet beds and sparse, close hits;
#: action pushes everything; calm and sad scenes sit softer (mixing practice, cf. Sonnenschein, Sound Design).
MOOD_LEVELS = {"neutral": (0.7, 0.4), "tense": (0.6, 0.25), "action": (0.85, 0.5), "calm": (0.55, 0.4),
               "sad": (0.5, 0.35), "joyful": (0.75, 0.5), "romantic": (0.5, 0.35)}
CAPS_BOOST = 0.1  # a CAPS cue sits this much above the mood's foreground level
#: Where and when a bed belongs (None: anywhere / any time).
BED_CONTEXT: dict[str, tuple[str | None, tuple[str, ...] | None]] = {
    "crickets": ("outdoor", ("night", "dusk", "dawn")), "owl": ("outdoor", ("night", "dusk")),
    "birds": ("outdoor", ("day", "dawn", "dusk")), "seagulls": ("outdoor", ("day", "dawn", "dusk")),
    "traffic": ("outdoor", None), "wind": ("outdoor", None), "waves": ("outdoor", None),
    "room_tone": ("indoor", None), "air_conditioner": ("indoor", None), "fridge_hum": ("indoor", None),
    "car_interior": ("vehicle", None),
}
#: Night-only and day-only beds: with the time of day unknown, only the day ones are laid (most footage is lit).
_NIGHT_ONLY = {"crickets", "owl"}
#: The beds that fit a place nobody knows: neutral presence.
NEUTRAL_BEDS = {"room_tone"}
#: s_align reads evidence that does not come from the event itself: how strongly the picture supports each sound
#: (re-measured from its track, never the confidence the event claims), so a script of invented events scores low
#: even when every one of them copies a track's onsets.
_ALIGN_W = {"track_coverage": 0.2, "tied_iou": 0.1, "onset_f1": 0.05, "cue_coverage": 0.15, "support": 0.2,
            "evidence": 0.3}
_LAYER_W = {"bed_coverage": 0.2, "layer_fit": 0.15, "bed_count": 0.1, "clarity": 0.15, "no_duplicates": 0.1,
            "density": 0.15, "bed_place": 0.15}
_EMOTION_W = {"level_fit": 0.6, "emphasis": 0.2, "tone": 0.2}


@dataclass(frozen=True)
class Evidence:
    """What every score and edit is measured against: the clip, its tracks, the scene and the screenplay cues."""

    video: VideoInfo
    tracks: list[Track]
    scene: SceneContext
    cues: list[ScreenplayCue]
    place_beds: tuple[str, ...] = ()
    min_confidence: float = 0.5

    @property
    def duration(self) -> float:
        return self.video.duration_s

    def sounding_tracks(self) -> list[Track]:
        """Tracks long enough to matter whose sound the picture supports above the threshold."""
        return [t for t in self.tracks if lasts(t, REQUIRED_TRACK_S) and sounding(t, self.scene, self.min_confidence)]

    def track_confidence(self, event: SoundEvent) -> float:
        """The picture's support for a tied event, measured from its track (0: no such track or no sound)."""
        track = next((t for t in self.tracks if t.id == event.source_track), None)
        sound = sound_for_track(track, self.scene) if track is not None else None
        if sound is None or _kind(sound.label) != _kind(event.label):
            return 0.0  # a gunshot tied to a passing car: the car makes an engine sound, not that one
        return sound.confidence * (1.0 if family(sound.label) == family(event.label) else 0.5)

    def cue_families(self) -> dict[str, str]:
        return self._cue_families

    @cached_property
    def _cue_families(self) -> dict[str, str]:  # once per evidence: every event's support asks for it
        return {family(c.entry.name): c.entry.layer for c in self.cues}

    @cached_property
    def track_ids(self) -> frozenset[int]:
        return frozenset(t.id for t in self.tracks)

    @cached_property
    def beds_ok(self) -> frozenset[str]:
        """Beds the place calls for, the space's default, and the neutral ones (room tone, air)."""
        return frozenset({*self.place_beds, ambience_for(self.scene)[0], "room_tone", "wind"})


def _kind(label: str) -> str:
    """What the picture can tell of a track's sound: its family, with the variants motion cannot tell apart taken
    as one (an engine passing or idling, a hard stop on wood or metal). A tied event of another kind is not the
    track's sound."""
    f = family(label)
    return f.split("_")[0] if f.startswith(("engine_", "impact_")) else f


def script_key(script: FoleyScript) -> str:
    """Same events, same key: the search never keeps two nodes with one script."""
    blob = json.dumps(sorted((e.model_dump(mode="json") for e in script.events), key=lambda d: d["id"]), sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


# --- facts and scores -----------------------------------------------------------------------------------------

def span_iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union > 0 else 1.0


def _onset_match(pred: list[float], truth: list[float], tol: float) -> tuple[int, int, int]:
    used, tp = set(), 0
    for p in pred:
        j = min((j for j in range(len(truth)) if j not in used), key=lambda j: abs(truth[j] - p), default=None)
        if j is not None and abs(truth[j] - p) <= tol:
            used.add(j)
            tp += 1
    return tp, len(pred) - tp, len(truth) - tp


def active_at(events: list[SoundEvent], t: np.ndarray) -> np.ndarray:
    return np.array([(t >= e.start_s) & (t <= e.end_s) for e in events]) if events else np.zeros((0, len(t)), bool)


def expected_layer(e: SoundEvent) -> str:
    if e.source_track is not None:
        return "fg"
    entry = BY_NAME.get(e.label)
    return entry.layer if entry else e.layer


def bed_fits(label: str, scene: SceneContext, cued: set[str]) -> bool:
    """A bed fits when the story asked for it, or the place and time are known to be its own. An unknown place
    takes only neutral presence; an unknown time takes no night-only bed."""
    if label in cued:
        return True  # the story asked for it
    where, when = BED_CONTEXT.get(label, (None, None))
    loc_ok = where is None or scene.location == where or (scene.location == "unknown" and label in NEUTRAL_BEDS)
    tod_ok = when is None or scene.time_of_day in when or (scene.time_of_day == "unknown" and label not in _NIGHT_ONLY)
    return loc_ok and tod_ok


def bed_fits_here(e: SoundEvent, scene: SceneContext, cued: set[str]) -> bool:
    """bed_fits for a bed event, judged by the place of its span (script_writer.scene_at: shots in different places)."""
    return bed_fits(e.label, scene_at(scene, 0.5 * (e.start_s + e.end_s)), cued)


def is_supported(e: SoundEvent, ev: Evidence) -> bool:
    """Picture or story asks for it: a track that makes this sound, a screenplay cue of its family, or (a bed) one
    the place calls for or a place bed that fits the place and time. Weather and other beds that belong to no
    place (rain, thunder, a crowd) need the screenplay: nothing in the picture analysis shows them."""
    cues = ev.cue_families()
    if family(e.label) in cues:
        return True
    if e.source_track in ev.track_ids and ev.track_confidence(e) >= ev.min_confidence:
        return True
    return e.layer == "bg" and e.source_track is None and (
        e.label in ev.beds_ok or (e.label in BED_CONTEXT and bed_fits_here(e, ev.scene, set(cues))))


def facts(script: FoleyScript, ev: Evidence) -> dict[str, float | None]:
    """The measurements behind the scores (None where a fact does not apply to this clip)."""
    events, tracks = script.events, {t.id: t for t in ev.tracks}
    fps = ev.video.fps
    t = np.arange(max(1, ev.video.n_frames)) / fps
    sounding = ev.sounding_tracks()
    tied = [e for e in events if e.source_track in tracks]
    out: dict[str, float | None] = {}
    # -- alignment
    if sounding:
        num = 0.0
        for tr in sounding:
            mask = (t >= tr.start_s) & (t <= tr.end_s)
            cov = np.zeros_like(mask)
            for e in tied:
                if e.source_track == tr.id:
                    cov |= (t >= e.start_s) & (t <= e.end_s)
            num += (tr.end_s - tr.start_s) * (float((cov & mask).sum()) / max(1, int(mask.sum())))
        out["track_coverage"] = num / sum(tr.end_s - tr.start_s for tr in sounding)
    else:
        out["track_coverage"] = None
    out["tied_iou"] = float(np.mean([span_iou((e.start_s, e.end_s), (tracks[e.source_track].start_s, tracks[e.source_track].end_s))
                                     for e in tied if e.source_track is not None])) if tied else (0.0 if sounding else None)
    tp = fp = fn = 0
    for e in tied:
        truth = tracks[e.source_track].onsets_s  # type: ignore[index]
        if truth and e.onsets_s:
            a, b, c = _onset_match(e.onsets_s, [o for o in truth if e.start_s - 0.05 <= o <= e.end_s + 0.05] or truth,
                                   1.0 / fps + 1e-6)
            tp, fp, fn = tp + a, fp + b, fn + c
    out["onset_f1"] = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else None
    cue_fams = ev.cue_families()
    have = {(family(e.label), e.layer) for e in events}
    out["cue_coverage"] = (sum((f, layer) in have for f, layer in cue_fams.items()) / len(cue_fams)) if cue_fams else None
    cued = set(cue_fams)
    out["support"] = float(np.mean([is_supported(e, ev) for e in events])) if events else 0.0
    # Evidence per foreground sound: a tied one as strong as its track's evidence, a screenplay one as the story
    # (1), anything else none; each event below the threshold costs as much again.
    strength = [ev.track_confidence(e) if e.source_track in tracks else 1.0 if family(e.label) in cue_fams else 0.0
                for e in events if e.layer == "fg"]
    weak = sum(x < ev.min_confidence for x in strength)
    out["evidence"] = (max(0.0, float(np.mean(strength)) - weak / len(strength))) if strength else None
    # -- layering
    beds = [e for e in events if e.layer == "bg" and e.source_track is None]  # tied bg events are texture, not beds
    out["bed_coverage"] = float(active_at(beds, t).any(axis=0).mean()) if beds else 0.0
    fits = []
    for e in events:
        if e.layer == expected_layer(e):
            fits.append(True)
        else:  # a tied walker pushed into the texture of a crowded family is a legitimate bg layer
            crowd = [o for o in tied if o is not e and family(o.label) == family(e.label) and o.layer == "fg"
                     and span_iou((o.start_s, o.end_s), (e.start_s, e.end_s)) > 0]
            fits.append(e.source_track is not None and len(crowd) >= MURCH_LIMIT)
    out["layer_fit"] = float(np.mean(fits)) if events else 0.0
    out["bed_count"] = 0.0 if not beds else 1.0 if len(beds) <= MAX_BEDS else MAX_BEDS / len(beds)
    fg = [e for e in events if e.layer == "fg"]
    clear = np.ones(len(t))
    for fam in {family(e.label) for e in fg}:  # graded: 6 concurrent footsteps are half as clear as 3
        n = active_at([e for e in fg if family(e.label) == fam], t).sum(axis=0)
        clear = np.minimum(clear, np.minimum(1.0, MURCH_LIMIT / np.maximum(n, 1)))
    out["clarity"] = float(clear.mean())
    # Density (Murch): at most ~3 foreground sound kinds at once; each extra kind at a frame halves its score.
    if fg:
        kinds = sum(active_at([e for e in fg if family(e.label) == fam], t).any(axis=0).astype(int)
                    for fam in {family(e.label) for e in fg})
        out["density"] = float(np.mean(np.minimum(1.0, 0.5 ** np.maximum(0, np.asarray(kinds) - MURCH_LIMIT))))
    else:
        out["density"] = None
    out["bed_place"] = float(np.mean([bed_fits_here(e, ev.scene, cued) for e in beds])) if beds else None
    dups = 0
    for i, a in enumerate(events):
        for b in events[i + 1:]:
            same_src = a.source_track == b.source_track and (a.source_track is not None or a.azimuth_deg == b.azimuth_deg)
            shorter = min(a.end_s - a.start_s, b.end_s - b.start_s) or 1e-3
            overlap = max(0.0, min(a.end_s, b.end_s) - max(a.start_s, b.start_s))
            dups += family(a.label) == family(b.label) and same_src and overlap > 0.5 * shorter
    out["no_duplicates"] = 1.0 - min(1.0, dups / max(1, len(events)))
    # -- emotion
    fg_t, bg_t = MOOD_LEVELS.get(ev.scene.mood, MOOD_LEVELS["neutral"])
    caps = {family(c.entry.name) for c in ev.cues if c.caps}
    devs = [abs(e.intensity - (bg_t if e.layer == "bg" else min(1.0, fg_t + (CAPS_BOOST if family(e.label) in caps else 0.0))))
            for e in events]
    out["level_fit"] = float(np.clip(1.0 - np.mean(devs) / 0.4, 0.0, 1.0)) if devs else 0.0
    heard = [any(family(e.label) == f and e.intensity >= (bg_t if e.layer == "bg" else fg_t) for e in events)
             for f in caps]
    out["emphasis"] = float(np.mean(heard)) if heard else None
    out["tone"] = float(np.mean([bed_fits_here(e, ev.scene, set(cue_fams)) for e in beds])) if beds else None
    return {k: (None if v is None else round(float(v), 4)) for k, v in out.items()}


def _mean(f: dict[str, float | None], weights: dict[str, float]) -> float:
    used = {k: w for k, w in weights.items() if f.get(k) is not None}
    return sum(w * float(f[k]) for k, w in used.items()) / sum(used.values()) if used else 0.0  # type: ignore[arg-type]


def computed_scores(f: dict[str, float | None]) -> dict[str, float]:
    return {"align": round(_mean(f, _ALIGN_W), 4), "layer": round(_mean(f, _LAYER_W), 4),
            "emotion": round(_mean(f, _EMOTION_W), 4)}


# --- edits ----------------------------------------------------------------------------------------------------

def apply_edits(script: FoleyScript, edits: list[ScriptEdit], ev: Evidence) -> FoleyScript:
    """The script after the edits; ValueError names the edit that cannot apply."""
    events = {e.id: e for e in script.events}
    held = {e.id for e in script.candidates}  # held back by grounding: removing one again is already done
    for edit in edits:
        if edit.op == "remove" and edit.event_id in held and edit.event_id not in events:
            continue
        if edit.op == "add":
            if edit.event is None:
                raise ValueError(f"add {edit.event_id}: no event given")
            new, n = edit.event, 2
            while new.id in events:
                new = new.model_copy(update={"id": f"{edit.event.id}_{n}"})
                n += 1
            events[new.id] = new
        elif edit.event_id not in events:
            raise ValueError(f"{edit.op} {edit.event_id}: no such event (events: {', '.join(events)})")
        elif edit.op == "remove":
            del events[edit.event_id]
        else:
            ch = edit.changes or EventChanges()
            upd = {k: v for k, v in ch.model_dump(exclude={"untie"}).items() if v is not None}
            if ch.untie:
                upd["source_track"] = None
            events[edit.event_id] = SoundEvent.model_validate({**events[edit.event_id].model_dump(), **upd})
    out = FoleyScript.model_validate({**script.model_dump(), "events": [e.model_dump() for e in events.values()]})
    return fit_to_clip(out, ev.duration, {t.id for t in ev.tracks})[0]
