"""`foley batch`'s cluster and the network: the local cluster listens on loopback only, SIGTERM is one line and
records interrupted jobs, a cluster with Ray's token authentication is joined with the user's token."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from foleydesigner.bench.synthetic import make_clip
from foleydesigner.errors import InputError
from tests.test_batch import FOLEY, _alive, _descendants, _fake_clips


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("clips")
    for i in range(2):
        make_clip("single_mover", d / f"clip{i}.mp4", width=160, height=96, fps=12.0, duration_s=2.0, seed=i)
    return d


def _listening(pids: set[int]) -> list[tuple[str, str]]:
    """(process name, address) of every listening TCP socket of these processes."""
    import psutil

    found = []
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            found += [(proc.name(), c.laddr.ip) for c in proc.net_connections(kind="inet")
                      if c.status == psutil.CONN_LISTEN]
        except psutil.Error:
            continue
    return found


@pytest.mark.slow
def test_local_cluster_listens_on_loopback_only_and_sigterm_records_interrupted_jobs(clip_dir, tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    env.pop("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", None)
    proc = subprocess.Popen([FOLEY, "batch", str(clip_dir), "--out", str(out), "--workers", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and proc.poll() is None and not list(out.glob(".clip*.partial-*")):
        time.sleep(0.1)  # a job has started: the cluster is up, a worker runs it
    assert proc.poll() is None, proc.communicate()
    ray_procs = _descendants(proc.pid)
    try:
        sockets = _listening({proc.pid, *ray_procs})
        names = {n for n, _ in sockets}
        assert {"gcs_server", "raylet"} <= names, sockets
        assert all(ip in ("127.0.0.1", "::ffff:127.0.0.1", "::1") for _, ip in sockets), sockets
    finally:
        proc.send_signal(signal.SIGTERM)
        stdout, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    # the plain progress line, then one line: no Ray C++ stack dump, no traceback
    assert [line.split(":")[0] for line in err.splitlines() if line.strip()] == ["2 jobs", "interrupted"], err
    jobs = json.loads((out / "batch.json").read_text())["jobs"]
    assert not [j for j in jobs if j["status"] == "queued"]
    assert [j for j in jobs if j["status"] == "interrupted"] and all(
        j["status"] in ("done", "interrupted") for j in jobs), jobs
    deadline = time.monotonic() + 30  # a batch that stopped takes its cluster with it: no agent is left behind
    while any(_alive(p) for p in ray_procs) and time.monotonic() < deadline:
        time.sleep(0.5)
    left = [p for p in ray_procs if _alive(p)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left


@pytest.mark.slow
def test_ray_address_of_a_cluster_with_token_authentication(tmp_path):
    """`ray start --head` (Ray >= 2.5x) turns token authentication on: a batch joins with the user's token."""
    import tempfile

    token = "f" * 32
    port = 20000 + os.getpid() % 20000
    short = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))  # Ray's unix sockets live here: paths under 108 bytes
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env.update(HOME=str(tmp_path), RAY_USAGE_STATS_ENABLED="0", RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0")
    with open(tmp_path / "head.log", "w") as log:
        head = subprocess.Popen([str(Path(sys.executable).with_name("ray")), "start", "--head", "--block",
                                 f"--port={port}", "--num-cpus=1", "--include-dashboard=false",
                                 "--node-ip-address=127.0.0.1", f"--temp-dir={short}"],
                                env={**env, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token},
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    join = ("import json; from foleydesigner.batch.runner import BatchSettings, start_ray; "
            f"print(json.dumps(start_ray(BatchSettings(address='127.0.0.1:{port}')))); import ray; ray.shutdown()")
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and head.poll() is None and not any(
                n == "gcs_server" for n, _ in _listening(_descendants(head.pid))):
            time.sleep(0.5)
        assert head.poll() is None, (tmp_path / "head.log").read_text()[-2000:]
        done = subprocess.run([sys.executable, "-c", join], capture_output=True, text=True, timeout=120,
                              env={**env, "RAY_AUTH_TOKEN": token})  # a driver on the head's loopback
        assert done.returncode == 0, done.stderr[-2000:]
        assert json.loads(done.stdout.strip().splitlines()[-1])["nodes"] == 1
        _fake_clips(tmp_path / "c", "a.mp4")  # never run: joining fails first
        wrong = subprocess.run([FOLEY, "batch", str(tmp_path / "c"), "--out", str(tmp_path / "o"), "--ray-address",
                                f"127.0.0.1:{port}"], capture_output=True, text=True, timeout=180,
                               env={**env, "RAY_AUTH_TOKEN": "0" * 32})
        assert wrong.returncode == 2, wrong.stderr[-2000:]
        lines = [line for line in wrong.stderr.splitlines() if line.strip()]
        assert lines[0].startswith("1 jobs") and len(lines) == 2, lines[:5]  # the plan, then one line: no C++ noise
        assert "token authentication" in lines[1] and "RAY_AUTH_TOKEN" in lines[1]
    finally:
        os.killpg(head.pid, signal.SIGKILL)
        head.wait()
        shutil.rmtree(short, ignore_errors=True)


def test_a_cluster_that_cannot_be_joined_names_the_token_variables(monkeypatch):
    import ray

    from foleydesigner.batch.runner import BatchSettings, start_ray

    def refuse(*args, **kwargs):
        raise ConnectionError("Failed to connect to Ray cluster at 10.0.0.5:6379")

    monkeypatch.setattr(ray, "init", refuse)
    with pytest.raises(InputError, match="RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH") as err:
        start_ray(BatchSettings(address="10.0.0.5:6379"))
    assert "\n" not in str(err.value)
