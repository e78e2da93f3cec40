"""RTF extractor: corpus text, code pages, info metadata, destinations, and malformed input."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from app.extract.base import ExtractContext, Extraction, Limits
from app.extract.errors import CorruptError
from app.extract.registry import Outcome, extract_file
from app.extract.rtf import RtfExtractor
from tests.conftest import known_text, manifest, normalise

ROWS = manifest()
REAL = [r for r in ROWS if r["path"].startswith("real/") and r["format"] == "rtf"]
HOSTILE = [r for r in ROWS if r["path"].startswith("hostile/") and r["format"] == "rtf"]


def run(path: Path, tmp_path: Path) -> Outcome:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return extract_file(path, ExtractContext(work_dir=work))


def rtf(tmp_path: Path, body: bytes, limits: Limits | None = None) -> Extraction:
    path = tmp_path / "sample.rtf"
    path.write_bytes(body)
    return RtfExtractor().extract(path, ExtractContext(work_dir=tmp_path, limits=limits or Limits()))


@pytest.mark.parametrize("row", REAL, ids=[Path(r["path"]).name for r in REAL])
def test_real_files_extract_with_known_text(corpus: Path, tmp_path: Path, row: dict[str, str]) -> None:
    outcome = run(corpus / row["path"], tmp_path)
    assert (outcome.doc_type, outcome.status) == ("rtf", "ok"), outcome.reason
    assert outcome.extraction is not None and outcome.extraction.text.strip()
    phrase = known_text(row["notes"])
    if phrase:
        assert normalise(phrase) in normalise(outcome.extraction.text)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("tika_testRTF-ms932.rtf", "こんにちは"),  # \'hh double-byte pairs in code page 932
        ("tika_testRTF-ms932.rtf", "テスト"),
        ("tika_testRTFJapanese.rtf", "ゾルゲと尾崎、淡々と最期"),  # \uN escapes
        ("tika_testRTFWord2010CzechCharacters.rtf", "Článek týdne"),
        ("tika_testRTFWord2010CzechCharacters.rtf", "Předpokládá se, že původními vlastníky"),
        ("tika_testRTFListMicrosoftWord.rtf", "1.\tone"),
        ("enron_RE_Confidentiality_Agreement_with_Enr-1.rtf", "Subject:\tRE: Confidentiality Agreement"),
    ],
)
def test_code_pages_and_unicode(corpus: Path, tmp_path: Path, name: str, expected: str) -> None:
    outcome = run(corpus / "real/rtf" / name, tmp_path)
    assert outcome.extraction is not None
    assert expected in outcome.extraction.text


def test_info_metadata(corpus: Path, tmp_path: Path) -> None:
    japanese = run(corpus / "real/rtf/tika_testRTF-ms932.rtf", tmp_path).extraction
    assert japanese is not None
    assert japanese.title == "タイトル"
    assert japanese.metadata["author"] == "shinsuke"
    assert japanese.metadata["created"] == "2010-10-08T14:18:00"
    assert japanese.metadata["modified"] == "2010-10-10T06:59:00"
    unicode_title = run(corpus / "real/rtf/tika_testRTFJapanese.rtf", tmp_path).extraction
    assert (
        unicode_title is not None and unicode_title.title == "ゾルゲと尾崎、淡々と最期"
    )  # from \upr's \ud twin
    notice = run(corpus / "real/rtf/enron_Noti-2.rtf", tmp_path).extraction
    assert notice is not None and notice.metadata["created"] == "2001-04-24T10:00:54"


@pytest.mark.parametrize("row", HOSTILE, ids=[Path(r["path"]).name for r in HOSTILE])
def test_malformed_rtf_ends_quickly(corpus: Path, tmp_path: Path, row: dict[str, str]) -> None:
    started = time.monotonic()
    outcome = run(corpus / row["path"], tmp_path)
    assert time.monotonic() - started < 5
    assert outcome.status in ("ok", "corrupt")
    if outcome.status == "ok":
        assert outcome.extraction and "Apples can be green or red." in outcome.extraction.text


def test_destinations(tmp_path: Path) -> None:
    body = (
        rb"{\rtf1\ansi\ansicpg1252{\fonttbl{\f0 Arial;}}{\colortbl;\red0\green0\blue0;}"
        rb"{\info{\title Quarterly \'e9tat}{\author A. N. Other}{\*\company ACME}"
        rb"{\creatim\yr2001\mo10\dy15\hr9\min30\sec5}}"
        rb"{\header Page header}{\footer Page footer}"
        rb"Body {\field{\*\fldinst HYPERLINK \"http://x\"}{\fldrslt link text}} here."
        rb"{\*\bkmkstart b1}{\pict\wmetafile8 0123456789abcdef{}}\par "
        rb"Note{\footnote\pard Footnote text.}\par "
        rb"{\annotation Reviewer comment.}"
        rb"{\object{\*\objdata 01050000}{\result Object result}}\par "
        rb"Binary\bin4 {}\} done\tab\u8364\'80 euro\line end}"
    )
    extraction = rtf(tmp_path, body)
    parts = {(p.kind, p.label): p.text for p in extraction.parts}
    assert (
        parts[("body", "body")] == "Body link text here.\nNote\nObject result\nBinary done\t\u20ac euro\nend"
    )
    assert parts[("headers", "headers")] == "Page headerPage footer"
    assert parts[("notes", "footnotes")] == "Footnote text."
    assert parts[("notes", "comments")] == "Reviewer comment."
    assert extraction.title == "Quarterly état"
    assert extraction.metadata == {
        "title": "Quarterly état",
        "author": "A. N. Other",
        "company": "ACME",
        "created": "2001-10-15T09:30:05",
    }


def test_font_charsets_and_unicode_skip(tmp_path: Path) -> None:
    body = (
        rb"{\rtf1\ansi\ansicpg1252\deff0{\fonttbl{\f0\fcharset0 Times;}{\f1\fcharset204 Times Cyr;}"
        rb"{\f2\fcharset128 MS Mincho;}}"
        rb"caf\'e9 {\f1 \'cf\'f0\'e8\'e2\'e5\'f2} {\f2 \'82\'b1\'82\'f1\'82\'c9\'82\'bf\'82\'cd}"
        rb" {\f2 \'83e\'83X\'83g} {\uc2\u-10179\'ff\'ff\u-8704??}}"
    )
    text = rtf(tmp_path, body).text
    assert text == "café Привет こんにちは テスト \U0001f600"  # \u pair → one astral character


def test_text_limit(tmp_path: Path) -> None:
    extraction = rtf(tmp_path, b"{\\rtf1 " + b"word " * 10_000 + b"}", Limits(max_text_chars=1000))
    assert len(extraction.text) <= 1000
    assert extraction.warnings == ("text truncated at 1,000 characters",)


def test_not_rtf_is_corrupt(tmp_path: Path) -> None:
    with pytest.raises(CorruptError):
        rtf(tmp_path, b"plain text, not rtf")


@pytest.mark.parametrize(
    "body",
    [
        b"{\\rtf1 " + b'{\\field{\\*\\fldinst{HYPERLINK "http://x" ' * 20_000 + b"x" * 1000 + b"}",
        b"{\\rtf1 " + b"{" * 300_000 + b"deep" + b"}" * 300_000,
        b"{\\rtf1 " + b"}" * 300_000 + b"after",
        b"{\\rtf1 hello\\bin99999999999 world}",
        b"{\\rtf1\\uc2000000000 \\u1234 tail}",
        b"{\\rtf1 \\" + b"a" * 100_000 + b"12345678901234567890 x}",
        b"{\\rtf1\\ansicpg999999 \\'82\\'a0 \\'",
    ],
    ids=["hyperlinks", "deep", "unbalanced", "bin", "uc", "long-word", "bad-codepage"],
)
def test_hostile_constructs_end_quickly(tmp_path: Path, body: bytes) -> None:
    started = time.monotonic()
    extraction = rtf(tmp_path, body)
    assert time.monotonic() - started < 5
    assert isinstance(extraction.text, str)
