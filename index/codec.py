"""The codec segments are written with: Whoosh's own, with its inlining of short posting lists mended.

Whoosh's W3 codec can keep the postings of a rare term in the term's entry of the terms file instead of
a block of its own in the postings file, and its readers read such terms (`ListMatcher`). Its writer,
though, calls a method the term info does not have, so it ships with inlining off (`inlinelimit=1`):
every term of every segment then costs a block, pickled and zlib-compressed. Most terms of a leak are
rare (names, numbers, references), so that block is most of an index pass's writing time. Segments name
Whoosh's plain `W3Codec` as theirs, so the index stays readable without this module.
"""

from __future__ import annotations

from typing import Any

from whoosh.codec.whoosh3 import W3Codec, W3PostingsWriter, W3Segment

# Terms with fewer postings than this in a segment are kept in the terms file.
INLINE_LIMIT = 8


class _InliningPostingsWriter(W3PostingsWriter):
    def finish_postings(self) -> Any:
        if not self.written() and len(self._ids) < self._inlinelimit:
            terminfo = self._terminfo
            terminfo.add_block(self)
            values = self._values
            if len(values) != len(self._ids):  # a format without values (ID fields): empty ones, as
                values = [b""] * len(self._ids)  # a block reader gives, or merging the segment fails
            terminfo.set_inlined(self._ids, self._weights, values)
            self._terminfo = None
            return terminfo
        return super().finish_postings()


class WriteCodec(W3Codec):
    def __init__(self, inlinelimit: int = INLINE_LIMIT) -> None:
        super().__init__(inlinelimit=inlinelimit)

    def postings_writer(self, dbfile: Any, byteids: bool = False) -> W3PostingsWriter:
        return _InliningPostingsWriter(
            dbfile,
            blocklimit=self._blocklimit,
            byteids=byteids,
            compression=self._compression,
            inlinelimit=self._inlinelimit,
        )

    def new_segment(self, storage: Any, indexname: str) -> W3Segment:
        plain = W3Codec(self._blocklimit, self._compression, self._inlinelimit)
        return W3Segment(plain, indexname)
