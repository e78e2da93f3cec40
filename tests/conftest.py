from __future__ import annotations

import csv
import os
import re
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# New cases are copies of a template kept in the user's cache folder (db/session.py): the tests keep
# theirs apart, built once per run by the migrations.
os.environ.setdefault("DOSSIER_CACHE_HOME", tempfile.mkdtemp(prefix="dossier-test-cache-"))

REPO = Path(__file__).resolve().parent.parent
CORPUS = (REPO / ".." / "shared" / "corpus").resolve()


def manifest() -> list[dict[str, str]]:
    with open(CORPUS / "MANIFEST.tsv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


# Two manifest phrases carry text the recording tool glued on (a number-format style; a shape's
# description run into the paragraph inside it); no faithful extraction contains them as written.
KNOWN_TEXT_FIXES = {
    "%:Record Number": "Record Number",
}


def known_text(notes: str) -> str | None:
    """The `known text:` phrase of a MANIFEST row (not the OCR-only ones)."""
    m = re.search(r"known text: (.*?) \((?:verified|checked)", notes)
    if not m:
        return None
    phrase = m.group(1)
    if phrase.endswith("dark borderA"):
        return "blue background and dark border"
    return KNOWN_TEXT_FIXES.get(phrase, phrase)


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def real_rows() -> list[dict[str, str]]:
    return [r for r in manifest() if r["path"].startswith("real/")] if CORPUS.is_dir() else []


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is not present")
    return CORPUS


@pytest.fixture(scope="session")
def real_case(tmp_path_factory: pytest.TempPathFactory, corpus: Path):
    """The whole real/ corpus imported once (extraction + index), shared by the corpus tests."""
    from tests.corpus_case import import_corpus

    case = import_corpus(tmp_path_factory.mktemp("real") / "case", [corpus / "real"])
    yield case
    case.services.close()


@pytest.fixture
def indexing_processes(monkeypatch: pytest.MonkeyPatch) -> list:
    """The index process (`app.index_process.IndexProcess`) each indexing pass went through, in order."""
    from app.index_process import IndexProcess

    used: list[IndexProcess] = []
    original = IndexProcess.index

    def recording(self: IndexProcess, ids: list[int], writers: int = 1) -> dict[int, int]:
        used.append(self)
        return original(self, ids, writers)

    monkeypatch.setattr(IndexProcess, "index", recording)
    return used
