"""Indexing speed, index size and query latency on a synthetic case, beside bare Whoosh.

Run from the repository root:

    .venv/bin/python bench/search_bench.py                          # 10,000 documents
    .venv/bin/python bench/search_bench.py --docs 10000 --docs 100000
    .venv/bin/python bench/search_bench.py --docs 100000 --json
    .venv/bin/python bench/search_bench.py --profile slowest        # cProfile the slowest query kind
    .venv/bin/python bench/search_bench.py --docs 100000 --keep /tmp/search-bench   # build once, then reuse

For each size N:

1. Generate N documents of about 2 KB of text each, deterministically (fixed seed): words drawn with
   Zipf-distributed frequencies from a 50,000-word vocabulary (the words seen at least twice in the text,
   e-mail, HTML, CSV and PDF files under ../shared/corpus/real, most frequent first, then generated
   pseudo-words), in sentences and paragraphs, with reference numbers (WO-2017-0413, PO 4500012345) and e-mail addresses. Types: PDF (pages),
   e-mail (headers and body, with an `emails` row), Word, spreadsheet and text documents, with dates,
   authors, folders and a few review statuses.
2. Write them as rows of a fresh case (documents, parts, sources, blobs, emails; status "ok") with SQLAlchemy,
   then time `services.search.reindex()`: our indexing path (reading the store, analysing, one optimised
   commit, swap). No original files are written: search never reads them.
3. Index the same texts with "bare Whoosh": one writer, one commit, schema `id` (ID, stored) and `content`
   (TEXT, default StandardAnalyzer, stored so that it can be highlighted), plus `title` (TEXT) and `type`,
   `year` (ID, sortable) so that the field and facet queries have something to ask.
4. Query latency, p50 and p95 over --runs queries of each kind (different words each time):
   term, and, phrase, prefix, fuzzy, field, facet, ident. Ours is `services.search.search(q, limit=20)`
   (facets and snippets on, as the app calls it); "ours lean" is the same with facets and snippets off;
   bare is `searcher.search(q, limit=20)` plus `whoosh.highlight` over the stored text of the 20 hits
   (and type/year groupings for the facet kind).
5. Opening the case and running the first search in a fresh process (`open_for_reading`, `ensure_index`,
   `search`).

Figures are printed, never asserted. Goals (marked OK/MISS): our indexing at least 0.8x bare Whoosh docs/s;
p95 under 150 ms for every query kind at 100,000 documents; open and first search under 1 s.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import json
import logging
import os
import pstats
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Run as a script from anywhere: the project packages are imported from the repository root.
REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

MB = 1024 * 1024
SEED = 20240413
VOCABULARY_SIZE = 50_000
ZIPF_S = 1.0
DEFAULT_CORPUS = REPO_ROOT.parent / "shared" / "corpus" / "real"
RESULT_PREFIX = "BENCH-RESULT "

GOAL_INDEX_RATIO = 0.8
GOAL_P95_MS = 150.0
GOAL_FIRST_SEARCH_S = 1.0

KINDS = ("term", "and", "phrase", "prefix", "fuzzy", "field", "facet", "ident")
TYPES = (("pdf", 0.40), ("email", 0.25), ("docx", 0.15), ("xlsx", 0.10), ("text", 0.10))
# Whoosh's StandardAnalyzer drops these; query words avoid them so that both indexes answer alike.
STOP_WORDS = frozenset(
    "a an and are as at be by can for from have if in is it may not of on or tbd that the this to us we "
    "when will with yet you your".split()
)

_WORD = re.compile(r"[a-z]{2,15}")
_TAG = re.compile(r"<[^>]*>|&#?\w+;")  # markup and character entities
_BASE64_LINE = re.compile(r"^[A-Za-z0-9+/=]{40,}$", re.M)  # encoded e-mail attachments


# -- vocabulary and documents --------------------------------------------------------------------------


def build_vocabulary(corpus: Path | None, size: int = VOCABULARY_SIZE, seed: int = SEED) -> list[str]:
    """Words of the real corpus, most frequent first, then pseudo-words up to `size` (deterministic)."""
    counts: Counter[str] = Counter()
    if corpus is not None and corpus.is_dir():
        for sub in ("txt", "eml", "mbox", "html", "csv"):
            for path in sorted((corpus / sub).glob("*")):
                if path.is_file():
                    text = path.read_bytes()[:4_000_000].decode("utf-8", "replace")
                    text = _TAG.sub(" ", _BASE64_LINE.sub(" ", text))
                    counts.update(_WORD.findall(text.lower()))
        try:
            import pymupdf

            for path in sorted((corpus / "pdf").glob("*")):
                try:
                    with pymupdf.open(path) as doc:
                        for page in doc:
                            counts.update(_WORD.findall(page.get_text().lower()))
                except Exception:  # a damaged sample PDF adds no words
                    continue
        except ImportError:
            pass
    # Words seen once are mostly noise (encoded data, fragments): keep those seen at least twice.
    words = [w for w, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if n >= 2][:size]
    seen = set(words)
    rng = random.Random(seed)
    onsets = [*"bcdfghjklmnprstvwz", "br", "ch", "cl", "dr", "gr", "kr", "pl", "sh", "st", "th", "tr"]
    vowels = ["a", "e", "i", "o", "u", "ai", "ea", "io", "ou"]
    codas = ["", "", "", "", "", "", "n", "r", "s", "t", "l", "m", "nd", "st"]
    while len(words) < size:
        word = "".join(
            rng.choice(onsets) + rng.choice(vowels) + rng.choice(codas) for _ in range(rng.randint(2, 3))
        )
        if word not in seen and 4 <= len(word) <= 12:
            seen.add(word)
            words.append(word)
    return words


@dataclass
class SynthDoc:
    id: int
    doc_type: str
    title: str
    file_name: str
    path: str
    date: str
    author: str | None
    parts: list[tuple[str, str, str]]  # kind, label, text
    sender: str | None = None
    to: list[str] = field(default_factory=list)
    review_status: str = "unreviewed"

    @property
    def body(self) -> str:
        return "\n\n".join(text for _, _, text in self.parts)


class Generator:
    """Deterministic synthetic documents with Zipf-distributed words."""

    def __init__(self, vocabulary: list[str], seed: int = SEED) -> None:
        import numpy as np

        self.vocab = vocabulary
        self.np_rng = np.random.default_rng(seed)
        self.rng = random.Random(seed)
        weights = 1.0 / np.arange(1, len(vocabulary) + 1, dtype=np.float64) ** ZIPF_S
        self.cum = np.cumsum(weights / weights.sum())
        self.stream: list[str] = []
        self.pos = 0
        rng = self.rng
        first = [w.capitalize() for w in vocabulary[200:1200] if w not in STOP_WORDS]
        last = [w.capitalize() for w in vocabulary[1200:6000] if w not in STOP_WORDS]
        self.people = [f"{rng.choice(first)} {rng.choice(last)}" for _ in range(600)]
        domains = [f"{rng.choice(vocabulary[300:3000])}.{rng.choice(['com', 'org', 'net', 'cn', 'de'])}"]
        domains += [f"{w}.com" for w in rng.sample(vocabulary[400:8000], 60)]
        self.addresses = [
            f"{p.split()[0].lower()}.{p.split()[1].lower()}@{rng.choice(domains)}" for p in self.people
        ]
        self.references = [
            f"WO-{rng.randint(2001, 2020)}-{rng.randint(1, 9999):04d}" for _ in range(3000)
        ] + [f"PO {rng.randint(4500000000, 4500999999)}" for _ in range(1000)]
        self.folders = ["/".join(rng.sample(vocabulary[100:4000], rng.randint(1, 3))) for _ in range(200)]

    def _words(self, n: int) -> list[str]:
        if self.pos + n > len(self.stream):
            import numpy as np

            draws = np.searchsorted(self.cum, self.np_rng.random(2_000_000))
            draws = np.minimum(draws, len(self.vocab) - 1)
            vocab = self.vocab
            self.stream = self.stream[self.pos :] + [vocab[i] for i in draws.tolist()]
            self.pos = 0
        out = self.stream[self.pos : self.pos + n]
        self.pos += n
        return out

    def _sentence(self) -> str:
        rng = self.rng
        words = self._words(rng.randint(6, 22))
        roll = rng.random()
        if roll < 0.05:
            words.insert(rng.randrange(len(words) + 1), rng.choice(self.references))
        elif roll < 0.08:
            words.insert(rng.randrange(len(words) + 1), rng.choice(self.addresses))
        elif roll < 0.11:
            words.insert(rng.randrange(len(words) + 1), rng.choice(self.people))
        text = " ".join(words)
        return text[0].upper() + text[1:] + rng.choice(".....?;:")

    def _text(self, chars: int) -> str:
        rng = self.rng
        paragraphs: list[str] = []
        size = 0
        while size < chars:
            paragraph = " ".join(self._sentence() for _ in range(rng.randint(2, 6)))
            paragraphs.append(paragraph)
            size += len(paragraph) + 2
        return "\n\n".join(paragraphs)

    def document(self, doc_id: int) -> SynthDoc:
        rng = self.rng
        roll = rng.random()
        doc_type = TYPES[-1][0]
        for name, share in TYPES:
            if roll < share:
                doc_type = name
                break
            roll -= share
        title_words = [w for w in self._words(rng.randint(3, 8)) if w not in STOP_WORDS] or ["untitled"]
        title = " ".join(w.capitalize() for w in title_words)
        if rng.random() < 0.15:
            title += " " + rng.choice(self.references)
        year = rng.randint(2001, 2020)
        date = f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:00:00"
        folder = rng.choice(self.folders)
        body = self._text(rng.randint(1500, 2600))
        author = rng.choice(self.people) if rng.random() < 0.7 else None
        sender = None
        to: list[str] = []
        ext = {"pdf": "pdf", "email": "eml", "docx": "docx", "xlsx": "xlsx", "text": "txt"}[doc_type]
        name = "_".join(title_words[:4]).lower() + f"_{doc_id}.{ext}"
        if doc_type == "pdf":
            paragraphs = body.split("\n\n")
            pages: list[str] = []
            current = ""
            for paragraph in paragraphs:
                if current and len(current) + len(paragraph) > 1100:
                    pages.append(current)
                    current = paragraph
                else:
                    current = f"{current}\n\n{paragraph}" if current else paragraph
            pages.append(current)
            parts = [("page", str(i + 1), text) for i, text in enumerate(pages)]
        elif doc_type == "email":
            i = rng.randrange(len(self.people))
            sender = f"{self.people[i]} <{self.addresses[i]}>"
            to = [self.addresses[rng.randrange(len(self.addresses))] for _ in range(rng.randint(1, 3))]
            headers = f"From: {sender}\nTo: {', '.join(to)}\nSubject: {title}\nDate: {date}"
            parts = [("headers", "headers", headers), ("body", "body", body)]
            author = None
        elif doc_type == "xlsx":
            parts = [("sheet", "Sheet1", body)]
        else:
            parts = [("body", "body", body)]
        status_roll = rng.random()
        review = "relevant" if status_roll < 0.03 else "follow_up" if status_roll < 0.05 else "unreviewed"
        return SynthDoc(
            id=doc_id,
            doc_type=doc_type,
            title=title,
            file_name=name,
            path=f"/leak/{folder}/{name}",
            date=date,
            author=author,
            parts=parts,
            sender=sender,
            to=to,
            review_status=review,
        )


def generate(count: int, vocabulary: list[str]) -> list[SynthDoc]:
    gen = Generator(vocabulary)
    return [gen.document(i + 1) for i in range(count)]


# -- writing the case -------------------------------------------------------------------------------


def store_documents(case: Any, docs: list[SynthDoc]) -> None:
    """Rows as an import would leave them (status ok), written in batches with SQLAlchemy Core."""
    from db.models import Blob, Document, Email, Part, Source, utcnow

    now = utcnow()
    with case.engine.begin() as conn:
        for start in range(0, len(docs), 2000):
            batch = docs[start : start + 2000]
            blobs, documents, sources, parts, emails = [], [], [], [], []
            for d in batch:
                body = d.body.encode("utf-8")
                sha = hashlib.sha256(body + str(d.id).encode()).hexdigest()
                blobs.append({"sha256": sha, "size": len(body), "stored_at": now})
                meta: dict[str, Any] = {"title": d.title}
                if d.author:
                    meta["author"] = d.author
                if d.sender:
                    meta |= {"from": d.sender, "to": d.to, "subject": d.title, "date": d.date}
                else:
                    meta["created"] = d.date
                if d.doc_type == "pdf":
                    meta["page_count"] = len(d.parts)
                documents.append(
                    {
                        "id": d.id,
                        "sha256": sha,
                        "parent_id": None,
                        "depth": 0,
                        "file_name": d.file_name,
                        "doc_type": d.doc_type,
                        "title": d.title,
                        "status": "ok",
                        "reason": "",
                        "size": len(body),
                        "page_count": len(d.parts) if d.doc_type == "pdf" else None,
                        "date": d.date,
                        "date_source": "date" if d.sender else "created",
                        "author": d.author or (d.sender or None),
                        "metadata": meta,
                        "warnings": [],
                        "text_chars": sum(len(t) for _, _, t in d.parts),
                        "needs_ocr": False,
                        "extractor": "bench",
                        "extractor_version": "1",
                        "review_status": d.review_status,
                        "imported_at": now,
                        "extracted_at": now,
                        "revision": 1,
                        "indexed_revision": -1,
                    }
                )
                sources.append(
                    {
                        "document_id": d.id,
                        "path": d.path,
                        "name": d.file_name,
                        "size": len(body),
                        "mtime": 1_500_000_000.0 + d.id,
                        "relation": "file",
                        "found_at": now,
                    }
                )
                for ordinal, (kind, label, text) in enumerate(d.parts):
                    parts.append(
                        {
                            "document_id": d.id,
                            "ordinal": ordinal,
                            "kind": kind,
                            "label": label,
                            "text": text,
                            "needs_ocr": False,
                            "origin": "text",
                        }
                    )
                if d.sender:
                    emails.append(
                        {
                            "document_id": d.id,
                            "message_id": f"<{d.id}@bench.invalid>",
                            "in_reply_to": None,
                            "references": [],
                            "sender": d.sender,
                            "to": d.to,
                            "cc": [],
                            "bcc": [],
                            "date": d.date,
                            "subject": d.title,
                        }
                    )
            conn.execute(Blob.__table__.insert(), blobs)
            conn.execute(Document.__table__.insert(), documents)
            conn.execute(Source.__table__.insert(), sources)
            conn.execute(Part.__table__.insert(), parts)
            if emails:
                conn.execute(Email.__table__.insert(), emails)


def _tree_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


# -- bare whoosh ----------------------------------------------------------------------------------------


def bare_schema() -> Any:
    from whoosh.fields import ID, TEXT, Schema

    return Schema(
        id=ID(stored=True, unique=True),
        content=TEXT(stored=True),
        title=TEXT,
        type=ID(sortable=True),
        year=ID(sortable=True),
    )


def bare_index(path: Path, docs: list[SynthDoc]) -> tuple[float, float]:
    """Index `docs` with one writer and one commit; (wall seconds, CPU seconds)."""
    from whoosh import index as whoosh_index

    path.mkdir(parents=True)
    ix = whoosh_index.create_in(str(path), bare_schema())
    t0 = time.perf_counter()
    c0 = time.process_time()
    writer = ix.writer()
    for d in docs:
        writer.add_document(
            id=str(d.id),
            content=f"{d.title}\n{d.body}",
            title=d.title,
            type=d.doc_type,
            year=d.date[:4],
        )
    writer.commit()
    elapsed = time.perf_counter() - t0, time.process_time() - c0
    ix.close()
    return elapsed


class BareSearch:
    def __init__(self, path: Path) -> None:
        from whoosh import index as whoosh_index
        from whoosh.qparser import FuzzyTermPlugin, QueryParser

        self.ix = whoosh_index.open_dir(str(path))
        self.searcher = self.ix.searcher()
        self.parser = QueryParser("content", self.ix.schema)
        self.parser.add_plugin(FuzzyTermPlugin())

    def search(self, text: str, kind: str) -> int:
        query = self.parser.parse(text)
        kwargs: dict[str, Any] = {"limit": 20, "terms": True}
        if kind == "facet":
            kwargs["groupedby"] = ["type", "year"]
        results = self.searcher.search(query, **kwargs)
        for hit in results[:20]:
            hit.highlights("content")
        if kind == "facet":
            results.groups("type")
            results.groups("year")
        return len(results)

    def close(self) -> None:
        self.searcher.close()
        self.ix.close()


# -- queries ----------------------------------------------------------------------------------------------


def make_queries(
    docs: list[SynthDoc], vocabulary: list[str], runs: int, seed: int = SEED + 1
) -> dict[str, list[str]]:
    """`runs` different queries of each kind, the same for ours and bare Whoosh."""
    rng = random.Random(seed)
    content = [w for w in vocabulary[20:20_000] if w not in STOP_WORDS and len(w) >= 3]

    def word() -> str:
        # Log-uniform over frequency ranks: frequent and rare words alike.
        return content[min(len(content) - 1, int(10 ** rng.uniform(0, 4.3)))]

    def phrase() -> str:
        for _ in range(100):
            d = rng.choice(docs)
            tokens = re.findall(r"\w+", d.body.lower())  # every token, so the two words are adjacent
            if len(tokens) < 3:
                continue
            i = rng.randrange(len(tokens) - 1)
            a, b = tokens[i], tokens[i + 1]
            if all(w.isalpha() and len(w) > 2 and w not in STOP_WORDS for w in (a, b)):
                return f'"{a} {b}"'
        return f'"{word()} {word()}"'

    def typo() -> str:
        w = rng.choice([c for c in content[:5000] if len(c) >= 5])
        i = rng.randrange(1, len(w) - 1)
        return w[:i] + rng.choice("aeioulnrst".replace(w[i], "")) + w[i + 1 :] + "~"

    def title_word() -> str:
        d = rng.choice(docs)
        words = [w for w in re.findall(r"[a-z]+", d.title.lower()) if w not in STOP_WORDS and len(w) > 2]
        return words[0] if words else word()

    def field_query(i: int) -> str:
        kind = i % 3
        if kind == 0:
            return f"title:{title_word()}"
        doc_type = rng.choice([t for t, _ in TYPES])
        return f"type:{doc_type}" if kind == 1 else f"type:{doc_type} {word()}"

    refs = sorted({m for d in docs[:2000] for m in re.findall(r"WO-\d{4}-\d{4}", d.body)})
    frequent = [w for w in vocabulary[:200] if w not in STOP_WORDS and len(w) >= 3][:60]
    return {
        "term": [word() for _ in range(runs)],
        "and": [f"{word()} {word()}" for _ in range(runs)],
        "phrase": [phrase() for _ in range(runs)],
        "prefix": [rng.choice([w for w in content[:8000] if len(w) >= 5])[:4] + "*" for _ in range(runs)],
        "fuzzy": [typo() for _ in range(runs)],
        "field": [field_query(i) for i in range(runs)],
        "facet": [rng.choice(frequent) for _ in range(runs)],
        "ident": [rng.choice(refs) if refs else "WO-2017-0413" for _ in range(runs)],
    }


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    k = (len(ordered) - 1) * pct / 100
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def time_queries(
    runners: dict[str, Callable[[str], int]], queries: list[str]
) -> dict[str, dict[str, list[float]]]:
    """Each query through every runner in turn (interleaved, so load changes hit all alike).

    Per runner: wall ms, CPU ms (this process; less sensitive to other load on the machine) and totals.
    """
    out = {name: {"ms": [], "cpu_ms": [], "totals": []} for name in runners}
    for q in queries:
        for name, run in runners.items():
            c0 = time.process_time()
            t0 = time.perf_counter()
            total = run(q)
            out[name]["ms"].append((time.perf_counter() - t0) * 1000)
            out[name]["cpu_ms"].append((time.process_time() - c0) * 1000)
            out[name]["totals"].append(total)
    return out


# -- the first search in a fresh process --------------------------------------------------------------------


def first_search(case_dir: Path, query: str) -> dict[str, float]:
    t0 = time.perf_counter()
    from app.services import open_for_reading

    t1 = time.perf_counter()
    services = open_for_reading(case_dir)
    t2 = time.perf_counter()
    services.search.ensure_index()
    t3 = time.perf_counter()
    results = services.search.search(query, limit=20)
    t4 = time.perf_counter()
    services.close()
    return {
        "import_s": t1 - t0,
        "open_s": t2 - t1,
        "ensure_index_s": t3 - t2,
        "search_s": t4 - t3,
        "open_and_search_s": t4 - t1,
        "total": results.total,
    }


def run_first_search(case_dir: Path, query: str) -> dict[str, float]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--first-search", str(case_dir), "--query", query]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    line = next((ln for ln in reversed(done.stdout.splitlines()) if ln.startswith(RESULT_PREFIX)), None)
    if done.returncode != 0 or line is None:
        raise SystemExit(f"first-search run failed:\n{done.stderr[-2000:]}")
    result: dict[str, float] = json.loads(line[len(RESULT_PREFIX) :])
    result["process_wall_s"] = wall
    return result


# -- one size -------------------------------------------------------------------------------------------------


def bench_size(count: int, vocabulary: list[str], args: argparse.Namespace) -> dict[str, Any]:
    from app.services import build_services

    report: dict[str, Any] = {"docs": count, "cpu_count": os.cpu_count()}
    say = (lambda msg: None) if args.json else (lambda msg: print(msg, file=sys.stderr, flush=True))
    with tempfile.TemporaryDirectory(prefix="dossier-search-bench-") as scratch:
        tmp = scratch
        if args.keep:
            tmp = str(args.keep / str(count))
        say(f"[{count:,}] generating documents …")
        t0 = time.perf_counter()
        docs = generate(count, vocabulary)
        report["generate_s"] = time.perf_counter() - t0
        text_bytes = sum(len(d.body.encode("utf-8")) for d in docs)
        report["text_mb"] = text_bytes / MB
        case_dir = Path(tmp) / "case"
        kept = _kept_report(Path(tmp)) if args.keep else None
        if kept is not None:
            say(f"[{count:,}] reusing the case and bare index in {tmp}")
            report.update(kept)
            return _bench_queries(count, docs, vocabulary, args, report, case_dir, Path(tmp) / "bare", say)

        if args.keep:
            shutil.rmtree(tmp, ignore_errors=True)  # a partial build from an interrupted run
            Path(tmp).mkdir(parents=True)
        say(f"[{count:,}] writing case rows …")
        services = build_services(case_dir, create=True)
        t0 = time.perf_counter()
        store_documents(services.case, docs)
        report["store_s"] = time.perf_counter() - t0

        say(f"[{count:,}] indexing (ours: reindex) …")
        t0 = time.perf_counter()
        c0 = time.process_time()
        indexed = services.search.reindex()
        ours_s = time.perf_counter() - t0
        ours_cpu = time.process_time() - c0
        services.close()
        say(f"[{count:,}] indexing (bare Whoosh) …")
        bare_dir = Path(tmp) / "bare"
        bare_s, bare_cpu = bare_index(bare_dir, docs)
        report["indexing"] = {
            "ours": {
                "seconds": ours_s,
                "cpu_s": ours_cpu,
                "docs": indexed,
                "docs_per_s": indexed / ours_s,
                "mb_per_s": text_bytes / MB / ours_s,
                "index_mb": _tree_bytes(case_dir / "index") / MB,
            },
            "bare": {
                "seconds": bare_s,
                "cpu_s": bare_cpu,
                "docs": count,
                "docs_per_s": count / bare_s,
                "mb_per_s": text_bytes / MB / bare_s,
                "index_mb": _tree_bytes(bare_dir) / MB,
            },
        }
        report["indexing"]["ratio_docs_per_s"] = (indexed / ours_s) / (count / bare_s)
        report["indexing"]["ratio_docs_per_cpu_s"] = (indexed / ours_cpu) / (count / bare_cpu)
        report["case_db_mb"] = (case_dir / "case.db").stat().st_size / MB
        if args.keep:
            _save_kept_report(Path(tmp), report)
        return _bench_queries(count, docs, vocabulary, args, report, case_dir, bare_dir, say)


KEPT_REPORT = "build-report.json"
KEPT_KEYS = ("store_s", "indexing", "case_db_mb")


def _kept_report(folder: Path) -> dict[str, Any] | None:
    """The build figures of a case kept by an earlier `--keep` run, or None when there is none to reuse."""
    try:
        kept = json.loads((folder / KEPT_REPORT).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return kept if (folder / "case" / "case.db").is_file() and (folder / "bare").is_dir() else None


def _save_kept_report(folder: Path, report: dict[str, Any]) -> None:
    (folder / KEPT_REPORT).write_text(json.dumps({k: report[k] for k in KEPT_KEYS}), "utf-8")


def _bench_queries(
    count: int,
    docs: list[SynthDoc],
    vocabulary: list[str],
    args: argparse.Namespace,
    report: dict[str, Any],
    case_dir: Path,
    bare_dir: Path,
    say: Callable[[str], None],
) -> dict[str, Any]:
    from app.services import build_services

    load_start = os.getloadavg()[0]
    queries = make_queries(docs, vocabulary, args.runs)
    report["queries"] = {k: v[:5] for k, v in queries.items()}
    del docs

    say(f"[{count:,}] query latency …")
    services = build_services(case_dir)
    bare = BareSearch(bare_dir)
    search = services.search

    def ours(q: str) -> int:
        return search.search(q, limit=20).total

    def lean(q: str) -> int:
        return search.search(q, limit=20, facets=False, snippets=False).total

    for q in ("contract", "payment report", '"annual report"', "tower*"):  # warm caches
        ours(q)
        bare.search(q, "term")
    latency: dict[str, Any] = {}
    for kind in KINDS:
        timed = time_queries(
            {"ours": ours, "lean": lean, "bare": lambda q, kind=kind: bare.search(q, kind)}, queries[kind]
        )
        ours_t, lean_t, bare_t = timed["ours"], timed["lean"], timed["bare"]
        latency[kind] = {
            "ours_p50": percentile(ours_t["ms"], 50),
            "ours_p95": percentile(ours_t["ms"], 95),
            "ours_cpu_p50": percentile(ours_t["cpu_ms"], 50),
            "ours_cpu_p95": percentile(ours_t["cpu_ms"], 95),
            "lean_p50": percentile(lean_t["ms"], 50),
            "lean_p95": percentile(lean_t["ms"], 95),
            "bare_p50": percentile(bare_t["ms"], 50),
            "bare_p95": percentile(bare_t["ms"], 95),
            "bare_cpu_p95": percentile(bare_t["cpu_ms"], 95),
            "ours_hits_median": statistics.median(ours_t["totals"]),
            "bare_hits_median": statistics.median(bare_t["totals"]),
        }
    report["latency"] = latency

    profile_kind = args.profile
    if profile_kind == "slowest":
        profile_kind = max(latency, key=lambda k: latency[k]["ours_p95"])
    if profile_kind:
        report["profile"] = {"kind": profile_kind, "text": profile_queries(ours, queries[profile_kind])}
    bare.close()
    services.close()

    say(f"[{count:,}] open the case and search, in a fresh process …")
    report["first_search"] = run_first_search(case_dir, queries["term"][0])
    report["load_average"] = [load_start, os.getloadavg()[0]]
    return report


def profile_queries(run: Callable[[str], int], queries: list[str]) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    for q in queries:
        run(q)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.strip_dirs().sort_stats("tottime").print_stats(20)
    stats.sort_stats("cumulative").print_stats(30)
    return out.getvalue()


# -- report ----------------------------------------------------------------------------------------------------


def _mark(ok: bool) -> str:
    return "OK" if ok else "MISS"


def print_report(report: dict[str, Any]) -> None:
    n = report["docs"]
    print(f"\n== {n:,} documents, {report['text_mb']:.1f} MB of text ==")
    load = report["load_average"]
    print(f"load average (1 min) at start {load[0]:.2f}, at end {load[1]:.2f} on {report['cpu_count']} CPUs")
    print(
        f"generated in {report['generate_s']:.1f} s; case rows written in {report['store_s']:.1f} s "
        f"(case.db {report['case_db_mb']:.0f} MB)"
    )
    print()
    header = f"{'indexing':<16}{'seconds':>9}{'cpu s':>8}{'docs/s':>9}{'docs/cpu s':>11}{'MB/s':>7}{'index MB':>10}"
    print(header)
    print("-" * len(header))
    for name, label in (("ours", "ours (reindex)"), ("bare", "bare Whoosh")):
        r = report["indexing"][name]
        print(
            f"{label:<16}{r['seconds']:>9.1f}{r['cpu_s']:>8.1f}{r['docs_per_s']:>9.0f}"
            f"{r['docs'] / r['cpu_s']:>11.0f}{r['mb_per_s']:>7.2f}{r['index_mb']:>10.1f}"
        )
    ratio = report["indexing"]["ratio_docs_per_s"]
    print(
        f"ratio ours/bare docs/s: {ratio:.2f}   [{_mark(ratio >= GOAL_INDEX_RATIO)}] goal >= {GOAL_INDEX_RATIO}"
        f"   (per CPU second: {report['indexing']['ratio_docs_per_cpu_s']:.2f})"
    )
    print()
    goal_note = "" if n >= 100_000 else "  (the goal is set for 100,000 documents)"
    print(f"query latency, ms, {report['runs']} queries per kind; p95 goal < {GOAL_P95_MS:.0f} ms{goal_note}")
    header = (
        f"{'kind':<8}{'ours p50':>9}{'ours p95':>9}{'cpu p95':>9}{'lean p50':>9}{'lean p95':>9}{'bare p50':>9}{'bare p95':>9}"
        f"{'p95 ours/bare':>14}{'hits ours':>10}{'hits bare':>10}  goal"
    )
    print(header)
    print("-" * len(header))
    for kind, r in report["latency"].items():
        rel = r["ours_p95"] / r["bare_p95"] if r["bare_p95"] else 0.0
        print(
            f"{kind:<8}{r['ours_p50']:>9.1f}{r['ours_p95']:>9.1f}{r['ours_cpu_p95']:>9.1f}{r['lean_p50']:>9.1f}{r['lean_p95']:>9.1f}"
            f"{r['bare_p50']:>9.1f}{r['bare_p95']:>9.1f}{rel:>14.2f}{r['ours_hits_median']:>10.0f}"
            f"{r['bare_hits_median']:>10.0f}  {_mark(r['ours_p95'] < GOAL_P95_MS)}"
        )
    print(
        "(cpu p95: ours, CPU time of this process; lean: ours without facets and snippets; "
        "hits: median total matches)"
    )
    print()
    fs = report["first_search"]
    print(
        f"open the case and run the first search (fresh process): imports {fs['import_s']:.2f} s, "
        f"open {fs['open_s']:.2f} s, ensure_index {fs['ensure_index_s']:.2f} s, search {fs['search_s']:.2f} s"
    )
    print(
        f"open + first search {fs['open_and_search_s']:.2f} s   [{_mark(fs['open_and_search_s'] < GOAL_FIRST_SEARCH_S)}]"
        f" goal < {GOAL_FIRST_SEARCH_S:.0f} s   (whole process, with interpreter start: {fs['process_wall_s']:.2f} s)"
    )
    print("sample queries: " + "; ".join(f"{k}: {v[0]}" for k, v in report["queries"].items()))
    if "profile" in report:
        print(f"\ncProfile of ours over the {report['profile']['kind']!r} queries:")
        print(report["profile"]["text"])


# -- main ---------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Indexing and query latency beside bare Whoosh.")
    parser.add_argument("--docs", type=int, action="append", help="documents (repeat for several sizes)")
    parser.add_argument("--runs", type=int, default=50, help="queries per kind (default 50)")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="real files to take words from")
    parser.add_argument(
        "--profile", metavar="KIND", choices=[*KINDS, "slowest"], help="cProfile our search for one kind"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="build each size's case and bare index in DIR/N and reuse them when present (query figures only)",
    )
    parser.add_argument("--first-search", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--query", default="", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    if args.first_search:
        print(RESULT_PREFIX + json.dumps(first_search(args.first_search, args.query)))
        return 0
    sizes = args.docs or [10_000]
    t0 = time.perf_counter()
    vocabulary = build_vocabulary(args.corpus)
    vocab_s = time.perf_counter() - t0
    reports = []
    for count in sizes:
        report = bench_size(count, vocabulary, args)
        report["runs"] = args.runs
        reports.append(report)
        if not args.json:
            print_report(report)
    summary = {
        "vocabulary": {"words": len(vocabulary), "seconds": vocab_s, "head": vocabulary[:20]},
        "sizes": reports,
        "goals": {
            "index_ratio_min": GOAL_INDEX_RATIO,
            "p95_ms_max_at_100k": GOAL_P95_MS,
            "first_search_s_max": GOAL_FIRST_SEARCH_S,
        },
    }
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
