"""Whoosh's compound-segment files read in place.

Whoosh opens each part of a compound segment (the term dictionary, the postings …) as a `BufferFile` over
the memory-mapped segment, whose `BytesIO` copies the whole part into memory: every reader opened (the
health check at open, each searcher, each merge) copied most of the index, which made opening a large case
take seconds (100,000 documents: 0.9 s for the health check alone) and held a copy per reader. This module
replaces that `BytesIO` with a read-only file over the memoryview; `index.store` imports it, so every
process that opens an index (the app, the index process, a query) reads segments in place.
"""

from __future__ import annotations

from typing import Any

from whoosh.filedb.structfile import BufferFile


class _MemoryFile:
    """A read-only file over a memoryview, without copying it."""

    def __init__(self, buf: Any) -> None:
        self._buf = memoryview(buf).cast("B")
        self._pos = 0

    def read(self, size: int | None = -1) -> bytes:
        start = self._pos
        end = len(self._buf) if size is None or size < 0 else min(len(self._buf), start + size)
        self._pos = max(start, end)
        return self._buf[start:end].tobytes()

    def readinto(self, target: Any) -> int:
        data = self.read(len(memoryview(target).cast("B")))
        memoryview(target).cast("B")[: len(data)] = data
        return len(data)

    def readline(self, size: int | None = -1) -> bytes:
        start = self._pos
        limit = len(self._buf) if size is None or size < 0 else min(len(self._buf), start + size)
        end = start
        buf = self._buf
        while end < limit:
            end += 1
            if buf[end - 1] == 10:
                break
        self._pos = end
        return buf[start:end].tobytes()

    def __iter__(self):  # noqa: ANN204
        while line := self.readline():
            yield line

    def seek(self, pos: int, whence: int = 0) -> int:
        self._pos = max(0, pos if whence == 0 else self._pos + pos if whence == 1 else len(self._buf) + pos)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def write(self, data: bytes) -> int:
        raise OSError("read-only")

    def close(self) -> None:
        self._buf = memoryview(b"")


def _buffer_file_init(self: Any, buf: Any, name: str | None = None, onclose: Any = None) -> None:
    self._buf = buf
    self._name = name
    self.file = _MemoryFile(buf)
    self.onclose = onclose
    self.is_real = False
    self.is_closed = False


if getattr(BufferFile.__init__, "__name__", "") == "__init__":
    BufferFile.__init__ = _buffer_file_init  # type: ignore[method-assign]
