"""A case is a folder: case.db (the source of truth), blobs/ (originals), index/ (derived), exports/.

Opening a case for writing takes an exclusive lock on `case.lock`, so a second Dossier on the same case is
refused with a clear message instead of two importers racing each other.
"""

from __future__ import annotations

import errno
import fcntl
import getpass
import logging
import os
import shutil
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from db.models import CaseSetting, utcnow
from db.session import make_engine, migrate, seed_database, session_factory, transaction

log = logging.getLogger(__name__)

DB_NAME = "case.db"


class CaseError(Exception):
    """A case cannot be created or opened; the message is meant for the reporter."""


class Case:
    def __init__(self, root: Path, *, read_only: bool = False) -> None:
        self.root = root
        self.read_only = read_only
        self._lock_fd: int | None = None
        self.engine = make_engine(self.db_path, read_only=read_only)
        self.sessions: sessionmaker[Session] = session_factory(self.engine)

    # -- layout -------------------------------------------------------------------------------------
    @property
    def db_path(self) -> Path:
        return self.root / DB_NAME

    @property
    def blobs_dir(self) -> Path:
        return self.root / "blobs"

    @property
    def index_dir(self) -> Path:
        return self.root / "index"

    @property
    def exports_dir(self) -> Path:
        return self.root / "exports"

    @property
    def tmp_dir(self) -> Path:
        return self.root / "tmp"

    def blob_path(self, sha256: str) -> Path:
        return self.blobs_dir / sha256[:2] / sha256

    # -- lifecycle ----------------------------------------------------------------------------------
    @classmethod
    def open(cls, root: Path | str, *, create: bool = False, read_only: bool = False) -> Case:
        root = Path(root).expanduser().absolute()
        exists = (root / DB_NAME).is_file()
        if not exists and not create:
            raise CaseError(f"no case at {root} (create one with `import`, or pick another folder)")
        if not exists and read_only:
            raise CaseError(f"no case at {root}")
        if not read_only:
            try:
                root.mkdir(parents=True, exist_ok=True)
                for sub in ("blobs", "index", "exports", "tmp"):
                    (root / sub).mkdir(exist_ok=True)
            except OSError as exc:
                raise CaseError(f"cannot create the case folder {root}: {exc.strerror or exc}") from exc
            if not os.access(root, os.W_OK):
                raise CaseError(f"the case folder {root} is not writable")
        case = cls(root, read_only=read_only)
        try:
            if not read_only:
                case._lock()
                if not exists and not case.db_path.exists():
                    seed_database(case.db_path)  # else the migrations build it here
                migrate(case.engine)
                case._init_settings()
        except DBAPIError as exc:
            case.close()
            raise CaseError(
                f"cannot open the case database {root / DB_NAME}: {_db_reason(root, exc)}"
            ) from exc
        except BaseException:
            case.close()
            raise
        return case

    def _lock(self) -> None:
        path = self.root / "case.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = os.read(fd, 200).decode("utf-8", "replace").strip()
            os.close(fd)
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                raise CaseError(
                    f"the case {self.root} is open in another Dossier ({holder or 'unknown process'}); "
                    "close it there first"
                ) from exc
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}".encode())
        self._lock_fd = fd

    def _init_settings(self) -> None:
        with transaction(self.sessions) as s:
            if s.get(CaseSetting, "case_id") is None:
                s.add(CaseSetting(key="case_id", value=str(uuid.uuid4())))
                s.add(CaseSetting(key="created_at", value=utcnow().isoformat()))
                s.add(CaseSetting(key="created_by", value=current_user()))

    def close(self) -> None:
        self.engine.dispose()
        if self._lock_fd is not None:
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            finally:
                os.close(self._lock_fd)
                self._lock_fd = None

    def __enter__(self) -> Case:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- helpers ------------------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with transaction(self.sessions) as s:
            yield s

    @contextmanager
    def reader(self) -> Iterator[Session]:
        """A short read-only session (the importer is the only writer during an import)."""
        with self.sessions() as s:
            yield s

    def setting(self, key: str, default: Any = None) -> Any:
        with self.reader() as s:
            row = s.get(CaseSetting, key)
            return default if row is None else row.value

    def set_setting(self, key: str, value: Any) -> None:
        with self.transaction() as s:
            s.merge(CaseSetting(key=key, value=value))

    def settings(self) -> dict[str, Any]:
        with self.reader() as s:
            return {row.key: row.value for row in s.scalars(select(CaseSetting))}


def _db_reason(root: Path, exc: DBAPIError) -> str:
    """Why SQLite refused: a full disk is the common cause of its bare "disk I/O error"."""
    try:
        if shutil.disk_usage(root).free < 1 << 20:
            return "the disk holding the case is full; free some space and open it again"
    except OSError:
        pass
    return str(exc.orig or exc).strip() or type(exc).__name__


def current_user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"
