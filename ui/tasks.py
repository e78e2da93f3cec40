"""The app's one thread policy: long work runs on background lanes, results come back on the main thread.

Anything that can take long — import, reindex, verify, search, opening a case, page rendering, review writes —
goes through `Tasks.run(lane, work, on_done)`. `work()` runs on the lane's single worker thread; later
`on_done(result, error)` runs on the main thread (exactly one of the two is None), delivered by a queued signal.
Lanes are serial: two searches never race, and PyMuPDF is only ever used from the render lane's thread.
Work that reports progress from its thread calls `run_on_main(closure)`, which crosses the same way.

The threads share one GIL, and a full garbage collection holds it while it scans every live object — the UI's
included — which during an import meant pauses of 100–200 ms on the main thread. So before a job starts, the
objects alive then (the window, the open case) are moved out of the collector's sight (`gc.freeze()`); the
job's own collections stay short. Those objects are never collected after that, which is what they are for.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Qt, Signal

log = logging.getLogger(__name__)

T = TypeVar("T")
DoneCallback = Callable[[Any, BaseException | None], None]

# job: import, reindex, verify, open a case (one at a time: they write)  search: queries and result pages
# render: PyMuPDF (pages, thumbnails, hit boxes)  io: review writes, sheets, copying originals
LANES = ("job", "search", "render", "io")


class Tasks(QObject):
    """Runs callables on named background lanes and hands (result, error) back on the main thread."""

    _closures_pending = Signal()
    busy_changed = Signal(str, bool)  # lane, busy

    def __init__(
        self, parent: QObject | None = None, on_error: Callable[[BaseException], None] | None = None
    ):
        super().__init__(parent)
        self._lanes = {name: ThreadPoolExecutor(1, thread_name_prefix=f"dossier-{name}") for name in LANES}
        self._closures: deque[Callable[[], None]] = deque()
        self._lock = threading.Lock()
        self._busy: Counter[str] = Counter()
        self._latest: dict[str, int] = {}
        self._closed = False
        self.on_error = on_error
        self._closures_pending.connect(self._run_closures, Qt.ConnectionType.QueuedConnection)

    # -- public ------------------------------------------------------------------------------------
    def run(
        self,
        lane: str,
        work: Callable[[], T],
        on_done: Callable[[T | None, BaseException | None], None] | None = None,
        *,
        supersede: str | None = None,
    ) -> Future[None]:
        """Run `work` on `lane`; call `on_done(result, error)` on the main thread.

        With `supersede=KEY`, a newer task with the same key makes an older one moot: if it has not started it
        is skipped, and if it has, its outcome is dropped (`on_done` is not called for it).
        """
        if lane not in self._lanes:
            raise ValueError(f"unknown lane {lane!r}")
        ticket = self._take_ticket(supersede)
        self._mark(lane, +1)
        if lane == "job":
            gc.freeze()

        def body() -> None:
            if self._is_stale(supersede, ticket):
                self.run_on_main(lambda: self._mark(lane, -1))
                return
            try:
                result, error = work(), None
            except BaseException as exc:  # handed to on_done; nothing may escape a worker thread
                result, error = None, exc

            def deliver() -> None:
                self._mark(lane, -1)
                if self._is_stale(supersede, ticket):
                    return
                if on_done is not None:
                    on_done(result, error)
                elif error is not None:
                    raise error

            self.run_on_main(deliver)

        return self._lanes[lane].submit(body)

    def run_on_main(self, closure: Callable[[], None]) -> None:
        """Queue `closure` to run on the main thread (callable from any thread)."""
        with self._lock:
            if self._closed:
                return
            self._closures.append(closure)
        self._closures_pending.emit()

    def is_busy(self, lane: str | None = None) -> bool:
        return any(self._busy.values()) if lane is None else self._busy[lane] > 0

    def shutdown(self) -> None:
        """Wait for running work to end (callers cancel long jobs first); drop what has not run yet."""
        with self._lock:
            self._closed = True
            self._closures.clear()
        for executor in self._lanes.values():
            executor.shutdown(wait=True, cancel_futures=True)

    # -- internals ---------------------------------------------------------------------------------
    def _take_ticket(self, key: str | None) -> int:
        if key is None:
            return 0
        with self._lock:
            self._latest[key] = self._latest.get(key, 0) + 1
            return self._latest[key]

    def _is_stale(self, key: str | None, ticket: int) -> bool:
        if key is None:
            return False
        with self._lock:
            return self._latest.get(key) != ticket

    def _mark(self, lane: str, delta: int) -> None:
        was = self._busy[lane] > 0
        self._busy[lane] += delta
        if (self._busy[lane] > 0) != was:
            self.busy_changed.emit(lane, not was)

    def _run_closures(self) -> None:
        while True:
            with self._lock:
                if not self._closures:
                    return
                closure = self._closures.popleft()
            try:
                closure()
            except Exception as exc:
                if self.on_error is None:
                    raise
                self.on_error(exc)
