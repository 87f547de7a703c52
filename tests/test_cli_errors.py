"""Every error the `foley` command can report is one line naming the problem, exit code 2, no traceback,
and nothing written."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from foleydesigner.bench.synthetic import make_clip
from foleydesigner.publish import OutLock
from tests.helpers import run_cli as _main


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("inputs")
    clip = d / "tiny.mp4"
    make_clip("single_mover", clip, width=160, height=96, fps=25.0, duration_s=1.0, seed=0)
    (d / "notes.mp4").write_text("this is not a video")
    (d / "latin1.txt").write_bytes("Caf\xe9 door SLAMS".encode("latin-1"))
    (d / "big.fountain").write_text("A DOOR SLAMS.\n" * 100_000)
    (d / "a_file").write_text("x")
    (d / "busy").mkdir()
    (d / "busy" / "thesis.docx").write_text("precious")
    (d / "folder.mp4").mkdir()
    audio = d / "audio.m4a"
    with av.open(str(audio), "w") as out:
        s = out.add_stream("aac", rate=48000, layout="stereo")
        f = av.AudioFrame.from_ndarray(np.zeros((2, 1024), np.float32), format="fltp", layout="stereo")
        f.sample_rate, f.pts, f.time_base = 48000, 0, Fraction(1, 48000)
        for p in [*s.encode(f), *s.encode(None)]:
            out.mux(p)
    return {"clip": clip, "dir": d}


RUN_FLAGS = [
    (["--seed", "-1"], "--seed -1"), (["--seed", str(2**32)], "--seed 4294967296"), (["--seed", "abc"], "'--seed'"),
    (["--target-lufs", "5"], "--target-lufs"), (["--target-lufs", "nan"], "--target-lufs"),
    (["--loudness-preset", "bbc"], "--loudness-preset"), (["--hfov", "0"], "--hfov"), (["--hfov", "inf"], "--hfov"),
    (["--max-scribe-iters", "0"], "--max-scribe-iters"), (["--window-s", "0.5"], "--window-s"),
    (["--max-events", "0"], "--max-events"), (["--max-screenplay-mb", "-1"], "--max-screenplay-mb"),
    (["--min-confidence", "1.5"], "--min-confidence"),
    (["--tot-k", "0"], "--tot-k"), (["--tot-beam", "0"], "--tot-beam"), (["--tot-tau", "2"], "--tot-tau"),
    (["--tot-depth", "0"], "--tot-depth"), (["--tot-weights", "x"], "--tot-weights"),
    (["--tot-weights", "nan,1,1"], "--tot-weights"), (["--tot-weights", "inf,1,1"], "--tot-weights"),
    (["--tot-weights", "1e308,1,1"], "--tot-weights"), (["--tot-tau", "nan"], "--tot-tau"),
    (["--language", "x;y"], "--language"), (["--min-confidence", "nan"], "--min-confidence"),
    (["--llm", "gpt4"], "provider:model"), (["--llm-role", "boss=openai:x"], "--llm-role"),
    (["--fallback", "magic"], "--fallback"), (["--generator", "magic"], "unknown generator"),
    (["--vision", "xray"], "unknown vision backend"), (["--bogus", "1"], "--bogus"),
]


@pytest.mark.parametrize(("flags", "says"), RUN_FLAGS, ids=[" ".join(f) for f, _ in RUN_FLAGS])
def test_run_flag_errors(monkeypatch, capsys, files, flags, says):
    out = files["dir"] / "never"
    code, stdout, err = _main(monkeypatch, capsys, ["run", str(files["clip"]), "--out", str(out), *flags])
    assert code == 2 and says in err, err
    assert "Traceback" not in err + stdout and len(err.strip().splitlines()) == 1 and stdout == ""
    assert not out.exists() and not list(files["dir"].glob(".never.*"))


def test_input_and_other_command_errors(monkeypatch, capsys, files, tmp_path):
    d, clip = files["dir"], str(files["clip"])
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    locked = tmp_path / "locked"
    cases = [
        (["run", str(d / "nope.mp4"), "--out", str(tmp_path / "o")], "not found"),
        (["run", str(d / "folder.mp4"), "--out", str(tmp_path / "o")], "is a folder"),
        (["run", str(d / "notes.mp4"), "--out", str(tmp_path / "o")], "cannot read"),
        (["run", str(d / "audio.m4a"), "--out", str(tmp_path / "o")], "no video stream"),
        (["run", clip, "--out", str(tmp_path / "o"), "--script", str(d / "none.txt")], "screenplay file not found"),
        (["run", clip, "--out", str(tmp_path / "o"), "--script", str(d / "latin1.txt")], "not UTF-8"),
        (["run", clip, "--out", str(tmp_path / "o"), "--script", str(d / "big.fountain")], "above the 1 MB limit"),
        (["run", clip, "--out", str(d / "a_file")], "is a file"),
        (["run", clip, "--out", str(d / "a_file" / "sub")], "is a file"),
        (["batch", clip, "--out", str(d / "a_file" / "sub")], "is a file"),
        (["run", clip, "--out", str(d / "busy")], "not empty"),
        (["run", clip, "--out", str(d / "busy"), "--force"], "not a FoleyDesigner run"),
        (["run", clip, "--out", str(locked)], "in use by run PID"),
        (["run", clip, "--out", str(tmp_path / "o"), "--llm", "openai:gpt-4o-mini"], "OPENAI_API_KEY"),
        (["run", "--out", str(tmp_path / "o")], "Missing argument"),
        (["nosuch"], "No such command"),
        (["trace", str(tmp_path / "nothing")], ""),
        (["eval", "--out", str(tmp_path / "e"), "--seed", "-1"], "--seed"),
        (["eval", "--out", str(tmp_path / "e"), "--target-lufs", "0"], "--target-lufs"),
        (["eval", "--out", str(d / "busy")], "not a previous"),
        (["dataset", "--out", str(tmp_path / "ds"), "--items", "0"], "--items"),
        (["dataset", "--out", str(tmp_path / "ds"), "--seed", "-3"], "--seed"),
        (["dataset", "--out", str(tmp_path / "ds"), "--duration", "1e9"], "--duration"),
        (["train", "--data", str(tmp_path), "--out", str(tmp_path / "c")], "manifest.json"),
    ]
    with OutLock(locked):
        for args, says in cases:
            code, stdout, err = _main(monkeypatch, capsys, args)
            assert code == 2 and says in err, (args, err)
            assert "Traceback" not in err + stdout and len(err.strip().splitlines()) == 1, (args, err)
    assert (d / "busy" / "thesis.docx").read_text() == "precious"
    assert list(tmp_path.iterdir()) == []  # nothing written, the lock gone with its holder


def test_json_files_are_strict_json_even_with_a_non_finite_number(tmp_path):
    import json

    from foleydesigner.tools.export import atomic_write_json

    def strict(text: str) -> object:
        return json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))

    atomic_write_json(tmp_path / "t.json", {"weights": [float("nan"), float("inf"), 1.0], "nested": {"x": -float("inf")}})
    assert strict((tmp_path / "t.json").read_text()) == {"weights": [None, None, 1.0], "nested": {"x": None}}
    from foleydesigner.trace import Tracer

    Tracer(tmp_path / "trace.jsonl").write({"node": "n", "parsed": {"score": float("nan")}, "latency_s": float("inf")})
    line = strict((tmp_path / "trace.jsonl").read_text())
    assert line["parsed"] == {"score": None} and line["latency_s"] is None


@pytest.mark.parametrize("options", [{"min_confidence": 2.0}, {"hfov_deg": 0.0}, {"tot_weights": (float("nan"), 1.0, 1.0)},
                                     {"tot_tau": float("nan")}, {"language": "x;y"}])
def test_run_foley_itself_refuses_what_the_flags_refuse(files, tmp_path, options):
    from foleydesigner.errors import InputError
    from foleydesigner.pipeline import run_foley

    with pytest.raises(InputError):
        run_foley(files["clip"], tmp_path / "o", **options)
    assert list(tmp_path.iterdir()) == []
