"""tools/cpus.py: the core count a process may use, and the task pool the report and the tracking overlap use."""

from __future__ import annotations

import os
import threading

import pytest

from foleydesigner.tools.cpus import TaskPool, usable_cores


def test_usable_cores_follow_affinity_and_the_thread_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    n = usable_cores()
    assert n == len(os.sched_getaffinity(0))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert usable_cores() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "not a number")
    assert usable_cores() == n


@pytest.mark.parametrize("workers", [0, 1, 3])
def test_pool_runs_every_task_once_and_the_results_are_in_their_slots(workers: int) -> None:
    out = [0] * 50
    names = set()

    def task(i: int) -> None:
        out[i] = i * i
        names.add(threading.current_thread().name)

    with TaskPool(workers, bound=2) as pool:
        for i in range(50):
            pool.submit(task, i)
    assert out == [i * i for i in range(50)]
    if workers == 0:
        assert names == {threading.current_thread().name}
    assert not [t for t in threading.enumerate() if t.name.startswith("foley-task-")]  # every worker joined


def test_pool_raises_the_first_failure_in_submission_order() -> None:
    gate = threading.Event()

    def slow_fail() -> None:
        gate.wait(5)
        raise ValueError("first")

    def fast_fail() -> None:
        gate.set()
        raise KeyError("second")

    with pytest.raises(ValueError, match="first"), TaskPool(2) as pool:
        pool.submit(slow_fail)
        pool.submit(fast_fail)


def test_pool_drops_queued_tasks_when_the_caller_fails() -> None:
    ran = []
    with pytest.raises(RuntimeError), TaskPool(0) as pool:
        pool.submit(ran.append, 1)
        raise RuntimeError("caller")
    assert ran == [1]  # workers=0 runs at once; nothing is left queued to run after the failure


def test_report_monitors_are_left_to_the_report_on_one_core(monkeypatch: pytest.MonkeyPatch) -> None:
    """A `foley batch` worker has one core (OMP_NUM_THREADS=1): the nodes beside the upmix and the export render
    nothing, so they never run two threads' work on it."""
    from types import SimpleNamespace

    from foleydesigner import stages

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    runtime = SimpleNamespace(context=None)  # never read: nothing is rendered
    assert stages.preview_stems({}, runtime) == {} and stages.preview_mixes({}, runtime) == {}
