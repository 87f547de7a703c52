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


class SceneContext(_Model):
    """The space the scene happens in; the reverb expert builds one shared acoustic space from it."""

    description: str = ""
    location: Literal["indoor", "outdoor", "unknown"] = "unknown"
    room_size: Literal["small", "medium", "large", "open"] = "medium"
    time_of_day: Literal["day", "night", "dawn", "dusk", "unknown"] = "unknown"
    mood: str = "neutral"
    surfaces: list[str] = Field(default_factory=list)


class Track(_Model):
    """One on-screen object followed through the clip. Boxes are (x, y, w, h) in pixels of the source frame."""

    id: int = Field(ge=0)
    label: str = "object"
    motion: Literal["walking", "moving", "bouncing", "static"] = "moving"
    frames: list[int]
    t_s: list[float]
    boxes: list[tuple[float, float, float, float]]
    onsets_s: list[float] = Field(default_factory=list)
    frame_width: int = Field(gt=0)
    frame_height: int = Field(gt=0)

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

    @model_validator(mode="after")
    def _aligned(self) -> EventClues:
        n = len(self.t_s)
        if not (len(self.depth_m) == len(self.azimuth_deg) == len(self.activation) == n) or n == 0:
            raise ValueError("clue sequences must be non-empty and of equal length")
        if any(d <= 0 for d in self.depth_m):
            raise ValueError("depth_m must be > 0")
        if any(a not in (0, 1) for a in self.activation):
            raise ValueError("activation must be 0 or 1 per frame")
        return self


class CluesFile(_Model):
    events: list[EventClues]


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
    rt60_s: float | None = None


class MixPlan(_Model):
    target_lufs: float
    features: list[StemFeatures]
    plan: dict[str, list[MixOperation]]
    verification: dict[str, Any] = Field(default_factory=dict)


class RunInfo(_Model):
    versions: dict[str, str]
    backends: dict[str, str]
    seed: int
    video: VideoInfo
    timings_s: dict[str, float] = Field(default_factory=dict)
    warnings: list[str] = Field(default_factory=list)
    outputs: dict[str, str] = Field(default_factory=dict)
    tokens: dict[str, int] = Field(default_factory=dict, description="LLM tokens used, input/output")


class SceneEntity(_Model):
    """Something the FilmScribe sees doing something, tied to the visual evidence (a track) when there is one."""

    name: str
    action: str = Field(description="what it does, e.g. 'walks', 'bounces', 'drives past'")
    start_s: float = Field(ge=0)
    end_s: float = Field(ge=0)
    track_id: int | None = None
    screen_side: Literal["left", "centre", "right", "moves", "off"] = "centre"
    surface: str | None = Field(default=None, description="material it touches, e.g. concrete, wood, gravel")


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
