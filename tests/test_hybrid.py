"""The core library and the default `hybrid` generator: recordings where the core has the class, synthesis else."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from foleydesigner.errors import BackendError
from foleydesigner.generation.base import GenerationRequest
from foleydesigner.generation.library import core
from foleydesigner.generation.registry import make_generator
from foleydesigner.schemas import SceneContext, SoundEvent
from tests.helpers import still_clues

SR = 48_000


def _step(seed: int, f0: float) -> np.ndarray:
    """A 0.3 s thud: a decaying tone in noise, 10 ms of silence before its attack."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(0.3 * SR)) / SR
    x = (np.sin(2 * np.pi * f0 * t) + 0.3 * rng.normal(size=t.size)) * np.exp(-t / 0.04)
    return np.concatenate([np.zeros(480), 0.8 * x / np.abs(x).max()]).astype(np.float32)


def test_manifest_names_a_licence_and_source_for_every_file_and_commits_only_cc0() -> None:
    entries = core.manifest()
    assert len(entries) >= 60
    for e in entries:
        assert e.package and e.version and e.path.startswith("/") and e.licence and e.attribution
        if e.source == "committed":
            assert e.licence in ("CC0-1.0", "public-domain") and (core.data_dir() / e.file).is_file()
        else:
            assert e.source == "fetch" and e.package in core.pinned()
    surfaces = {e.surface for e in entries if e.cls == "footsteps"}
    assert {"concrete", "wood", "gravel", "grass", "snow"} <= surfaces
    for cls in ("door_open", "door_close", "impact_wood", "impact_metal", "water_stream", "footsteps"):
        assert sum(e.cls == cls for e in entries) >= 3, cls


def test_offline_a_class_only_fetched_is_synthesised_with_one_notice(core_cache: Path, caplog) -> None:
    with caplog.at_level(logging.WARNING):
        make_generator("hybrid")
        gen = make_generator("hybrid")
        steps = SoundEvent(id="steps", label="footsteps", description="", layer="fg", start_s=0.2, end_s=3.0,
                           onsets_s=[0.5, 1.0, 1.5])
        got = gen.generate(GenerationRequest(event=steps, clues=still_clues("steps"), duration_s=4.0))
    notices = [r for r in caplog.records if "foley library fetch" in r.getMessage()]
    assert len(notices) == 1  # one line, from the first generator of the process; never a failure
    waiting = sorted({e.package for e in core.manifest() if e.cls == "footsteps" and e.source == "fetch"})
    assert {"minetest-data", "ufoai-sound"} <= set(waiting)
    assert got.info["library"] == {"source": "procedural", "model": "footsteps", "not_fetched": waiting}
    assert float(np.max(np.abs(got.audio))) > 0.01


def test_a_committed_recording_plays_with_its_provenance(core_cache: Path) -> None:
    gen = make_generator("hybrid")
    walla = SoundEvent(id="walla", label="crowd_murmur", description="", layer="bg", start_s=0.0, end_s=4.0)
    got = gen.generate(GenerationRequest(event=walla, clues=still_clues("walla", source="scene"), duration_s=4.0))
    lib = got.info["library"]
    assert lib["source"] == "core" and lib["mode"] == "bed"
    (choice,) = lib["choices"]
    assert choice["package"] == "supertuxkart-data" and choice["licence"] == "CC0-1.0"
    rms = float(np.sqrt(np.mean(got.full()[:, SR:3 * SR] ** 2)))
    assert rms > 1e-3


def test_fetched_footsteps_play_the_scene_surface_one_take_per_onset(core_cache: Path) -> None:
    entries = [e for e in core.manifest() if e.cls == "footsteps"]
    for i, e in enumerate(entries):  # stand-ins at the fetched places: gravel low, everything else high
        path = core.fetched_path(e)
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, _step(i, 150.0 if e.surface == "gravel" else 2500.0), SR, format="OGG", subtype="VORBIS")
    gen = make_generator("hybrid")
    onsets = [0.5, 1.1, 1.7, 2.3]
    ev = SoundEvent(id="walk", label="footsteps", description="", layer="fg", start_s=0.4, end_s=3.0,
                    onsets_s=onsets)
    got = gen.generate(GenerationRequest(event=ev, clues=still_clues("walk"), duration_s=4.0,
                                         scene=SceneContext(surfaces=["gravel"])))
    lib = got.info["library"]
    assert lib["source"] == "core" and lib["surface"] == "gravel"
    assert all("gravel" in c["file"] and c["licence"] == "CC-BY-SA-3.0" for c in lib["choices"])
    assert len({c["package"] for c in lib["choices"]}) == 1  # one walker: one recording set, never two alternating
    # the core's takes are whole steps (heel and ball of the foot in one take): one take per step, no toe laid on
    assert [c["at_s"] for c in lib["choices"]] == onsets and not any(c.get("role") for c in lib["choices"])
    x = got.full().mean(axis=0)
    for o in onsets:  # the attack lands within a few ms of its onset
        k = int(o * SR)
        seg = np.abs(x[k - int(0.05 * SR): k + int(0.05 * SR)])
        assert abs(int(np.argmax(seg > 0.3 * seg.max())) - int(0.05 * SR)) < int(0.006 * SR)
    # between steps: room air, not digital silence
    gap = x[int(0.9 * SR): int(1.0 * SR)]
    assert 0 < float(np.sqrt(np.mean(gap ** 2)))


def test_steps_seen_at_10_fps_walk_on_a_steady_cadence_within_a_frame_of_the_picture() -> None:
    from foleydesigner.generation.library.hybrid import steady_gait

    # a demo walker's visual onsets: 0.1 s frames make a 1.5 Hz walk read 0.4 s, then 0.7 s (a limp, or a trot)
    seen = [0.0, 0.5, 1.3, 1.7, 2.4, 3.1, 4.0, 4.7, 5.5, 6.2, 6.8, 7.5, 8.0, 8.7, 9.4]
    got = steady_gait(seen, 0.1)
    cv = lambda t: float(np.std(np.diff(t)) / np.mean(np.diff(t)))  # noqa: E731
    assert cv(seen) > 0.15 and cv(got) < 0.08  # a walker's step time varies by a few per cent
    assert max(abs(a - b) for a, b in zip(got, seen, strict=True)) <= 0.1 + 1e-9  # never a frame off the picture
    assert all(b > a for a, b in zip(got, got[1:], strict=False))
    steady = [0.5, 1.1, 1.7, 2.3, 2.9]
    assert steady_gait(steady, 0.1) == steady  # a regular walk is left as it is
    speeding = list(np.cumsum([0.7, 0.68, 0.66, 0.64, 0.62, 0.6, 0.58, 0.56]).round(3))
    sped = np.diff(steady_gait(speeding, 0.1))
    assert sped[:3].mean() > sped[-3:].mean() + 0.03  # a walk that speeds up keeps doing so
    assert steady_gait([0.0, 0.7, 1.0], 0.1) == [0.0, 0.7, 1.0]  # too few steps to know a cadence


def test_a_floor_walks_on_one_recording_set_named_for_it_else_the_one_with_most_takes(core_cache: Path) -> None:
    import re

    entries = [e for e in core.manifest() if e.cls == "footsteps"]
    for i, e in enumerate(entries):
        path = core.fetched_path(e)
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, _step(i, 2500.0), SR, format="OGG", subtype="VORBIS")
    gen = make_generator("hybrid")

    def walk(surface: str) -> list[dict]:
        ev = SoundEvent(id="walk", label="footsteps", description="", layer="fg", start_s=0.0, end_s=8.0,
                        onsets_s=[0.5 + 0.5 * k for k in range(14)])
        return gen.generate(GenerationRequest(event=ev, clues=still_clues("walk", 226), duration_s=9.0,
                                              scene=SceneContext(surfaces=[surface]))).info["library"]["choices"]

    def name(path: str) -> str:
        return re.sub(r"[\d._-]+$", "", Path(path).stem)

    hard = [e for e in entries if e.surface == "concrete"]
    sets = {(e.package, name(e.path)) for e in hard}
    assert len(sets) >= 3  # the manifest offers several sets for a hard floor (ufoai stone and tile, minetest...)
    most = max(sum((e.package, name(e.path)) == s for e in hard) for s in sets)
    played = walk("concrete")
    assert len({(c["package"], name(c["path"])) for c in played}) == 1  # never two floors alternating
    assert sum((e.package, name(e.path)) == (played[0]["package"], name(played[0]["path"])) for e in hard) == most
    assert len({c["file"] for c in played}) >= 4  # round-robin over that set's takes
    grass = walk("grass")  # filed with grass are dirt takes too: the set named for the floor plays
    assert all("grass" in name(c["path"]).lower() for c in grass)


def test_a_dropped_ball_without_onsets_bounces_ever_shorter_and_softer(core_cache: Path) -> None:
    for i, e in enumerate(e for e in core.manifest() if e.cls == "ball_bounce"):
        path = core.fetched_path(e)
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, _step(i, 400.0), SR, format="OGG", subtype="VORBIS")
    ev = SoundEvent(id="ball", label="ball_bounce", description="", layer="fg", start_s=0.2, end_s=4.0,
                    params={"ball": "basketball", "motion": "drop", "height_m": 1.2})
    got = make_generator("hybrid").generate(GenerationRequest(event=ev, clues=still_clues("ball"), duration_s=4.0))
    at = [c["at_s"] for c in got.info["library"]["choices"]]
    assert len(at) >= 4 and at[0] == pytest.approx(0.2, abs=0.01)
    gaps = np.diff(at)
    assert np.all(np.diff(gaps) < 0)  # each flight shorter than the last
    assert gaps[0] == pytest.approx(2 * 0.76 * np.sqrt(2 * 9.81 * 1.2) / 9.81, rel=0.1)  # e·v0 up and down again
    x = np.abs(got.full()).max(axis=0)
    peaks = [float(x[int(t * SR): int(t * SR) + int(0.05 * SR)].max()) for t in at[:4]]
    # each bounce 20·log10(0.76) ≈ 2.4 dB softer than the last, under ±2.5 dB of take-to-take level variation
    assert 20 * np.log10(peaks[3] / peaks[0]) < -2.0 and 20 * np.log10(peaks[2] / peaks[0]) < 0.0


def test_a_listed_file_inside_a_zip_the_package_ships_is_read(tmp_path: Path) -> None:
    import zipfile

    pk3 = tmp_path / "usr/share/games/x/base/0snd.pk3"
    pk3.parent.mkdir(parents=True)
    with zipfile.ZipFile(pk3, "w") as z:
        z.writestr("sound/footsteps/stone1.ogg", b"OggS-stone")
    (tmp_path / "usr/share/games/x/plain.ogg").write_bytes(b"OggS-plain")
    assert core._member(tmp_path, "/usr/share/games/x/base/0snd.pk3!sound/footsteps/stone1.ogg") == b"OggS-stone"
    assert core._member(tmp_path, "/usr/share/games/x/plain.ogg") == b"OggS-plain"
    assert core._member(tmp_path, "/usr/share/games/x/base/0snd.pk3!sound/none.ogg") is None
    assert core._member(tmp_path, "/usr/share/games/x/none.pk3!a.ogg") is None


def test_a_listed_sample_of_an_openttd_catalogue_is_read(tmp_path: Path) -> None:
    import io
    import struct

    waves = []
    for f0 in (220.0, 440.0):
        buf = io.BytesIO()
        sf.write(buf, np.sin(2 * np.pi * f0 * np.arange(4800) / SR).astype(np.float32), SR, format="WAV")
        waves.append(buf.getvalue())
    names = [b"First sample\0", b"Second\0"]
    table = 8 * len(waves)
    body, offsets = b"", []
    for name, wav in zip(names, waves, strict=True):
        offsets.append((table + len(body), 1 + len(name) + len(wav)))
        body += bytes([len(name)]) + name + wav
    head = b"".join(struct.pack("<II", (off | 0x80000000) if i == 0 else off, size)
                    for i, (off, size) in enumerate(offsets))
    cat = tmp_path / "usr/share/games/openttd/sfx.cat"
    cat.parent.mkdir(parents=True)
    cat.write_bytes(head + body)
    got = core._member(tmp_path, "/usr/share/games/openttd/sfx.cat!01-second.wav")
    assert got == waves[1]
    x, sr = sf.read(io.BytesIO(got))
    assert sr == SR and np.argmax(np.abs(np.fft.rfft(x))) == pytest.approx(440.0 * x.size / SR, abs=1)
    assert core._member(tmp_path, "/usr/share/games/openttd/sfx.cat!02-none.wav") is None
    e = core.Entry("bell", "", "fetch", "01-second.wav", "pkg", "1", "/usr/share/games/openttd/sfx.cat!01-second.wav",
                   "CC0-1.0", "x")
    assert e.key == "bell/any/pkg__01-second.wav"  # linked under the sample's own name, which the index reads


def test_fetch_refuses_a_package_that_is_not_the_pinned_one(core_cache: Path, tmp_path: Path) -> None:
    debs = tmp_path / "debs"
    debs.mkdir()
    for pkg in core.pinned():
        (debs / f"{pkg}_0_all.deb").write_bytes(b"not the package")
    with pytest.raises(BackendError, match="sha256"):
        core.fetch(deb_dir=debs)
    assert core.missing_fetched()  # nothing half-written


def test_sounds_render_writes_every_class_the_way_run_does(core_cache: Path, tmp_path: Path) -> None:
    from foleydesigner.generation.examples import render_classes
    from foleydesigner.generation.procedural import CLASSES

    out = tmp_path / "render"
    paths = render_classes(out, classes=["crowd_murmur", "footsteps", "door_slam"])
    assert [p.name for p in paths] == ["crowd_murmur.wav", "footsteps.wav", "door_slam.wav"]
    for p in paths:
        x, sr = sf.read(p, always_2d=True)
        assert sr == SR and x.shape == (2 * SR, 2)
        hop = SR // 100
        db = 10 * np.log10(np.mean(x.reshape(-1, hop, 2) ** 2, axis=(1, 2)) + 1e-30) - 20 * np.log10(np.abs(x).max())
        assert np.mean(db < -90.0) <= 0.2, f"{p.name}: {np.mean(db < -90):.0%} digital silence"
    assert len(CLASSES) >= 50


def test_your_library_first_then_the_core_then_synthesis(core_cache: Path, tmp_path: Path) -> None:
    mine = tmp_path / "sfx"
    mine.mkdir()
    sf.write(mine / "DOORWood_Door Slam Heavy_FDT_TestLib.wav", np.tile(_step(0, 200.0), 2)[:, None], SR)
    gen = make_generator("library", library=str(mine))

    def play(label: str, layer: str = "fg", source: str = "track") -> dict:
        ev = SoundEvent(id=label, label=label, description="", layer=layer, start_s=0.5, end_s=3.0, onsets_s=[0.5])
        return gen.generate(GenerationRequest(event=ev, clues=still_clues(label, source=source), duration_s=4.0)).info

    assert play("door_slam")["library"]["choices"][0]["file"].startswith("DOORWood")  # yours
    walla = play("crowd_murmur", "bg", "scene")
    assert walla["library"]["fallback"] == "core" and walla["library"]["choices"][0]["licence"] == "CC0-1.0"
    bark = play("dog_bark")
    assert bark["library"]["fallback"] == "procedural" and bark["sound_class"] == "dog_bark"


def test_the_linked_folder_is_named_by_what_it_holds_and_never_rebuilt_under_a_reader(core_cache: Path,
                                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    first = core.linked_root()
    held = sorted(p.relative_to(first).as_posix() for p in first.rglob("*.ogg"))
    assert held and core.linked_root() == first
    fewer = [e for e in core.manifest() if e.cls != "birds"]  # another checkout's manifest
    monkeypatch.setattr(core, "manifest", lambda: fewer)
    other = core.linked_root()
    assert other != first and not any(p.startswith("birds/") for p in
                                      (q.relative_to(other).as_posix() for q in other.rglob("*.ogg")))
    assert sorted(p.relative_to(first).as_posix() for p in first.rglob("*.ogg")) == held  # untouched
