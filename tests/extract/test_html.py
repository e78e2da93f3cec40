"""HTML extractor: corpus text, title and meta, block structure, charsets, and limits."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from app.extract.base import ExtractContext, Extraction, Limits
from app.extract.html import HtmlExtractor, html_to_text
from app.extract.registry import Outcome, extract_file
from tests.conftest import known_text, manifest, normalise

ROWS = manifest()
REAL = [r for r in ROWS if r["path"].startswith("real/") and r["format"] == "html"]


def run(path: Path, tmp_path: Path) -> Outcome:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return extract_file(path, ExtractContext(work_dir=work, name_hint=path.name))


def html_file(tmp_path: Path, data: bytes, limits: Limits | None = None) -> Extraction:
    path = tmp_path / "page.html"
    path.write_bytes(data)
    return HtmlExtractor().extract(path, ExtractContext(work_dir=tmp_path, limits=limits or Limits()))


@pytest.mark.parametrize("row", REAL, ids=[Path(r["path"]).name for r in REAL])
def test_real_files_extract_with_known_text(corpus: Path, tmp_path: Path, row: dict[str, str]) -> None:
    outcome = run(corpus / row["path"], tmp_path)
    assert (outcome.doc_type, outcome.status) == ("html", "ok"), outcome.reason
    assert outcome.extraction is not None and outcome.extraction.text.strip()
    assert [p.kind for p in outcome.extraction.parts] == ["body"]
    phrase = known_text(row["notes"])
    if phrase:
        assert normalise(phrase) in normalise(outcome.extraction.text)


def test_title_and_meta(corpus: Path, tmp_path: Path) -> None:
    satire = run(corpus / "real/html/enron_SatireWire_Enron_Actually_Argentina.htm", tmp_path).extraction
    assert satire is not None
    assert satire.title == "SatireWire | Enron Actually Argentina"
    assert str(satire.metadata["description"]).startswith("On the brink of collapse")
    utf8 = run(corpus / "real/html/tika_testHTML_utf8.html", tmp_path).extraction
    assert utf8 is not None and utf8.title == "Title : Tilte with UTF-8 chars öäå"
    assert utf8.metadata["encoding"] == "utf-8"


def test_cyrillic_page_decodes(corpus: Path, tmp_path: Path) -> None:
    resume = run(corpus / "real/html/tika_resume.html", tmp_path).extraction
    assert resume is not None and "Историю отправки своего резюме" in resume.text


def test_html_to_text_structure() -> None:
    markup = """<!doctype html><html lang="de"><head><title> My  page </title>
        <style>p { color: red }</style><script>var secret = "hidden";</script></head>
        <body><h1>Heading</h1><p>First <b>bold</b>&nbsp;word&amp;more</p><div>Second<br>line</div>
        <noscript>enable js</noscript><!-- a comment -->
        <table><tr><td>A1</td><td>B1</td></tr><tr><td>A2</td><td>B2</td></tr></table>
        <pre>  keep   spacing</pre><ul><li>one</li><li>two</li></ul></body></html>"""
    text, title = html_to_text(markup)
    assert title == "My page"
    lines = text.splitlines()
    assert lines[0] == "Heading"
    assert "First bold\xa0word&more" in lines
    assert "Second" in lines and "line" in lines
    assert "A1\tB1" in text and "A2\tB2" in text
    assert "keep   spacing" in lines  # <pre> keeps its inner spacing
    assert "one" in lines and "two" in lines
    for hidden in ("color: red", "secret", "enable js", "a comment"):
        assert hidden not in text


def test_charset_from_meta_and_language(tmp_path: Path) -> None:
    body = '<html lang="ru"><head><meta charset="windows-1251"><meta name="Author" content="Иван">'
    body += "</head><body><p>Привет, мир</p></body></html>"
    extraction = html_file(tmp_path, body.encode("cp1251"))
    assert extraction.text == "Привет, мир"
    assert extraction.metadata["encoding"] == "cp1251"
    assert extraction.metadata["author"] == "Иван"
    assert extraction.metadata["language"] == "ru"


def test_bytes_without_declaration_are_detected() -> None:
    text, _ = html_to_text("<p>Größenordnung über Äpfel</p>".encode())
    assert text == "Größenordnung über Äpfel"


def test_deep_nesting_does_not_recurse(tmp_path: Path) -> None:
    started = time.monotonic()
    extraction = html_file(tmp_path, b"<div>" * 20_000 + b"deep text" + b"</div>" * 20_000)
    assert time.monotonic() - started < 10
    assert extraction.text == "deep text"


def test_entities_are_never_expanded_or_fetched() -> None:
    entities = '<!ENTITY a0 "dos">' + "".join(f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">' for i in range(1, 10))
    markup = f'<!DOCTYPE html [{entities}<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    markup += "<html><body><p>&a9; and &xxe; end</p></body></html>"
    started = time.monotonic()
    text, _ = html_to_text(markup.encode())
    assert time.monotonic() - started < 2
    assert "dosdos" not in text and "root:" not in text
    assert text.endswith("and &xxe; end")


def test_text_is_bounded_by_max_text_chars(tmp_path: Path) -> None:
    extraction = html_file(tmp_path, b"<p>" + b"word " * 2000 + b"</p>", Limits(max_text_chars=100))
    assert len(extraction.text) <= 100
    assert extraction.warnings
