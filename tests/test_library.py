"""The `library` generator: UCS names, BWF descriptions, the SQLite index, search, hits cut at onsets, beds."""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from foleydesigner.errors import BackendError, InputError
from foleydesigner.eval.activity import detect_onsets
from foleydesigner.generation.base import GenerationRequest
from foleydesigner.generation.library.analysis import bext_description
from foleydesigner.generation.library.index import SoundLibrary
from foleydesigner.generation.library.ucs import parse_ucs
from foleydesigner.generation.registry import make_generator
from foleydesigner.schemas import EventClues, SoundEvent

SR = 44_100
DOOR_HITS = (0.2, 1.0, 1.9)
STEP_HITS = (0.1, 0.6, 1.1, 1.6, 2.1)


def _hits(times: tuple[float, ...], dur: float, f0: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 1e-4, int(dur * SR)).astype(np.float32)  # a recording's noise floor
    for k, t in enumerate(times):
        n = int(0.3 * SR)
        tt = np.arange(n) / SR
        hit = (np.sin(2 * np.pi * f0 * (1 + 0.05 * k) * tt) + 0.5 * rng.normal(0, 1, n)) * np.exp(-tt / 0.05)
        i = int(t * SR)
        x[i:i + n] += (0.8 * hit[: x.size - i]).astype(np.float32)
    return x


def _with_bext(path: Path, description: str) -> None:
    """Insert a BWF bext chunk (EBU Tech 3285: Description is its first 256 bytes) after the fmt chunk."""
    raw = path.read_bytes()
    body = description.encode("ascii").ljust(256, b"\0") + b"\0" * 346  # the rest of a version-0 bext
    chunk = b"bext" + struct.pack("<I", len(body)) + body
    data = raw[12:]
    out = raw[:12] + data[:8 + struct.unpack("<I", data[4:8])[0]] + chunk + data[8 + struct.unpack("<I", data[4:8])[0]:]
    path.write_bytes(out[:4] + struct.pack("<I", len(out) - 8) + out[8:])


@pytest.fixture()
def library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    root = tmp_path / "sfx"
    (root / "doors").mkdir(parents=True)
    sf.write(root / "doors" / "DOORWood_Door Slam Heavy_FDT_TestLib.wav", _hits(DOOR_HITS, 2.6, 180, 0), SR)
    sf.write(root / "FEETWood_Footsteps Walk_FDT_TestLib.flac", _hits(STEP_HITS, 2.6, 300, 1), SR)
    rng = np.random.default_rng(2)
    sf.write(root / "AMBRoom_Room Tone Quiet_FDT_TestLib.ogg", (0.05 * rng.normal(0, 1, (5 * SR, 2))).astype(np.float32), SR)
    plain = root / "take_07.wav"
    sf.write(plain, _hits((0.1,), 0.8, 900, 3), SR)
    _with_bext(plain, "Glass bottle clink on table")
    return root


def _clues(event_id: str, az: float = 0.0, source: str = "track", n: int = 100, fps: float = 25.0) -> EventClues:
    return EventClues(event_id=event_id, fps=fps, t_s=[i / fps for i in range(n)], depth_m=[3.0] * n,
                      azimuth_deg=[az] * n, activation=[1] * n, source=source)  # type: ignore[arg-type]


def test_ucs_names_parse() -> None:
    name = parse_ucs("DOORWood-Barn_Door Creak Slow_JD_MyLib")
    assert name is not None
    assert (name.category, name.subcategory, name.user_category) == ("DOORS", "WOOD", "barn")
    assert (name.fx_name, name.creator_id, name.source_id) == ("door creak slow", "JD", "MyLib")
    other = parse_ucs("ZAPPElec_LaserZap_X_Y")  # not in our CatID table, but shaped like one
    assert other is not None and (other.category, other.subcategory, other.fx_name) == ("ZAPP", "ELEC", "laser zap")
    assert parse_ucs("fs_rock1") is None and parse_ucs("door") is None


def test_index_measures_onsets_kinds_and_rebuilds_incrementally(library: Path) -> None:
    lib = SoundLibrary(library)
    assert lib.stats["added"] == 4
    rec = {r.path: r for r in lib.recordings}
    door = rec["doors/DOORWood_Door Slam Heavy_FDT_TestLib.wav"]
    assert door.kind == "oneshot" and door.category == "DOORS"
    assert np.allclose(door.onsets_s, DOOR_HITS, atol=0.006)
    assert np.allclose(rec["FEETWood_Footsteps Walk_FDT_TestLib.flac"].onsets_s, STEP_HITS, atol=0.006)
    assert rec["AMBRoom_Room Tone Quiet_FDT_TestLib.ogg"].kind == "texture"
    assert rec["AMBRoom_Room Tone Quiet_FDT_TestLib.ogg"].channels == 2
    assert "clink" in rec["take_07.wav"].text  # from its bext description
    assert bext_description(library / "take_07.wav") == "Glass bottle clink on table"

    again = SoundLibrary(library)
    assert again.stats["unchanged"] == 4 and again.stats["added"] == again.stats["updated"] == 0
    os.utime(library / "take_07.wav", (1, 1))
    (library / "FEETWood_Footsteps Walk_FDT_TestLib.flac").unlink()
    third = SoundLibrary(library)
    assert (third.stats["updated"], third.stats["removed"], third.stats["unchanged"]) == (1, 1, 2)
    assert not any(p.name.endswith(".sqlite") for p in library.rglob("*"))  # the user's folder is not written


def test_search_ranks_by_names_and_descriptions(library: Path) -> None:
    lib = SoundLibrary(library)
    assert lib.search("door slams")[0].recording.path.endswith("DOORWood_Door Slam Heavy_FDT_TestLib.wav")
    assert lib.search("bottle clink")[0].recording.path == "take_07.wav"
    assert [m.recording.kind for m in lib.search("room tone", kind="texture")] == ["texture"]
    assert lib.search("helicopter") == []


def test_hits_are_cut_at_onsets_round_robin_and_placed(library: Path) -> None:
    gen = make_generator("library", library=str(library))
    onsets = [0.5, 0.9, 1.3, 1.7, 2.1, 2.5, 2.9, 3.3]
    ev = SoundEvent(id="steps", label="footsteps", description="a man walks", layer="fg", start_s=0.5, end_s=3.5,
                    onsets_s=onsets)
    result = gen.generate(GenerationRequest(event=ev, clues=_clues("steps", az=25.0), duration_s=4.0))
    audio = result.full()
    found = detect_onsets(audio, 48_000)
    assert len(found) == len(onsets) and np.max(np.abs(found - np.asarray(onsets))) <= 0.04  # ±1 frame at 25 fps
    choices = result.info["library"]["choices"]
    takes = [(c["file"], c["offset_s"]) for c in choices]
    assert len(choices) == len(onsets) and all(a != b for a, b in zip(takes, takes[1:], strict=False))
    assert len(set(takes)) == len(STEP_HITS)  # every take of the file is used before one repeats
    assert all(abs(c["pitch_cents"]) <= 60 and abs(c["gain_db"]) <= 2.5 for c in choices)
    assert {c["file"] for c in choices} == {"FEETWood_Footsteps Walk_FDT_TestLib.flac"}
    left, right = (float(np.sqrt(np.mean(ch ** 2))) for ch in audio)
    assert 20 * np.log10(right / left) > 3.0  # placed right of centre by the renderer


def test_bed_loops_a_short_texture_without_gaps(library: Path) -> None:
    gen = make_generator("library", library=str(library))
    ev = SoundEvent(id="tone", label="room tone", description="", layer="bg", start_s=0.0, end_s=12.0)
    result = gen.generate(GenerationRequest(event=ev, clues=_clues("tone", source="scene", n=300), duration_s=12.0))
    assert result.info["library"]["mode"] == "bed" and not result.info["spatialised"]
    mono = result.full().mean(axis=0)
    sec = np.sqrt(np.mean(mono[: 12 * 48_000].reshape(12, -1) ** 2, axis=1))
    inner = 20 * np.log10(sec[1:-1])  # the 1 s fades aside, the level holds across the loop's joins
    assert inner.max() - inner.min() < 2.0
    assert abs(inner.mean() - (-20.0 - 30.0 * (1 - ev.intensity))) < 1.5


def test_unmatched_event_falls_back_to_procedural_with_a_warning(library: Path) -> None:
    gen = make_generator("library", library=str(library))
    ev = SoundEvent(id="bark", label="dog_bark", description="a dog barks", layer="fg", start_s=1.0, end_s=1.5,
                    onsets_s=[1.0])
    result = gen.generate(GenerationRequest(event=ev, clues=_clues("bark"), duration_s=3.0))
    assert result.info["library"]["fallback"] == "procedural" and result.info["sound_class"] == "dog_bark"
    assert "dog_bark" in result.info["warnings"][0]
    assert float(np.max(np.abs(result.audio))) > 0.01


def test_bad_library_fails_clearly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(BackendError, match="--library DIR"):
        make_generator("library")
    with pytest.raises(InputError, match="no such folder"):
        make_generator("library", library=str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(BackendError, match="no readable"):
        make_generator("library", library=str(tmp_path / "empty"))


def test_cli_index_and_search(library: Path) -> None:
    from typer.testing import CliRunner

    from foleydesigner.cli import app

    runner = CliRunner()
    out = runner.invoke(app, ["library", "index", str(library)])
    assert out.exit_code == 0 and "4 recordings (3 one-shots, 1 textures)" in out.output
    out = runner.invoke(app, ["library", "search", "door creak", "--library", str(library), "--json"])
    assert out.exit_code == 0
    hits = json.loads(out.stdout)
    assert hits[0]["file"].endswith("DOORWood_Door Slam Heavy_FDT_TestLib.wav") and hits[0]["cat_id"] == "DOORWood"
    assert runner.invoke(app, ["library", "index", str(library / "nope")]).exit_code == 2


def test_script_json_keeps_each_choice() -> None:
    from foleydesigner.stages import _with_choices

    script = {"scene": {}, "duration_s": 4.0, "events": [
        {"id": "a", "label": "door_slam", "layer": "fg", "start_s": 1.0, "end_s": 1.5, "params": {"x": 1}},
        {"id": "b", "label": "wind", "layer": "bg", "start_s": 0.0, "end_s": 4.0}]}
    chosen = {"choices": [{"file": "DOORWood_Slam.wav", "offset_s": 0.2, "score": 3.1}]}
    stems = [{"event_id": "a", "generator_info": {"library": chosen}}, {"event_id": "b", "generator_info": {}}]
    out = _with_choices(script, stems)
    assert out.events[0].params == {"x": 1, "library": chosen} and out.events[1].params == {}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("frames", [0, 48])  # an empty file and a 1 ms one
def test_a_too_short_recording_falls_back_to_procedural(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         frames: int) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    root = tmp_path / "sfx"
    root.mkdir()
    sf.write(root / "DOORWood_Door Slam Heavy_FDT_TestLib.wav", np.full((frames, 1), 0.5, np.float32), SR)
    gen = make_generator("library", library=str(root))
    ev = SoundEvent(id="slam", label="door_slam", description="a door slams", layer="fg", start_s=1.0, end_s=1.5,
                    onsets_s=[1.0, 2.0])
    result = gen.generate(GenerationRequest(event=ev, clues=_clues("slam"), duration_s=3.0))
    assert result.info["library"]["fallback"] == "procedural"
    assert "door_slam" in result.info["warnings"][0]
    assert float(np.max(np.abs(result.audio))) > 0.01  # the procedural slam, not silence


def test_an_onset_inside_a_ringing_sound_is_that_sound_not_a_new_take(tmp_path: Path) -> None:
    from foleydesigner.generation.library.backend import _new_hits

    sr = 16_000
    rng = np.random.default_rng(3)
    t = np.arange(int(3.0 * sr)) / sr
    x = np.zeros_like(t)
    blast = (t < 1.6) * np.exp(-t / 0.5) * rng.normal(size=t.size)  # a 1.6 s blast
    x += blast
    x[int(0.5 * sr): int(0.52 * sr)] += 0.8 * rng.normal(size=int(0.02 * sr))  # debris while it still roars
    x[int(2.0 * sr): int(2.3 * sr)] += np.exp(-np.arange(int(0.3 * sr)) / sr / 0.05) * rng.normal(size=int(0.3 * sr))
    x[int(2.8 * sr): int(2.85 * sr)] += 0.003 * rng.normal(size=int(0.05 * sr))  # a crumble 50 dB down
    path = tmp_path / "blast.wav"
    sf.write(path, (0.5 * x / np.abs(x).max()).astype(np.float32), sr)
    # the debris onset is the blast going on; the second hit, after the blast has died away, is a take of its own;
    # a whisper 50 dB under the file's loudest is no hit
    assert _new_hits(str(path), (0.0, 0.5, 2.0, 2.8)) == [0.0, 2.0]
    assert _new_hits(str(path), (0.0,)) == [0.0]
