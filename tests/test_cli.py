"""The command line, run as a reporter runs it: `python main.py --case DIR …`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def dossier(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, str(REPO / "main.py"), *args], capture_output=True, text=True, timeout=300
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}: {proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def cli_case(tmp_path_factory: pytest.TempPathFactory, corpus: Path) -> Path:
    case = tmp_path_factory.mktemp("cli") / "case"
    dossier("--case", str(case), "import", str(corpus / "real" / "pdf"), "--json")
    return case


def test_import_json_summary(tmp_path: Path, corpus: Path) -> None:
    proc = dossier("--case", str(tmp_path / "c"), "import", str(corpus / "real" / "pdf"), "--json")
    data = json.loads(proc.stdout)
    for key in ("documents", "new", "duplicates", "by_status", "by_type", "failures"):
        assert key in data
    assert data["by_type"]["pdf"] >= 30
    assert all({"path", "status", "reason"} <= set(f) for f in data["failures"])
    again = json.loads(
        dossier("--case", str(tmp_path / "c"), "import", str(corpus / "real" / "pdf"), "--json").stdout
    )
    assert again["new"] == 0


def test_list_show_problems(cli_case: Path) -> None:
    docs = json.loads(dossier("--case", str(cli_case), "list", "--json").stdout)["documents"]
    assert len(docs) >= 30
    for key in ("id", "title", "type", "status", "reason", "sha256", "paths", "parent_id"):
        assert key in docs[0]
    first = docs[0]["id"]
    shown = json.loads(dossier("--case", str(cli_case), "show", str(first), "--json").stdout)
    assert shown["id"] == first and shown["sources"] and shown["parts"]
    text = dossier("--case", str(cli_case), "show", str(first), "--text").stdout
    assert text.strip()
    problems = json.loads(dossier("--case", str(cli_case), "problems", "--json").stdout)["problems"]
    assert all(p["status"] != "ok" and p["reason"] for p in problems)


def test_search_json(cli_case: Path) -> None:
    out = json.loads(
        dossier("--case", str(cli_case), "search", '"Please make checks payable"', "--json").stdout
    )
    assert out["total"] == 1
    hit = out["hits"][0]
    assert {"id", "title", "type", "date", "paths", "score", "snippet", "locations"} <= set(hit)
    assert "<mark>Please make checks payable</mark>" in hit["snippet"]
    assert hit["locations"][0]["kind"] == "page"
    assert "type" in out["facets"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["import", "/nonexistent/leak"], "path not found"),
        (["show", "999999"], "no document with id 999999"),
        (["search", "a AND (b"], "parenthesis"),
        (["search", '"open quote'], "quotation mark"),
    ],
)
def test_errors_are_one_line(cli_case: Path, args: list[str], message: str) -> None:
    proc = dossier("--case", str(cli_case), *args, check=False)
    assert proc.returncode != 0
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_missing_case_is_a_clear_error(tmp_path: Path) -> None:
    proc = dossier("--case", str(tmp_path / "nowhere"), "list", check=False)
    assert proc.returncode == 1 and "no case at" in proc.stderr


def test_unwritable_case_folder(tmp_path: Path) -> None:
    proc = dossier("--case", "/proc/dossier-case", "import", str(tmp_path), check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
