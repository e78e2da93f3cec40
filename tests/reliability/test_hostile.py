"""Hostile input: the corpus's hostile files plus generated ones. Each ends with a status and a reason, the
import completes, originals are unchanged, and time and memory stay within the import's limits."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from app.extract.base import Limits
from app.pipeline.importer import ImportOptions, ImportSummary
from app.services import Services, build_services
from db.models import Document, ExtractionAttempt, Part, Source
from tests.fixtures import hostile_gen as gen
from tests.fixtures.reliability import FULL, PeakMemory, record, scale

LIMITS = Limits(timeout_s=30.0 if FULL else 15.0, memory_mb=1024)
SLACK_S = 15.0  # supervisor polling, worker replacement, a loaded 2-core machine


def _sha(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _hashes(root: Path) -> dict[Path, str]:
    return {p: _sha(p) for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink()}


@dataclass
class Imported:
    services: Services
    summary: ImportSummary
    leak: Path
    canary: Path
    before: dict[Path, str]
    seconds: float
    memory: PeakMemory


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory, corpus: Path):  # noqa: ANN201
    base = tmp_path_factory.mktemp("hostile-gen")
    leak = base / "leak"
    leak.mkdir()
    canary = base / "canary.txt"
    canary.write_text(gen.CANARY_TEXT)
    import fitz

    pdf = fitz.open()
    pdf.new_page().insert_text((72, 72), "a text PDF under another name")
    sample = pdf.tobytes()
    gen.huge_page_pdf(leak)
    gen.many_pages_pdf(leak, scale(50_000, 200_000))
    gen.overlapping_zip(leak, entries=scale(500, 2000))
    gen.nested_zip(leak, 30)
    gen.traversal_archives(leak)
    gen.odd_names_zip(leak)
    gen.many_members_zip(leak, scale(20_000, 100_000))
    gen.encrypted_zip(leak)
    gen.xml_bombs(leak, canary)
    gen.deep_mime(leak, 1000)
    gen.big_base64_part(leak, scale(20, 500))
    gen.broken_headers(leak)
    gen.mbox_one_corrupt(leak, scale(100, 1000))
    gen.wrong_extensions(leak, sample)
    gen.empty_and_unreadable(leak)
    # The corpus's hostile files are imported by tests/pipeline/test_hostile_import.py in every run; here in
    # the full suite, beside the generated ones.
    roots = [leak, corpus / "hostile"] if FULL else [leak]
    before = {k: v for root in roots for k, v in _hashes(root).items()}
    services = build_services(base / "case", create=True)
    options = ImportOptions(workers=2, limits=LIMITS)
    with PeakMemory() as memory:
        start = time.monotonic()
        summary = services.import_paths(roots, options)
        seconds = time.monotonic() - start
    yield Imported(services, summary, leak, canary, before, seconds, memory)
    services.close()


def _top_level(imported: Imported) -> dict[Path, Document | None]:
    out: dict[Path, Document | None] = {}
    with imported.services.case.reader() as s:
        for path in imported.before:
            out[path] = s.scalar(
                select(Document)
                .join(Source, Source.document_id == Document.id)
                .where(Source.path == str(path))
            )
            if out[path] is not None:
                s.expunge(out[path])
    return out


def test_import_completes_and_every_file_has_a_status(imported: Imported) -> None:
    assert not imported.summary.interrupted
    docs = _top_level(imported)
    problems = []
    with imported.services.case.reader() as s:
        for path, doc in docs.items():
            name = (
                path.name if path.is_relative_to(imported.leak) else f"corpus:{path.parent.name}/{path.name}"
            )
            if doc is None:
                problems.append(f"{name}: no document")
                record("hostile input", name, "no document", 0.0, ok=False)
                continue
            took = (
                s.scalar(select(ExtractionAttempt.duration_s).where(ExtractionAttempt.document_id == doc.id))
                or 0.0
            )
            good = doc.status != "pending" and (doc.status == "ok" or bool(doc.reason))
            good = good and "Traceback" not in (doc.reason or "") and took <= LIMITS.timeout_s + SLACK_S
            record(
                "hostile input",
                name,
                f"{doc.status}: {doc.reason}" if doc.reason else doc.status,
                took,
                ok=good,
            )
            if not good:
                problems.append(f"{name}: {doc.status} {doc.reason!r} in {took:.1f}s")
    record(
        "hostile input",
        "(whole import)",
        f"{imported.summary.case_documents} documents, {sorted(imported.summary.by_status.items())}",
        imported.seconds,
        imported.memory.peak_mb,
    )
    # Not regular files: discovery passes them by without opening them (a FIFO would block a reader forever).
    for name in ("fifo.pdf", "folder-named.pdf", "dangling.pdf", "outside-link.txt"):
        with imported.services.case.reader() as s:
            found = s.scalar(select(Source.id).where(Source.path == str(imported.leak / name)))
        record(
            "hostile input", name, "not a regular file: passed by, import not blocked", 0.0, ok=found is None
        )
        if found is not None:
            problems.append(f"{name}: imported")
    assert not problems, problems


def test_memory_within_limits(imported: Imported) -> None:
    # Workers are capped by RLIMIT_AS at memory_mb; their resident set can only be lower. The app process
    # itself must not balloon on what the workers send back.
    assert imported.memory.child_mb <= LIMITS.memory_mb
    assert imported.memory.self_mb <= 1500, imported.memory.self_mb


def test_originals_unchanged(imported: Imported) -> None:
    after = {p: _sha(p) for p in imported.before}
    assert after == imported.before
    case = imported.services.case
    for sha in set(imported.before.values()):
        blob = case.blob_path(sha)
        if blob.exists():
            assert _sha(blob) == sha


def test_external_entities_are_never_read(imported: Imported) -> None:
    with imported.services.case.reader() as s:
        leaked = s.scalar(select(Part.document_id).where(Part.text.contains(gen.CANARY_TEXT)).limit(1))
        meta = s.scalar(select(Document.id).where(Document.title.contains(gen.CANARY_TEXT)).limit(1))
    assert leaked is None and meta is None
    assert imported.services.search.matching_ids(gen.CANARY_TEXT.split("-")[1]) == []


def test_nothing_escapes_the_case(imported: Imported) -> None:
    root = imported.services.case.root.resolve()
    for path in root.rglob("*"):
        assert path.resolve().is_relative_to(root) or path.is_symlink() is False
        assert not path.is_symlink(), path
    for escaped in (Path("/tmp/dossier-escape.txt"), Path("/etc/dossier-abs.txt"), Path("/abs.txt")):
        assert not escaped.exists()
    assert not list((root / "tmp").glob("work/*"))


def test_the_corrupt_message_does_not_take_the_mailbox(imported: Imported) -> None:
    n = scale(100, 1000)
    with imported.services.case.reader() as s:
        texts = s.scalars(select(Part.text).where(Part.text.contains("ordinary message number"))).all()
    assert len(texts) >= n - 1


@pytest.mark.parametrize(
    ("extractor", "status"),
    [("SleepForever", "timeout"), ("Abort", "crashed"), ("Hog", "out_of_memory")],
)
def test_misbehaving_extractors_are_contained(tmp_path: Path, extractor: str, status: str) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for i in range(3):
        (src / f"f{i}.pdf").write_text(f"file {i}\n")
    limits = Limits(timeout_s=3.0, memory_mb=400)
    with build_services(tmp_path / "case", create=True) as services, PeakMemory() as memory:
        start = time.monotonic()
        summary = services.import_paths(
            [src],
            ImportOptions(workers=2, limits=limits, extractor=f"tests.fixtures.bad_extractors:{extractor}"),
        )
        seconds = time.monotonic() - start
        docs = list(services.documents.iter_summaries())
    statuses = {d.status for d in docs}
    ok = not summary.interrupted and statuses == {status} and all(d.reason for d in docs)
    ok = ok and memory.child_mb <= limits.memory_mb and seconds < 3 * (limits.timeout_s + SLACK_S)
    record("bad extractor", extractor, f"{docs[0].status}: {docs[0].reason}", seconds, memory.peak_mb, ok=ok)
    assert ok, (statuses, [d.reason for d in docs], seconds, memory.child_mb)
