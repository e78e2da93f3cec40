"""Content-addressed originals: blobs/<2 hex>/<sha256>, written once, byte for byte, then read-only."""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

CHUNK = 1 << 20


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    size: int
    created: bool  # False when the content was already in the case


class BlobStore:
    def __init__(self, blobs_dir: Path, tmp_dir: Path) -> None:
        self.blobs_dir = blobs_dir
        self.tmp_dir = tmp_dir
        self._made: set[str] = set()  # blobs/<2 hex> folders known to exist

    def _folder(self, target: Path) -> None:
        prefix = target.parent.name
        if prefix not in self._made:
            target.parent.mkdir(parents=True, exist_ok=True)
            self._made.add(prefix)

    def path(self, sha256: str) -> Path:
        return self.blobs_dir / sha256[:2] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def add_file(self, source: Path, *, move: bool = False) -> StoredBlob:
        """Hash `source` while copying it into a temporary file, then rename into place.

        Streaming keeps memory flat for any size; the copy is fsynced before it is renamed, so a blob the
        database names is always complete. With `move`, a temporary child file is renamed instead of copied
        when its hash is computed (same filesystem, no second copy).
        """
        digest = hashlib.sha256()
        size = 0
        if move:
            with open(source, "rb") as fh:
                while chunk := fh.read(CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
            sha = digest.hexdigest()
            target = self.path(sha)
            if target.is_file():
                source.unlink(missing_ok=True)
                return StoredBlob(sha, size, False)
            self._folder(target)
            with open(source, "rb") as fh:
                os.fsync(fh.fileno())
            os.chmod(source, 0o444)
            os.replace(source, target)
            return StoredBlob(sha, size, True)

        fd, tmp_name = tempfile.mkstemp(prefix="blob-", dir=self.tmp_dir)
        tmp = Path(tmp_name)
        try:
            with open(source, "rb") as src, os.fdopen(fd, "wb") as dst:
                while chunk := src.read(CHUNK):
                    digest.update(chunk)
                    dst.write(chunk)
                    size += len(chunk)
                dst.flush()
                os.fsync(dst.fileno())
            sha = digest.hexdigest()
            target = self.path(sha)
            if target.is_file():
                tmp.unlink()
                return StoredBlob(sha, size, False)
            self._folder(target)
            os.chmod(tmp, 0o444)
            os.replace(tmp, target)
            return StoredBlob(sha, size, True)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
