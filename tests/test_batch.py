"""`foley batch`: jobs from folders, globs and manifests; bad input; kill -9 and re-run on a local Ray cluster;
a two-node Ray cluster."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from foleydesigner import cli
from foleydesigner.batch.runner import job_done
from foleydesigner.batch.sources import collect_jobs, safe_name
from foleydesigner.bench.synthetic import make_clip
from foleydesigner.errors import InputError

CONTRACT = ("script.json", "clues.json", "mix_plan.json", "mix_stereo.wav", "mix_5_1.wav", "trace.jsonl", "run.json")
FOLEY = str(Path(sys.executable).with_name("foley"))


def _fake_clips(d: Path, *names: str) -> list[Path]:
    """Files the sources module accepts as clips (it looks at names only; the job probes the video)."""
    d.mkdir(parents=True, exist_ok=True)
    for n in names:
        (d / n).write_bytes(b"\0")
    return [d / n for n in names]


def test_folder_and_glob_give_one_job_per_clip_with_unique_safe_names(tmp_path):
    _fake_clips(tmp_path / "a", "shot 1.mp4", "shot2.MOV", "notes.txt", "shot2.truth.json")
    _fake_clips(tmp_path / "b", "shot 1.mp4", "reel.mkv")
    jobs, timelines = collect_jobs([str(tmp_path / "a"), str(tmp_path / "b" / "*.m*")], {"seed": 4})
    assert [j.name for j in jobs] == ["shot_1", "shot2", "reel-2", "shot_1-2"]  # `reel` is the conformed reel's folder
    assert [j.clip.name for j in jobs] == ["shot 1.mp4", "shot2.MOV", "reel.mkv", "shot 1.mp4"]
    assert all(j.options == {"seed": 4} for j in jobs) and timelines == []
    assert safe_name("../../etc/passwd") == "etc_passwd" and safe_name("..") == "job"


def test_manifests_carry_screenplay_name_and_per_clip_options(tmp_path):
    _fake_clips(tmp_path / "clips", "a.mp4", "b.mp4")
    (tmp_path / "a.fountain").write_text("A DOOR SLAMS.\n")
    (tmp_path / "m.jsonl").write_text(
        '{"clip": "clips/a.mp4", "script": "a.fountain", "name": "sc1/sh1", "seed": 7, "target-lufs": -23}\n\n'
        '{"clip": "clips/b.mp4", "options": {"deliver": "stereo,5.1,foa", "library": "sfx"}}\n')
    (tmp_path / "m.csv").write_text("clip,name,seed,stems,keep_original_audio\nclips/a.mp4,csv_a,3,trimmed,yes\n"
                                    "clips/b.mp4,,,,\n")
    jobs, _ = collect_jobs([str(tmp_path / "m.jsonl"), str(tmp_path / "m.csv")], {"seed": 1, "generator": "library"})
    a, b, ca, cb = jobs
    assert (a.name, a.screenplay, a.options) == ("sc1_sh1", (tmp_path / "a.fountain").resolve(),
                                                 {"seed": 7, "generator": "library", "target_lufs": -23.0})
    assert b.name == "b" and b.options["deliver"] == ("stereo", "5.1", "foa")
    assert b.options["generator_options"] == {"library": str((tmp_path / "sfx").resolve())}
    assert ca.options == {"seed": 3, "generator": "library", "stems": "trimmed", "keep_original_audio": True}
    assert (cb.name, cb.options) == ("b-2", {"seed": 1, "generator": "library"})  # empty cells: the batch's own


@pytest.mark.parametrize(("manifest", "text", "message"), [
    ("m.jsonl", '{"clip": "a.mp4", "reverb": 3}\n', "m.jsonl line 1: unknown option 'reverb'"),
    ("m.jsonl", '{"clip": "a.mp4"}\n{"clip": "a.mp4", seed: 1}\n', "m.jsonl line 2: not JSON"),
    ("m.jsonl", '["a.mp4"]\n', "expected a JSON object"),
    ("m.jsonl", '{"script": "a.fountain"}\n', "no 'clip'"),
    ("m.jsonl", '{"clip": "missing.mp4"}\n', "missing.mp4 is not a video file"),
    ("m.jsonl", '{"clip": "a.mp4", "seed": "many"}\n', "seed='many'"),
    ("m.jsonl", '{"clip": "a.mp4", "deliver": "mono"}\n', "unknown format mono"),
    ("m.jsonl", '{"clip": "a.mp4", "name": "x"}\n{"clip": "a.mp4", "name": "X"}\n', "job name 'X' is already used"),
    ("m.csv", "clip,seed\na.mp4,1,2\n", "row 2: more cells than header columns"),
    ("m.csv", "clip,color\na.mp4,red\n", "m.csv row 2: unknown option 'color'"),
    ("m.csv", "clip\n", "no rows"),
    # every row passes the checks `foley run` gives its flags, before any job starts
    ("m.jsonl", '{"clip": "a.mp4", "options": {"min_confidence": 2}}\n', "m.jsonl line 1: min_confidence=2"),
    ("m.jsonl", '{"clip": "a.mp4"}\n{"clip": "a.mp4", "hfov": 0}\n', "m.jsonl line 2: hfov=0"),
    ("m.jsonl", '{"clip": "a.mp4", "tot_k": 0}\n', "m.jsonl line 1: tot_k=0"),
    ("m.jsonl", '{"clip": "a.mp4", "window_s": 0.01}\n', "m.jsonl line 1: window_s=0.01"),
    ("m.jsonl", '{"clip": "a.mp4", "max-events": -1}\n', "m.jsonl line 1: max-events=-1"),
    ("m.jsonl", '{"clip": "a.mp4", "tot_tau": "nan"}\n', "m.jsonl line 1: tot_tau='nan'"),
    ("m.jsonl", '{"clip": "a.mp4", "language": "x;y"}\n', "m.jsonl line 1: language='x;y'"),
    ("m.csv", "clip,target_lufs\na.mp4,inf\n", "m.csv row 2: target_lufs='inf'"),
    ("m.jsonl", '{"clip": "a.mp4", "max_events": 2.5}\n', "max_events=2.5: give a whole number"),
])
def test_bad_manifest_rows_name_the_row_and_the_problem(tmp_path, manifest, text, message):
    _fake_clips(tmp_path, "a.mp4")
    (tmp_path / manifest).write_text(text)
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace("[", r"\[")):
        collect_jobs([str(tmp_path / manifest)])


def _main(monkeypatch, capsys, args: list[str]) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["foley", *args])
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    return int(exit_.value.code or 0), capsys.readouterr().err


@pytest.mark.parametrize(("setup", "args", "message"), [
    (lambda d: (d / "empty").mkdir(), ["empty"], "no clips found"),
    (lambda d: None, ["nowhere"], "no such clip, folder, manifest or timeline"),
    (lambda d: None, ["'*.mp4'"], "no clips found"),
    (lambda d: (_fake_clips(d, "a.mp4"), (d / "m.jsonl").write_text('{"clip": "a.mp4", "speed": 2}\n')), ["m.jsonl"],
     "unknown option 'speed'"),
    (lambda d: _fake_clips(d / "c", "a.mp4"), ["c", "--seed", "-3"], "seed=-3"),
    (lambda d: _fake_clips(d / "c", "a.mp4"), ["c", "--workers", "0"], "--workers 0"),
    (lambda d: (d / "file").write_text("x"), ["nowhere", "--out", "file"], "is a file"),
])
def test_cli_bad_input_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys, setup, args, message):
    setup(tmp_path)
    monkeypatch.chdir(tmp_path)
    out = [] if "--out" in args else ["--out", "batch_out"]
    code, err = _main(monkeypatch, capsys, ["batch", *args, *out])
    assert code == 2, err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "batch_out").exists()  # nothing written


def test_batch_takes_its_setup_from_foley_toml_and_typed_flags_win(tmp_path, monkeypatch, capsys):
    """The same foley.toml a `foley run` reads sets every job of a batch: options, roles and their servers."""
    from types import SimpleNamespace

    import foleydesigner.batch.runner as runner

    _fake_clips(tmp_path / "c", "a.mp4", "b.mp4")
    (tmp_path / "foley.toml").write_text(
        'seed = 7\nloudness_preset = "ebu"\nstems = "trimmed"\nfallback = "heuristic"\nscript = "x.fountain"\n'
        '[roles.scribe]\nbackend = "openai:local-model"\nbase_url = "http://127.0.0.1:8000/v1"\ntimeout_s = 60\n')
    seen: list = []

    def fake_run(jobs, timelines, out, settings, **kw):
        seen.extend(jobs)
        return SimpleNamespace(counts={"done": len(jobs), "skipped": 0, "failed": 0}, jobs=jobs, reels={})

    monkeypatch.setattr(runner, "run_batch", fake_run)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["foley", "batch", "c", "--out", "o", "--seed", "3"])
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    assert exit_.value.code in (0, None)
    assert len(seen) == 2
    for job in seen:
        o = job.options
        assert o["seed"] == 3 and o["target_lufs"] == -23.0 and o["stems"] == "trimmed"  # typed seed wins over 7
        assert o["fallback"] == "heuristic" and o["llm_roles"] == {"scribe": "openai:local-model"}
        assert o["llm_endpoints"]["scribe"]["base_url"] == "http://127.0.0.1:8000/v1"
        assert o["llm_endpoints"]["scribe"]["timeout_s"] == 60
    assert "does not take script" in capsys.readouterr().err  # a per-run key is named, not silently dropped


def test_terminal_progress_shows_each_running_job_and_its_stage():
    import io

    from rich.console import Console

    from foleydesigner.batch.progress import batch_progress
    from foleydesigner.batch.record import BatchRecord, JobRecord

    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=110, color_system=None)
    record = BatchRecord(command="t", jobs=[JobRecord(name=n, origin="o", clip="c") for n in ("sh010", "sh020")])
    with batch_progress(console, plain=False) as view:
        view.update(record, None)
        view.stage("sh010", "decompose")
        view.stage("sh020", "load_video")
        view.progress.refresh()
        rows = screen.getvalue()
        assert "sh010" in rows and "after decompose" in rows and "after load_video" in rows
        record.jobs[0].status = "done"
        record.counts = {"done": 1}
        view.update(record, record.jobs[0])  # a finished job's row goes
        assert list(view.job_rows) == ["sh020"]
        assert [t.description for t in view.progress.tasks] == ["jobs", "  sh020"]


def test_job_done_only_with_the_same_key(tmp_path):
    (tmp_path / "run.json").write_text(json.dumps({"key": {"input_hash": "a", "settings_hash": "b"}}))
    assert job_done(tmp_path, {"input_hash": "a", "settings_hash": "b"})
    assert not job_done(tmp_path, {"input_hash": "a", "settings_hash": "c"})  # settings changed: run it again
    assert not job_done(tmp_path / "missing", {"input_hash": "a", "settings_hash": "b"})


# --- on Ray -------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("clips")
    for i, kind in enumerate(("single_mover", "bouncing_ball", "single_mover", "bouncing_ball")):
        make_clip(kind, d / f"clip{i}.mp4", width=160, height=96, fps=12.0, duration_s=2.0, seed=i)
    return d


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            found.add(c)
            todo.append(c)
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.slow
def test_batch_killed_midway_then_rerun_finishes_only_what_is_missing(clip_dir, tmp_path):
    out = tmp_path / "out"
    cmd = [FOLEY, "batch", str(clip_dir), "--out", str(out), "--workers", "1"]
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    record: dict = {}
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            record = json.loads((out / "batch.json").read_text())
        except (OSError, ValueError):
            record = {}
        if record.get("counts", {}).get("done", 0) >= 1:
            break
        time.sleep(0.05)  # a warm worker runs a 2 s clip in about a second: kill before the next ones finish
    assert proc.poll() is None, proc.communicate()[0].decode()[-2000:]  # still running: killed mid-way
    started = _descendants(proc.pid)  # Ray's processes of this batch (gcs, raylet, agents, workers)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    t_killed = time.monotonic()
    finished = [j["name"] for j in record["jobs"] if j["status"] == "done"]
    assert 1 <= len(finished) < 4
    mtimes = {n: (out / n / "run.json").stat().st_mtime_ns for n in finished}
    deadline = time.monotonic() + 15  # Ray's processes die with their driver; the batch's watchdog ends its agents
    while any(_alive(p) for p in started) and time.monotonic() < deadline:
        time.sleep(0.25)
    orphans = [p for p in started if _alive(p)]
    for pid in orphans:
        os.kill(pid, signal.SIGKILL)
    assert not orphans, f"{len(orphans)} Ray process(es) outlived the batch by {time.monotonic() - t_killed:.0f} s"

    again = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    record = json.loads((out / "batch.json").read_text())
    status = {j["name"]: j["status"] for j in record["jobs"]}
    assert set(status) == {"clip0", "clip1", "clip2", "clip3"}
    for name in finished:
        assert status[name] == "skipped"
        assert (out / name / "run.json").stat().st_mtime_ns == mtimes[name]  # not recomputed
    # a job may have finished between the last batch.json and the kill: its run.json has the key, so it is skipped too
    assert set(status.values()) == {"skipped", "done"}
    for name in status:
        assert all((out / name / f).is_file() for f in CONTRACT), name
        run = json.loads((out / name / "run.json").read_text())
        assert run["key"] == record["jobs"][int(name[-1])]["key"]
    assert not list(out.glob(".*partial*")) and not (out / ".batch").exists()


@pytest.mark.slow
@pytest.mark.enable_socket  # Ray looks up this machine's address with a UDP socket (no packet is sent)
def test_two_node_cluster_runs_jobs_on_both_nodes(clip_dir, tmp_path):
    from ray.cluster_utils import Cluster

    from foleydesigner.batch.runner import BatchSettings, run_batch

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    # the nodes take this machine's address: a driver joining a cluster turns 127.0.0.1 into it (Ray's own rule)
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        jobs, _ = collect_jobs([str(clip_dir / "clip0.mp4"), str(clip_dir / "clip1.mp4")])
        heard: list[tuple[str, str]] = []
        record = run_batch(jobs, [], tmp_path / "out", BatchSettings(address=cluster.address), command="test",
                           on_stage=lambda job, stage: heard.append((job, stage)))
    finally:
        cluster.shutdown()
    for name in ("clip0", "clip1"):  # each job's stages, from whichever node ran it, in the pipeline's order
        stages = [s for j, s in heard if j == name]
        assert stages[:3] == ["load_video", "decompose", "extract_clues"] and stages[-1] == "export", heard
        assert "generate_stem" in stages and stages.index("mix") < stages.index("upmix") < stages.index("export")
    assert record.cluster["nodes"] == 2
    assert [j.status for j in record.jobs] == ["done", "done"]
    assert len({j.node_id for j in record.jobs}) == 2  # one CPU per node, two one-CPU jobs at once: one on each
    for j in record.jobs:
        assert all((tmp_path / "out" / j.name / f).is_file() for f in CONTRACT)


@pytest.mark.slow
def test_a_dead_worker_is_retried_and_resumes_and_a_failing_job_is_recorded(clip_dir, tmp_path):
    from foleydesigner.pipeline import KILL_AFTER_ENV

    (tmp_path / "m.jsonl").write_text(f'{{"clip": "{clip_dir / "clip0.mp4"}", "name": "dies_once"}}\n'
                                      f'{{"clip": "{clip_dir / "clip1.mp4"}", "name": "bad", "generator": "magic"}}\n')
    out = tmp_path / "out"
    # every worker kills itself after `decompose`: Ray retries the job, which resumes after decompose and so lives
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", KILL_AFTER_ENV: "decompose"}
    done = subprocess.run([FOLEY, "batch", str(tmp_path / "m.jsonl"), "--out", str(out), "--workers", "2",
                           "--retries", "1"], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr  # one job failed
    jobs = {j["name"]: j for j in json.loads((out / "batch.json").read_text())["jobs"]}
    assert jobs["dies_once"]["status"] == "done"
    nodes = [json.loads(line)["node"] for line in (out / "dies_once" / "trace.jsonl").read_text().splitlines()]
    assert nodes.count("load_video") == 1 and "mixing.master" in nodes  # the retry did not start over
    assert jobs["bad"]["status"] == "failed" and "magic" in jobs["bad"]["reason"]
    assert not (out / "bad").exists()

