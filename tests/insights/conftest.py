"""Synthetic documents sent through the real import pipeline, shared by the insights tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.pipeline.importer import ImportOptions
from app.services import build_services

FIXTURE = "tests.fixtures.bad_extractors:JsonFixture"


def _doc(title: str, text: str, doc_type: str = "pdf", **meta: object) -> dict:
    return {
        "doc_type": doc_type,
        "title": title,
        "metadata": meta,
        "parts": [{"kind": "page" if doc_type == "pdf" else "body", "label": "1", "text": text}],
    }


DOCS = {
    "wire.json": _doc(
        "Wire instructions",
        "Please wire USD 1,500,000 to Panda International Co., Ltd., IBAN DE89 3704 0044 0532 0130 00, "
        "BIC COBADEFFXXX. Questions: call me at (713) 853-6161 or see http://www.enron.com/corp/.",
        "email",
        **{
            "from": '"Jeff Skilling" <jeff.skilling@enron.com>',
            "to": ["Lay, Kenneth <klay@enron.com>", "sara.shackleton@enron.com"],
            "cc": ["Mark Frevert <mark.frevert@enron.com>"],
            "date": "2001-05-14T09:30:00-05:00",
            "subject": "Panda payment",
        },
    ),
    "reply.json": _doc(
        "RE: Wire instructions",
        "Done. Panda International Limited confirmed receipt of $1.5 million on 15 May 2001.",
        "email",
        **{
            "from": "Kenneth Lay <klay@enron.com>",
            "to": ["jeff.skilling@enron.com"],
            "date": "2001-05-15T10:00:00-05:00",
            "subject": "RE: Panda payment",
        },
    ),
    "contract.json": _doc(
        "Supply contract",
        "Contract No. 2013/HW/118 between Panda Intl Ltd and Acme Holdings GmbH, work order WO-2017-0413. "
        "Server 10.20.30.40. 本合同由熊猫国际有限公司签订。",
        created="2013-02-01T08:00:00",
    ),
    "memo.json": _doc("Memo", "Memo of 14 March 2002: the canteen closes early on Friday."),
    "nothing.json": _doc("Blank", "no entities at all here"),
}


def _write(folder: Path, docs: dict[str, dict]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in docs.items():
        (folder / name).write_text(json.dumps(data), "utf-8")


@pytest.fixture
def services(tmp_path: Path):
    _write(tmp_path / "leak", DOCS)
    services = build_services(tmp_path / "case", create=True)
    services.review.reviewer = services.insights.reviewer = "Ana"
    services.import_paths([tmp_path / "leak"], ImportOptions(workers=1, extractor=FIXTURE))
    yield services
    services.close()


def ids(services, query: str) -> list[int]:  # noqa: ANN001
    return services.search.matching_ids(query)


def by_title(services, title: str) -> int:  # noqa: ANN001
    return next(d.id for d in services.documents.iter_summaries() if d.title == title)
