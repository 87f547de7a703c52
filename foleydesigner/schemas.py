"""Pydantic models: everything an agent emits and everything written to disk.

Times are seconds, azimuth is degrees (0 ahead, negative left, [-180, 180)), depth is metres (DESIGN.md).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Layer = Literal["fg", "bg"]
_SAFE_ID = re.compile(r"[^a-z0-9_]+")


def sanitize_id(text: str) -> str:
    """A file-name-safe, lowercase identifier from free text (used for stem file names)."""
    slug = _SAFE_ID.sub("_", text.lower()).strip("_")
    return slug[:48] or "event"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VideoInfo(_Model):
    """What the video tools measured about the input clip."""

    path: str
    width: int = Field(gt=0)
    height: int = Field(gt=0)
    fps: float = Field(gt=0)
    n_frames: int = Field(gt=0)
    duration_s: float = Field(gt=0)
    codec: str
    container: str
    has_audio: bool = False
    variable_frame_rate: bool = False
    declared_duration_s: float | None = Field(default=None, description="what the container says; more than "
                                              "duration_s when the file is truncated")


class SceneContext(_Model):
    """The space the scene happens in; the reverb expert builds one shared acoustic space from it."""

    description: str = ""
    location: Literal["indoor", "outdoor", "vehicle", "unknown"] = "unknown"
    room_size: Literal["small", "medium", "large", "open"] = "medium"
    time_of_day: Literal["day", "night", "dawn", "dusk", "unknown"] = "unknown"
    mood: str = "neutral"
    surfaces: list[str] = Field(default_factory=list)
    evidence: dict[str, Any] = Field(default_factory=dict, description="what the picture showed: the measures behind "
                                     "location and time of day when they were read from the image, not a screenplay")


class Shot(_Model):
    """One shot: a run of frames between two transitions, with what the camera does in it."""

    index: int = Field(ge=0)
    start_frame: int = Field(ge=0)
    end_frame: int = Field(ge=0)
    start_s: float = Field(ge=0)
    end_s: float = Field(ge=0)
    transition: Literal["start", "cut", "fade", "dissolve"] = Field(default="start", description="how the shot begins")
    camera: Literal["static", "handheld", "pan", "zoom"] = "static"
    camera_facts: dict[str, float] = Field(default_factory=dict, description="shake and travel per frame (frame "
                                           "widths), consistency of direction, zoom factor")


class Track(_Model):
    """One on-screen object followed through the clip. Boxes are (x, y, w, h) in pixels of the source frame."""

    id: int = Field(ge=0)
    label: str = "object"
    motion: Literal["walking", "moving", "bouncing", "static"] = "moving"
    frames: list[int]
    t_s: list[float]
    boxes: list[tuple[float, float, float, float]]
    onsets_s: list[float] = Field(default_factory=list)
    depth_samples: list[tuple[float, float]] = Field(
        default_factory=list, description="(t_s, metres) measured by a depth model on keyframes; empty: geometric")
    frame_width: int = Field(gt=0)
    frame_height: int = Field(gt=0)
    shot: int | None = Field(default=None, description="the shot it lives in: no track crosses a cut")
    evidence: dict[str, float] = Field(default_factory=dict, description="detector votes and motion measures behind "
                                       "the label (person detections, lower body seen, gait periodicity, travel)")

    @model_validator(mode="after")
    def _same_lengths(self) -> Track:
        if not (len(self.frames) == len(self.t_s) == len(self.boxes)) or not self.frames:
            raise ValueError("track frames, t_s and boxes must be non-empty and of equal length")
        return self

    @property
    def start_s(self) -> float:
        return self.t_s[0]

    @property
    def end_s(self) -> float:
        return self.t_s[-1]


class SoundEvent(_Model):
    """One sound in the layered Foley script: what, which layer, when, and made by what."""

    id: str
    label: str = Field(description="sound class from the Foley lexicon, e.g. 'footsteps', 'room_tone'")
    description: str = ""
    layer: Layer
    start_s: float = Field(ge=0)
    end_s: float = Field(ge=0)
    onsets_s: list[float] = Field(default_factory=list, description="hit times for impulsive sounds")
    source_track: int | None = Field(default=None, description="id of the on-screen track making it")
    intensity: float = Field(default=0.7, ge=0.0, le=1.0)
    azimuth_deg: float | None = Field(default=None, description="fixed azimuth for off-screen sounds")
    depth_m: float | None = Field(default=None, gt=0)
    params: dict[str, Any] = Field(default_factory=dict, description="generator parameters")
    origin: Literal["screenplay", "video", "both", "scene"] = "video"
    confidence: float = Field(default=1.0, ge=0.0, le=1.0, description="how strongly the evidence supports it")
    evidence: list[str] = Field(default_factory=list, description="the facts behind the event, one per line")

    @field_validator("id")
    @classmethod
    def _safe_id(cls, v: str) -> str:
        return sanitize_id(v)

    @field_validator("azimuth_deg")
    @classmethod
    def _wrap_azimuth(cls, v: float | None) -> float | None:
        return None if v is None else ((v + 180.0) % 360.0) - 180.0

    @model_validator(mode="after")
    def _ordered(self) -> SoundEvent:
        if self.end_s < self.start_s:
            raise ValueError(f"event {self.id}: end_s {self.end_s} is before start_s {self.start_s}")
        return self


class FoleyScript(_Model):
    """The layered Foley script S = {(e_i, l_i)} of paper §1."""

    duration_s: float = Field(gt=0)
    scene: SceneContext = Field(default_factory=SceneContext)
    events: list[SoundEvent] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    shots: list[Shot] = Field(default_factory=list)
    candidates: list[SoundEvent] = Field(default_factory=list, description="sounds spotted on evidence too weak to "
                                         "render (below the confidence threshold): recorded, not rendered")
    edits: list[dict[str, Any]] = Field(default_factory=list, description="a reviewer's edits applied to this "
                                        "script (edits.py), in order: the op and what it did")

    @model_validator(mode="after")
    def _unique_ids(self) -> FoleyScript:
        ids = [e.id for e in self.events]
        if len(ids) != len(set(ids)):
            raise ValueError(f"event ids must be unique, got {ids}")
        return self


class EventClues(_Model):
    """Frame-level spatio-temporal clues of one event (paper §2): X = {(d_t, θ_t)} and activation c_t."""

    event_id: str
    fps: float = Field(gt=0)
    t_s: list[float]
    depth_m: list[float]
    azimuth_deg: list[float]
    activation: list[int]
    source: Literal["track", "script", "scene"] = "track"
    #: per frame, degrees above the horizon (the box centre's height on screen through the field of view);
    #: None where the clues have no vertical position (script cues, beds): 0 then.
    elevation_deg: list[float] | None = None

    @model_validator(mode="after")
    def _aligned(self) -> EventClues:
        n = len(self.t_s)
        if self.elevation_deg is not None and len(self.elevation_deg) != n:
            raise ValueError("elevation_deg must have one value per frame")
        if not (len(self.depth_m) == len(self.azimuth_deg) == len(self.activation) == n) or n == 0:
            raise ValueError("clue sequences must be non-empty and of equal length")
        if any(d <= 0 for d in self.depth_m):
            raise ValueError("depth_m must be > 0")
        if any(a not in (0, 1) for a in self.activation):
            raise ValueError("activation must be 0 or 1 per frame")
        return self


class CluesFile(_Model):
    events: list[EventClues]
    shots: list[Shot] = Field(default_factory=list)


class StemInfo(_Model):
    event_id: str
    path: str
    sample_rate: int
    channels: int
    duration_s: float
    peak_dbfs: float
    integrated_lufs: float | None


class MixOperation(_Model):
    """One processing step the planner asks an expert to run on a stem, with its reason."""

    expert: str
    params: dict[str, Any] = Field(default_factory=dict)
    reason: str = ""


class StemFeatures(_Model):
    """Diagnosis features f = [f_sem, f_spec, f_rev, f_loud] of one stem (paper §4)."""

    event_id: str
    label: str
    layer: Layer
    integrated_lufs: float | None
    peak_dbfs: float
    crest_db: float
    band_energy_db: list[float]
    masked_by_db: float = Field(default=0.0, description="dB the other stems exceed it where it sounds (ERB bands)")
    masked_by_bg_db: float = Field(default=0.0, description="the same, counting background stems only")
    masked_bands_hz: list[float] = Field(default_factory=list, description="ERB bands where the beds bury it most")
    rt60_s: float | None = Field(default=None, description="decay (T20×3) of its loudest isolated hit")
    drr_db: float | None = Field(default=None, description="blind direct-to-reverberant ratio around its hits")
    short_term_max_lufs: float | None = Field(default=None, description="loudest 3 s window (EBU Tech 3341)")
    short_term_lufs: list[float] = Field(default_factory=list, description="short-term loudness every second")
    loudness_range_lu: float | None = Field(default=None, description="EBU Tech 3342 LRA")


class MixPlan(_Model):
    """mix_plan.json: what the mixing team measured (analysis), decided (plan, with reasons) and verified."""

    target_lufs: float
    true_peak_dbtp: float = -2.0
    features: list[StemFeatures]
    plan: dict[str, list[MixOperation]]
    analysis: dict[str, Any] = Field(default_factory=dict, description="band centres, targets, the layer balance")
    space: dict[str, Any] = Field(default_factory=dict, description="the scene's shared acoustic space")
    experts: list[dict[str, Any]] = Field(default_factory=list, description="capabilities offered to the planner")
    verification: dict[str, Any] = Field(default_factory=dict)


class PlanProposal(_Model):
    """The Mixing Planner's answer: Π = {(stem, O)} with parameters and a reason per operation (paper §4)."""

    plan: dict[str, list[MixOperation]] = Field(description="stem id -> its operations, each one expert at most once")


class ExpertRefinement(_Model):
    """A mixing expert's refined parameters for the stems it was given."""

    params: dict[str, dict[str, Any]] = Field(description="stem id -> final parameters of this expert's operation")
    note: str = ""


class RunInfo(_Model):
    versions: dict[str, str]
    backends: dict[str, str]
    seed: int
    video: VideoInfo
    timings_s: dict[str, float] = Field(default_factory=dict)
    warnings: list[str] = Field(default_factory=list)
    outputs: dict[str, str] = Field(default_factory=dict)
    tokens: dict[str, int] = Field(default_factory=dict, description="LLM tokens used, input/output")
    cost_usd: float | None = Field(default=None, description="LLM cost from the price table; None if a model's price is unknown")
    llm_usage: dict[str, dict[str, Any]] = Field(default_factory=dict, description="per LLM backend: calls, tokens, cost")
    hfov_deg: float | None = Field(default=None, description="the camera's horizontal field of view (--hfov) the clues used")
    endpoints: dict[str, dict[str, Any]] = Field(default_factory=dict, description="per agent role: backend, base URL "
                                                 "(no credentials), where it came from, key variable, timeout, temperature")
    error: str | None = Field(default=None, description="a failed run's error (its run.json in OUT.failed/)")
    failed_stage: str | None = Field(default=None, description="the pipeline stage that failed")
    failed_node: str | None = Field(default=None, description="the innermost traced call that failed")
    key: dict[str, str] = Field(default_factory=dict, description="input_hash (clip and screenplay bytes) and "
                                "settings_hash (runkey.py): `foley batch` skips a job whose run.json has its key")
    edits: dict[str, Any] = Field(default_factory=dict, description="a run made by `foley run --edits`: the source "
                                  "run, the ops applied, the stems rendered again (with why) and those reused")
    files: list[str] = Field(default_factory=list, description="every file the run published, relative to its folder: "
                             "all that `--force` may replace")


class SceneEntity(_Model):
    """Something the FilmScribe sees doing something, tied to the visual evidence (a track) when there is one."""

    name: str
    action: str = Field(description="what it does, e.g. 'walks', 'bounces', 'drives past'")
    start_s: float = Field(ge=0)
    end_s: float = Field(ge=0)
    track_id: int | None = None
    screen_side: Literal["left", "centre", "right", "moves", "off"] = "centre"
    surface: str | None = Field(default=None, description="material it touches, e.g. concrete, wood, gravel")
    material: str | None = Field(default=None, description="what it is made of, e.g. metal, glass, rubber")
    action_times_s: list[float] = Field(default_factory=list, description="when its actions make sound (footfalls, bounces)")


class SceneScript(_Model):
    """FilmScribe's structured scene script T (paper §1): what is on screen, when, and the space."""

    summary: str
    scene: SceneContext
    entities: list[SceneEntity] = Field(default_factory=list)


class ScribeFeedback(_Model):
    """The FilmScribe validator's verdict on T against the visual evidence."""

    valid: bool
    issues: list[str] = Field(default_factory=list)
    missing_track_ids: list[int] = Field(default_factory=list)


# --- Tree-of-Thought decomposition (paper §1) ----------------------------------------------------------------

Principle = Literal["visual_alignment", "narrative_separation", "emotional_modulation"]


class EventChanges(_Model):
    """Fields of an event to change; unset fields stay as they are."""

    label: str | None = None
    description: str | None = None
    layer: Layer | None = None
    start_s: float | None = Field(default=None, ge=0)
    end_s: float | None = Field(default=None, ge=0)
    onsets_s: list[float] | None = None
    source_track: int | None = None
    untie: bool = Field(default=False, description="set true to detach the event from its track (off-screen)")
    intensity: float | None = Field(default=None, ge=0.0, le=1.0)
    azimuth_deg: float | None = None
    depth_m: float | None = Field(default=None, gt=0)
    params: dict[str, Any] | None = None


class ScriptEdit(_Model):
    """One edit of a layered script: add an event, remove one, or change some of its fields."""

    op: Literal["add", "remove", "update"]
    event_id: str
    event: SoundEvent | None = Field(default=None, description="the new event, for op=add")
    changes: EventChanges | None = Field(default=None, description="what to change, for op=update")


class ScriptCandidate(_Model):
    """A child node of the Tree-of-Thought: the parent script plus a few edits made for one Foley principle."""

    principle: Principle
    rationale: str
    edits: list[ScriptEdit] = Field(min_length=1)


class ScriptCandidates(_Model):
    candidates: list[ScriptCandidate]


class ScriptJudgement(_Model):
    """An LLM judge's opinion of a layered script, each score in [0, 1]."""

    align: float = Field(ge=0.0, le=1.0, description="sounds match what is visible, when it happens")
    layer: float = Field(ge=0.0, le=1.0, description="clear foreground over a supporting bed, not too dense")
    emotion: float = Field(ge=0.0, le=1.0, description="levels and beds fit the scene's mood")
    rationale: str = ""


class TotScores(_Model):
    align: float
    layer: float
    emotion: float
    total: float
    computed: dict[str, float] = Field(default_factory=dict, description="s_align, s_layer, s_emotion from facts")
    judge: ScriptJudgement | None = None
    facts: dict[str, float] = Field(default_factory=dict, description="the measurements the scores come from")


class TotNode(_Model):
    id: str
    parent: str | None
    depth: int = Field(ge=0)
    script: FoleyScript | None = Field(default=None, description="None for the root, the inputs (V, F)")
    scores: TotScores | None = None
    status: Literal["root", "kept", "pruned", "winner", "frontier"] = "frontier"
    expansion: dict[str, Any] = Field(default_factory=dict, description="operator, principle, rationale, edits, backend")
    flags: list[str] = Field(default_factory=list, description="measured facts its script contradicts (agents/grounding.py)")


class TotTree(_Model):
    """tot_tree.json: every node the search made, why it was kept or pruned, and the winner."""

    params: dict[str, Any]
    winner: str
    stop_reason: str
    nodes: list[TotNode]
    edges: list[tuple[str, str]]
