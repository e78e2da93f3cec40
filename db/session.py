"""Engine and session factory for a case database, and schema migration at open."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:  # Alembic is loaded only to migrate (its imports cost a sixth of a second)
    from alembic.config import Config

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# The newest migration: a case already there opens without loading Alembic. A test keeps this equal to
# the head of db/migrations.
HEAD_REVISION = "0005"


def make_engine(db_path: Path, *, read_only: bool = False) -> Engine:
    if read_only:
        # On read-only media SQLite cannot create the WAL index: open the file as immutable then.
        flag = "mode=ro" if os.access(db_path.parent, os.W_OK) else "immutable=1"
        url = f"sqlite:///file:{db_path}?{flag}&uri=true"
    else:
        url = f"sqlite:///{db_path}"
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record):  # noqa: ANN001 - DB-API connection
        cur = dbapi_conn.cursor()
        if not read_only:
            cur.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is on disk before it is acknowledged (review actions must survive power loss).
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    return engine


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def schema_revisions(engine: Engine) -> tuple[str | None, str | None]:
    """(current revision of the database, head revision of the code)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config(engine))
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    return current, script.get_current_head()


def migrate(engine: Engine) -> None:
    """Bring the schema to the code's head revision (a no-op when already there)."""
    if stored_revision(engine) == HEAD_REVISION:
        return
    from alembic import command

    current, head = schema_revisions(engine)
    if current != head:
        log.info("migrating case schema %s -> %s", current, head)
        command.upgrade(alembic_config(engine), "head")


def stored_revision(engine: Engine) -> str | None:
    """The schema revision recorded in the database (None for a new one, or one with several heads)."""
    with engine.connect() as conn:
        try:
            rows = conn.exec_driver_sql("SELECT version_num FROM alembic_version").all()
        except OperationalError:  # no such table yet: a new case
            return None
    return str(rows[0][0]) if len(rows) == 1 else None


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: committed when the block ends, rolled back on any error."""
    with factory() as session, session.begin():
        yield session
