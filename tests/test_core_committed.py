"""The committed (CC0 / public-domain) part of the core library: what a fresh clone plays offline.

Tests run with an empty user cache (conftest), so nothing fetched is present: every sound a test hears here ships.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from foleydesigner.eval.realism_judge import read_references
from foleydesigner.generation.base import GenerationRequest
from foleydesigner.generation.library import core
from foleydesigner.generation.registry import make_generator
from foleydesigner.schemas import SoundEvent
from tests.helpers import still_clues

SR = 48_000
ROOT = Path(__file__).resolve().parents[1]


def _committed() -> list[core.Entry]:
    return [e for e in core.manifest() if e.source == "committed"]


def test_committed_files_are_cc0_or_public_domain_readable_and_lean() -> None:
    judge_packages = {r.package for r in read_references()}
    total = 0
    for e in _committed():
        path = core.data_dir() / e.file
        assert e.licence in ("CC0-1.0", "public-domain"), e.file
        assert e.package not in judge_packages, e.file  # the judge never scores a copy of what ships
        info = sf.info(str(path))
        assert info.duration > 0.05 and info.channels in (1, 2) and info.samplerate <= 48_000, e.file
        total += path.stat().st_size
    assert total <= 30 * 2**20
    files = {e.file for e in _committed()}
    on_disk = {f"library/{p.name}" for p in (core.data_dir() / "library").iterdir() if p.suffix != ".md"}
    listed = (core.data_dir() / "library" / "LICENSES.md").read_text()
    assert on_disk <= files | {f"library/{p.name}" for p in (core.data_dir() / "library").glob("*FDDEMO*")}
    assert all(Path(f).name in listed for f in files)  # every shipped take is credited next to the audio


def test_committed_classes_cover_more_than_the_demo_set() -> None:
    by_cls: dict[str, set[str]] = {}
    for e in _committed():
        by_cls.setdefault(e.cls, set()).add(e.file)
    for cls, n in {"wind": 1, "impact_metal": 4, "impact_glass": 2, "coins": 2, "explosion": 5,
                   "impact_wood": 4, "door_open": 2, "door_close": 2, "whoosh": 1}.items():
        assert len(by_cls.get(cls, ())) >= n, cls


def test_linked_names_keep_the_suffix_of_the_file_that_plays(core_cache: Path) -> None:
    root = core.linked_root()
    for e in _committed():
        assert Path(e.key).suffix == Path(e.file).suffix
        link = root / e.key
        assert link.is_file()
        assert sf.info(str(link)).frames > 0


def test_offline_wind_is_a_committed_recording_bed(core_cache: Path) -> None:
    gen = make_generator("hybrid")
    ev = SoundEvent(id="wind", label="wind", description="", layer="bg", start_s=0.0, end_s=3.0)
    got = gen.generate(GenerationRequest(event=ev, clues=still_clues("wind", 76, source="scene"), duration_s=3.0))
    lib = got.info["library"]
    assert lib["source"] == "core" and lib["mode"] == "bed"
    assert {c["package"] for c in lib["choices"]} == {"trigger-rally-data"}
    assert all(c["licence"] == "CC0-1.0" for c in lib["choices"])
    x = got.full().mean(axis=0)
    frames = x[: 3 * SR].reshape(-1, SR // 10)  # sound all the way through: no digital silence
    assert float(np.min(np.sqrt(np.mean(frames ** 2, axis=1)))) > 1e-4


def test_a_bed_longer_than_a_short_take_is_synthesised_not_looped(core_cache: Path) -> None:
    """The committed wind take lasts 3.5 s: looped under 12 s its gusts would come back every 3.5 s, so the bed is
    synthesised (hybrid.MIN_LOOP_S), and says so."""
    gen = make_generator("hybrid")
    ev = SoundEvent(id="wind", label="wind", description="", layer="bg", start_s=0.0, end_s=12.0)
    got = gen.generate(GenerationRequest(event=ev, clues=still_clues("wind", 301, source="scene"), duration_s=12.0))
    assert got.info["library"]["source"] == "procedural" and got.info["library"]["model"] == "wind"
    x = got.full().mean(axis=0)
    assert float(np.sqrt(np.mean(x[: 12 * SR] ** 2))) > 1e-4


def test_offline_metal_hits_play_committed_takes_on_their_onsets(core_cache: Path) -> None:
    gen = make_generator("hybrid")
    onsets = [0.5, 1.3, 2.1]
    ev = SoundEvent(id="clang", label="impact_metal", description="", layer="fg", start_s=0.4, end_s=3.0,
                    onsets_s=onsets)
    got = gen.generate(GenerationRequest(event=ev, clues=still_clues("clang"), duration_s=4.0))
    lib = got.info["library"]
    assert lib["source"] == "core"
    assert {c["package"] for c in lib["choices"]} == {"openclonk-data"}
    assert [c["at_s"] for c in lib["choices"]] == onsets
    x = np.abs(got.full().mean(axis=0))
    for o in onsets:  # each hit's attack within 10 ms of its onset (a real take's contact rises over a few ms)
        k = int(o * SR)
        seg = x[k - int(0.05 * SR): k + int(0.05 * SR)]
        assert abs(int(np.argmax(seg > 0.3 * seg.max())) - int(0.05 * SR)) < int(0.010 * SR)


def test_mfcc_benchmark_leaves_shipped_files_out_of_its_references() -> None:
    spec = importlib.util.spec_from_file_location("realism_mfcc", ROOT / "benchmarks" / "realism_mfcc.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    rows = [r.split("\t") for r in (ROOT / "benchmarks" / "realism_sources.tsv").read_text().splitlines()
            if r and not r.startswith("#")]
    kept = mod.references(rows)
    shipped = {(e.package, e.path) for e in _committed()}
    assert not any((r[0], r[1]) in shipped for r in kept)
    # the restaurant walla ships (committed) and is listed there: it is the one kind of row that goes
    walla = ("supertuxkart-data", "/usr/share/games/supertuxkart/data/sfx/lenautile_restaurant.ogg")
    assert walla in {(r[0], r[1]) for r in rows} and walla not in {(r[0], r[1]) for r in kept}
    assert len(rows) - len(kept) == sum((r[0], r[1]) in shipped for r in rows) > 0


@pytest.mark.parametrize(("label", "packages"), [
    ("impact_glass", {"openclonk-data"}),
    ("coins", {"gcompris-qt-data"}),
    ("door_open", {"gcompris-qt-data", "minetest-data"}),
    ("explosion", {"endless-sky-data", "supertuxkart-data", "minetest-data"}),
])
def test_offline_newly_committed_classes_play_recordings(core_cache: Path, label: str, packages: set[str]) -> None:
    gen = make_generator("hybrid")
    ev = SoundEvent(id="e", label=label, description="", layer="fg", start_s=0.2, end_s=3.5, onsets_s=[0.5, 2.0])
    got = gen.generate(GenerationRequest(event=ev, clues=still_clues("e"), duration_s=4.0))
    lib = got.info["library"]
    assert lib["source"] == "core"
    assert {c["package"] for c in lib["choices"]} <= packages
    assert all(c["licence"] in ("CC0-1.0", "public-domain") for c in lib["choices"])
    # audible, not silence: a take keeps its level under its file's loudest hit (a last clink of a handful of
    # coins is quieter than the first), so a round-robin pick may be a quiet one
    assert float(np.max(np.abs(got.full()))) > 0.01
