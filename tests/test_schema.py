"""The migrations build exactly the schema the models declare, and non-UI code never imports Qt."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app.case import Case
from db.models import Base
from db.session import HEAD_REVISION, schema_revisions, stored_revision

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
