"""The migrations build exactly the schema the models declare, and non-UI code never imports Qt."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app.case import Case
from db.models import Base
from db.session import (
    HEAD_REVISION,
    make_engine,
    migrate,
    schema_revisions,
    seed_database,
    stored_revision,
    template_path,
)

REPO = Path(__file__).resolve().parent.parent


def test_migrations_match_models(tmp_path: Path) -> None:
    with Case.open(tmp_path / "case", create=True) as case:
        current, head = schema_revisions(case.engine)
        assert current == head == HEAD_REVISION == stored_revision(case.engine)
        with case.engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_only_ui_imports_qt() -> None:
    modules = [
        str(p.relative_to(REPO).with_suffix("")).replace("/", ".")
        for top in ("app", "db", "index")
        for p in (REPO / top).rglob("*.py")
        if "migrations" not in p.parts
    ]
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name.removesuffix('.__init__'))\n"
        "print(sorted(m for m in sys.modules if m.startswith(('PySide6', 'shiboken'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_a_case_at_the_head_revision_opens_without_loading_alembic(tmp_path: Path) -> None:
    Case.open(tmp_path / "case", create=True).close()
    code = (
        "import sys; from app.case import Case; "
        f"Case.open({str(tmp_path / 'case')!r}).close(); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_case_at_an_older_revision_is_migrated_when_opened(tmp_path: Path) -> None:
    from alembic import command

    from db.session import alembic_config

    with Case.open(tmp_path / "case", create=True) as case:
        command.downgrade(alembic_config(case.engine), "-1")
        assert stored_revision(case.engine) not in (None, HEAD_REVISION)
    with Case.open(tmp_path / "case") as case:
        assert stored_revision(case.engine) == HEAD_REVISION


def _dump(db: Path, *, skip_table: str = "") -> list[str]:
    conn = sqlite3.connect(db)
    try:
        return [line for line in conn.iterdump() if not (skip_table and f'INTO "{skip_table}"' in line)]
    finally:
        conn.close()


def test_a_new_case_is_a_copy_of_what_the_migrations_build(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DOSSIER_CACHE_HOME", str(tmp_path / "cache"))
    migrated = tmp_path / "migrated.db"
    engine = make_engine(migrated)
    migrate(engine)
    engine.dispose()
    with Case.open(tmp_path / "case", create=True) as case:
        assert stored_revision(case.engine) == HEAD_REVISION
        assert case.setting("case_id")
    template = template_path()
    assert template.is_file() and template.parent == tmp_path / "cache" / "dossier"
    # Tables, indexes, constraints and seeded rows (relation kinds) as the migrations left them.
    assert _dump(template) == _dump(migrated)
    assert _dump(tmp_path / "case" / "case.db", skip_table="case_settings") == _dump(migrated)
    # A second case is a copy too, with its own identity.
    with Case.open(tmp_path / "case2", create=True) as one, Case.open(tmp_path / "case") as other:
        assert one.setting("case_id") != other.setting("case_id")


def test_creating_a_case_with_the_template_loads_no_alembic(tmp_path: Path) -> None:
    env = {**os.environ, "DOSSIER_CACHE_HOME": str(tmp_path / "cache")}
    code = (
        "import sys; from app.case import Case; "
        "Case.open(sys.argv[1], create=True).close(); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))"
    )
    run = [sys.executable, "-c", code]
    first = subprocess.run([*run, str(tmp_path / "a")], cwd=REPO, env=env, capture_output=True, text=True)
    second = subprocess.run([*run, str(tmp_path / "b")], cwd=REPO, env=env, capture_output=True, text=True)
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    assert first.stdout.strip() != "[]"  # the first builds the template with the migrations
    assert second.stdout.strip() == "[]"


def test_a_damaged_template_is_rebuilt(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DOSSIER_CACHE_HOME", str(tmp_path / "cache"))
    template = template_path()
    template.parent.mkdir(parents=True)
    template.write_bytes(b"SQLite format 3\0" + b"\xff" * 5000)  # a truncated, garbled copy
    with Case.open(tmp_path / "case", create=True) as case:
        assert stored_revision(case.engine) == HEAD_REVISION
        assert case.setting("case_id")
    engine = make_engine(template, read_only=True)
    assert stored_revision(engine) == HEAD_REVISION
    engine.dispose()


def test_without_a_usable_cache_folder_a_new_case_is_migrated(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "cache").write_text("a file where the cache folder would be")
    monkeypatch.setenv("DOSSIER_CACHE_HOME", str(tmp_path / "cache"))
    assert seed_database(tmp_path / "x.db") is False
    assert not (tmp_path / "x.db").exists()
    with Case.open(tmp_path / "case", create=True) as case:
        assert stored_revision(case.engine) == HEAD_REVISION
        assert case.setting("case_id")
