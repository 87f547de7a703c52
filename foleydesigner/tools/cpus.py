"""How many CPU cores this process may use: its affinity mask, narrowed by a thread budget given the usual way
(OMP_NUM_THREADS: Ray sets it to a task's CPUs, so `foley batch` workers stay inside their share)."""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


def usable_cores() -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # no affinity call on this platform
        cores = os.cpu_count() or 1
    budget = os.environ.get("OMP_NUM_THREADS", "").strip()
    if budget.isdigit() and int(budget) > 0:
        cores = min(cores, int(budget))
    return max(1, cores)


class TaskPool:
    """Independent tasks run on `workers` threads and on the caller's thread when it waits, `with` block ending
    only once every task has finished. For work that runs outside the GIL (libopus in PyAV's send_frame, NumPy,
    OpenCV, TFLite). Each task writes its own result (a file, a slot it was given); the first failure, in
    submission order, is raised at the end, whatever order the threads finished in. Never more than `bound`
    tasks wait at once: a submit past that runs one itself first, so the memory queued tasks hold stays bounded.
    workers=0: every task runs at once on the caller's thread."""

    def __init__(self, workers: int, *, bound: int | None = None) -> None:
        self._queue: queue.SimpleQueue[_Task | None] = queue.SimpleQueue()
        self._tasks: list[_Task] = []
        self._bound = bound or 2 * max(1, workers)
        self._threads = [threading.Thread(target=self._work, daemon=True, name=f"foley-task-{i}") for i in range(workers)]
        for t in self._threads:
            t.start()

    def _work(self) -> None:
        while (task := self._queue.get()) is not None:
            task.run()

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        task = _Task(fn, args)
        self._tasks.append(task)
        if not self._threads:
            task.run()
            return
        while sum(not t.done.is_set() for t in self._tasks) > self._bound:
            self._help_or_wait()
        self._queue.put(task)

    def _help_or_wait(self) -> None:
        try:
            task = self._queue.get_nowait()
        except queue.Empty:
            next(t for t in self._tasks if not t.done.is_set()).done.wait(0.05)
            return
        if task is not None:
            task.run()

    def __enter__(self) -> TaskPool:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            while True:  # the caller's thread takes its share of what is still queued (none after a failure)
                try:
                    task = self._queue.get_nowait()
                except queue.Empty:
                    break
                if task is not None and exc[0] is None:
                    task.run()
        finally:
            for _ in self._threads:
                self._queue.put(None)
            for t in self._threads:
                t.join()
        if exc[0] is None:
            for task in self._tasks:
                if task.error is not None:
                    raise task.error


class _Task:
    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.fn, self.args, self.error = fn, args, None
        self.done = threading.Event()

    def run(self) -> None:
        try:
            self.fn(*self.args)
        except BaseException as exc:  # noqa: BLE001 - raised again by TaskPool.__exit__, in submission order
            self.error = exc
        finally:
            self.fn, self.args = None, ()  # the task's inputs (a stem held in memory) go as soon as it is done
            self.done.set()


def read_ahead(items: Iterable[T], depth: int = 4) -> Iterator[T]:
    """The items of `items` in order, produced on a thread of their own up to `depth` ahead of the consumer (for a
    producer working mostly outside the GIL: FFmpeg decoding, OpenCV). Its error is raised here, where it falls
    in the sequence. When the consumer stops early (a break, an error), the producer stops at its next item and
    is waited for. With one usable core the items are made on the caller's thread, as they are asked for."""
    if usable_cores() < 2:
        yield from items
        return
    ready: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(entry: tuple[bool, Any]) -> bool:
        while not stop.is_set():
            try:
                ready.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        it = iter(items)
        try:
            for item in it:
                if not offer((False, item)):
                    return
            offer((True, None))
        except BaseException as exc:  # noqa: BLE001 - raised again on the consumer's thread
            offer((True, exc))
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()  # a generator's files (a video container) closed on the thread that ran it

    thread = threading.Thread(target=produce, daemon=True, name="foley-read-ahead")
    thread.start()
    try:
        while True:
            end, value = ready.get()
            if end:
                if value is not None:
                    raise value
                return
            yield value
    finally:
        stop.set()
        thread.join()
