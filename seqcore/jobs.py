"""Background jobs (training) that a UI polls: a thread, a stop flag, progress and the result.

No Streamlit here: a page keeps a Job in its session state and draws job.progress from a fragment.
A server-wide semaphore bounds concurrent training runs so one user cannot starve the others.
"""

from __future__ import annotations

import os
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from seqcore.errors import SeqcoreError, TrainingLimitError

MAX_CONCURRENT = int(os.environ.get("SEQCORE_MAX_TRAINING_JOBS", "2"))
_slots = threading.BoundedSemaphore(MAX_CONCURRENT)


class Job:
    """Runs fn(on_progress, stop) in a daemon thread.

    fn gets a callback to report progress objects and a threading.Event to honour; its return value
    becomes job.result. An exception is kept as job.error (a message), never raised into the UI.
    """

    def __init__(self, fn: Callable[[Callable[[Any], None], threading.Event], Any], *, name: str = "job"):
        self.name = name
        self.stop = threading.Event()
        self.progress: list[Any] = []
        self.result: Any = None
        self.error: str | None = None
        self.started = time.time()
        self.finished: float | None = None
        self._fn = fn
        self._lock = threading.Lock()
        if not _slots.acquire(blocking=False):
            raise TrainingLimitError(
                f"the server is already running {MAX_CONCURRENT} training jobs; try again in a minute"
            )
        self._thread = threading.Thread(target=self._run, name=f"seqcore-{name}", daemon=True)
        self._thread.start()

    def _report(self, p: Any) -> None:
        with self._lock:
            self.progress.append(p)

    def _run(self) -> None:
        try:
            self.result = self._fn(self._report, self.stop)
        except SeqcoreError as e:
            self.error = str(e)
        except Exception as e:  # a failed run must not take the page down; keep a short reason
            self.error = f"{type(e).__name__}: {e}"
            traceback.print_exc()
        finally:
            self.finished = time.time()
            _slots.release()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def snapshot(self) -> list[Any]:
        with self._lock:
            return list(self.progress)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until done (tests, CLI); True when finished."""
        self._thread.join(timeout)
        return not self._thread.is_alive()
