"""Email extractors (EML, MBOX, MSG): corpus text, metadata, children, limits and hostile input."""

from __future__ import annotations

import base64
import re
import time
from pathlib import Path

import pytest

from app.extract.base import ExtractContext, Extraction, Limits
from app.extract.email import EmlExtractor, MboxExtractor
from app.extract.registry import Outcome, extract_file
from tests.conftest import known_text, manifest, normalise

ROWS = manifest()
REAL = [r for r in ROWS if r["path"].startswith("real/") and r["format"] in ("eml", "mbox", "msg")]
HOSTILE_EML = [r for r in ROWS if r["path"].startswith("hostile/email-malformed/")]
HOSTILE_MSG = [r for r in ROWS if r["path"].startswith("hostile/office-malformed/") and r["format"] == "msg"]
GENERATED_NAME = re.compile(r"^\d{6}\.(bin|eml|msg)$")


def run(path: Path, tmp_path: Path, limits: Limits | None = None, name_hint: str = "") -> Outcome:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return extract_file(path, ExtractContext(work_dir=work, name_hint=name_hint, limits=limits or Limits()))


def text_with_messages(outcome: Outcome, work: Path, tmp_path: Path) -> str:
    """The document's text plus that of its mailbox messages (which carry an mbox's content)."""
    assert outcome.extraction is not None
    texts = [outcome.extraction.text]
    for index, child in enumerate(outcome.extraction.children):
        if child.relation == "message":
            sub_work = tmp_path / f"message-{index}"
            sub_work.mkdir()
            sub = extract_file(work / child.path, ExtractContext(work_dir=sub_work, name_hint=child.name))
            assert sub.status == "ok", sub.reason
            assert sub.extraction is not None
            texts.append(sub.extraction.text)
    return "\n".join(texts)


def eml(tmp_path: Path, data: bytes, limits: Limits | None = None) -> Extraction:
    path = tmp_path / "message.eml"
    path.write_bytes(data)
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return EmlExtractor().extract(path, ExtractContext(work_dir=work, limits=limits or Limits()))


def mbox(tmp_path: Path, data: bytes, limits: Limits | None = None) -> Extraction:
    path = tmp_path / "box.mbox"
    path.write_bytes(data)
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return MboxExtractor().extract(path, ExtractContext(work_dir=work, limits=limits or Limits()))


def message(subject: str, body: str, sender: str = "a@example.org") -> bytes:
    head = f"From: {sender}\nTo: b@example.org\nSubject: {subject}\nDate: Mon, 1 Jun 2009 10:00:00 +0000\n"
    return (head + "\n" + body + "\n").encode()


# --------------------------------------------------------------------------------------------------
# Corpus
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("row", REAL, ids=[Path(r["path"]).name for r in REAL])
def test_real_files_extract_with_known_text(corpus: Path, tmp_path: Path, row: dict[str, str]) -> None:
    path = corpus / row["path"]
    outcome = run(path, tmp_path, name_hint=path.name)
    assert outcome.status == "ok", outcome.reason
    text = text_with_messages(outcome, tmp_path / "work", tmp_path)
    assert text.strip()
    phrase = known_text(row["notes"])
    if phrase:
        assert normalise(phrase) in normalise(text)
    for child in outcome.extraction.children if outcome.extraction else ():
        assert GENERATED_NAME.match(child.path) and (tmp_path / "work" / child.path).is_file()


@pytest.mark.parametrize(
    "name",
    [
        # Detected as "html" / "mbox" by detect.py today; the EML extractor reads them as mail.
        "tika_testEML_embedded_xhtml_and_img.eml",
        "tika_testGroupWiseEml.eml",
        "tika_testEmailWithPNGAtt.eml",
    ],
)
def test_eml_extractor_reads_every_corpus_message(corpus: Path, tmp_path: Path, name: str) -> None:
    extraction = eml(tmp_path, (corpus / "real/eml" / name).read_bytes())
    assert extraction.doc_type == "email" and extraction.title
    assert [p.kind for p in extraction.parts] == ["headers", "body"]
    assert extraction.parts[1].text.strip()


def test_eml_metadata(corpus: Path, tmp_path: Path) -> None:
    outcome = run(corpus / "real/eml/spamscope_mail_test_7.eml", tmp_path)
    assert outcome.extraction is not None
    meta = outcome.extraction.metadata
    assert meta["from"] == "Mariachiara Geronazzo <geronazzo@voidstudicom.it>"
    assert meta["to"] == ["serena.nicolini@fake.it"]
    assert meta["date"] == "2017-06-09T17:56:00+02:00"
    assert meta["subject"] == outcome.extraction.title == "I: Ordine"
    assert meta["message_id"] == "<ed264cf8.1d2e138.18e5b8f.29@voidstudicom.it>"
    assert meta["in_reply_to"] == "<EEDDF5F5-2786-4B3F-B15A-124A9A29A8D3@agade.info>"
    headers = outcome.extraction.parts[0]
    assert (headers.kind, headers.label) == ("headers", "headers")
    assert headers.text.splitlines()[0] == "From: Mariachiara Geronazzo <geronazzo@voidstudicom.it>"
    names = [c.name for c in outcome.extraction.children]
    assert "20170609091403417.pdf" in names and "image001.jpg" in names
    pdf = next(c for c in outcome.extraction.children if c.name == "20170609091403417.pdf")
    assert pdf.relation == "attachment"
    assert pdf.metadata == {
        "filename": "20170609091403417.pdf",
        "content_type": "application/pdf",
        "size": 34470,
    }
    assert (tmp_path / "work" / pdf.path).read_bytes().startswith(b"%PDF")


def test_eml_charsets_and_encoded_headers(corpus: Path, tmp_path: Path) -> None:
    chinese = run(corpus / "real/eml/spamscope_mail_test_9.eml", tmp_path).extraction
    assert chinese is not None and chinese.title is not None
    assert "\ufffd" not in chinese.title  # GB2312 label decoded as its GB18030 superset
    russian = run(corpus / "real/eml/spamscope_mail_test_6.eml", tmp_path).extraction
    assert russian is not None
    assert russian.title == "Быстрее вкладывайте в золото!"
    assert "ведущая деловая сеть России" in russian.text  # UTF-8 body with one stray byte


def test_references_and_attached_message(corpus: Path, tmp_path: Path) -> None:
    extraction = eml(tmp_path, (corpus / "real/eml/tika_testGroupWiseEml.eml").read_bytes())
    assert extraction.metadata["references"] == ["<51CC3DB00200000000000003@$$$>"]
    attached = next(c for c in extraction.children if c.metadata["content_type"] == "message/rfc822")
    assert attached.path.endswith(".eml") and attached.relation == "attachment"
    inner = EmlExtractor().extract(tmp_path / "work" / attached.path, ExtractContext(work_dir=tmp_path))
    assert inner.title == "test2" and inner.parts[1].text.strip() == "test2"


@pytest.mark.parametrize("row", HOSTILE_EML, ids=[Path(r["path"]).name for r in HOSTILE_EML])
def test_malformed_email_is_salvaged(corpus: Path, tmp_path: Path, row: dict[str, str]) -> None:
    started = time.monotonic()
    outcome = run(corpus / row["path"], tmp_path)
    assert time.monotonic() - started < 5
    assert outcome.status == "ok", outcome.reason
    assert outcome.extraction is not None and outcome.extraction.parts[1].text.strip()


def test_malformed_boundaries_are_recovered(corpus: Path, tmp_path: Path) -> None:
    # Declared boundary never used: the one in the body is found and its base64 HTML decoded.
    wrong = run(corpus / "hostile/email-malformed/spamscope_mail_malformed_3.eml", tmp_path).extraction
    assert wrong is not None and "calefactores de nanotecnologia" in wrong.text
    assert wrong.warnings
    # A nested multipart reusing its parent's boundary: the attachment after it is not lost.
    reused = run(corpus / "hostile/email-malformed/spamscope_mail_malformed_1.eml", tmp_path).extraction
    assert reused is not None
    assert [c.metadata["content_type"] for c in reused.children] == ["application/zip"]


# --------------------------------------------------------------------------------------------------
# EML: generated
# --------------------------------------------------------------------------------------------------


def nested_multipart(depth: int) -> bytes:
    out = [b"From: a@example.org\r\nTo: b@example.org\r\nSubject: deep\r\nMIME-Version: 1.0\r\n"]
    for level in range(depth):
        out.append(b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (level, level))
    out.append(b"Content-Type: text/plain\r\n\r\ninnermost text\r\n")
    out.extend(b"--b%d--\r\n" % level for level in reversed(range(depth)))
    return b"".join(out)


def test_thousand_level_nesting_is_bounded(tmp_path: Path) -> None:
    path = tmp_path / "deep.eml"
    path.write_bytes(nested_multipart(1000))
    started = time.monotonic()
    outcome = run(path, tmp_path)
    assert time.monotonic() - started < 5
    assert outcome.status == "ok", outcome.reason
    assert outcome.extraction is not None and outcome.extraction.title == "deep"
    assert any("nested deeper than 50 levels" in w for w in outcome.extraction.warnings)


def test_nesting_within_the_limit_is_read(tmp_path: Path) -> None:
    extraction = eml(tmp_path, nested_multipart(40))
    assert extraction.parts[1].text == "innermost text" and not extraction.warnings


def attachment_message(count: int, size: int) -> bytes:
    parts = [
        b"From: a@example.org\nTo: b@example.org\nSubject: files\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/mixed; boundary="XX"\n\n--XX\nContent-Type: text/plain\n\nsee attached\n'
    ]
    for index in range(count):
        payload = bytes([65 + index % 26]) * size
        parts.append(
            b"--XX\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n"
            b'Content-Disposition: attachment; filename="../../etc/f%d.bin"\n\n' % index
        )
        parts.append(base64.encodebytes(payload))
    parts.append(b"--XX--\n")
    return b"".join(parts)


def test_attachments_are_written_under_generated_names(tmp_path: Path) -> None:
    extraction = eml(tmp_path, attachment_message(2, 300))
    assert [c.name for c in extraction.children] == ["../../etc/f0.bin", "../../etc/f1.bin"]
    for child in extraction.children:
        assert GENERATED_NAME.match(child.path)
        assert (tmp_path / "work" / child.path).read_bytes() in (b"A" * 300, b"B" * 300)
        assert child.metadata["size"] == 300
    assert sorted(p.name for p in tmp_path.iterdir()) == ["message.eml", "work"]


def test_attachment_count_limit(tmp_path: Path) -> None:
    extraction = eml(tmp_path, attachment_message(5, 10), Limits(max_members=3))
    assert len(extraction.children) == 3
    assert any("only the first 3 attachments" in w for w in extraction.warnings)


def test_attachment_size_limit(tmp_path: Path) -> None:
    extraction = eml(tmp_path, attachment_message(2, 5000), Limits(max_member_bytes=1000))
    assert extraction.children == ()
    assert sum("larger than 1,000 bytes" in w for w in extraction.warnings) == 2
    assert "see attached" in extraction.text
    assert list((tmp_path / "work").iterdir()) == []


def test_lenient_headers_and_charsets(tmp_path: Path) -> None:
    data = (
        b"From: =?utf-8?B?0JjQstCw0L0g0J/QtdGC0YDQvtCy?= <ivan@example.ru>\n"
        b'To: "Doe, Jane" <jane@example.org>, <<<broken@@>>>, "unterminated\n'
        b"Cc: =?x-unknown?Q?Caf=C3=A9?= <cafe@example.org>\n"
        b"Subject: Re: r\xc3\xa9sum\xc3\xa9 (raw UTF-8)\n"
        b"Date: not a date\n"
        b"References: <a@x> <b@y>\n"
        b"Content-Type: text/plain; charset=x-no-such-charset\n\n"
        b"Gr\xc3\xbc\xc3\x9fe aus K\xc3\xb6ln\n"
    )
    extraction = eml(tmp_path, data)
    meta = extraction.metadata
    assert meta["from"] == "Иван Петров <ivan@example.ru>"
    assert "Doe, Jane <jane@example.org>" in meta["to"]
    assert meta["cc"] == ["Café <cafe@example.org>"]
    assert meta["subject"] == "Re: résumé (raw UTF-8)"
    assert meta["references"] == ["<a@x>", "<b@y>"]
    assert "date" not in meta
    assert extraction.parts[1].text.strip() == "Grüße aus Köln"


def test_html_only_message_uses_html_text(tmp_path: Path) -> None:
    data = (
        b"From: a@example.org\nSubject: html\nContent-Type: text/html; charset=iso-8859-1\n"
        b"Content-Transfer-Encoding: quoted-printable\n\n"
        b"<html><head><style>.x{}</style></head><body><p>Caf=E9 <b>cr=E8me</b></p></body></html>\n"
    )
    assert eml(tmp_path, data).parts[1].text == "Café crème"


def test_alternative_prefers_plain_but_keeps_new_html_text(tmp_path: Path) -> None:
    head = b'From: a@example.org\nSubject: alt\nContent-Type: multipart/alternative; boundary="A"\n\n'
    same = head + (
        b"--A\nContent-Type: text/plain\n\nHello there, friend\n"
        b"--A\nContent-Type: text/html\n\n<p>Hello <i>there</i>, friend</p>\n--A--\n"
    )
    assert eml(tmp_path, same).parts[1].text == "Hello there, friend"
    different = head + (
        b"--A\nContent-Type: text/plain\n\nShort note\n"
        b"--A\nContent-Type: text/html\n\n<p>Completely different wording inside markup</p>\n--A--\n"
    )
    assert "Completely different wording" in eml(tmp_path, different).parts[1].text


def test_text_is_bounded(tmp_path: Path) -> None:
    extraction = eml(tmp_path, message("long", "x" * 5000), Limits(max_text_chars=100))
    assert len(extraction.parts[1].text) == 100
    assert extraction.warnings


# --------------------------------------------------------------------------------------------------
# MBOX
# --------------------------------------------------------------------------------------------------


def test_mbox_messages_become_children(corpus: Path, tmp_path: Path) -> None:
    outcome = run(corpus / "real/mbox/tika_complex.mbox", tmp_path)
    assert outcome.doc_type == "mbox" and outcome.extraction is not None
    assert outcome.extraction.metadata["message_count"] == 3
    (summary,) = outcome.extraction.parts
    assert (summary.kind, summary.label) == ("body", "summary") and "3 messages" in summary.text
    first = outcome.extraction.children[0]
    assert first.relation == "message" and first.path == "000001.eml"
    assert first.metadata == {
        "subject": "Re: question about when shuffle/sort start working",
        "from": "Jothi Padmanabhan <jothipn@yahoo-inc.com>",
        "date": "2009-06-01T09:56:31+05:30",
    }
    written = (tmp_path / "work" / first.path).read_bytes()
    assert written.startswith(b"Return-Path: ") and written.endswith(
        b">       \n\n"
    )  # separator's blank line dropped


def test_mbox_with_one_corrupt_message_among_many(tmp_path: Path) -> None:
    boxes = []
    for index in range(20):
        if index == 7:
            body = b"Subject: =?bogus?Q?\xff\xfe?=\nContent-Type: multipart/mixed; boundary=\n\n\x00\xff\x00garbage\n"
        else:
            body = message(f"message {index}", f"body of message number {index}")
        boxes.append(b"From sender@example.org Mon Jun  1 10:00:00 2009\n" + body + b"\n")
    extraction = mbox(tmp_path, b"".join(boxes))
    assert extraction.metadata["message_count"] == 20
    assert len(extraction.children) == 20
    for index, child in enumerate(extraction.children):
        sub_work = tmp_path / f"m{index}"
        sub_work.mkdir()
        outcome = extract_file(
            tmp_path / "work" / child.path, ExtractContext(work_dir=sub_work, name_hint=child.name)
        )
        if index == 7:
            continue  # whatever becomes of it, it stops nothing else
        assert outcome.status == "ok", outcome.reason
        assert outcome.extraction is not None
        assert f"body of message number {index}" in outcome.extraction.text
        assert child.metadata["subject"] == f"message {index}"


def test_mbox_splits_only_on_separator_lines(tmp_path: Path) -> None:
    body = "First line.\n\nFrom the start, this line is body text.\n>From escaped too.\n"
    data = b"From a@b Mon Jun  1 10:00:00 2009\n" + message("one", body)
    data += b"\nFrom b@c Tue Jun  2 11:00:00 2009\n" + message("two", "second body")
    extraction = mbox(tmp_path, data)
    assert extraction.metadata["message_count"] == 2
    first = (tmp_path / "work" / extraction.children[0].path).read_bytes()
    assert b"From the start, this line is body text." in first


def test_mbox_limits(tmp_path: Path) -> None:
    data = b"".join(
        b"From a@b Mon Jun  1 10:00:00 2009\n" + message(f"m{i}", "x" * (50 if i != 1 else 5000)) + b"\n"
        for i in range(6)
    )
    extraction = mbox(tmp_path, data, Limits(max_members=3, max_member_bytes=1000))
    assert [c.metadata["subject"] for c in extraction.children] == ["m0", "m2", "m3"]
    assert any("larger than 1,000 bytes" in w for w in extraction.warnings)
    assert any("only the first 3 messages" in w for w in extraction.warnings)
    assert len(list((tmp_path / "work").iterdir())) == 3  # skipped messages leave no file behind


# --------------------------------------------------------------------------------------------------
# MSG
# --------------------------------------------------------------------------------------------------


def test_msg_metadata_and_recipients(corpus: Path, tmp_path: Path) -> None:
    outcome = run(corpus / "real/msg/poi_outlook_30_msg.msg", tmp_path)
    assert (outcome.doc_type, outcome.status) == ("email", "ok"), outcome.reason
    assert outcome.extraction is not None
    meta = outcome.extraction.metadata
    assert meta["from"] == "Cramer, Nick <nick.cramer@pnl.gov>"
    assert len(meta["to"]) == 18 and "Bohn, Shawn J <shawn.bohn@pnl.gov>" in meta["to"]
    assert meta["date"] == "2008-09-12T14:28:29.368000+00:00"
    assert meta["message_id"] == "<38AFAB8E6524FB4AB0D38D15FDED56AB169A9F@EMAIL02.pnl.gov>"
    assert [p.kind for p in outcome.extraction.parts] == ["headers", "body"]


@pytest.mark.parametrize(
    ("name", "subject", "phrase"),
    [
        ("poi_chinese-traditional.msg", "Alfresco MSG format testing ( MSG 格式測試 )", "恭喜 HQ 保全課"),
        (
            "poi_cyrillic_message.msg",
            'Автоматический ответ подсистемы обмена данными ФГУП "Почта России".',
            "В нем были",
        ),
        ("poi_bug66335.msg", "Deine Bestellbestätigung vom 13-09-2018", "Docker for Java Developers"),
    ],
)
def test_msg_code_pages(corpus: Path, tmp_path: Path, name: str, subject: str, phrase: str) -> None:
    extraction = run(corpus / "real/msg" / name, tmp_path).extraction
    assert extraction is not None
    assert extraction.title == subject
    assert phrase in extraction.text


def test_msg_items_that_are_not_mail(corpus: Path, tmp_path: Path) -> None:
    contact = run(corpus / "real/msg/poi_msgClassContact.msg", tmp_path).extraction
    assert contact is not None and contact.metadata["message_class"] == "IPM.Contact"
    details = next(p for p in contact.parts if p.label == "details")
    assert "E-mail: quickbrown@gmail.com" in details.text and "Company: Fence Co" in details.text
    appointment = run(corpus / "real/msg/poi_msgClassAppointment.msg", tmp_path).extraction
    assert appointment is not None and "Location: under lazy dog" in appointment.text


def test_msg_attachments_and_embedded_message(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    outcome = run(corpus / "real/msg/tika_testMSG_att_msg.msg", tmp_path)
    assert outcome.extraction is not None
    children = outcome.extraction.children
    assert [(c.name, c.path) for c in children] == [
        ("Test Attachment.msg", "000001.msg"),
        ("smbprn.00009008.KdcPjl.pdf", "000002.bin"),
    ]
    assert (tmp_path / "work" / children[1].path).read_bytes().startswith(b"%PDF")
    embedded = extract_file(tmp_path / "work" / children[0].path, ExtractContext(work_dir=tmp_path / "work"))
    assert (embedded.doc_type, embedded.status) == ("email", "ok"), embedded.reason
    assert embedded.extraction is not None and embedded.extraction.title == "Test Attachment"
    assert "Blah blah blah" in embedded.extraction.text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"]  # nothing written beside it


@pytest.mark.parametrize("row", HOSTILE_MSG, ids=[Path(r["path"]).name for r in HOSTILE_MSG])
def test_malformed_msg_is_corrupt(corpus: Path, tmp_path: Path, row: dict[str, str]) -> None:
    started = time.monotonic()
    outcome = run(corpus / row["path"], tmp_path)
    assert time.monotonic() - started < 10
    assert outcome.status == "corrupt"
    assert outcome.reason.startswith("MSG is damaged")
