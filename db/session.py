"""Engine and session factory for a case database, and schema migration at open."""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import shutil
import sqlite3
import uuid
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


# -- new cases ---------------------------------------------------------------------------------------------
#
# Creating a case runs every migration (Alembic's import and a batch rebuild of tables: about a quarter of
# a second, before an import can start). The migrations' result is the same for every new case, so the
# first creation on an installation keeps it, an empty database at the head revision, in the user's cache
# folder, and later creations copy it. The template is built by the migrations themselves (there is no
# second description of the schema) and named by a digest of everything that shapes it: the migration
# files and the versions of SQLAlchemy and Alembic.


def cache_dir() -> Path:
    base = os.environ.get("DOSSIER_CACHE_HOME") or os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(base).expanduser() / "dossier"


def template_path() -> Path:
    digest = hashlib.sha256()
    for path in sorted(MIGRATIONS.rglob("*")):
        if path.is_file() and path.suffix in (".py", ".mako"):
            digest.update(path.relative_to(MIGRATIONS).as_posix().encode() + b"\0" + path.read_bytes())
    for library in ("sqlalchemy", "alembic"):  # their __init__ carries the version (no metadata scan)
        spec = importlib.util.find_spec(library)
        if spec is not None and spec.origin:
            digest.update(Path(spec.origin).read_bytes())
    return cache_dir() / f"empty-case-{HEAD_REVISION}-{digest.hexdigest()[:16]}.db"


def seed_database(db_path: Path) -> bool:
    """Put an empty database at the head revision at `db_path` (which does not exist yet): a copy of the
    installation's template, built by running the migrations the first time. False when no template can
    be had (an unwritable cache folder); the caller then migrates the new database itself."""
    try:
        template = template_path()
        if not _is_template(template):
            _build_template(template)
        tmp = db_path.with_name(f".{db_path.name}.{uuid.uuid4().hex}")
        try:
            shutil.copyfile(template, tmp)
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            os.link(tmp, db_path)  # never over a database another process created meanwhile
        finally:
            tmp.unlink(missing_ok=True)
        dir_fd = os.open(db_path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except FileExistsError:
        return True
    except (OSError, sqlite3.Error) as exc:
        log.info("no case template (%s); migrating the new case instead", exc)
        return False
    return True


def _is_template(path: Path) -> bool:
    """An intact database at the head revision (a damaged or partial file is rebuilt)."""
    if not path.is_file():
        return False
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
        try:
            ok = conn.execute("PRAGMA quick_check").fetchone() == ("ok",)
            rows = conn.execute("SELECT version_num FROM alembic_version").fetchall()
        finally:
            conn.close()
    except sqlite3.Error:
        return False
    return ok and rows == [(HEAD_REVISION,)]


def _build_template(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    try:
        engine = make_engine(tmp)
        try:
            migrate(engine)
            with engine.connect() as conn:  # everything into the main file: the copy is the database
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            engine.dispose()
        if not _is_template(tmp):
            raise OSError("the migrations did not produce a database at the head revision")
        os.replace(tmp, path)
    finally:
        for leftover in (tmp, tmp.with_name(tmp.name + "-wal"), tmp.with_name(tmp.name + "-shm")):
            leftover.unlink(missing_ok=True)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: committed when the block ends, rolled back on any error."""
    with factory() as session, session.begin():
        yield session
