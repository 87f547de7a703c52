"""Review before rendering: a person reads the Foley script and accepts or edits it before any stem is made.

The pipeline node `review_script` pauses the graph with LangGraph's `interrupt()` when the run asks for review
(`foley run --review`, or `review: true` in a Studio run's context). The pause carries the script, the file it was
written to, and what an edit is checked against (the clip's length, the track ids). The run resumes with
`Command(resume=ANSWER)`: "accept" or true keeps the script (LangGraph reads resume=None as no answer); a
FoleyScript as JSON (or {"script": ...}, or just {"events": [...]}: the scene is kept) replaces it. An edit is checked like an LLM's answer: every problem is one line; in Studio the node pauses again
with the errors, the CLI stops with them (exit 2) before anything is rendered.

Without review the node still holds the script to the facts (agents/enforce.py): a script edited in Studio's state
editor is grounded like the model's, so an unknown class is mapped or dropped, never a generation crash.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from foleydesigner.agents.enforce import enforce_state, nearest_class, not_finite, playable_params
from foleydesigner.lexicon import BY_NAME
from foleydesigner.schemas import FoleyScript
from foleydesigner.tools.export import atomic_write_json

ACCEPT = ("", "accept", "a", "yes", "y", "ok")
REVIEW_FILE = "script.json"  # in the run's folder: the script the run stops on is the one a person edits


def _where(loc: tuple[Any, ...], data: dict[str, Any]) -> str:
    if len(loc) >= 2 and loc[0] in ("events", "candidates") and isinstance(loc[1], int):
        items = data.get(loc[0]) or []
        ev = items[loc[1]] if loc[1] < len(items) and isinstance(items[loc[1]], dict) else {}
        name = ev.get("id") or f"{loc[0]}[{loc[1]}]"
        return f"event {name}" + (f" {'.'.join(str(x) for x in loc[2:])}" if loc[2:] else "")
    return ".".join(str(x) for x in loc) or "script"


def validate_edit(answer: Any, original: dict[str, Any], duration_s: float,
                  track_ids: set[int]) -> tuple[FoleyScript | None, list[str]]:
    """(the script to render, []) or (None, one line per problem). None/"accept"/True accepts `original`."""
    if answer is None or answer is True or (isinstance(answer, str) and answer.strip().lower() in ACCEPT):
        return FoleyScript.model_validate(original), []
    if isinstance(answer, str):
        try:
            answer = json.loads(answer)
        except json.JSONDecodeError as exc:
            return None, [f"the edited script is not JSON: {exc}"]
    if isinstance(answer, dict) and isinstance(answer.get("script"), dict):
        answer = answer["script"]
    if not isinstance(answer, dict):
        return None, ["the edited script must be a JSON object (a FoleyScript: scene, events)"]
    data = {**original, **answer, "duration_s": duration_s}  # the clip's length is measured, not edited
    try:
        script = FoleyScript.model_validate(data)
    except ValidationError as exc:
        return None, [f"{_where(tuple(e['loc']), data)}: {e['msg']}" for e in exc.errors()]
    errors, seen = [], set()
    for e in script.events:
        if e.id in seen:
            errors.append(f"event {e.id}: the id is used twice")
        seen.add(e.id)
        if e.label not in BY_NAME:
            near = nearest_class(e.label)
            errors.append(f"event {e.id}: '{e.label}' is not a sound class" + (f" (did you mean {near}?)" if near else
                                                                               " (foley sounds lists them)"))
        if e.start_s >= duration_s or e.end_s > duration_s + 1e-3:
            errors.append(f"event {e.id}: {e.start_s:g}-{e.end_s:g} s does not fit the {duration_s:.2f} s clip")
        if any(not e.start_s - 1e-3 <= o <= e.end_s + 1e-3 for o in e.onsets_s):
            errors.append(f"event {e.id}: onsets must lie within {e.start_s:g}-{e.end_s:g} s")
        if bad := not_finite(e):
            errors.append(f"event {e.id}: {', '.join(bad)} must be a finite number")
        elif e.label in BY_NAME and (fixed := playable_params(e)):
            errors.append(f"event {e.id}: params {', '.join(fixed[1])} cannot be played by {e.label} "
                          "(foley sounds --json lists its parameters)")
        if e.source_track is not None and e.source_track not in track_ids:
            errors.append(f"event {e.id}: source_track {e.source_track} is no track of this clip "
                          f"({', '.join(map(str, sorted(track_ids))) or 'none'})")
    return (None, errors) if errors else (script, [])


def review_payload(state: dict[str, Any], script: FoleyScript, path: str, errors: list[str]) -> dict[str, Any]:
    return {"script": script.model_dump(mode="json"), "path": path, "errors": errors,
            "duration_s": float(state["video"]["duration_s"]), "track_ids": sorted(t["id"] for t in state.get("tracks", [])),
            "how": "resume with 'accept' to keep it, or with the edited FoleyScript JSON"}


def review_script(state: dict[str, Any], runtime: Any) -> dict[str, Any]:
    """The pause before rendering (with review on), then the script held to the facts."""
    from langgraph.types import interrupt

    ctx = runtime.context
    script = FoleyScript.model_validate(state["script"])
    if not getattr(ctx, "review", False):
        out, warnings = enforce_state(state, script, ctx.min_confidence, node="review")
        return {"script": out.model_dump(), "warnings": warnings} if warnings else {}
    path = ctx.work_dir / REVIEW_FILE
    atomic_write_json(path, script)
    duration, tracks = float(state["video"]["duration_s"]), {int(t["id"]) for t in state.get("tracks", [])}
    errors: list[str] = []
    while True:  # Studio: a bad edit pauses again with its errors, the run never crashes on it
        answer = interrupt(review_payload(state, script, str(path), errors))
        edited, errors = validate_edit(answer, script.model_dump(mode="json"), duration, tracks)
        if edited is not None:
            break
    changed = edited.model_dump(mode="json") != script.model_dump(mode="json")
    with ctx.tracer.span("review", "agent", backend="person", inputs=len(script.events)) as rec:
        rec["decision"] = "edited" if changed else "accepted"
        rec["parsed"] = edited
    return {"script": edited.model_dump(),
            "warnings": [f"review: the script was edited ({len(edited.events)} events)"] if changed else []}
