"""tools/cpus.py: the core count a process may use, and the task pool the report and the tracking overlap use."""

from __future__ import annotations

import os
import threading

import pytest

from foleydesigner.tools.cpus import TaskPool, read_ahead, usable_cores


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


@pytest.mark.parametrize("budget", ["1", ""])
def test_read_ahead_gives_every_item_in_order_and_the_producers_error_where_it_fell(
        monkeypatch: pytest.MonkeyPatch, budget: str) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", budget)  # "1": made on the caller's thread; else on a thread of its own
    made_on = set()

    def items(fail_at: int | None):
        for i in range(40):
            made_on.add(threading.current_thread().name)
            if i == fail_at:
                raise ValueError(f"broken at {i}")
            yield i

    assert list(read_ahead(items(None), depth=3)) == list(range(40))
    got = []
    with pytest.raises(ValueError, match="broken at 25"):
        for i in read_ahead(items(25), depth=3):
            got.append(i)
    assert got == list(range(25))
    assert (made_on == {threading.current_thread().name}) == (usable_cores() < 2)


def test_read_ahead_stops_its_producer_when_the_consumer_stops_early() -> None:
    state = {"made": 0, "closed": False}

    def items():
        try:
            for i in range(10_000):
                state["made"] = i + 1
                yield i
        finally:
            state["closed"] = True

    before = threading.active_count()
    for i in read_ahead(items(), depth=2):
        if i == 5:
            break
    assert state["closed"]  # the generator was closed (its files with it) before the loop went on
    assert state["made"] < 100  # it stopped a few items ahead, not at the end
    assert threading.active_count() == before
