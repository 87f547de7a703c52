"""Run context: the per-run settings every node reads (frozen; handed to nodes through LangGraph's runtime).

Every field is plain data, so LangGraph's dev server and Studio can show the context as a JSON Schema form and
build it from JSON: paths arrive as strings, and the tracer is built from a path (`trace`), never passed in.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any

from pydantic import WithJsonSchema

from foleydesigner.limits import MAX_EVENTS, MAX_SCREENPLAY_BYTES
from foleydesigner.llm import RetryPolicy
from foleydesigner.models import ROLES  # noqa: F401  (re-exported: the roles are context, defined below llm)
from foleydesigner.trace import Tracer
from foleydesigner.units import DEFAULT_HFOV_DEG

#: Integrated loudness targets (LUFS) of the delivered mixes: ATSC A/85 (US broadcast) and EBU R128 (Europe).
#: The true-peak ceiling stays -2 dBTP for both (A/85's; R128 allows -1, so -2 satisfies both).
LOUDNESS_PRESETS = {"atsc": -24.0, "ebu": -23.0}


#: Where runs without a work_dir write (a fresh foley-run-* folder each). Looked up once, at import: the context is
#: built inside the dev server's event loop, where finding the temp folder (a disk probe) would block it.
TEMP_ROOT = Path(tempfile.gettempdir())
#: The backoff as JSON: RetryPolicy's injectable `sleep` is for tests and has no JSON form.
_RETRY_SCHEMA = {"type": "object", "description": "backoff for transient provider errors",
                 "properties": {k: {"type": "number"} for k in ("max_retries", "base_s", "factor", "max_s")}}


@dataclass(frozen=True)
class RunContext:
    # Where this run writes its files (the CLI's staging folder, moved into --out at the end); a string is taken
    # as a path, and none (a run started from LangGraph Studio) gets a fresh folder under the system's temp dir.
    work_dir: Annotated[Path, WithJsonSchema({"type": "string", "description": "folder this run writes into; "
                                              "default: a new temp folder"})] = None  # type: ignore[assignment]
    # trace.jsonl: relative to work_dir or absolute; "" writes none (the tally of tokens is kept either way)
    trace: str = "trace.jsonl"
    trace_append: bool = False  # keep an existing trace's lines (`foley run --resume` reruns only unfinished nodes)
    llm: str = "heuristic"
    llm_roles: Mapping[str, str] = field(default_factory=dict)
    llm_base_url: str | None = None  # an OpenAI-compatible server: used by the roles whose provider speaks that API
    # Per role (llm.endpoint_for): base_url, source, api_key_env, timeout_s, temperature; plain values, JSON-able.
    llm_endpoints: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    llm_timeout_s: float = 120.0  # seconds per LLM request, for roles without their own timeout_s
    fallback: str | None = None
    vision: str = "opencv"
    vision_model_dir: str | None = None  # --vision transformers: folder with detector/ and depth/ subfolders
    generator: str = "hybrid"
    generator_options: Mapping[str, object] = field(default_factory=dict)
    seed: int = 0
    target_lufs: float = -24.0  # ATSC A/85; EBU R128 is -23
    true_peak_dbtp: float = -2.0
    hfov_deg: float = DEFAULT_HFOV_DEG
    max_scribe_iters: int = 3
    analysis_width: int = 384
    # Precision first: a spotted sound whose evidence scores below this is recorded in script.json's
    # candidates, not rendered (a missing sound costs little; an invented one ruins the mix). 0.55 is the best F1 of
    # benchmarks/real_spotting.py over 21 real clips (precision 0.96, recall 0.83; README).
    min_confidence: float = 0.55
    llm_vision: bool = False  # send keyframes to the scribe/validator even if the model is not known to see
    llm_retry: Annotated[RetryPolicy, WithJsonSchema(_RETRY_SCHEMA)] = field(default_factory=RetryPolicy)
    # Tree-of-Thought decomposition (paper §1): k candidates per node, top-b kept per level, stop above τ or at
    # max depth; Score = w1·s_align + w2·s_layer + w3·s_emotion.
    tot_k: int = 3
    tot_beam: int = 2
    tot_tau: float = 0.85
    tot_depth: int = 3
    tot_weights: tuple[float, float, float] = (0.5, 0.3, 0.2)
    keep_original_audio: bool = False
    stems: str = "full"  # "trimmed": each stem cut to where it sounds, its start in session.otio and a BWF bext chunk
    stem_format: str = "wav"  # or "flac" (lossless, about half the size; no bext chunk, the start is in session.otio)
    language: str = "und"  # ISO 639-2 code of the delivered audio tracks; `und` = undetermined
    # Mixing, upmix and delivery run in windows of this many seconds (tools/streams.py): memory stays bounded
    # whatever the clip's length; a clip shorter than one window is processed in one piece.
    window_s: float = 30.0
    # Limits (foleydesigner/limits.py): a longer screenplay or more events fail at once with one line.
    max_screenplay_bytes: int = MAX_SCREENPLAY_BYTES
    max_events: int = MAX_EVENTS
    # Delivered formats (delivery.FORMATS): stereo and 5.1 always; foa, 7.1.4 and binaural on request.
    deliver: tuple[str, ...] = ("stereo", "5.1")
    hrtf: str | None = None  # --hrtf FILE.sofa for the binaural format (else the system's KEMAR, else a model)
    # Pause after the Foley script is written (LangGraph interrupt) so a person accepts or edits it before any stem
    # is rendered: `foley run --review`, or true in a Studio run's context (agents/review.py).
    review: bool = False

    def __post_init__(self) -> None:
        """JSON in (LangGraph's server builds the context from a dict): strings become paths, lists tuples."""
        fix = object.__setattr__  # frozen: normalising the inputs is the constructor's job
        # no I/O here (see TEMP_ROOT): the folder is made by the first file written into it
        fix(self, "work_dir", Path(self.work_dir) if self.work_dir else TEMP_ROOT / f"foley-run-{uuid.uuid4().hex[:12]}")
        if isinstance(self.llm_retry, Mapping):
            fix(self, "llm_retry", RetryPolicy(**dict(self.llm_retry)))
        for name in ("tot_weights", "deliver"):
            if isinstance(getattr(self, name), list):
                fix(self, name, tuple(getattr(self, name)))

    @cached_property
    def tracer(self) -> Tracer:
        """The run's trace, opened (emptied unless trace_append) on first use and shared by every node of the run."""
        return Tracer(self.work_dir / self.trace if self.trace else None, append=self.trace_append)

    def as_json(self) -> dict[str, Any]:
        """The settings as JSON-able data (what a dev-server run would send as its context)."""
        out = asdict(self)
        out.update(work_dir=str(self.work_dir), llm_retry={k: v for k, v in out["llm_retry"].items() if k not in ("sleep", "clock")})
        return out

    def llm_for(self, role: str) -> str:
        """The backend string for an agent role: its override, else the run's --llm."""
        if role not in ROLES:
            raise ValueError(f"unknown agent role '{role}'; roles are {', '.join(ROLES)}")
        return self.llm_roles.get(role) or self.llm
