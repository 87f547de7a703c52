"""The realism judge: aiSFX embeddings ranked against groups of real recordings (eval.realism_judge)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from foleydesigner.eval.realism_judge import (
    RealSet,
    active,
    cached,
    frechet,
    missing,
    read_references,
    summarise,
)

SR = 48_000


def test_references_are_held_out_from_everything_the_generator_plays() -> None:
    from foleydesigner.generation.library.core import manifest

    refs = read_references()
    played = {e.package for e in manifest()}
    assert refs and not {r.package for r in refs} & played
    by_class: dict[str, int] = {}
    for r in refs:
        by_class[r.cls] = by_class.get(r.cls, 0) + 1
    assert by_class["footsteps"] >= 5 and by_class["wind"] >= 3 and by_class["water_stream"] >= 3


def test_a_zip_member_has_its_own_place_in_the_cache(tmp_path: Path) -> None:
    assert cached(tmp_path, "p", "/a/b.ogg") == tmp_path / "p" / "a" / "b.ogg"
    assert cached(tmp_path, "p", "/a/pub.zip!audio/x.ogg") == tmp_path / "p" / "a" / "pub.zip.d" / "audio" / "x.ogg"


def test_ranking_finds_the_group_and_scales_by_its_spread() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=16), rng.normal(size=16)
    real = RealSet([("a", a + 0.1 * rng.normal(size=16)) for _ in range(4)] +
                   [("b", b + 0.1 * rng.normal(size=16)) for _ in range(4)])
    close = real.rank("x", "a", a + 0.1 * rng.normal(size=16))
    assert close.nearest == "a" and close.hit and 0.5 < close.ratio < 2.0
    wrong = real.rank("y", "a", b)
    assert wrong.nearest == "b" and not wrong.hit and wrong.ratio > 5.0
    calib = real.calibration()
    assert len(calib) == 8 and all(v.hit for v in calib)
    s = summarise([close, wrong], real.real_to_real)
    assert s.n == 2 and s.hit_rate == 0.5


def test_frechet_is_zero_for_one_set_and_grows_with_a_shift() -> None:
    x = np.random.default_rng(1).normal(size=(64, 8))
    assert abs(frechet(x, x)) < 1e-6
    assert frechet(x, x + 3.0) == pytest.approx(8 * 9.0, rel=0.05)


def test_active_drops_silence_around_the_sound() -> None:
    x = np.zeros((2, SR))
    x[:, 1000:2000] = 0.5
    assert active(x).size == 1000


@pytest.mark.skipif(missing() is not None, reason="aisfx, librosa or torch not installed (pip install '.[judge]')")
def test_aisfx_embedding_tells_noise_from_a_tone(tmp_path: Path) -> None:
    from foleydesigner.eval.realism_judge import Embedder

    emb = Embedder()
    rng = np.random.default_rng(2)
    t = np.arange(3 * SR) / SR
    tones = [np.sin(2 * np.pi * f * t) * 0.3 for f in (440.0, 523.0, 660.0)]
    noises = [rng.normal(0, 0.1, t.size) for _ in range(3)]
    vecs = [emb.embed(x, SR) for x in tones + noises]
    assert all(v.shape == (512,) and np.all(np.isfinite(v)) for v in vecs)
    real = RealSet([("tone", v) for v in vecs[:2]] + [("noise", v) for v in vecs[3:5]])
    assert real.rank("t", "tone", vecs[2]).nearest == "tone"
    assert real.rank("n", "noise", vecs[5]).nearest == "noise"
    path = tmp_path / "x.wav"
    sf.write(path, tones[0], SR)
    cache = tmp_path / "emb"
    first = emb.embed_file(path, cache)
    assert np.allclose(first, emb.embed_file(path, cache)) and len(list(cache.iterdir())) == 1


@pytest.mark.parametrize("args, says", [
    (["eval", "bogus"], "foley eval bogus"),
    (["eval"], "--out"),
    (["sounds", "--render", "FILE"], "is a file"),
])
def test_bad_eval_and_render_requests_are_one_line_errors(monkeypatch, capsys, tmp_path: Path, args: list[str],
                                                         says: str) -> None:
    from tests.helpers import run_cli

    target = tmp_path / "file.txt"
    target.write_text("mine")
    code, out, err = run_cli(monkeypatch, capsys, [a.replace("FILE", str(target)) for a in args])
    assert code == 2 and says in err and len(err.strip().splitlines()) == 1
    assert target.read_text() == "mine"


@pytest.mark.skipif(missing() is not None, reason="aisfx, librosa or torch not installed (pip install '.[judge]')")
def test_eval_realism_on_an_empty_folder_is_a_one_line_error(monkeypatch, capsys, tmp_path: Path) -> None:
    from tests.helpers import run_cli

    code, out, err = run_cli(monkeypatch, capsys, ["eval", "realism", "--renders", str(tmp_path)])
    assert code == 2 and "holds no .wav" in err


def test_the_sturdier_judge_set_widens_thin_groups_from_the_judges_own_packages_and_keeps_the_original() -> None:
    from foleydesigner.errors import InputError

    original, sturdier = read_references(judge_set=1), read_references(judge_set=2)
    assert len(original) == 163 and set(original) < set(sturdier)  # set 1 stays what was measured before
    added = [r for r in sturdier if r.set == 2]
    assert {r.package for r in added} <= {r.package for r in original}  # no new package: still never played
    count = lambda rs, c: sum(r.cls == c for r in rs)  # noqa: E731
    for c in {r.cls for r in added}:  # only groups that were thin grow
        assert count(original, c) <= 4 and count(sturdier, c) > count(original, c)
    with pytest.raises(InputError, match="judge set 3"):
        read_references(judge_set=3)


def test_eval_realism_with_an_unknown_judge_set_is_a_one_line_error(monkeypatch, capsys, tmp_path: Path) -> None:
    from tests.helpers import run_cli

    code, out, err = run_cli(monkeypatch, capsys, ["eval", "realism", "--renders", str(tmp_path), "--judge-set", "3"])
    assert code == 2 and "--judge-set 3: unknown" in err and "2 (sturdier)" in err
    assert len(err.strip().splitlines()) == 1
