"""Passwords from the command line: `import --password` and `--password-file` open encrypted PDF and Office
files; the decrypted text is indexed and the original is stored as it was (still encrypted)."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path

import pymupdf

from tests.fixtures.reliability import record
from tests.test_cli import dossier

FILES = {
    # name: (password, known text after decryption or None)
    "poi_bug53475-password-is-solrcell.docx": ("solrcell", "This is password"),
    "poi_60320-protected.xlsx": ("Test001!!", "Reencrypted by Mac Excel"),
    "poi_password.xls": ("password", "most commercial mail servers"),
    "poi_password_tika_binaryrc4.doc": ("tika", None),
    "pdfjs_issue6010_2.pdf": ("æøå", None),  # non-ASCII, from the password file
}


def test_import_with_passwords(tmp_path: Path, corpus: Path) -> None:
    leak = tmp_path / "leak"
    leak.mkdir()
    for name in FILES:
        shutil.copy2(corpus / "hostile" / "encrypted" / name, leak / name)
    pdf = pymupdf.open()
    pdf.new_page().insert_text((72, 72), "the ledger of Panda shipments", fontsize=12)
    pdf.save(
        leak / "made-here.pdf", encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="s3cret", owner_pw="own3r"
    )
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in leak.iterdir()}
    pwfile = tmp_path / "passwords.txt"
    pwfile.write_text("\n".join(["wrong-one", "æøå", *(pw for pw, _ in FILES.values())]) + "\n", "utf-8")
    case = str(tmp_path / "case")
    start = time.monotonic()
    dossier(
        "--case",
        case,
        "import",
        "--no-ocr",
        "--password",
        "s3cret",
        "--password-file",
        str(pwfile),
        str(leak),
    )
    seconds = time.monotonic() - start
    listed = json.loads(dossier("--case", case, "list", "--json").stdout)["documents"]
    by_sha = {d["sha256"]: d for d in listed}
    for name, sha in before.items():
        doc = by_sha[sha]  # the stored original is the encrypted file, byte for byte
        assert doc["status"] == "ok", (name, doc["status"], doc.get("reason"))
        record("password", name, f"{doc['status']}: decrypted; original unchanged", seconds / len(before))
    for name, (_pw, known) in FILES.items():
        if known:
            found = dossier("--case", case, "search", f'"{known}"', "--json").stdout
            assert json.loads(found)["total"] >= 1, name
    assert json.loads(dossier("--case", case, "search", '"Panda shipments"', "--json").stdout)["total"] == 1
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in leak.iterdir()} == before


def test_wrong_password_leaves_the_file_encrypted(tmp_path: Path, corpus: Path) -> None:
    src = corpus / "hostile" / "encrypted" / "poi_password.xls"
    case = str(tmp_path / "case")
    proc = dossier("--case", case, "import", "--no-ocr", "--password", "not-it", str(src), "--json")
    assert proc.returncode == 0
    doc = json.loads(dossier("--case", case, "list", "--json").stdout)["documents"][0]
    assert doc["status"] == "encrypted" and doc["reason"]
    record("password", "wrong password (xls)", f"{doc['status']}: {doc['reason']}", 0.0)
