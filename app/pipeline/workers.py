"""Extraction in worker processes, supervised: a deadline per file, a memory cap, kill and replace.

Why processes, not threads: PyMuPDF is not thread-safe, and only a process can be killed when a hostile
file hangs a parser or blows up its memory. Workers are forked from a `forkserver` (safe next to Qt's
threads, cheap to restart). The channel carries length-prefixed JSON, never pickles, and the supervisor
treats anything it cannot decode as a crash of that one file.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from app.extract.base import ExtractContext, Extraction, Limits
from app.extract.errors import STATUSES

log = logging.getLogger(__name__)

# Largest result message accepted from a worker (text is capped well below this by Limits).
MAX_MESSAGE_BYTES = 1 << 30
# Share of the per-file deadline OCR may use; the rest is for the text layer, the result and its sending.
OCR_TIME_SHARE = 0.8


@dataclass(frozen=True)
class Task:
    task_id: int  # the document id
    path: str  # the stored blob
    name_hint: str
    work_dir: str
    passwords: tuple[str, ...] = ()
    extractor: str = ""  # force one extractor by name (tests, reliability suite); "" = by detected type
    ocr_languages: str = ""  # "eng+deu" = OCR pages that need it; "" = no OCR
    ocr_known: dict[str, list[Any]] = field(default_factory=dict)  # page → [text, confidence] (OCR cache)
    # "derive": no file to parse; entities and suggestion features of a stored document's text, read
    # with `derive` rules (app/pipeline/derive.py) from `parts` ([ordinal, text], in order) and `metadata`
    kind: str = "extract"
    derive: dict[str, Any] = field(default_factory=dict)
    parts: list[list[Any]] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> bytes:
        return json.dumps(self.__dict__, ensure_ascii=False).encode("utf-8")


@dataclass(frozen=True)
class Result:
    task_id: int
    status: str
    reason: str
    doc_type: str = ""
    extractor: str = ""
    extractor_version: str = ""
    duration_s: float = 0.0
    extraction: Extraction | None = None
    derived: dict[str, Any] | None = None  # entities and suggestion features (a "derive" task's answer)
    kind: str = "extract"  # the task's


def decode_result(task: Task, payload: bytes, duration: float) -> Result:
    """Parse a worker's message; anything malformed becomes a `crashed` result for that task."""
    try:
        data = json.loads(payload)
        if not isinstance(data, dict) or data.get("task_id") != task.task_id:
            raise ValueError("message for another task")
        if data.get("status") not in STATUSES or data["status"] == "pending":
            raise ValueError("unknown status")
        extraction = Extraction.from_json(data["extraction"]) if data.get("extraction") else None
        return Result(
            task_id=task.task_id,
            status=str(data["status"]),
            reason=str(data.get("reason", "")),
            doc_type=str(data.get("doc_type", "")),
            extractor=str(data.get("extractor", "")),
            extractor_version=str(data.get("extractor_version", "")),
            duration_s=duration,
            extraction=extraction,
            derived=data["derived"] if isinstance(data.get("derived"), dict) else None,
            kind=task.kind,
        )
    except Exception as exc:
        return Result(
            task.task_id,
            "crashed",
            f"worker sent an unreadable result ({type(exc).__name__})",
            duration_s=duration,
            kind=task.kind,
        )


# -- the worker process ----------------------------------------------------------------------------


def worker_main(conn: Connection, limits: dict[str, Any]) -> None:
    """Loop: receive a task, extract, send the result. Runs in the child process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the supervisor's to handle
    _apply_rlimits(int(limits.get("memory_mb", 0)))
    from app.extract.registry import extract_file

    lim = Limits(**limits)
    lowered = False
    while True:
        try:
            raw = conn.recv_bytes()
        except (EOFError, OSError):
            return
        task = json.loads(raw)
        if task.get("kind") == "derive":
            if not lowered:  # no search waits for entities: the index's last pass goes first
                _lowest_priority()
                lowered = True
            conn.send_bytes(_derive_answer(task))
            continue
        ctx = ExtractContext(
            work_dir=Path(task["work_dir"]),
            name_hint=task.get("name_hint", ""),
            limits=lim,
            passwords=tuple(task.get("passwords") or ()),
            ocr_languages=str(task.get("ocr_languages") or ""),
            ocr_known={int(k): (str(v[0]), float(v[1])) for k, v in (task.get("ocr_known") or {}).items()},
            # OCR stops in time to send what it read before the supervisor's deadline kills the worker.
            ocr_deadline=time.monotonic() + lim.timeout_s * OCR_TIME_SHARE,
        )
        if task.get("extractor"):
            outcome = _run_named(task["extractor"], Path(task["path"]), ctx)
        else:
            outcome = extract_file(Path(task["path"]), ctx)
        message = {
            "task_id": task["task_id"],
            "status": outcome.status,
            "reason": outcome.reason,
            "doc_type": outcome.doc_type,
            "extractor": outcome.extractor,
            "extractor_version": outcome.extractor_version,
            "extraction": outcome.extraction.to_json() if outcome.extraction else None,
        }
        try:
            payload = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode(
                "utf-8", "replace"
            )
        except MemoryError:
            payload = json.dumps(
                {
                    **message,
                    "status": "out_of_memory",
                    "reason": "result too large to send",
                    "extraction": None,
                }
            ).encode()
        conn.send_bytes(payload)


def _lowest_priority() -> None:
    try:
        os.nice(19 - os.nice(0))
    except OSError:
        pass


def _derive_answer(task: dict[str, Any]) -> bytes:
    """A "derive" task's answer: {"derived": …}, or none when the rules could not be applied (the refresh
    after the import computes what did not arrive, from the store)."""
    derived = None
    try:
        from app.pipeline.derive import derive_text  # loaded by the first task that asks

        parts = [(int(ordinal), str(text)) for ordinal, text in task.get("parts") or ()]
        derived = derive_text(parts, task.get("metadata") or {}, task.get("derive") or {})
    except Exception:
        log.exception("deriving entities and features failed")
    message = {"task_id": task["task_id"], "status": "ok", "reason": "", "derived": derived}
    try:
        return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "replace")
    except MemoryError:
        return json.dumps({**message, "derived": None}).encode()


def _run_named(spec: str, path: Path, ctx: ExtractContext):  # noqa: ANN202 - returns registry.Outcome
    """Run an extractor given as `module:Class` (used by tests to inject misbehaving extractors)."""
    import importlib

    from app.extract.registry import Outcome, run_extractor

    module_name, _, cls_name = spec.partition(":")
    extractor = getattr(importlib.import_module(module_name), cls_name)()
    result: Outcome = run_extractor(extractor, extractor.doc_types[0], path, ctx)
    return result


def _apply_rlimits(memory_mb: int) -> None:
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if memory_mb > 0:
            cap = memory_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    except (ImportError, ValueError, OSError) as exc:  # non-POSIX or a hard limit already lower
        log.warning("could not cap worker memory: %s", exc)
    try:
        os.nice(5)  # keep the UI and the importer responsive
    except OSError:
        pass


def process_context() -> Any:
    """The multiprocessing context every child of the app is started from: a fork server when the platform
    has one (safe next to Qt's threads, cheap to restart), else spawn."""
    from app.childenv import secure_children

    secure_children()  # our code only, never a package in the current folder
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    ctx = multiprocessing.get_context(method)
    if method == "forkserver":
        # The PDF extractor's libraries are imported once, in the fork server: each worker (and each
        # replacement of a killed one) starts with them loaded. Other formats' libraries are imported
        # by a worker when the first file of theirs arrives, so the pool is ready sooner (about 0.2 s
        # instead of 0.5 s) and an import of PDFs never loads them. (The list only counts when the
        # server starts, so whichever child comes first sets it.)
        from app.extract.registry import PRELOADED

        ctx.set_forkserver_preload(["app.pipeline.workers", "app.extract.registry", *PRELOADED])
    return ctx


# -- the supervisor --------------------------------------------------------------------------------


@dataclass
class _Worker:
    process: multiprocessing.process.BaseProcess
    conn: Connection
    # Sent and not yet answered, in order: the first is being extracted, the rest wait in the pipe.
    tasks: deque[Task] = field(default_factory=deque)
    started: float = 0.0  # when the first task started (its deadline counts from here)
    deadline: float = 0.0

    @property
    def task(self) -> Task | None:
        return self.tasks[0] if self.tasks else None

    def begin(self, timeout_s: float) -> None:
        self.started = time.monotonic()
        self.deadline = self.started + timeout_s


@dataclass
class WorkerPool:
    """N worker processes; `submit` a task to an idle one, `collect` finished results.

    With `prefetch` > 1 a worker is sent its next task while it extracts the current one, so it starts
    on it the moment it is done instead of waiting for the supervisor's thread (busy storing and indexing
    results) to notice. The deadline of a task counts from when the one before it was answered.
    """

    size: int
    limits: Limits = field(default_factory=Limits)
    prefetch: int = 1  # tasks a worker may hold at once
    _workers: list[_Worker] = field(default_factory=list)
    _ctx: Any = None

    def __post_init__(self) -> None:
        self._ctx = process_context()
        self._workers = [self._start() for _ in range(max(1, self.size))]

    def _start(self) -> _Worker:
        parent, child = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(
            target=worker_main, args=(child, self.limits.to_dict()), name="dossier-extract", daemon=True
        )
        process.start()
        child.close()
        return _Worker(process, parent)

    @property
    def idle(self) -> int:
        """How many more tasks can be submitted now."""
        return sum(max(0, self._depth - len(w.tasks)) for w in self._workers)

    @property
    def busy(self) -> int:
        """Workers holding at least one task."""
        return sum(1 for w in self._workers if w.tasks)

    @property
    def _depth(self) -> int:
        return max(1, self.prefetch)

    def running(self) -> list[Task]:
        return [t for w in self._workers for t in w.tasks]

    def submit(self, task: Task) -> None:
        # The least loaded worker: an empty one first, so every worker is busy before any holds two.
        worker = min((w for w in self._workers if len(w.tasks) < self._depth), key=lambda w: len(w.tasks))
        if not worker.tasks:
            worker.begin(self.limits.timeout_s)
        worker.tasks.append(task)
        self._send(worker, task)

    @staticmethod
    def _send(worker: _Worker, task: Task) -> None:
        try:
            worker.conn.send_bytes(task.to_json())
        except (OSError, ValueError):
            pass  # a dead worker is noticed by collect() through its sentinel

    def collect(self, timeout: float) -> list[Result]:
        """Wait up to `timeout` for results; enforce deadlines; replace dead or killed workers."""
        busy = [w for w in self._workers if w.tasks]
        if not busy:
            time.sleep(min(timeout, 0.05))
            return []
        now = time.monotonic()
        wait_for = min(timeout, max(0.0, min(w.deadline for w in busy) - now))
        handles: list[Any] = []
        for w in busy:
            handles += [w.conn, w.process.sentinel]
        ready = set(wait(handles, timeout=wait_for))
        results: list[Result] = []
        for index, w in enumerate(self._workers):
            if not w.tasks:
                continue
            if w.conn in ready:
                # Every answer already in the pipe, in order; each one starts the clock of the next task.
                while w.tasks:
                    try:
                        if not w.conn.poll():
                            break
                        payload = w.conn.recv_bytes(MAX_MESSAGE_BYTES)
                    except (EOFError, OSError):
                        break
                    task = w.tasks.popleft()
                    results.append(decode_result(task, payload, time.monotonic() - w.started))
                    if w.tasks:
                        w.begin(self.limits.timeout_s)
                if not w.tasks:
                    continue
            task = w.tasks[0]
            elapsed = time.monotonic() - w.started
            if w.process.sentinel in ready or not w.process.is_alive():
                w.process.join(1)
                reason = _death_reason(w.process.exitcode)
                results.append(Result(task.task_id, *reason, duration_s=elapsed, kind=task.kind))
                self._replace(index)
            elif time.monotonic() >= w.deadline:
                results.append(
                    Result(
                        task.task_id,
                        "timeout",
                        f"parsing took longer than {self.limits.timeout_s:g} s; the parser was stopped",
                        duration_s=elapsed,
                        kind=task.kind,
                    )
                )
                self._replace(index)
        return results

    def _replace(self, index: int) -> None:
        """Kill the worker (its first task is answered by the caller); its waiting tasks go to a new one."""
        old = self._workers[index]
        _kill(old.process)
        old.conn.close()
        fresh = self._start()
        self._workers[index] = fresh
        waiting = list(old.tasks)[1:]
        if waiting:
            fresh.begin(self.limits.timeout_s)
            for task in waiting:
                fresh.tasks.append(task)
                self._send(fresh, task)

    def close(self) -> None:
        for w in self._workers:
            try:
                w.conn.close()
            except OSError:
                pass
            if w.tasks:
                _kill(w.process)
        for w in self._workers:
            w.process.join(2)
            if w.process.is_alive():
                _kill(w.process)
        self._workers = []

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PoolStarter:
    """Starts a `WorkerPool` on a thread of its own.

    The first worker waits for the fork server to start and import the PDF reader (about 0.2 s);
    meanwhile the importer already walks the folders, hashes and copies the first files.
    `get()` waits for the pool (or raises what starting it raised); `close()` closes whatever started.
    """

    def __init__(self, size: int, limits: Limits, prefetch: int = 1) -> None:
        self._pool: WorkerPool | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._start, args=(size, limits, prefetch), name="dossier-pool-start", daemon=True
        )
        self._thread.start()

    def _start(self, size: int, limits: Limits, prefetch: int) -> None:
        try:
            self._pool = WorkerPool(size, limits, prefetch=prefetch)
        except BaseException as exc:  # handed to the importer's thread by get()
            self._error = exc

    def ready(self) -> bool:
        return not self._thread.is_alive()

    def get(self) -> WorkerPool:
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._pool is not None
        return self._pool

    def close(self) -> None:
        self._thread.join()
        if self._pool is not None:
            self._pool.close()


def _kill(process: multiprocessing.process.BaseProcess) -> None:
    if process.is_alive():
        process.kill()
    process.join(5)


def _death_reason(exitcode: int | None) -> tuple[str, str]:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        if -exitcode == signal.SIGKILL:
            # Nobody here sent it: the kernel's OOM killer is the usual sender.
            return "out_of_memory", "the parser was killed by the system (likely out of memory)"
        return "crashed", f"the parser crashed ({name}); other files were not affected"
    return "crashed", f"the parser exited unexpectedly (exit code {exitcode})"
