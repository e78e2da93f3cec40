"""The index folder: open, health check, the single writer, a cached searcher, rebuild-and-swap.

The index is derived data. Anything wrong with it (missing, damaged, another schema version) is answered
by rebuilding it from the case store into a fresh folder and swapping that in.
"""

from __future__ import annotations

import gc
import json
import logging
import marshal
import os
import pickle
import shutil
import signal
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index
from whoosh.searching import Searcher
from whoosh.writing import MERGE_SMALL, PostingPool, SegmentWriter

from index import memfile  # noqa: F401 - compound segments read in place, in every process
from index.codec import WriteCodec
from index.schema import SCHEMA_VERSION, IndexDoc, build_schema

log = logging.getLogger(__name__)

MARKER = "dossier-index.json"
# Text beyond this many characters of one document is not indexed (memory bound for the writer).
MAX_INDEXED_CHARS = 20_000_000
RUN_CHUNK = 20_000  # postings per marshalled chunk of a sorted run


def rebuild_pool_mb() -> int:
    """Postings a rebuild sorts in memory before spilling sorted runs to disk: a quarter of the machine's
    memory, at most 2 GB (a 10,000-document case then sorts in one pass; spilling costs a third of the
    rebuild's time)."""
    try:
        physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 512
    return int(max(256, min(2048, physical // 4 // (1024 * 1024))))


class _ChunkedPostingPool(PostingPool):
    """Whoosh's posting pool with its spilled runs written as marshalled chunks of postings instead of
    one pickle call per posting (the same sorted items, read back chunk by chunk: memory stays bounded)."""

    def _write_run(self, f, items):  # noqa: ANN001, ANN202 - whoosh's signature
        chunk: list = []
        for item in items:
            chunk.append(item)
            if len(chunk) >= RUN_CHUNK:
                marshal.dump(chunk, f)
                chunk = []
        if chunk:
            marshal.dump(chunk, f)
        f.close()

    def _read_run(self, path):  # noqa: ANN001, ANN202
        f = self._open_run(path)
        try:
            while True:
                try:
                    chunk = marshal.load(f)
                except EOFError:
                    return
                yield from chunk
        finally:
            f.close()
            self._remove_run(path)


# What the grouped pool holds in memory, counted as Whoosh's pool counts its tuples, so that a limit means
# the memory it says: a term's group (its key, three lists, a dictionary entry) and a posting (three list
# slots, its weight, its value's object). Measured with tracemalloc over 3,000 synthetic documents: 126 MB
# held, 129 MB counted (counting 120 and 60 bytes, as before, a 2 GB rebuild pool held 3.3 GB).
GROUP_BYTES = 350
POSTING_BYTES = 90


class _GroupedPostingPool(_ChunkedPostingPool):
    """The posting pool of a segment writer, holding its postings grouped by field and term.

    Whoosh's pool keeps one tuple per posting and sorts them all when the segment is written; postings
    arrive document by document, so each term's postings are already in document order and only the
    terms need sorting. `iter_postings` gives the field writer the grouped form (`GroupedPostings`),
    which it writes term by term; past the memory limit the groups are spilled as sorted runs and merged
    posting by posting, as Whoosh's pool does.
    """

    def __init__(self, tempstore, segment, limitmb: int = 128) -> None:  # noqa: ANN001 - whoosh's
        super().__init__(tempstore, segment, limitmb=limitmb)
        self._groups: dict[tuple[str, bytes], tuple[list, list, list]] = {}
        self._unordered: set[tuple[str, bytes]] = set()  # groups whose documents arrived out of order

    def add(self, item) -> None:  # noqa: ANN001 - (fieldname, tbytes, docnum, weight, vbytes)
        fieldname, tbytes, docnum, weight, vbytes = item
        key = (fieldname, tbytes)
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = ([], [], [])
            self.fieldnames.add(fieldname)
            self.currentsize += GROUP_BYTES + len(fieldname) + 2 * len(tbytes)
        elif docnum <= group[0][-1]:
            self._unordered.add(key)
        group[0].append(docnum)
        group[1].append(weight)
        group[2].append(vbytes)
        self.currentsize += POSTING_BYTES + (len(vbytes) if vbytes else 0)
        if self.currentsize > self.limit:
            self.save()

    def _sorted_groups(self) -> Iterator[tuple[str, bytes, list, list, list]]:
        groups = self._groups
        for key in sorted(groups):
            ids, weights, values = groups[key]
            if key in self._unordered:
                rows = sorted(zip(ids, weights, values, strict=True))
                ids, weights, values = [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]
            yield key[0], key[1], ids, weights, values

    def _items(self) -> Iterator[tuple]:
        for fieldname, tbytes, ids, weights, values in self._sorted_groups():
            for docnum, weight, vbytes in zip(ids, weights, values, strict=True):
                yield fieldname, tbytes, docnum, weight, vbytes

    def save(self) -> None:
        if self._groups:
            path, f = self._new_run()
            self._write_run(f, self._items())
            self._add_run(path)
            self._groups = {}
            self._unordered = set()
        self.currentsize = 0

    def iter_postings(self):  # noqa: ANN201 - GroupedPostings, or sorted posting tuples after a spill
        if not self.runs:
            return GroupedPostings(self._sorted_groups, self._items)
        return self.items()


class GroupedPostings:
    """A segment's postings term by term: `terms()` gives (fieldname, tbytes, docnums, weights, values)
    in term order; iterating gives Whoosh's posting tuples in the same order."""

    def __init__(self, terms, items) -> None:  # noqa: ANN001
        self.terms = terms
        self._items = items

    def __iter__(self) -> Iterator[tuple]:
        return self._items()


# An import's passes leave their segments beside the others until the index holds this many; then
# Whoosh's policy merges the small ones. A merge rewrites every posting it takes (as much work as indexing
# them), so an import of a few hundred files is searchable sooner without one, while the cap keeps a long
# import's passes and searches from walking hundreds of segments.
IMPORT_MAX_SEGMENTS = 24


def _merge_when_many(writer: SegmentWriter, segments: list) -> list:
    if len(segments) < IMPORT_MAX_SEGMENTS:
        return segments
    return MERGE_SMALL(writer, segments)


# A pass of at least this many documents may be shared among several writing processes (`write(...,
# writers=N)`): below it, a second segment's cost per distinct term outweighs the parallel work.
SHARE_MIN_DOCS = 8

# How long a writer waits for the index's write lock (held by the other process during an import).
WRITE_LOCK_WAIT_S = 60.0


class _SegmentLengths:
    """The per-document reader of the segment being written, with each field's length column read once.

    Writing the postings asks for the length of the posting's document in its field once per posting
    (a column read through a seek on the per-document file each time); this reads the column once per
    field, for every document of the segment, through the same call, and answers from a list.
    """

    def __init__(self, reader) -> None:  # noqa: ANN001 - whoosh's PerDocumentReader
        self._reader = reader
        self._count = reader.doc_count_all()
        self._fields: dict[str, list] = {}

    def doc_field_length(self, docnum: int, fieldname: str, default: int = 0):  # noqa: ANN201 - as whoosh
        if default != 0:
            return self._reader.doc_field_length(docnum, fieldname, default)
        return self.field_lengths(fieldname)[docnum]

    def field_lengths(self, fieldname: str) -> list:
        """Every document's length in `fieldname`, by document number."""
        lengths = self._fields.get(fieldname)
        if lengths is None:
            read = self._reader.doc_field_length
            lengths = self._fields[fieldname] = [read(n, fieldname) for n in range(self._count)]
        return lengths

    def __getattr__(self, name: str):  # noqa: ANN204 - close() and the rest, as the reader has them
        return getattr(self._reader, name)


def _writer(ix: whoosh_index.Index, limitmb: int, *, lock: bool = True) -> SegmentWriter:
    writer = ix.writer(
        limitmb=limitmb, procs=1, timeout=WRITE_LOCK_WAIT_S, delay=0.05, codec=WriteCodec(), _lk=lock
    )
    pool = writer.pool  # nothing added yet: swap in the faster-spilling pool
    writer.pool = _GroupedPostingPool(pool.tempstore, pool.segment, limitmb=limitmb)
    per_document_reader = writer.per_document_reader
    writer.per_document_reader = lambda: _SegmentLengths(per_document_reader())
    return writer


class IndexUnavailable(Exception):
    """The index cannot answer right now (being rebuilt, or damaged); the message is for the reporter."""


@dataclass(frozen=True)
class Health:
    state: str  # ok | missing | damaged | outdated
    detail: str = ""
    doc_count: int = 0


class SearchIndex:
    def __init__(self, path: Path, case_id: str = "") -> None:
        self.path = path
        self.case_id = case_id
        self._lock = threading.RLock()
        self._ix: whoosh_index.Index | None = None
        self._searcher: Searcher | None = None
        self.generation = 0  # bumped whenever the searcher may see different documents
        self.rebuilding = False

    # -- health ------------------------------------------------------------------------------------
    def health(self) -> Health:
        if not self.path.is_dir() or not any(self.path.glob("_MAIN_*.toc")):
            return Health("missing", "no search index yet")
        try:
            marker = json.loads((self.path / MARKER).read_text("utf-8"))
        except (OSError, ValueError):
            return Health("damaged", "index marker missing or unreadable")
        if marker.get("schema_version") != SCHEMA_VERSION:
            return Health("outdated", f"index schema {marker.get('schema_version')} != {SCHEMA_VERSION}")
        if self.case_id and marker.get("case_id") not in ("", self.case_id):
            return Health("damaged", "index belongs to another case")
        try:
            ix = whoosh_index.open_dir(str(self.path), schema=build_schema())
            with ix.searcher() as s:
                count = s.doc_count()
                # Touch the term dictionary and a posting list of every segment: catches truncated files.
                for fieldname in ("type",):
                    for term in s.lexicon(fieldname):
                        s.postings(fieldname, term).all_ids()
                        break
            ix.close()
        except Exception as exc:  # whoosh raises many kinds of errors on damaged files
            return Health("damaged", f"{type(exc).__name__}: {exc}"[:300])
        return Health("ok", "", count)

    # -- open/close --------------------------------------------------------------------------------
    def open(self, *, create: bool = True) -> None:
        with self._lock:
            if self._ix is not None:
                return
            if not any(self.path.glob("_MAIN_*.toc")):
                if not create:
                    raise IndexUnavailable("the search index is missing")
                self._create(self.path)
            self._ix = whoosh_index.open_dir(str(self.path), schema=build_schema())

    def _create(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        whoosh_index.create_in(str(path), build_schema())
        (path / MARKER).write_text(
            json.dumps({"schema_version": SCHEMA_VERSION, "case_id": self.case_id, "created": time.time()})
        )

    def close(self) -> None:
        with self._lock:
            if self._searcher is not None:
                self._searcher.close()
                self._searcher = None
            if self._ix is not None:
                self._ix.close()
                self._ix = None

    @property
    def ix(self) -> whoosh_index.Index:
        if self._ix is None:
            self.open()
        assert self._ix is not None
        return self._ix

    # -- writing -----------------------------------------------------------------------------------
    def write(
        self,
        docs: Iterable[IndexDoc],
        *,
        delete_ids: Iterable[int] = (),
        merge: bool = True,
        importing: bool = False,
        writers: int = 1,
    ) -> int:
        """Add or replace documents and commit. The caller is the single writer (the importer thread).

        Commits let Whoosh's default policy merge small segments (logarithmic total cost): without it an
        import of many batches leaves one segment per batch, and every lookup, delete and open of a reader
        then walks all of them, which made long imports quadratic in time and memory. An import's passes
        (`importing`) merge only once the index holds `IMPORT_MAX_SEGMENTS` segments.

        With `writers` > 1 (a single-threaded process: the index process), new documents are shared
        with `writers - 1` forked processes, each writing a segment of its own, which this commit adds
        beside its own (as Whoosh's multi-segment writer does): an import's last pass uses every core.
        A helper that fails changes nothing: its documents are written here, in a segment of their own.
        """
        with self._lock:
            writer = _writer(self.ix, 256)
            helpers: list[_SegmentHelper] = []
            try:
                if writers > 1:
                    docs, helpers = _share(self.ix, writer, list(docs), writers)
                count = _fill(writer, docs, delete_ids, replace=True)
                mergetype = _merge_when_many if merge and importing else None
                _commit(self.ix, writer, helpers, mergetype=mergetype, merge=merge)
                count += sum(len(helper.docs) for helper in helpers)
            except BaseException:
                for helper in helpers:
                    helper.abandon()
                _abandon(writer)  # else its lock stays held and no later write can start
                raise
            self._invalidate()
            return count

    def merge_small_segments(self, max_steps: int = 32) -> None:
        """Merge small segments, a step of Whoosh's policy at a time, until the policy merges no more."""
        with self._lock:
            for _ in range(max_steps):
                before = len(self.ix._segments())
                self.write([], merge=True)
                if len(self.ix._segments()) >= before:
                    return

    def optimize(self) -> None:
        with self._lock:
            writer = _writer(self.ix, 256)
            try:
                writer.commit(optimize=True)
            except BaseException:
                _abandon(writer)
                raise
            self._invalidate()

    def changed(self) -> None:
        """Another process committed to the index: later searches open its new state."""
        with self._lock:
            self._invalidate()

    def _invalidate(self) -> None:
        self.generation += 1
        if self._searcher is not None:
            # Not Searcher.refresh(): it reuses the readers of unchanged segments with their old
            # deletion lists, so a replaced or deleted document would still be counted. Reopened lazily.
            self._searcher.close()
            self._searcher = None

    # -- reading -----------------------------------------------------------------------------------
    @contextmanager
    def searcher(self) -> Iterator[Searcher]:
        """The shared searcher, refreshed when the index changed. Callers must not close it."""
        with self._lock:
            if self.rebuilding:
                raise IndexUnavailable("the search index is being rebuilt; try again in a moment")
            if self._searcher is None:
                self._searcher = self.ix.searcher()
            yield self._searcher

    def doc_count(self) -> int:
        with self.searcher() as s:
            return s.doc_count()

    def indexed_ids(self) -> set[int]:
        with self.searcher() as s:
            reader = s.reader()
            ids = reader.column_reader("id")  # the column keeps deleted documents: skip them
            return {int(ids[n]) for n in reader.all_doc_ids() if ids[n]}

    # -- rebuild -----------------------------------------------------------------------------------
    def rebuild(self, docs: Iterable[IndexDoc]) -> int:
        """Build a fresh index beside the current one, then swap it in. Searches fail cleanly meanwhile."""
        fresh = self.path.with_name(self.path.name + ".new")
        shutil.rmtree(fresh, ignore_errors=True)
        self._create(fresh)
        ix = whoosh_index.open_dir(str(fresh), schema=build_schema())
        writer = _writer(ix, rebuild_pool_mb())
        try:
            with _cyclic_gc_paused():
                count = _fill(writer, docs, ())
                writer.commit(optimize=True)
        except BaseException:
            writer.cancel()
            ix.close()
            shutil.rmtree(fresh, ignore_errors=True)
            raise
        ix.close()
        with self._lock:
            self.close()
            old = self.path.with_name(self.path.name + ".old")
            shutil.rmtree(old, ignore_errors=True)
            if self.path.exists():
                self.path.rename(old)
            fresh.rename(self.path)
            shutil.rmtree(old, ignore_errors=True)
            self.generation += 1
            self.open()
        return count


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector (reference counting still frees everything else).

    A rebuild's pool holds three lists per term (its postings), millions of them in a large case, and the
    collector's full passes walk every one of them, again and again as the pool grows, though none is ever
    in a cycle (Whoosh's own pool keeps tuples, which the collector stops tracking). Rebuilding 100,000
    documents beside the same rebuild with Whoosh's pool, in one sitting: 1.23× its CPU time with the
    collector running, 0.98× with it paused. Cycles made meanwhile are collected once it resumes."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _commit(
    ix: whoosh_index.Index,
    writer: SegmentWriter,
    helpers: list[_SegmentHelper],
    *,
    mergetype: Any,
    merge: bool,
) -> None:
    """`writer.commit(mergetype=…, merge=…)`, with the segments the helpers wrote meanwhile added to the new
    table of contents (Whoosh's MultiSegmentWriter commits its sub-writers' segments so). This writer's own
    segment is finished first, while the helpers still write theirs."""
    if not helpers:
        writer.commit(mergetype=mergetype, merge=merge)
        return
    writer._check_state()
    segments = writer._merge_segments(mergetype, None, merge)
    if writer._added:
        segments.append(writer._finalize_segment())
    else:
        writer._close_segment()
    for helper in helpers:
        segment = helper.result()
        segments.append(segment if segment is not None else _segment_of(ix, helper.docs))
    writer._commit_toc(segments)
    writer._finish()


def _segment_of(ix: whoosh_index.Index, docs: list[IndexDoc]) -> Any:
    """A finished segment of new documents, written without the index's lock (its holder commits it)."""
    writer = _writer(ix, 256, lock=False)
    _fill(writer, docs, ())
    return writer._finalize_segment()


class _SegmentHelper:
    """A forked process writing some documents of a pass as a segment of its own, without the index's
    lock (the parent holds it, and commits the segment with its own; until then no commit can remove
    the segment's files). Its answer is the pickled segment object, as Whoosh's sub-writers return it."""

    def __init__(self, ix: whoosh_index.Index, docs: list[IndexDoc]) -> None:
        self.docs = docs
        read_fd, write_fd = os.pipe()
        try:
            self.pid = os.fork()
        except OSError:
            os.close(read_fd)
            os.close(write_fd)
            raise
        if self.pid == 0:  # the helper: write, answer, and leave without running any cleanup
            os.close(read_fd)
            code = 1
            try:
                payload = pickle.dumps(_segment_of(ix, docs))
                with os.fdopen(write_fd, "wb") as out:
                    out.write(payload)
                code = 0
            finally:
                os._exit(code)
        os.close(write_fd)
        self.read_fd = read_fd

    def result(self) -> Any:
        """The helper's segment once it has finished, or None if it failed (its files, if any, are
        removed by the next commit: no table of contents names them). Called once."""
        chunks = []
        with os.fdopen(self.read_fd, "rb") as answer:
            while chunk := answer.read(1 << 16):
                chunks.append(chunk)
        self.read_fd = -1
        _, status = os.waitpid(self.pid, 0)
        self.pid = 0
        if status != 0 or not chunks:
            log.warning("a helper writing index documents failed (status %s); writing them here", status)
            return None
        return pickle.loads(b"".join(chunks))

    def abandon(self) -> None:
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except OSError:
                pass
            self.pid = 0
        if self.read_fd >= 0:
            os.close(self.read_fd)
            self.read_fd = -1


def _share(
    ix: whoosh_index.Index, writer: SegmentWriter, docs: list[IndexDoc], writers: int
) -> tuple[list[IndexDoc], list[_SegmentHelper]]:
    """Split `docs` among this writer and `writers - 1` forked helpers by text size; documents the index
    already holds stay here (replacing them deletes the old ones, which only the committing writer can
    do). Nothing is shared in a multi-threaded process (a fork copies only the calling thread) or when
    the pass is too small to gain."""
    if len(docs) < SHARE_MIN_DOCS or not hasattr(os, "fork") or threading.active_count() > 1:
        return docs, []
    reader = writer.searcher().reader()
    parts: list[list[IndexDoc]] = [[] for _ in range(writers)]  # [0] is this writer's
    loads = [0] * writers
    for doc in docs:
        known = ("id", str(doc.id)) in reader
        part = 0 if known else loads.index(min(loads))
        parts[part].append(doc)
        loads[part] += len(doc.content) + 2000  # a document's own cost besides its text
    mine = parts[0]
    helpers: list[_SegmentHelper] = []
    for chunk in parts[1:]:
        if not chunk:
            continue
        try:
            helpers.append(_SegmentHelper(ix, chunk))
        except OSError:  # no fork possible now: written here
            mine += chunk
    return mine, helpers


def _abandon(writer: SegmentWriter) -> None:
    """Give up a writer whose commit failed (a full disk): close its files and release the index lock."""
    try:
        writer.cancel()
    except Exception:
        writer.writelock.release()


def _fill(
    writer: SegmentWriter, docs: Iterable[IndexDoc], delete_ids: Iterable[int], *, replace: bool = False
) -> int:
    """Add `docs`; with `replace`, first delete what the index already holds under each id.

    One reader serves every lookup, and a document the index has never seen (most of an import) is added
    without `update_document`'s search-and-delete.
    """
    for doc_id in delete_ids:
        writer.delete_by_term("id", str(doc_id))
    # The writer's own searcher is cached and closed with the writer; it sees the committed segments.
    searcher = writer.searcher() if replace else None
    reader = searcher.reader() if searcher is not None else None
    count = 0
    for doc in docs:
        fields = doc.fields()
        content = fields["content"]
        if isinstance(content, str) and len(content) > MAX_INDEXED_CHARS:
            fields["content"] = fields["ident"] = content[:MAX_INDEXED_CHARS]
        if reader is not None and ("id", fields["id"]) in reader:
            writer.delete_by_term("id", fields["id"], searcher=searcher)
        writer.add_document(**fields)
        count += 1
    return count
