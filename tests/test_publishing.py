"""Publishing a run never loses a user's file: the lock, the re-check before the swap, mount points, stale
staging folders, SIGTERM, permissions, no temp leftovers."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from foleydesigner import publish
from foleydesigner.bench.synthetic import make_clip
from foleydesigner.cli import app
from foleydesigner.errors import FoleyError, InputError
from foleydesigner.pipeline import run_foley
from foleydesigner.publish import OWNER_FILE, OutLock

runner = CliRunner()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    clip = tmp_path_factory.mktemp("tiny") / "tiny.mp4"
    make_clip("single_mover", clip, width=160, height=96, fps=25.0, duration_s=1.0, seed=0)
    return clip


def _dead_pid() -> int:
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def _leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.rglob("*") if ".partial-" in p.name or ".old-" in p.name or ".part" in p.name
                  or p.name.endswith(".lock"))


def test_second_run_on_a_locked_out_fails_at_once_naming_the_holder(tmp_path, tiny):
    out = tmp_path / "o"
    with OutLock(out.resolve()):
        t0 = time.perf_counter()
        r = runner.invoke(app, ["run", str(tiny), "--out", str(out)])
        assert r.exit_code == 2, r.output
        assert f"in use by run PID {os.getpid()}" in r.output and "Traceback" not in r.output
        assert len(r.output.strip().splitlines()) == 1
        assert time.perf_counter() - t0 < 30  # failed before the work, not after it
    assert not out.exists()


def test_stale_lock_and_staging_are_taken_over_and_output_is_clean(tmp_path, tiny):
    out = tmp_path / "o"
    dead = _dead_pid()
    (tmp_path / ".o.lock").write_text(f"{dead} {publish._HOST} 2020-01-01T00:00:00\n")  # kill -9 left it, unlocked
    stale = tmp_path / f".o.partial-{dead}-abc"
    (stale / "stems").mkdir(parents=True)
    (stale / OWNER_FILE).write_text(f"{dead} {publish._HOST}\n")
    legacy = tmp_path / ".o.partial-xyz"  # from before staging folders recorded their owner
    legacy.mkdir()
    live = tmp_path / ".p.partial-1-abc"  # another --out's: not ours to touch
    live.mkdir()
    old_mask = os.umask(0o022)
    try:
        run_foley(tiny, out)
    finally:
        os.umask(old_mask)
    assert not stale.exists() and not legacy.exists() and live.exists()
    assert _leftovers(tmp_path) == [".p.partial-1-abc"]  # no lock, no staging, no .part left by the mux
    # permissions follow the umask (022), not mkdtemp's 0700 and mkstemp's 0600
    assert out.stat().st_mode & 0o777 == 0o755 and (out / "stems").stat().st_mode & 0o777 == 0o755
    assert {f.stat().st_mode & 0o777 for f in out.rglob("*") if f.is_file()} == {0o644}


def test_a_file_put_in_out_during_the_run_is_never_deleted(tmp_path, tiny):
    out = tmp_path / "o"

    def drop(node: str) -> None:
        if node == "mix":
            out.mkdir(exist_ok=True)
            (out / "thesis.docx").write_text("precious")

    with pytest.raises(FoleyError, match="changed during the run") as err:
        run_foley(tiny, out, on_stage=drop)
    assert (out / "thesis.docx").read_text() == "precious" and [p.name for p in out.iterdir()] == ["thesis.docx"]
    kept = [p for p in tmp_path.iterdir() if p.name.startswith("o.foley-")]
    assert len(kept) == 1 and str(kept[0]) in str(err.value) and (kept[0] / "run.json").is_file()
    assert not (kept[0] / OWNER_FILE).exists() and not list(tmp_path.glob(".o.partial-*"))


def test_out_that_cannot_be_renamed_is_filled_in_place(tmp_path, tiny, monkeypatch):
    """An empty mount point cannot be renamed (EBUSY): entries are moved into it; a previous run there is replaced."""
    out = tmp_path / "o"
    out.mkdir()
    real = os.replace

    def busy(src, dst, *a, **k):
        if Path(src) == out.resolve():
            raise OSError(errno.EBUSY, "Device or resource busy", str(src))
        return real(src, dst, *a, **k)

    monkeypatch.setattr(publish.os, "replace", busy)
    run_foley(tiny, out)
    assert (out / "run.json").is_file() and (out / "mix_5_1.wav").is_file()
    run_foley(tiny, out, force=True, seed=3)  # a previous run in place is replaced, nothing else left
    assert '"seed": 3' in (out / "run.json").read_text()
    assert not [p for p in out.iterdir() if p.name.startswith(".")] and not _leftovers(tmp_path)


def test_empty_mount_point_is_filled(tmp_path, tiny):
    out = tmp_path / "vol"
    out.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(out)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        r = runner.invoke(app, ["run", str(tiny), "--out", str(out)])
        assert r.exit_code == 0, r.output
        assert os.path.ismount(out) and (out / "run.json").is_file() and (out / "tiny.foley.mp4").is_file()
        assert not [p for p in out.iterdir() if p.name.startswith(".")] and not _leftovers(tmp_path)
    finally:
        subprocess.run(["umount", str(out)], check=False)


def test_sigterm_removes_the_staging_folder(tmp_path, tiny):
    out = tmp_path / "o"
    proc = subprocess.Popen([sys.executable, "-m", "foleydesigner.cli", "run", str(tiny), "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".o.partial-*/stems")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err
    assert not out.exists() and _leftovers(tmp_path) == []


def test_lock_refuses_a_second_holder_in_the_same_process(tmp_path):
    out = tmp_path / "o"
    with OutLock(out):
        with pytest.raises(InputError, match=f"PID {os.getpid()}"):
            OutLock(out).__enter__()
    with OutLock(out):  # released: free again
        pass
    assert not (tmp_path / ".o.lock").exists()


# --- --force replaces only what a previous run wrote; resume never publishes a temp file ----------------------

def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_force_refuses_a_project_folder_that_only_happens_to_hold_a_run_json(tmp_path, tiny):
    out = tmp_path / "p"
    (out / "src").mkdir(parents=True)
    (out / "run.json").write_text('{"name": "my project"}')
    (out / "README.txt").write_text("read me")
    (out / "src" / "main.py").write_text("print(1)")
    before = _tree(out)
    r = runner.invoke(app, ["run", str(tiny), "--out", str(out), "--force"])
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1, r.output
    assert "--force" in r.output and "Traceback" not in r.output
    assert _tree(out) == before and not _leftovers(tmp_path)


def test_force_replaces_exactly_the_files_a_previous_run_listed_and_never_a_users_file(tmp_path, tiny):
    out = tmp_path / "o"
    run_foley(tiny, out)
    listed = json.loads((out / "run.json").read_text())["files"]
    on_disk = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert sorted(listed) == on_disk and "run.json" in listed and any(f.startswith("stems/") for f in listed)

    (out / "my_notes.txt").write_text("precious")
    (out / "stems" / "keep.wav").write_bytes(b"mine")
    (out / "report.html.bak").write_text("my copy")
    before = _tree(out)
    r = runner.invoke(app, ["run", str(tiny), "--out", str(out), "--force", "--seed", "5"])
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1, r.output
    assert "my_notes.txt" in r.output and "3 entries" in r.output and _tree(out) == before  # nothing touched

    (out / "my_notes.txt").unlink()
    (out / "stems" / "keep.wav").unlink()
    (out / "report.html.bak").unlink()
    run_foley(tiny, out, force=True, seed=5)  # only the previous run's own files: replaced
    assert json.loads((out / "run.json").read_text())["seed"] == 5 and not _leftovers(tmp_path)


def test_force_refuses_a_run_json_without_the_list_of_files_it_wrote(tmp_path, tiny):
    out = tmp_path / "o"
    run_foley(tiny, out)
    info = json.loads((out / "run.json").read_text())
    del info["files"]
    (out / "run.json").write_text(json.dumps(info))
    with pytest.raises(InputError, match="--force"):
        run_foley(tiny, out, force=True)
    assert (out / "mix_5_1.wav").is_file()


def test_a_run_kept_aside_gets_the_umask_permissions(tmp_path):
    out = tmp_path / "o"
    old_mask = os.umask(0o022)
    try:
        staging = publish.make_staging(out)
        from foleydesigner.tools.export import atomic_write_text

        atomic_write_text(staging / "stems" / "a.json", "{}")  # mkstemp: 0600
        out.mkdir()
        (out / "thesis.docx").write_text("precious")
        with pytest.raises(FoleyError, match="changed during the run"):
            publish.publish(staging, out, {})
    finally:
        os.umask(old_mask)
    (kept,) = [p for p in tmp_path.iterdir() if p.name.startswith("o.foley-")]
    assert kept.stat().st_mode & 0o777 == 0o755 and (kept / "stems").stat().st_mode & 0o777 == 0o755
    assert (kept / "stems" / "a.json").stat().st_mode & 0o777 == 0o644


def _killed_staging(tmp_path: Path, key: dict[str, str]) -> Path:
    staging = tmp_path / f".o.partial-{_dead_pid()}-abc"
    (staging / "stems").mkdir(parents=True)
    (staging / ".checkpoint").mkdir()
    (staging / ".checkpoint" / "key.json").write_text(json.dumps(key))
    (staging / OWNER_FILE).write_text(f"{_dead_pid()} {publish._HOST}\n")
    (staging / "stems" / ".footsteps_t0.wav.k3j2.part").write_bytes(b"\0" * 2048)
    (staging / ".clip.foley.mp4.x9y8.part.mp4").write_bytes(b"\0" * 1024)
    (staging / "stems" / ".wind.wav.aa11.part.flac").write_bytes(b"\0")
    (staging / "stems" / "wind.wav").write_bytes(b"RIFF")
    return staging


def test_resume_adopts_a_killed_staging_folder_without_its_temp_files(tmp_path):
    out = tmp_path / "o"
    key = {"input_hash": "a", "settings_hash": "b"}
    staging = _killed_staging(tmp_path, key)
    assert publish.adopt_resumable(out, key) == staging
    assert sorted(str(p.relative_to(staging)) for p in staging.rglob("*") if p.is_file()) == [
        ".checkpoint/key.json", OWNER_FILE, "stems/wind.wav"]


def test_publish_never_moves_a_temp_file_into_out(tmp_path):
    out = tmp_path / "o"
    staging = _killed_staging(tmp_path, {})
    publish.publish(staging, out, {})
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == [
        ".checkpoint/key.json", "stems/wind.wav"]
