"""A watchdog beside `foley batch`'s local Ray cluster, for when the batch dies without shutting Ray down (kill -9,
the OOM killer).

Ray's gcs_server and raylet then die with the batch (the kernel's parent-death signal), but its agents
(ray::DashboardAgent, ray::RuntimeEnvAgent) outlive them by about a minute: they report the raylet's unexpected
death to the GCS, which is gone, with a 60 s timeout (measured with Ray 2.60). This process, in a session of its
own, notes every descendant of the batch while the batch lives, and ends those still running once it is gone.
A batch that ends normally stops it first (`stop`).

Run as `python -m foleydesigner.batch.reaper DRIVER_PID DRIVER_START_TIME`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

POLL_S = 0.25
GRACE_S = 2.0  # after SIGTERM, before SIGKILL


def start() -> subprocess.Popen[bytes] | None:
    """Start the watchdog for this process; None where psutil is missing (the agents then leave on their own)."""
    try:
        import psutil
    except ImportError:  # pragma: no cover - Ray installs it
        return None
    me = os.getpid()
    return subprocess.Popen([sys.executable, "-m", "foleydesigner.batch.reaper", str(me),
                             repr(psutil.Process(me).create_time())],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)  # the batch's death (and its signals) do not reach it


def stop(proc: subprocess.Popen[bytes] | None) -> None:
    """The batch shut Ray down itself: the watchdog has nothing to do."""
    if proc is not None and proc.poll() is None:
        proc.kill()
        proc.wait()


def watch(driver: int, started: float) -> list[int]:
    """Wait for the driver to die, then end the processes that descended from it; returns their PIDs."""
    import psutil

    me = os.getpid()
    seen: dict[int, float] = {}  # pid -> its start time: a pid reused by an unrelated process is never touched
    while True:
        try:
            proc = psutil.Process(driver)
            if proc.create_time() != started or proc.status() == psutil.STATUS_ZOMBIE:
                break
            for child in proc.children(recursive=True):
                if child.pid != me:
                    seen.setdefault(child.pid, child.create_time())
        except psutil.Error:
            break
        time.sleep(POLL_S)
    left = []
    for pid, created in seen.items():
        try:
            p = psutil.Process(pid)
            if p.create_time() == created and p.status() != psutil.STATUS_ZOMBIE:
                p.terminate()
                left.append(p)
        except psutil.Error:
            continue
    _, alive = psutil.wait_procs(left, timeout=GRACE_S)
    for p in alive:
        try:
            p.kill()
        except psutil.Error:
            pass
    return [p.pid for p in left]


if __name__ == "__main__":
    watch(int(sys.argv[1]), float(sys.argv[2]))
