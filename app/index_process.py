"""Index writing in a process of its own, for the length of an import.

Whoosh writes segments in pure Python: in the importer's process its indexing thread and the thread that
hashes, copies and stores files would share one interpreter lock, so on a multi-core machine the import
would be bound by that one process while the cores sit partly idle. During an import the index is
therefore written by a child process: it receives the ids of committed documents, reads them from the
case store itself (a read-only connection; the store is the source of truth), writes and commits them
to the index, and answers with the revision of each document it indexed. The importer's process
records those revisions and drops its cached searcher, so searches see the documents at once.

Nothing here parses untrusted files (the text is already extracted), so there is no deadline; a child
that dies is reported as an error and the caller indexes in its own process instead.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class IndexProcessError(Exception):
    """The index process failed or died; the message says how."""


def _serve(conn: Connection, case_dir: str) -> None:
    """The child's loop: {"ids": [...], "writers": n} in, {id: revision} out ("merge" in: the small segments
    merged; "open" in: the case opened ahead of the first pass), until the pipe closes. The case is opened
    at the first request: a child started ahead of an import (`start_ahead`) loads its libraries while the
    importer creates the case."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the importer's to handle
    from app.case import Case
    from app.search import SearchService

    case: Case | None = None
    search: SearchService | None = None
    try:
        while True:
            try:
                request = conn.recv_bytes()
            except (EOFError, OSError):
                return
            try:
                if search is None:
                    case = Case.open(case_dir, read_only=True)
                    search = SearchService(case)
                asked = json.loads(request)
                if asked == "open":  # ready for the first pass: the case, the index, the store's queries
                    with case.reader() as s:
                        search.index_docs(s, [])
                    search.index.open()
                    answer: dict[str, Any] = {"revisions": {}}
                elif asked == "merge":
                    search.index.merge_small_segments()
                    answer = {"revisions": {}}
                else:
                    with case.reader() as s:
                        docs, revisions = search.index_docs(s, [int(i) for i in asked["ids"]])
                    search.index.write(docs, importing=True, writers=int(asked.get("writers", 1)))
                    answer = {"revisions": {str(k): v for k, v in revisions.items()}}
            except Exception as exc:  # reported to the importer, which indexes these itself
                log.exception("indexing in the index process failed")
                answer = {"error": f"{type(exc).__name__}: {exc}"[:500]}
            try:
                conn.send_bytes(json.dumps(answer).encode("utf-8"))
            except OSError:  # the parent closed the pipe: nobody is waiting for this answer
                return
    finally:
        if search is not None:
            search.index.close()
        if case is not None:
            case.close()


# Index processes started ahead of an import (`start_ahead`), by case folder, until the import takes one.
_AHEAD: dict[Path, IndexProcess] = {}


def _key(case_dir: Path | str) -> Path:
    return Path(case_dir).expanduser().absolute()


def start_ahead(case_dir: Path | str, *, open_case: bool = False) -> None:
    """Start the index process of an import into `case_dir` now, before the import: the child loads its
    libraries (about half a second of CPU) meanwhile. The import command calls this before this process
    has loaded its own libraries and opened (or created) the case, so the child loads on the core that
    this process's start-up leaves idle, and opens the case at its first request. With `open_case` (the
    case exists: the app, while the reporter picks what to import) the child also opens the case, the
    index and the store's queries at once. The import's `SearchService.index_process` takes it
    (`take_started`); `discard_ahead` closes one that no import took."""
    key = _key(case_dir)
    if key not in _AHEAD:
        process = _AHEAD[key] = IndexProcess(key)
        process.start(open_case=open_case)


def take_started(case_dir: Path | str) -> IndexProcess | None:
    """The index process started ahead for `case_dir`, if any (it is the caller's from now on)."""
    return _AHEAD.pop(_key(case_dir), None)


def discard_ahead(case_dir: Path | str, *, wait: bool = True) -> None:
    """Close the index process started ahead for `case_dir`, if no import took it (without `wait`, on a
    thread: a child still loading its libraries ends once it has)."""
    process = take_started(case_dir)
    if process is not None:
        if wait:
            process.close()
        else:
            threading.Thread(target=process.close, name="dossier-index-discard", daemon=True).start()


def wait_ahead(case_dir: Path | str, timeout: float) -> bool:
    """Wait until the index process started ahead for `case_dir` is ready for its first pass (started,
    and the case opened if it was asked to); False if there is none, or it did not get there in time."""
    process = _AHEAD.get(_key(case_dir))
    return process is not None and process.wait_ready(timeout)


class IndexProcess:
    """The parent's handle: `index(ids)` returns {id: revision} of what the child indexed and committed."""

    def __init__(self, case_dir: Path) -> None:
        self.case_dir = case_dir
        self._conn: Connection | None = None
        self._process: Any = None
        self._starter: threading.Thread | None = None
        self._start_error: BaseException | None = None
        self._unanswered = 0  # requests sent without waiting for their answers (`prepare`)
        self._prepared = False  # "open" sent

    def start(self, *, open_case: bool = False) -> None:
        """Start the child now, on a thread of its own, so that it has loaded the index and store
        libraries (about half a second) by the time the first batch is committed; with `open_case`, have
        it open the case and its index as soon as it runs (`prepare`)."""
        if self._process is None and self._starter is None:
            self._starter = threading.Thread(
                target=self._start_quietly, args=(open_case,), name="dossier-index-start", daemon=True
            )
            self._starter.start()

    def _start_quietly(self, open_case: bool) -> None:
        try:
            self._start()
        except BaseException as exc:  # raised by index(), on the thread that asks for indexing
            self._start_error = exc
            return
        if open_case:
            try:
                self._send_open()
            except OSError as exc:  # the child died: the first pass says so
                log.debug("index process not prepared: %s", exc)

    def _start(self) -> None:
        from app.pipeline.workers import process_context

        ctx = process_context()
        self._conn, child = ctx.Pipe(duplex=True)
        self._process = ctx.Process(
            target=_serve, args=(child, str(self.case_dir)), name="dossier-index", daemon=True
        )
        self._process.start()
        child.close()

    def _started(self) -> None:
        if self._starter is not None:
            self._starter.join()
            self._starter = None
        if self._start_error is not None:
            error, self._start_error = self._start_error, None
            raise IndexProcessError(f"the index process could not start: {error}")
        if self._process is None:
            self._start()

    def index(self, ids: list[int], writers: int = 1) -> dict[int, int]:
        """Index and commit these documents in the child (started now unless `start` started it); with
        `writers` > 1 it shares them with as many processes in all (`SearchIndex.write`)."""
        return self._ask({"ids": ids, "writers": writers})

    def prepare(self) -> None:
        """Have the child open the case, the index and the store's queries now, without waiting: the
        import's first pass then finds it ready. Skipped while the child is still being started; a
        failure shows at the first pass."""
        if self._start_error is not None or (self._starter is not None and self._starter.is_alive()):
            return  # a failed start is reported by the first pass, as such
        try:
            self._started()
            self._send_open()
        except (IndexProcessError, OSError) as exc:
            log.debug("index process not prepared: %s", exc)

    def _send_open(self) -> None:
        if not self._prepared:
            assert self._conn is not None
            self._conn.send_bytes(b'"open"')
            self._unanswered += 1
            self._prepared = True

    def wait_ready(self, timeout: float) -> bool:
        """Wait until the child has started and answered what it was sent ahead ("open"); False if it
        failed, or did not get there within `timeout` seconds (the first pass then waits, or reports)."""
        deadline = time.monotonic() + timeout
        if self._starter is not None:
            self._starter.join(timeout)
            if self._starter.is_alive():
                return False
        try:
            self._started()
            assert self._conn is not None
            while self._unanswered:
                if not self._conn.poll(max(0.0, deadline - time.monotonic())):
                    return False
                answer = self._receive()
                self._unanswered -= 1
                if "error" in answer:
                    return False
        except (IndexProcessError, EOFError, OSError, ValueError):
            return False
        return True

    def merge(self) -> dict[int, int]:
        """Merge the index's small segments (`SearchIndex.merge_small_segments`), in the child; {}."""
        return self._ask("merge")

    def _ask(self, request: dict[str, Any] | str) -> dict[int, int]:
        try:
            self._started()
            assert self._conn is not None
            self._conn.send_bytes(json.dumps(request).encode("utf-8"))
            while self._unanswered:  # a `prepare` that failed is no reason to fail this request
                self._receive()
                self._unanswered -= 1
            answer = self._receive()
        except (EOFError, OSError, ValueError) as exc:
            raise IndexProcessError(f"the index process did not answer: {exc}") from exc
        if "error" in answer:
            raise IndexProcessError(str(answer["error"]))
        return {int(k): int(v) for k, v in answer["revisions"].items()}

    def _receive(self) -> dict[str, Any]:
        assert self._conn is not None
        while not self._conn.poll():
            wait([self._conn, self._process.sentinel])
            if not self._process.is_alive() and not self._conn.poll():
                raise IndexProcessError(f"the index process exited (code {self._process.exitcode})")
        answer: dict[str, Any] = json.loads(self._conn.recv_bytes())
        return answer

    def close(self) -> None:
        if self._starter is not None:
            self._starter.join()
            self._starter = None
        if self._process is None or self._conn is None:
            return
        try:
            self._conn.close()
        except OSError:
            pass
        self._process.join(30)  # it commits nothing between requests: closing the pipe ends it
        if self._process.is_alive():
            self._process.kill()
            self._process.join(5)
