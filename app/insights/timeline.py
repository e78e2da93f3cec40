"""The case on a time line: documents counted per day, month or year, and the `dated:` search filter.

A document's date is, in order: its own date from extraction (`documents.date`: the email's Date header,
or the created/modified date of its metadata, as `documents.date_source` records), else the first date found
in its text (computed with the entities, `document_insights.text_date`). Every bucket says how many of its
documents were dated by which source, so a reporter can tell an email's date from a guess.
"""

from __future__ import annotations

import calendar
import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.case import Case
from index.query import QueryError

BY = ("day", "month", "year")
MAX_FILLED = 2000  # empty buckets between dated ones are included up to this many buckets
_MIN, _MAX = "1900", "2101"  # dates outside are metadata noise (1601, 1980 zip times, 9999)


class TimelineError(QueryError):
    """A time line request (or `dated:` term) that cannot be answered; str() is for the reporter."""


@dataclass(frozen=True)
class Bucket:
    key: str  # "2001", "2001-05", "2001-05-14"
    start: str  # first day, ISO
    end: str  # last day, ISO
    count: int
    sources: dict[str, int] = field(default_factory=dict)  # email | metadata:created | … | text

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Timeline:
    by: str
    buckets: list[Bucket]
    dated: int
    undated: int
    sources: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        return {
            "by": self.by,
            "dated": self.dated,
            "undated": self.undated,
            "sources": self.sources,
            "buckets": [b.to_json() for b in self.buckets],
        }

    def query_for(self, first: str, last: str | None = None) -> str:
        """The search term selecting buckets `first`..`last` (what the app adds when a range is picked)."""
        return f"dated:{first}" if not last or last == first else f"dated:{first}/{last}"


@dataclass(frozen=True)
class DatedDocument:
    id: int
    date: str  # ISO day
    source: str


def _source(date_source: str | None, doc_type: str | None) -> str:
    if doc_type == "email" and date_source in (None, "date"):
        return "email"
    return f"metadata:{date_source or 'date'}"


def dated_documents(s: Session, doc_ids: Iterable[int] | None = None) -> tuple[list[DatedDocument], int]:
    """(every dated document with its day and where that came from, how many have no date)."""
    params: dict[str, Any] = {"lo": _MIN, "hi": _MAX}
    where = "d.status != 'pending'"
    if doc_ids is not None:
        params["ids"] = json.dumps(sorted(set(int(i) for i in doc_ids)))
        where += " AND d.id IN (SELECT value FROM json_each(:ids))"
    rows = s.execute(
        text(
            f"""
            SELECT d.id, d.date, d.date_source, d.doc_type, i.text_date
            FROM documents d LEFT JOIN document_insights i ON i.document_id = d.id
            WHERE {where}
            """
        ),
        params,
    ).all()
    out: list[DatedDocument] = []
    undated = 0
    for doc_id, own, own_source, doc_type, text_date in rows:
        day = _day(own)
        if day is not None:
            out.append(DatedDocument(doc_id, day, _source(own_source, doc_type)))
        elif text_date and _MIN <= text_date < _MAX:
            out.append(DatedDocument(doc_id, text_date, "text"))
        else:
            undated += 1
    return out, undated


def _day(value: str | None) -> str | None:
    if not value or len(value) < 10 or not (_MIN <= value[:4] < _MAX):
        return None
    day = value[:10]
    try:
        date.fromisoformat(day)
    except ValueError:
        return None
    return day


def _key(day: str, by: str) -> str:
    return day[:4] if by == "year" else day[:7] if by == "month" else day


def _bounds(key: str) -> tuple[date, date]:
    parts = [int(p) for p in key.split("-")]
    if len(parts) == 1:
        return date(parts[0], 1, 1), date(parts[0], 12, 31)
    if len(parts) == 2:
        return date(parts[0], parts[1], 1), date(parts[0], parts[1], calendar.monthrange(*parts)[1])
    d = date(*parts)
    return d, d


def _next(key: str, by: str) -> str:
    _, last = _bounds(key)
    return _key((last + timedelta(days=1)).isoformat(), by)


def timeline(case: Case, by: str = "month", doc_ids: Iterable[int] | None = None) -> Timeline:
    """Documents per day/month/year (of these documents, or all of the case)."""
    if by not in BY:
        raise TimelineError(f"unknown bucket size {by!r}: use day, month or year")
    with case.reader() as s:
        docs, undated = dated_documents(s, doc_ids)
    counts: Counter[str] = Counter()
    sources: dict[str, Counter[str]] = {}
    totals: Counter[str] = Counter()
    for d in docs:
        key = _key(d.date, by)
        counts[key] += 1
        sources.setdefault(key, Counter())[d.source] += 1
        totals[d.source] += 1
    keys = sorted(counts)
    if keys:
        filled = [keys[0]]
        while filled[-1] < keys[-1] and len(filled) <= MAX_FILLED:
            filled.append(_next(filled[-1], by))
        if len(filled) <= MAX_FILLED:
            keys = filled
    buckets = []
    for key in keys:
        first, last = _bounds(key)
        buckets.append(
            Bucket(
                key=key,
                start=first.isoformat(),
                end=last.isoformat(),
                count=counts.get(key, 0),
                sources=dict(sources.get(key, Counter()).most_common()),
            )
        )
    return Timeline(
        by=by, buckets=buckets, dated=len(docs), undated=undated, sources=dict(totals.most_common())
    )


_PERIOD = re.compile(r"^\d{4}(?:-\d{1,2}(?:-\d{1,2})?)?$")


def date_range(value: str) -> tuple[str, str]:
    """`2001`, `2001-05`, `2001-05-14` or `FIRST/LAST` (also `FIRST..LAST`) → inclusive ISO days."""
    value = value.strip().strip('"')
    first, sep, last = value.partition("/") if "/" in value else value.partition("..")
    first, last = first.strip(), (last.strip() if sep else first.strip())
    for part in (first, last):
        if not _PERIOD.match(part):
            raise TimelineError(f"dated: takes YYYY, YYYY-MM or YYYY-MM-DD, or FIRST/LAST; not {value!r}")
    try:
        lo = _bounds(_normal(first))[0]
        hi = _bounds(_normal(last))[1]
    except ValueError as exc:
        raise TimelineError(f"not a date: {value!r}") from exc
    if hi < lo:
        lo, hi = _bounds(_normal(last))[0], _bounds(_normal(first))[1]
    return lo.isoformat(), hi.isoformat()


def _normal(period: str) -> str:
    return "-".join(p.zfill(2) if i else p for i, p in enumerate(period.split("-")))


def resolve_dated(s: Session, leaf: Any) -> set[int]:
    """`dated:2001-05`, `dated:2001-05/2001-08`: documents whose time-line date falls in the range."""
    lo, hi = date_range(leaf.text)
    docs, _ = dated_documents(s)
    return {d.id for d in docs if lo <= d.date <= hi}
