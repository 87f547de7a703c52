"""--stems trimmed (placed by session.otio and a BWF bext time reference) and --stem-format flac: the same
sound as the full-length WAV stems once put back at their time (sample for sample as WAV, to 24 bits as FLAC)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest
import soundfile as sf

from foleydesigner.bench.synthetic import make_clip
from foleydesigner.pipeline import run_foley
from foleydesigner.tools.stems import SILENCE, time_reference

SCREENPLAY = "EXT. STREET - DAY\n\n[0.6s] A DOG BARKS off to the left.\n"


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("stems")
    clip = d / "c.mp4"
    make_clip("single_mover", clip, width=160, height=96, fps=25.0, duration_s=1.5, seed=0)
    (d / "s.fountain").write_text(SCREENPLAY)
    out = {}
    for name, kw in (("full", {}), ("trimmed", {"stems": "trimmed"}), ("flac", {"stems": "trimmed", "stem_format": "flac"})):
        run_foley(clip, d / name, screenplay_path=d / "s.fountain", seed=2, **kw)
        out[name] = d / name
    return out


def _placed(path: Path, start: int, n: int) -> np.ndarray:
    x, _ = sf.read(path, dtype="float32", always_2d=True)
    y = np.zeros((n, x.shape[1]), np.float32)
    y[start: start + len(x)] = x
    return y


def test_trimmed_wav_stems_carry_their_start_and_sound_the_same(runs):
    full = {p.stem: p for p in (runs["full"] / "stems").glob("*.wav")}
    trimmed = {p.stem: p for p in (runs["trimmed"] / "stems").glob("*.wav")}
    assert full.keys() == trimmed.keys()
    timeline = otio.adapters.read_from_file(str(runs["trimmed"] / "session.otio"))
    media = {c.name: c.media_reference.available_range for c in timeline.find_clips() if c.name in trimmed}
    shorter = 0
    for sid, path in trimmed.items():
        ref, n_full = time_reference(path), sf.info(str(full[sid])).frames
        assert ref is not None and sf.info(str(path)).frames <= n_full
        shorter += sf.info(str(path)).frames < n_full
        assert media[sid].start_time.value == ref and media[sid].duration.value == sf.info(str(path)).frames
        whole, _ = sf.read(full[sid], dtype="float32", always_2d=True)
        placed = _placed(path, ref, n_full)  # put back at its time: the same samples, silence (< -144 dBFS) aside
        np.testing.assert_allclose(placed, whole, rtol=0, atol=SILENCE)
        np.testing.assert_array_equal(placed[ref: ref + sf.info(str(path)).frames], whole[ref: ref + sf.info(str(path)).frames])
    assert shorter >= 1  # the barking dog starts at 0.6 s: its stem does not carry the silence before it
    dog = next(sid for sid in trimmed if sid.startswith("dog_bark"))
    assert time_reference(trimmed[dog]) >= int(0.55 * 48_000)
    assert time_reference(full[dog]) is None  # full-length stems are plain WAVs, as before


def test_flac_stems_are_lossless_and_listed(runs):
    flac = sorted((runs["flac"] / "stems").iterdir())
    assert flac and all(p.suffix == ".flac" for p in flac)
    run = json.loads((runs["flac"] / "run.json").read_text())
    assert sorted(v for k, v in run["outputs"].items() if k.startswith("stem:")) == [f"stems/{p.name}" for p in flac]
    timeline = otio.adapters.read_from_file(str(runs["flac"] / "session.otio"))
    starts = {c.name: c.media_reference.available_range.start_time.value for c in timeline.find_clips()}
    for p in flac:
        full = runs["full"] / "stems" / f"{p.stem}.wav"
        whole, _ = sf.read(full, dtype="float32", always_2d=True)
        np.testing.assert_allclose(_placed(p, int(starts[p.stem]), len(whole)), whole, rtol=0, atol=2.0 ** -23)  # 24-bit
        assert p.stat().st_size < full.stat().st_size
