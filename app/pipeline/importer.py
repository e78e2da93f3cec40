"""The import pipeline: discover → hash/dedup → extract (worker processes) → store → index, then
entities and suggestion features (worker processes, `derive` tasks) while the last documents are indexed.

One importer thread owns all writes during an import. It hashes and copies the next files while the
workers extract earlier ones, stores results in batches (one transaction each), and only after a batch is
committed hands its document ids to the index. A document is `pending` until its extraction result is
committed; an interrupted import leaves pending documents that the next import picks up again.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from app.case import Case, current_user
from app.documents import part_texts
from app.extract.base import Extraction, Limits
from app.extract.errors import FAILED_STATUSES
from app.pipeline.blobstore import BlobStore
from app.pipeline.discover import Found, Skipped, discover
from app.pipeline.record import record_indexed, record_result
from app.pipeline.workers import PoolStarter, Result, Task, WorkerPool
from db.models import Blob, Document, ExtractionAttempt, ImportRun, OcrCache, Source, utcnow

if TYPE_CHECKING:  # the entity and feature code is the workers' (and the sink's) to load
    from app.pipeline.derive import DeriveSink

log = logging.getLogger(__name__)

# The per-file statements run on the tables (SQLAlchemy Core): no unit-of-work flush per file.
_DOCS = Document.__table__
_SOURCES = Source.__table__
_BLOBS = Blob.__table__
_ATTEMPTS = ExtractionAttempt.__table__


def _upsert_source() -> Any:
    stmt = sqlite_insert(_SOURCES)
    return stmt.on_conflict_do_update(
        index_elements=["document_id", "path"],
        set_={"mtime": stmt.excluded.mtime, "size": stmt.excluded.size, "run_id": stmt.excluded.run_id},
    )


# Built once, executed with parameters: building a statement per file cost more than running it.
_FIND_SOURCE = (
    select(_SOURCES.c.document_id)
    .where(
        _SOURCES.c.path == bindparam("path"),
        _SOURCES.c.size == bindparam("size"),
        _SOURCES.c.mtime == bindparam("mtime"),
    )
    .limit(1)
)
_FIND_DOCUMENT = select(_DOCS.c.id).where(_DOCS.c.sha256 == bindparam("sha"))
_ADD_BLOB = sqlite_insert(_BLOBS).on_conflict_do_nothing()
_ADD_DOCUMENT = insert(_DOCS)
_UPSERT_SOURCE = _upsert_source()


class ImportFailed(Exception):
    """The import could not run at all (missing path, unwritable case); the message is for the reporter."""


class IndexSink(Protocol):
    """Receives ids of documents whose rows were just committed (the search index).

    It may return {id: revision indexed} for the importer to record (`Document.indexed_revision`) in its
    next transaction, rather than wait for the store's write lock, which the importer holds most of the
    time; None when it recorded them itself.
    """

    def index_documents(self, doc_ids: Sequence[int], *, writers: int = 1) -> Mapping[int, int] | None:
        """`writers` > 1: the sink may share the work among that many processes (the cores are free)."""

    # A sink may also have `settle()`: called once the index holds every extracted document, while the
    # workers read entities, to fold the import's small index segments together (see `_IndexFeeder`).


# Files hashed and queued at most while the worker pool is still starting.
EARLY_QUEUE_MAX = 1000
# While files are still being extracted, an index pass starts at least this long after the one before
# it began. Each pass writes a segment, and a segment costs per distinct term (most of a pass's time on
# a few dozen documents), so fewer, larger passes leave the extraction more of the CPU: 960 PDFs on two
# cores were searchable 22% sooner than with passes back to back; 240 PDFs as soon.
MIN_PASS_GAP_S = 1.0
# Once every file is extracted, the cores the workers leave are the index's until it is searchable (the
# workers' reading of entities runs at the lowest priority): a pass is shared among this many writers.
INDEX_WRITERS_ONCE_EXTRACTED = max(1, min(4, os.cpu_count() or 1))
# When extraction is about to end (only the workers' files left, or the files left would take less than a
# gap at the rate so far: `_Run._ending_soon`), the next pass waits up to this many gaps for its end, so
# that it is the last one, shared among those writers, instead of a pass on one core that the last pass
# would wait for.
ENDING_GAPS = 2.0
# Files extracted before the rate so far is trusted to tell when extraction will end.
ENDING_MIN_FILES = 8


class _IndexFeeder:
    """Indexes committed documents on a thread of its own, so extraction and storing never wait for it.

    A pass takes every id committed meanwhile, and starts as soon as the one before it ends, but while
    files are still extracted no sooner than `MIN_PASS_GAP_S` after that one began: the index keeps
    close behind extraction, so little is left to index when it ends, and while the index falls behind,
    passes grow instead of multiplying (each commit costs about as much per distinct term as per
    document). `extraction_ended` says so: `drained_at` then records when the index held every
    document handed over until then, when the import became searchable. `close` indexes what is left and
    waits, so an import returns searchable. A failure is logged, never fatal: the index is derived, and
    documents it missed are indexed when the case is next opened (their indexed revision lags).
    """

    def __init__(self, sink: IndexSink) -> None:
        self.sink = sink
        self.cond = threading.Condition()
        self.pending: dict[int, None] = {}  # ordered, without repeats
        self.indexed: dict[int, int] = {}  # id → revision the index holds, for the importer to record
        self.closed = False
        self.extracted = False
        self.ending = False  # extraction is about to end
        self.drained_at: float | None = None  # time.monotonic() when extraction had ended and all was in
        self.last_pass = float("-inf")  # time.monotonic() when the last pass began
        self.thread = threading.Thread(target=self._loop, name="dossier-index", daemon=True)
        self.thread.start()

    def add(self, ids: Sequence[int]) -> None:
        with self.cond:
            self.pending.update(dict.fromkeys(ids))
            self.cond.notify()

    def take_indexed(self) -> dict[int, int]:
        with self.cond:
            indexed, self.indexed = self.indexed, {}
        return indexed

    def winding_down(self, ending: bool) -> None:
        """Whether extraction is about to end (the importer's estimate; children found in the last files
        may still come, and make it false again)."""
        if ending != self.ending:
            with self.cond:
                self.ending = ending
                self.cond.notify()

    def extraction_ended(self) -> None:
        """Extraction has ended: note when what is pending (or being indexed) now is in the index."""
        with self.cond:
            self.extracted = True
            self.cond.notify()

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify()
        self.thread.join()
        if self.drained_at is None:
            self.drained_at = time.monotonic()

    def _loop(self) -> None:
        settled = False
        while True:
            with self.cond:
                while not self.pending and not self.closed:
                    if self.extracted and self.drained_at is None:
                        self.drained_at = time.monotonic()
                    if self.drained_at is not None and not settled:
                        break
                    self.cond.wait()
                if self.pending:
                    self._wait_for_gap()
                ids, self.pending = list(self.pending), {}
                closing = self.closed
                writers = INDEX_WRITERS_ONCE_EXTRACTED if self.extracted else 1
            if ids:
                self.last_pass = time.monotonic()
                self._index(ids, writers)
            elif self.drained_at is not None and not settled:
                settled = True
                self._settle()
            elif closing:
                return

    def _wait_for_gap(self) -> None:
        """(Holding the lock.) While files are still extracted, wait until `MIN_PASS_GAP_S` after the
        last pass began (`ENDING_GAPS` of them, or until extraction ends, when it is about to); ids
        committed meanwhile join this pass."""
        while not self.extracted and not self.closed:
            gap = MIN_PASS_GAP_S * (ENDING_GAPS if self.ending else 1.0)
            wait = gap - (time.monotonic() - self.last_pass)
            if wait <= 0:
                return
            self.cond.wait(wait)

    def _index(self, ids: list[int], writers: int = 1) -> None:
        try:
            indexed = self.sink.index_documents(ids, writers=writers)
            if indexed:
                with self.cond:
                    self.indexed.update(indexed)
        except Exception:
            log.exception("indexing %d documents failed; `reindex` will repair the index", len(ids))

    def _settle(self) -> None:
        """Searchable now: fold the passes' small segments together while the workers read entities
        (the passes themselves merge only when segments pile up, so that searchable comes sooner)."""
        settle = getattr(self.sink, "settle", None)
        if settle is None:
            return
        try:
            settle()
        except Exception:
            log.exception("merging the import's index segments failed; the index stays usable")


@dataclass(frozen=True)
class ImportOptions:
    workers: int = field(default_factory=lambda: max(1, os.cpu_count() or 2))
    limits: Limits = field(default_factory=Limits)
    passwords: tuple[str, ...] = ()
    batch_size: int = 250  # results per transaction
    batch_seconds: float = 0.5  # …or this long: review actions wait at most this for the write lock
    extractor: str = ""  # force one extractor for every file (reliability tests)
    ocr: bool = True  # OCR pages without a usable text layer, and images (when an engine is installed)
    ocr_languages: str = ""  # "eng+deu"; "" = the case's setting (app.ocr), else English


@dataclass(frozen=True)
class Progress:
    """A snapshot for progress bars; crosses from the importer thread to the UI."""

    files_total: int
    files_done: int
    documents_new: int
    duplicates: int
    failed: int
    bytes_done: int
    elapsed: float
    current: str
    phase: str  # "discovering" | "importing" | "finishing"

    @property
    def rate(self) -> float:
        return self.files_done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        if self.rate <= 0 or self.files_total <= self.files_done:
            return None
        return (self.files_total - self.files_done) / self.rate


@dataclass
class ImportSummary:
    run_id: int
    documents: int = 0  # documents this run added or extracted
    new: int = 0
    duplicates: int = 0
    unchanged: int = 0  # files already imported with the same size and time: not read again
    resumed: int = 0  # pending documents of an interrupted import, finished now
    case_documents: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    by_type: dict[str, int] = field(default_factory=dict)
    failures: list[dict[str, str]] = field(default_factory=list)
    interrupted: bool = False
    elapsed: float = 0.0
    bytes: int = 0
    ocr_pages: int = 0  # pages recognised in this run
    ocr_cached: int = 0  # pages whose OCR text came from the case's OCR cache (not recognised again)
    # Seconds from the start until the index held every document this run extracted (None: no index).
    # Entities and suggestion features are read after that, while the last documents are being indexed.
    searchable_s: float | None = None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class _Pending:
    """A document waiting for (or in) extraction."""

    doc_id: int
    blob: Path
    name: str
    source_path: str
    depth: int
    top_level: bool
    sha256: str
    revision: int = 0  # the document's revision when it was queued (0: never extracted)
    doc_type: str = ""


class Importer:
    def __init__(
        self,
        case: Case,
        options: ImportOptions | None = None,
        *,
        index: IndexSink | None = None,
        derive: DeriveSink | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        self.case = case
        self.options = options or ImportOptions()
        self.index = index
        self.derive = derive  # entities and suggestion features computed by the workers, stored per batch
        self.on_progress = on_progress
        self.cancel = cancel or threading.Event()
        self.blobs = BlobStore(case.blobs_dir, case.tmp_dir)
        self.work_root = case.tmp_dir / "work"
        self.ocr_languages = ""  # for the run under way: "" = no OCR (see _ocr_plan)
        self.ocr_engine = ""
        self.started = 0.0  # time.monotonic() when the run under way started

    # -- public ------------------------------------------------------------------------------------
    def run(self, paths: Iterable[Path | str], *, labels: dict[str, str] | None = None) -> ImportSummary:
        """Import `paths`. `labels` maps a file path to the provenance recorded for it (bundle merges)."""
        roots = [Path(os.path.abspath(Path(p).expanduser())) for p in paths]
        missing = [str(p) for p in roots if not p.exists() and not p.is_symlink()]
        if missing:
            raise ImportFailed(f"path not found: {', '.join(missing)}")
        if self.case.read_only:
            raise ImportFailed("this case is open read-only; imports need write access")
        return self._execute(lambda: _Run(self, roots, labels or {}))

    def rerun(self, doc_ids: Sequence[int]) -> ImportSummary:
        """Extract these documents again (the `ocr` command), with this importer's options."""
        if self.case.read_only:
            raise ImportFailed("this case is open read-only; OCR needs write access")
        return self._execute(lambda: _Run(self, [], {}, redo=list(doc_ids)))

    def _execute(self, make_run: Callable[[], _Run]) -> ImportSummary:
        # The workers start first, on a thread of their own, while the OCR engine is checked, the run
        # recorded, the folders walked and the first files hashed and copied.
        self.started = time.monotonic()
        starter = PoolStarter(self.options.workers, self.options.limits, prefetch=2)
        try:
            shutil.rmtree(self.work_root, ignore_errors=True)
            self.work_root.mkdir(parents=True, exist_ok=True)
            self.ocr_languages, self.ocr_engine = self._ocr_plan()
            return make_run().execute(starter)
        finally:
            starter.close()  # the run closes it as soon as extraction ends; this covers a failure before

    def _ocr_plan(self) -> tuple[str, str]:
        """(languages, engine id) for this run, or ("", "") without OCR."""
        from app.extract import ocr
        from app.ocr import case_languages

        if not self.options.ocr:
            return "", ""
        explicit = self.options.ocr_languages
        try:
            langs = ocr.normalize_languages(explicit or case_languages(self.case))
        except ValueError as exc:
            raise ImportFailed(str(exc)) from exc
        reason = ocr.unavailable_reason(langs)
        if reason:
            if explicit:
                raise ImportFailed(reason)
            log.warning("OCR is off for this import: %s", reason)
            return "", ""
        return langs, ocr.engine_id(langs)


def _remove_dir(path: Path) -> None:
    """Remove a task's work folder: most extractions never made one, the rest hold children or leftovers."""
    try:
        path.rmdir()
    except FileNotFoundError:
        return
    except OSError:
        shutil.rmtree(path, ignore_errors=True)


class _Run:
    """State of one import run (one thread)."""

    def __init__(
        self, importer: Importer, roots: list[Path], labels: dict[str, str], *, redo: Sequence[int] = ()
    ) -> None:
        self.imp = importer
        self.redo = list(redo)
        self.ocr_sent: dict[int, set[int]] = {}  # document → pages whose OCR text went from the cache
        self.ocr_pages = 0
        self.ocr_cached = 0
        self.labels = labels
        self.case = importer.case
        self.opts = importer.options
        self.roots = roots
        self.t0 = importer.started
        self.session: Session = self.case.sessions()
        self.queue: deque[_Pending] = deque()
        self.in_flight: dict[int, _Pending] = {}
        self.touched: set[int] = set()  # documents extracted in this run
        self.uncommitted: list[int] = []
        self.derived: list[tuple[int, int, dict[str, Any]]] = []  # (document, revision, data) to store
        # Entities and suggestion features are read by the workers once extraction has ended (so the
        # documents are searchable sooner): documents waiting for that, tasks built, tasks in the workers.
        self.derive_wait: deque[tuple[int, int]] = deque()  # (document, revision)
        self.derive_ready: deque[Task] = deque()
        self.deriving: dict[int, int] = {}  # document → revision
        self.extracted = False  # every file of the run has been extracted and committed
        self.attempts: list[dict[str, Any]] = []  # extraction attempts of the batch, written at its commit
        self._derive_rules: dict[str, Any] | None = None  # asked of the sink once every file is extracted
        self.last_commit = time.monotonic()
        self.files_total = 0
        self.files_done = 0
        self.bytes_done = 0
        self.new = 0
        self.duplicates = 0
        self.unchanged = 0
        self.resumed = 0
        self.failed = 0
        self.skipped: list[Skipped] = []
        self.current = ""
        self.last_progress = 0.0
        self.feeder: _IndexFeeder | None = None
        self.first_dispatch: float | None = None  # time.monotonic() of the first file sent to a worker

    # -- driver ------------------------------------------------------------------------------------
    def _begin_run(self) -> ImportRun:
        run = ImportRun(
            user=current_user(),
            host=socket.gethostname(),
            paths=[str(p) for p in self.roots],
            options={
                "workers": self.opts.workers,
                "limits": self.opts.limits.to_dict(),
                "ocr": self.imp.ocr_languages or None,
                **({"rerun": len(self.redo)} if self.redo else {}),
            },
            status="running",
        )
        self.session.add(run)
        self._commit()  # a full disk already here is the same clear error
        return run

    def execute(self, starter: PoolStarter) -> ImportSummary:
        """Run the import with workers from `starter` (closed once extraction ends)."""
        run = self._begin_run()
        self.run_id = run.id
        if self.imp.index is not None:
            self.feeder = _IndexFeeder(self.imp.index)
        interrupted = False
        failed = False
        summary: ImportSummary | None = None
        pool: WorkerPool | None = None
        try:
            self._progress("discovering", force=True)
            found = self._discover()
            self._resume_pending()
            self._queue_redo()
            files = iter(found)
            exhausted = False
            while True:
                if self.imp.cancel.is_set():
                    interrupted = True
                    break
                if pool is None:
                    if not (starter.ready() or exhausted or len(self.queue) >= EARLY_QUEUE_MAX):
                        item = next(files, None)
                        if item is None:
                            exhausted = True
                        else:
                            self._take_file(item)
                        self._progress("importing")
                        continue
                    pool = starter.get()
                # Every free worker slot gets a file (each sent as soon as it is hashed and stored), and a
                # short queue waits behind them, hashed while the workers extract.
                while True:
                    while pool.idle and self.queue:
                        self._dispatch(pool, self.queue.popleft())
                    if exhausted or (not pool.idle and len(self.queue) >= self.opts.workers):
                        break
                    if self.imp.cancel.is_set():
                        break
                    item = next(files, None)
                    if item is None:
                        exhausted = True
                    else:
                        self._take_file(item)
                if self.feeder is not None:
                    self.feeder.winding_down(self._ending_soon(exhausted))
                if exhausted and not self.queue:
                    if not self.in_flight and not self.extracted:
                        self._extraction_ended()
                    while pool.idle and self._derive_may_start() and self._dispatch_derive(pool):
                        pass
                    if not pool.busy and not self.derive_wait and not self.derive_ready:
                        break
                for result in pool.collect(timeout=0.05 if not exhausted else 0.25):
                    self._apply(result)
                self._maybe_commit()
                self._progress("analysing" if self.extracted else "importing")
        except KeyboardInterrupt:
            interrupted = True
        except BaseException:
            failed = True
            raise
        finally:
            starter.close()
            # Documents that were in flight stay `pending`; the next import picks them up.
            self._progress("finishing", force=True)
            try:
                self._commit()
                summary = self._finish(run.id, interrupted, failed)
            except (ImportFailed, OperationalError):  # recording a failed run fails too: keep the first error
                if not failed:
                    raise
            finally:
                if self.feeder is not None:
                    self.feeder.close()
                    self._record_last_indexed()
                    if summary is not None and self.feeder.drained_at is not None:
                        summary.searchable_s = round(self.feeder.drained_at - self.t0, 3)
                self.session.close()
                shutil.rmtree(self.imp.work_root, ignore_errors=True)
        return summary

    # -- discovery and hashing ---------------------------------------------------------------------
    def _discover(self) -> list[Found]:
        found: list[Found] = []
        for item in discover(self.roots):
            if isinstance(item, Skipped):
                self.skipped.append(item)
            else:
                found.append(item)
            if self.imp.cancel.is_set():
                break
        self.files_total = len(found)
        return found

    def _resume_pending(self) -> None:
        self.resumed += self._queue_stored(_DOCS.c.status == "pending")

    def _queue_redo(self) -> None:
        """Queue documents to extract again (`Importer.rerun`); pending ones are queued already."""
        queued = {p.doc_id for p in self.queue}
        for start in range(0, len(self.redo), 500):
            self._queue_stored(_DOCS.c.id.in_(self.redo[start : start + 500]), skip=queued)

    def _queue_stored(self, where: Any, skip: set[int] | frozenset[int] = frozenset()) -> int:
        """Queue the stored documents matching `where` for extraction (a document whose original is
        missing becomes `corrupt` instead); returns how many were queued."""
        rows = self.session.execute(
            select(
                _DOCS.c.id,
                _DOCS.c.sha256,
                _DOCS.c.file_name,
                _DOCS.c.depth,
                _DOCS.c.revision,
                _DOCS.c.doc_type,
            ).where(where)
        ).all()
        queued = 0
        for doc_id, sha, name, depth, revision, doc_type in rows:
            if doc_id in skip:
                continue
            blob = self.imp.blobs.path(sha)
            if not blob.is_file():
                self._set_status(doc_id, "corrupt", "stored original is missing from the case")
                continue
            src = (
                self.session.scalar(select(Source.path).where(Source.document_id == doc_id).limit(1)) or name
            )
            self.queue.append(_Pending(doc_id, blob, name, src, depth, False, sha, revision, doc_type))
            self.files_total += 1
            queued += 1
        return queued

    def _take_file(self, item: Found) -> None:
        self.current = str(item.path)
        path_str = self.labels.get(str(item.path), str(item.path))
        known = self.session.execute(
            _FIND_SOURCE, {"path": path_str, "size": item.size, "mtime": item.mtime}
        ).first()
        if known is not None:
            self.unchanged += 1
            self.files_done += 1
            return
        if item.size > self.opts.limits.max_file_bytes:
            self.skipped.append(
                Skipped(item.path, f"larger than the {self.opts.limits.max_file_bytes:,}-byte limit")
            )
            self.files_done += 1
            return
        try:
            stored = self.imp.blobs.add_file(item.path)
        except OSError as exc:
            if exc.errno == 28:  # ENOSPC: nothing else can succeed either
                raise ImportFailed(f"the disk holding the case is full (while copying {item.path})") from exc
            self.skipped.append(Skipped(item.path, f"cannot read: {exc.strerror or exc}"))
            self.files_done += 1
            return
        self.bytes_done += stored.size
        self._register(
            stored.sha256,
            stored.size,
            name=item.path.name,
            source_path=path_str,
            mtime=item.mtime,
            parent_id=None,
            depth=0,
            relation="file",
            top_level=True,
        )

    def _register(
        self,
        sha: str,
        size: int,
        *,
        name: str,
        source_path: str,
        mtime: float | None,
        parent_id: int | None,
        depth: int,
        relation: str,
        top_level: bool,
    ) -> None:
        """Record a content and where it was found; queue it for extraction if it is new."""
        s = self.session
        doc_id = s.execute(_FIND_DOCUMENT, {"sha": sha}).scalar()
        source = {
            "run_id": self.run_id,
            "path": source_path,
            "name": name,
            "size": size,
            "mtime": mtime,
            "parent_document_id": parent_id,
            "relation": relation,
            "found_at": utcnow(),
        }
        if doc_id is not None:
            self.duplicates += 1
            self._add_source(doc_id, source)
            if top_level:
                self.files_done += 1
            return
        s.execute(_ADD_BLOB, {"sha256": sha, "size": size})
        doc_id = s.execute(
            _ADD_DOCUMENT,
            {
                "sha256": sha,
                "parent_id": parent_id,
                "depth": depth,
                "file_name": name,
                "size": size,
                "status": "pending",
                "first_run_id": self.run_id,
            },
        ).inserted_primary_key[0]
        self._add_source(doc_id, source)
        self.new += 1
        if not top_level:
            self.files_total += 1
        if depth > self.opts.limits.max_depth:
            self._set_status(
                doc_id,
                "too_large",
                f"nested more than {self.opts.limits.max_depth} containers deep: stored, not opened",
            )
            self.files_done += 1
            return
        self.queue.append(
            _Pending(doc_id, self.imp.blobs.path(sha), name, source_path, depth, top_level, sha)
        )

    def _add_source(self, doc_id: int, source: dict[str, Any]) -> None:
        """Where a content was found; a place seen before gets this run's size, mtime and run."""
        self.session.execute(_UPSERT_SOURCE, {"document_id": doc_id, **source})

    # -- extraction ----------------------------------------------------------------------------------
    def _dispatch(self, pool: WorkerPool, item: _Pending) -> None:
        # The folder for the file's children: the extractor makes it when it writes one (most never do).
        work_dir = self.imp.work_root / str(item.doc_id)
        _remove_dir(work_dir)  # left by an earlier attempt at this document
        self.in_flight[item.doc_id] = item
        self.current = item.source_path
        if self.first_dispatch is None:
            self.first_dispatch = time.monotonic()
        pool.submit(
            Task(
                task_id=item.doc_id,
                path=str(item.blob),
                name_hint=item.name,
                work_dir=str(work_dir),
                passwords=self.opts.passwords,
                extractor=self.opts.extractor,
                ocr_languages=self.imp.ocr_languages,
                ocr_known=self._ocr_known(item.doc_id, item.sha256),
            )
        )

    def _ending_soon(self, exhausted: bool) -> bool:
        """Whether extraction is likely to end within a pass gap: only the workers' files are left, or
        the files left would take that long at the rate so far."""
        if exhausted and not self.queue:
            return True
        if self.files_done < ENDING_MIN_FILES or self.first_dispatch is None:
            return False
        elapsed = time.monotonic() - self.first_dispatch
        return (self.files_total - self.files_done) * elapsed <= MIN_PASS_GAP_S * self.files_done

    # -- derived data ------------------------------------------------------------------------------
    def _extraction_ended(self) -> None:
        """Every file is extracted: commit, and tell the indexing thread (the import is searchable once the
        index holds what is committed now), while the workers read entities and suggestion features."""
        self.extracted = True
        self._commit()
        if self.feeder is not None:
            self.feeder.extraction_ended()
        self._progress("analysing", force=True)

    def _derive_may_start(self) -> bool:
        """Entities and suggestion features are read once every file is extracted and the index holds every
        document: until then extraction and the index's last pass have the cores (and this process has not
        loaded the review and entity code, which the derive rules need)."""
        return self.extracted and (self.feeder is None or self.feeder.drained_at is not None)

    def _dispatch_derive(self, pool: WorkerPool) -> bool:
        """Send the next document waiting for its derived data to a worker; False when none waits."""
        if not self.derive_ready:
            self._prepare_derive()
        if not self.derive_ready:
            return False
        task = self.derive_ready.popleft()
        self.current = f"entities of document {task.task_id}"
        pool.submit(task)
        return True

    @property
    def derive_rules(self) -> dict[str, Any]:
        """The sink's rules for the workers' derive tasks, asked once (at the first task)."""
        if self._derive_rules is None:
            self._derive_rules = self.imp.derive.rules() if self.imp.derive is not None else {}
        return self._derive_rules

    def _prepare_derive(self, count: int = 32) -> None:
        """Tasks for the next `count` waiting documents, with their text and metadata from the store."""
        batch = [self.derive_wait.popleft() for _ in range(min(count, len(self.derive_wait)))]
        if not batch:
            return
        revisions = dict(batch)
        ids = list(revisions)
        metadata = dict(
            self.session.execute(select(_DOCS.c.id, _DOCS.c["metadata"]).where(_DOCS.c.id.in_(ids))).all()
        )
        parts = part_texts(self.session, ids)
        for doc_id in ids:
            if doc_id not in metadata:  # deleted meanwhile
                continue
            self.deriving[doc_id] = revisions[doc_id]
            self.derive_ready.append(
                Task(
                    task_id=doc_id,
                    path="",
                    name_hint="",
                    work_dir="",
                    kind="derive",
                    derive=self.derive_rules,
                    parts=[list(part) for part in parts.get(doc_id, ())],
                    metadata=metadata[doc_id] or {},
                )
            )

    def _apply_derived(self, result: Result) -> None:
        revision = self.deriving.pop(result.task_id, None)
        if revision is None:
            return
        if result.status == "ok" and result.derived:
            self.derived.append((result.task_id, revision, result.derived))
        else:  # computed from the store by the refresh after the import
            log.warning(
                "entities of document %d were not read: %s", result.task_id, result.reason or "no answer"
            )

    def _ocr_known(self, doc_id: int, sha256: str) -> dict[str, list[Any]]:
        """OCR text the case already has for pages of this content (the worker will not OCR them again)."""
        if not self.imp.ocr_languages:
            return {}
        rows = self.session.execute(
            select(OcrCache.page, OcrCache.text, OcrCache.confidence).where(
                OcrCache.sha256 == sha256,
                OcrCache.lang == self.imp.ocr_languages,
                OcrCache.engine == self.imp.ocr_engine,
            )
        ).all()
        if rows:
            self.ocr_sent[doc_id] = {page for page, _, _ in rows}
        return {str(page): [text, confidence] for page, text, confidence in rows}

    def _store_ocr(self, doc_id: int, sha256: str, extraction: Extraction | None) -> None:
        """Cache the worker's fresh OCR readings (parts with words) under this content's hash."""
        from app.extract.ocr import mean_confidence, words_to_text

        sent = self.ocr_sent.pop(doc_id, set())
        if extraction is None or not self.imp.ocr_languages:
            return
        rows = []
        for part in extraction.parts:
            if part.kind != "page" or not part.label.isdigit():
                continue
            if part.words is None:
                if int(part.label) in sent and not part.needs_ocr:
                    self.ocr_cached += 1
                continue
            rows.append(
                {
                    "sha256": sha256,
                    "page": int(part.label),
                    "lang": self.imp.ocr_languages,
                    "engine": self.imp.ocr_engine,
                    "text": words_to_text(part.words),
                    "words": [list(w) for w in part.words],
                    "confidence": round(mean_confidence(part.words), 1),
                    "created_at": utcnow(),
                }
            )
        if not rows:
            return
        self.ocr_pages += len(rows)
        stmt = sqlite_insert(OcrCache)
        stmt = stmt.on_conflict_do_update(
            index_elements=["sha256", "page", "lang", "engine"],
            set_={c: stmt.excluded[c] for c in ("text", "words", "confidence", "created_at")},
        )
        self.session.execute(stmt, rows)

    def _apply(self, result: Result) -> None:
        if result.kind == "derive":
            self._apply_derived(result)
            return
        item = self.in_flight.pop(result.task_id, None)
        if item is None:
            return
        work_dir = self.imp.work_root / str(item.doc_id)
        revision = record_result(self.session, item.doc_id, item.revision, item.doc_type, result)
        if revision is None:  # the document was deleted meanwhile
            _remove_dir(work_dir)
            return
        if result.status == "ok" and self.imp.derive is not None:
            self.derive_wait.append((item.doc_id, revision))
        self._store_ocr(item.doc_id, item.sha256, result.extraction)
        self.attempts.append(
            {
                "document_id": item.doc_id,
                "run_id": self.run_id,
                "extractor": result.extractor,
                "extractor_version": result.extractor_version,
                "status": result.status,
                "reason": result.reason,
                "duration_s": round(result.duration_s, 4),
                "started_at": utcnow(),
            }
        )
        if result.status in FAILED_STATUSES:
            self.failed += 1
        self.touched.add(item.doc_id)
        self.uncommitted.append(item.doc_id)
        self.files_done += 1
        if result.extraction is not None and result.extraction.children:
            self._take_children(item, result.extraction, work_dir)
        _remove_dir(work_dir)

    def _take_children(self, item: _Pending, extraction: Extraction, work_dir: Path) -> None:
        root = work_dir.resolve()
        for child in extraction.children:
            child_path = (work_dir / child.path).resolve()
            # The path comes from our own worker, but a worker parses hostile input: trust nothing.
            if not child_path.is_relative_to(root) or not child_path.is_file() or child_path.is_symlink():
                continue
            try:
                stored = self.imp.blobs.add_file(child_path, move=True)
            except OSError as exc:
                if exc.errno == 28:
                    raise ImportFailed(
                        "the disk holding the case is full (while storing extracted files)"
                    ) from exc
                continue
            self.bytes_done += stored.size
            self._register(
                stored.sha256,
                stored.size,
                name=_display_name(child.name),
                source_path=f"{item.source_path}//{child.name}",
                mtime=_timestamp(child.metadata.get("mtime")),
                parent_id=item.doc_id,
                depth=item.depth + 1,
                relation=child.relation,
                top_level=False,
            )

    def _set_status(self, doc_id: int, status: str, reason: str) -> None:
        doc = self.session.get(Document, doc_id)
        if doc is None:
            return
        doc.status = status
        doc.reason = reason
        doc.extracted_at = utcnow()
        doc.revision += 1
        self.session.add(
            ExtractionAttempt(document_id=doc_id, run_id=self.run_id, status=status, reason=reason)
        )
        self.touched.add(doc_id)
        self.uncommitted.append(doc_id)
        if status in FAILED_STATUSES:
            self.failed += 1

    # -- commits and index -------------------------------------------------------------------------
    def _maybe_commit(self) -> None:
        waiting = len(self.uncommitted) + len(self.derived)  # results, and derived data once extracted
        if waiting >= self.opts.batch_size or (
            waiting and time.monotonic() - self.last_commit >= self.opts.batch_seconds
        ):
            self._commit()

    def _commit(self) -> None:
        self._store_derived()
        self._record_indexed()
        attempts, self.attempts = self.attempts, []
        if attempts:
            self.session.execute(insert(_ATTEMPTS), attempts)
        try:
            self.session.commit()
        except OperationalError as exc:
            self.session.rollback()
            message = str(exc.orig) if exc.orig else str(exc)
            if "full" in message or "disk I/O" in message:
                raise ImportFailed(
                    f"the disk holding the case is full; nothing of the last batch was written ({message})"
                ) from exc
            raise
        except Exception:
            self.session.rollback()
            raise
        self.last_commit = time.monotonic()
        ids, self.uncommitted = self.uncommitted, []
        if ids and self.feeder is not None:
            self.feeder.add(ids)

    def _record_indexed(self) -> None:
        """Which revision of each document the index now holds (handed over by the indexing thread)."""
        if self.feeder is not None:
            record_indexed(self.session, self.feeder.take_indexed())

    def _record_last_indexed(self) -> None:
        """After the last index pass: its revisions, in a transaction of their own. A failure only leaves
        them lagging, and lagging documents are indexed again when the case is next opened."""
        try:
            self._record_indexed()
            self.session.commit()
        except Exception:
            self.session.rollback()
            log.exception("recording which documents the index holds failed")

    def _store_derived(self) -> None:
        """The batch's entities and features, written in its transaction (the sink drops any item it
        cannot read before it writes; those documents stay stale and the refresh after the import
        computes them from the store)."""
        items, self.derived = self.derived, []
        if items and self.imp.derive is not None:
            self.imp.derive.store(self.session, items)

    def _finish(self, run_id: int, interrupted: bool, failed: bool = False) -> ImportSummary:
        s = self.session
        summary = ImportSummary(
            run_id=run_id,
            new=self.new,
            duplicates=self.duplicates,
            unchanged=self.unchanged,
            resumed=self.resumed,
            interrupted=interrupted,
            elapsed=round(time.monotonic() - self.t0, 3),
            bytes=self.bytes_done,
            ocr_pages=self.ocr_pages,
            ocr_cached=self.ocr_cached,
        )
        status_count: Counter[str] = Counter()
        type_count: Counter[str] = Counter()
        touched = sorted(self.touched)
        for chunk_start in range(0, len(touched), 500):
            chunk = touched[chunk_start : chunk_start + 500]
            for doc_id, status, doc_type, reason in s.execute(
                select(Document.id, Document.status, Document.doc_type, Document.reason).where(
                    Document.id.in_(chunk)
                )
            ):
                status_count[status] += 1
                type_count[doc_type or "unknown"] += 1
                if status in FAILED_STATUSES:
                    path = s.scalar(select(Source.path).where(Source.document_id == doc_id).limit(1)) or ""
                    summary.failures.append({"id": doc_id, "path": path, "status": status, "reason": reason})
        for item in self.skipped:
            status_count["skipped"] += 1
            summary.failures.append(
                {"id": None, "path": str(item.path), "status": "skipped", "reason": item.reason}
            )
        summary.documents = len(touched)
        summary.by_status = dict(status_count.most_common())
        summary.by_type = dict(type_count.most_common())
        summary.case_documents = s.scalar(select(func.count(Document.id))) or 0
        run = s.get(ImportRun, run_id)
        if run is not None:
            run.finished_at = utcnow()
            run.status = "failed" if failed else ("interrupted" if interrupted else "completed")
            run.counts = {
                k: v
                for k, v in summary.to_json().items()
                if k not in ("failures", "run_id", "case_documents")
            } | {"failures": len(summary.failures)}
        s.commit()
        return summary

    def _progress(self, phase: str, *, force: bool = False) -> None:
        callback = self.imp.on_progress
        if callback is None:
            return
        now = time.monotonic()
        if not force and now - self.last_progress < 0.1:
            return
        self.last_progress = now
        callback(
            Progress(
                files_total=self.files_total,
                files_done=self.files_done,
                documents_new=self.new,
                duplicates=self.duplicates,
                failed=self.failed + len(self.skipped),
                bytes_done=self.bytes_done,
                elapsed=now - self.t0,
                current=self.current,
                phase=phase,
            )
        )


def _timestamp(value: object) -> float | None:
    """A member's modification time (epoch seconds or ISO-8601) as epoch seconds."""
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and value:
        from datetime import UTC, datetime

        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
    return None


def _display_name(name: str) -> str:
    base = name.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    return base or name or "unnamed"
