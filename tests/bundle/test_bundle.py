"""Bundles: export, verified merge (twice, both ways), tamper refusal, scrubbed copies, load files."""

from __future__ import annotations

import csv
import io
import json
import shutil
import zipfile
from pathlib import Path

import pymupdf
import pytest

from app.bundle.export import BundleError
from app.bundle.redactions import add_redaction
from app.pipeline.importer import ImportOptions
from app.services import build_services


def _pdf(path: Path, text: str, *, author: str = "Jane Source") -> None:
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 72), text, fontsize=12)
    page.insert_text((72, 120), "Account holder: Robert Secret", fontsize=12)
    doc.set_metadata({"author": author, "creator": "Leaky Writer 1.0", "title": "Internal memo"})
    doc.embfile_add("hidden.txt", b"embedded secret")
    doc.save(path)


@pytest.fixture
def leak(tmp_path: Path) -> Path:
    root = tmp_path / "leak"
    root.mkdir()
    _pdf(root / "memo.pdf", "Work order WO-2017-0413 for the tower.")
    _pdf(root / "invoice.pdf", "Invoice 2017-5531 pays for WO-2017-0413.")
    _pdf(root / "other.pdf", "Canteen menu for Friday.")
    return root


def _case(tmp_path: Path, name: str, leak: Path, reviewer: str):  # noqa: ANN202
    services = build_services(tmp_path / name, create=True)
    services.review.reviewer = reviewer
    services.import_paths([leak], ImportOptions(workers=1))
    return services


def _id(services, title_part: str) -> int:  # noqa: ANN001
    return next(
        d.id for d in services.documents.iter_summaries() if title_part in (d.paths[0] if d.paths else "")
    )


def test_round_trip_into_an_empty_case(tmp_path: Path, leak: Path) -> None:
    a = _case(tmp_path, "a", leak, "Ana")
    memo, invoice = _id(a, "memo.pdf"), _id(a, "invoice.pdf")
    a.review.add_tag("story/tower", [memo, invoice])
    a.review.set_status("relevant", [memo])
    a.review.add_note(memo, "Check the order number", page=1)
    a.review.add_link(invoice, memo, "pays_for", "same WO")
    out = tmp_path / "tower.dossier.zip"
    report = a.export_bundle(out, a.search.matching_ids('tag:"story/tower"'))
    assert report.documents == 2

    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
        manifest = json.loads(zf.read("manifest.json"))
        assert {"manifest.json", "documents.csv", "index.html", "tags.json", "relations.json"} <= names
        assert {f["path"] for f in manifest["files"]} == names - {"manifest.json"}
        assert manifest["creator"] == "Ana" and manifest["format_version"] == 1 and manifest["source_case_id"]
        rows = list(csv.DictReader(io.StringIO(zf.read("documents.csv").decode("utf-8-sig"))))
        assert {r["status"] for r in rows} == {"relevant", "unreviewed"} and rows[0]["sha256"]
        html = zf.read("index.html").decode()
        assert "<script" not in html and "Check the order number" in html and "story/tower" in html

    b = build_services(tmp_path / "b", create=True)
    b.review.reviewer = "Ben"
    merged = b.merge_bundle(out)
    assert (
        merged.documents_added == 3 and merged.tags_added == 2 and merged.notes_added == 1
    )  # + the embedded file and merged.links_added == 1
    bm, bi = (
        next(d.id for d in b.documents.iter_summaries() if d.sha256 == a.documents.detail(x).summary.sha256)
        for x in (memo, invoice)
    )
    assert b.search.matching_ids("WO-2017-0413") == sorted([bm, bi])  # searchable as imports
    assert [t.name for t in b.review.tags_of(bm)] == ["story/tower"]
    assert b.review.status_of(bm) == "relevant"
    assert [(n.author, n.text, n.page) for n in b.review.notes(bm)] == [("Ana", "Check the order number", 1)]
    assert [(x.relation, x.direction) for x in b.review.links(bi).links if not x.automatic] == [
        ("pays_for", "out")
    ]
    assert b.documents.detail(bm).sources[0]["path"].startswith("tower.dossier.zip//")

    again = b.merge_bundle(out)
    assert not again.changed
    a.close()
    b.close()


def test_merges_converge_both_ways(tmp_path: Path, leak: Path) -> None:
    a = _case(tmp_path, "a", leak, "Ana")
    b = _case(tmp_path, "b", leak, "Ben")
    am, bm = _id(a, "memo.pdf"), _id(b, "memo.pdf")
    ai, bi = _id(a, "invoice.pdf"), _id(b, "invoice.pdf")
    a.review.add_tag("tower", [am])
    a.review.set_status("relevant", [am])
    a.review.add_note(am, "Ana's note")
    b.review.add_tag("payments", [bm, bi])
    b.review.add_note(bm, "Ben's note")
    b.review.add_link(bi, bm, "pays_for")
    b.review.set_status("follow_up", [bm])  # later than Ana's decision: it wins on both sides

    a_out, b_out = tmp_path / "a.zip", tmp_path / "b.zip"
    a.export_bundle(a_out, [am, ai])
    b.export_bundle(b_out, [bm, bi])
    rb = b.merge_bundle(a_out)
    ra = a.merge_bundle(b_out)
    assert rb.conflicts and ra.conflicts  # the differing status is listed on both sides

    def state(services, memo, invoice):  # noqa: ANN001, ANN202
        return (
            sorted(t.name for t in services.review.tags_of(memo)),
            sorted(t.name for t in services.review.tags_of(invoice)),
            services.review.status_of(memo),
            sorted((n.author, n.text) for n in services.review.notes(memo)),
            sorted(x.relation for x in services.review.links(invoice).links if not x.automatic),
        )

    assert state(a, am, ai) == state(b, bm, bi)
    assert state(a, am, ai)[2] == "follow_up"
    assert not a.merge_bundle(b_out).changed and not b.merge_bundle(a_out).changed
    a.close()
    b.close()


def test_tampered_bundle_is_refused_and_nothing_changes(tmp_path: Path, leak: Path) -> None:
    a = _case(tmp_path, "a", leak, "Ana")
    out = tmp_path / "x.zip"
    a.export_bundle(out, [_id(a, "memo.pdf")])
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(out) as src, zipfile.ZipFile(tampered, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename.endswith("text.txt"):
                data = data[:-1] + bytes([data[-1] ^ 1])
            dst.writestr(item, data)
    b = build_services(tmp_path / "b", create=True)
    with pytest.raises(BundleError, match="tampered"):
        b.merge_bundle(tampered)
    assert b.documents.count() == 0
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(out.read_bytes()[:-200])
    with pytest.raises(BundleError):
        b.merge_bundle(truncated)
    assert b.documents.count() == 0
    a.close()
    b.close()


def test_scrubbed_copy_removes_metadata_and_burns_redactions(tmp_path: Path, leak: Path) -> None:
    a = _case(tmp_path, "a", leak, "Ana")
    memo = _id(a, "memo.pdf")
    page = pymupdf.open(a.case.blob_path(a.documents.detail(memo).summary.sha256))[0]
    rect = page.search_for("Robert Secret")[0]
    add_redaction(a.case, memo, page=1, rect=(rect.x0, rect.y0, rect.x1, rect.y1), reviewer="Ana")
    out = tmp_path / "pub.zip"
    report = a.export_bundle(out, [memo], scrubbed=True, redact_terms=["tower"])
    assert report.scrubbed and any("Printer tracking dots" in w for w in report.scrub_report["warnings"])
    with zipfile.ZipFile(out) as zf:
        record = json.loads(next(zf.read(n) for n in zf.namelist() if n.endswith("document.json")))
        pdf_bytes = zf.read(record["original"])
        text = next(zf.read(n) for n in zf.namelist() if n.endswith("text.txt")).decode()
    doc = pymupdf.open(stream=pdf_bytes, filetype="pdf")
    assert not any((doc.metadata or {}).get(k) for k in ("author", "creator", "title", "producer"))
    assert not doc.get_xml_metadata() and doc.embfile_count() == 0
    page_text = doc[0].get_text()
    assert "Robert Secret" not in page_text and "tower" not in page_text and "WO-2017-0413" in page_text
    assert "tower" not in text and "█" in text
    assert record["paths"] == [] and record["metadata"] == {} and record["audit"] == []
    # The original in the case is untouched.
    original = pymupdf.open(a.case.blob_path(record["sha256"]))
    assert original.metadata["author"] == "Jane Source" and "Robert Secret" in original[0].get_text()
    a.close()


def test_scrub_office_and_email(tmp_path: Path) -> None:
    from app.bundle.scrub import scrub

    docx = io.BytesIO()
    with zipfile.ZipFile(docx, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr(
            "docProps/core.xml", "<cp:coreProperties><dc:creator>Jane Source</dc:creator></cp:coreProperties>"
        )
        zf.writestr(
            "docProps/app.xml",
            "<Properties><Company>Secret Corp</Company><Template>Normal.dotm</Template></Properties>",
        )
        zf.writestr(
            "word/document.xml",
            '<w:document><w:p w:rsidR="00AB12CD"><w:ins w:author="Jane Source"/></w:p></w:document>',
        )
    result = scrub(docx.getvalue(), "docx", [])
    with zipfile.ZipFile(io.BytesIO(result.data)) as zf:
        blob = b"".join(zf.read(n) for n in zf.namelist())
    assert (
        b"Jane Source" not in blob
        and b"Secret Corp" not in blob
        and b"rsidR" not in blob
        and b"Normal.dotm" not in blob
    )
    email = b"Received: from mx.secret.example (10.0.0.7)\r\nX-Originating-IP: 10.0.0.8\r\nFrom: a@example.org\r\nTo: b@example.org\r\nSubject: hi\r\nDate: Mon, 1 Jan 2001 00:00:00 +0000\r\n\r\nbody\r\n"
    cleaned = scrub(email, "email", []).data
    assert (
        b"Received" not in cleaned
        and b"X-Originating-IP" not in cleaned
        and b"From: a@example.org" in cleaned
    )


def test_loadfile_export(tmp_path: Path, leak: Path) -> None:
    a = _case(tmp_path, "a", leak, "Ana")
    out = tmp_path / "load"
    from app.bundle.loadfile import QUOTE, SEP, export_loadfile

    report = export_loadfile(a.case, out, [_id(a, "memo.pdf"), _id(a, "invoice.pdf")])
    lines = (out / "DATA" / "loadfile.dat").read_bytes().decode("utf-8-sig").split("\r\n")
    header = [f.strip(QUOTE) for f in lines[0].split(SEP)]
    assert header[0] == "DOCID" and "TEXTPATH" in header and report.documents == 2
    first = [f.strip(QUOTE) for f in lines[1].split(SEP)]
    assert first[0] == "DOSS0000001"
    assert (out / first[header.index("TEXTPATH")].replace("\\", "/")).read_text().strip()
    assert (out / first[header.index("NATIVEPATH")].replace("\\", "/")).stat().st_size > 0
    a.close()


def test_cli_export_merge(tmp_path: Path, leak: Path) -> None:
    from tests.test_cli import dossier

    case_a, case_b = tmp_path / "ca", tmp_path / "cb"
    dossier("--case", str(case_a), "import", str(leak), "--json")
    dossier("--case", str(case_a), "--as", "Ana", "tag", "add", "hot", "--query", "WO-2017-0413")
    out = json.loads(
        dossier("--case", str(case_a), "export", str(tmp_path / "hot.zip"), "--tag", "hot", "--json").stdout
    )
    assert out["documents"] == 2
    merged = json.loads(dossier("--case", str(case_b), "merge", str(tmp_path / "hot.zip"), "--json").stdout)
    assert merged["documents_added"] == 3 and merged["tags_added"] == 2
    bad = tmp_path / "bad.zip"
    shutil.copy(tmp_path / "hot.zip", bad)
    with open(bad, "r+b") as fh:
        fh.seek(200)
        fh.write(b"XXXX")
    proc = dossier("--case", str(case_b), "merge", str(bad), check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr


def test_export_to_a_missing_folder_or_a_folder_is_refused_clearly(tmp_path: Path, leak: Path) -> None:
    a = _case(tmp_path, "a", leak, "ana")
    ids = [d.id for d in a.documents.iter_summaries()]
    with pytest.raises(BundleError, match="does not exist"):
        a.export_bundle(tmp_path / "no" / "such" / "out.dossier.zip", ids)
    with pytest.raises(BundleError, match="is a folder"):
        a.export_bundle(tmp_path, ids)
    assert not list(tmp_path.glob("**/*.part"))
    a.close()
