"""The tracking pass started before the picture pass has found the shots (stages.load_video runs both at once).

Most clips are one still shot, and then track_objects' pass over the frames (MOG2, blobs, the tracker, the pose
votes) needs nothing from the picture pass: only the camera offsets, read after it. So with 2 cores or more the
pass starts on a thread on that guess while the picture is analysed on the caller's (both run mostly outside the
GIL: OpenCV, FFmpeg, TFLite), and track_objects takes its result when the picture says one still shot; otherwise
the thread is stopped at its next frame and the shots are tracked as usual. The result is the one the serial
pass gives: the same frames, the same model, in the same order; the pass runs on this thread alone (the pose
model is not shared while it runs).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from foleydesigner.schemas import Shot

_pending: dict[tuple[str, int], _Early] = {}


class _Early:
    def __init__(self, run_pass: Callable[[Callable[[], bool]], Any]) -> None:
        self.stop = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None

        def run() -> None:
            try:
                self.result = run_pass(lambda: not self.stop.is_set())
            except BaseException as exc:  # noqa: BLE001 - raised by take(), on the caller's thread
                self.error = exc

        self.thread = threading.Thread(target=run, daemon=True, name="foley-early-track")
        self.thread.start()

    def finish(self) -> Any:
        self.thread.join()
        if self.error is not None:
            raise self.error
        return self.result


def _key(video_path: str | Path, analysis_width: int) -> tuple[str, int]:
    return str(Path(video_path).resolve()), int(analysis_width)


def start(video_path: str | Path, analysis_width: int, run_pass: Callable[[Callable[[], bool]], Any]) -> None:
    """Start a clip's pass on a thread, guessing it is one still shot (a pass already started for it is stopped).
    run_pass(go_on) is the pass (stages.load_video binds tracking.still_pass to the clip); it stops once go_on()
    is False."""
    cancel(video_path, analysis_width)
    _pending[_key(video_path, analysis_width)] = _Early(run_pass)


def take(video_path: str | Path, analysis_width: int, shots: list[Shot]) -> Any:
    """The started pass's result when the clip is one still shot from its first frame (its errors raised here),
    else None, the pass stopped."""
    early = _pending.pop(_key(video_path, analysis_width), None)
    if early is None:
        return None
    if len(shots) != 1 or shots[0].camera != "static" or shots[0].start_frame != 0:
        early.stop.set()
        early.thread.join()
        return None
    return early.finish()


def cancel(video_path: str | Path, analysis_width: int) -> None:
    """Stop a started pass nobody took (the picture pass failed, another vision backend ran) and wait for it."""
    early = _pending.pop(_key(video_path, analysis_width), None)
    if early is not None:
        early.stop.set()
        early.thread.join()
