"""The codec segments are written with: Whoosh's own, with its inlining of short posting lists mended.

Whoosh's W3 codec can keep the postings of a rare term in the term's entry of the terms file instead of
a block of its own in the postings file, and its readers read such terms (`ListMatcher`). Its writer,
though, calls a method the term info does not have, so it ships with inlining off (`inlinelimit=1`):
every term of every segment then costs a block, pickled and zlib-compressed. Most terms of a leak are
rare (names, numbers, references), so that block is most of an index pass's writing time. Here the field
writer builds the entries of those terms itself (`_FieldWriter`), and longer posting lists go through
Whoosh's postings writer as blocks. Segments name Whoosh's plain `W3Codec` as theirs, so the index stays
readable without this module.
"""

from __future__ import annotations

import pickle
import struct
from array import array
from typing import Any

from whoosh.codec.base import OutOfOrderError
from whoosh.codec.whoosh3 import W3Codec, W3FieldWriter, W3PostingsWriter, W3Segment, W3TermInfo
from whoosh.system import pack_ushort
from whoosh.util.numeric import length_to_byte

# Terms with fewer postings than this in a segment are kept in the terms file.
INLINE_LIMIT = 8


_TERMINFO: struct.Struct = W3TermInfo._struct


class _FieldWriter(W3FieldWriter):
    """Whoosh's W3 field writer with the terms it inlines written in one step: the terms-file entry is
    built from the term's postings directly, the same bytes Whoosh's start_term/add/finish_term make
    through a postings writer, a term info object and a block per term (most of a small pass's time,
    since most terms of a segment are rare). Terms with more postings go through Whoosh's own calls."""

    def add_postings(self, schema: Any, lengths: Any, items: Any) -> None:
        dfl = lengths.doc_field_length if lengths else (lambda docnum, fieldname: 0)
        limit = self._codec._inlinelimit
        lastfn: str | None = None
        lasttext: bytes | None = None
        ids: list[int] = []
        weights: list[float] = []
        values: list[bytes] = []
        lens: list[int] = []
        for fieldname, btext, docnum, weight, value in items:
            if lastfn is not None and fieldname < lastfn:
                raise OutOfOrderError(f"Field {lastfn!r} .. {fieldname!r}")
            if fieldname == lastfn and lasttext and btext < lasttext:
                raise OutOfOrderError(f"Term {lastfn}:{lasttext!r} .. {fieldname}:{btext!r}")
            if fieldname != lastfn:
                if lasttext is not None:
                    self._term(lasttext, ids, weights, values, lens, limit)
                if lastfn is not None:
                    self.finish_field()
                self.start_field(fieldname, schema[fieldname])
                lastfn, lasttext = fieldname, None
            if docnum == -1:  # a spelling-graph entry, which Whoosh's writer skips too
                continue
            if btext != lasttext:
                if lasttext is not None:
                    self._term(lasttext, ids, weights, values, lens, limit)
                lasttext = btext
                ids, weights, values, lens = [], [], [], []
            ids.append(docnum)
            weights.append(weight)
            values.append(value or b"")
            lens.append(dfl(docnum, fieldname))
        if lasttext is not None:
            self._term(lasttext, ids, weights, values, lens, limit)
        if lastfn is not None:
            self.finish_field()

    def _term(
        self,
        btext: bytes,
        ids: list[int],
        weights: list[float],
        values: list[bytes],
        lens: list[int],
        limit: int,
    ) -> None:
        count = len(ids)
        if count >= limit:  # a block of its own in the postings file: Whoosh's way
            self.start_term(btext)
            for docnum, weight, value, length in zip(ids, weights, values, lens, strict=True):
                self.add(docnum, weight, value, length)
            self.finish_term()
            return
        # What W3PostingsWriter.add_posting/finish_postings (with the term info's missing `set_inline`
        # read as its `set_inlined`), W3TermInfo.add_block and to_bytes compute: weights are stored as float32, lengths only count when not zero, values only
        # when not empty (a format without values stores an empty one per posting).
        stored = array("f", weights)
        present = [length for length in lens if length]
        minlength = min(present) if present else None
        kept = [value for value in values if value]
        if len(kept) != count:
            kept = [b""] * count
        entry = _TERMINFO.pack(
            True,
            0 + sum(stored),
            count,
            0 if minlength is None else length_to_byte(minlength),
            length_to_byte(max(0, *lens)),
            max(0, *weights),
            ids[0],
            ids[-1],
        ) + pickle.dumps((tuple(ids), tuple(stored), tuple(kept)), 2)
        self._tindex.add(pack_ushort(self._fieldid) + btext, entry)


class WriteCodec(W3Codec):
    def __init__(self, inlinelimit: int = INLINE_LIMIT) -> None:
        super().__init__(inlinelimit=inlinelimit)

    def field_writer(self, storage: Any, segment: Any) -> W3FieldWriter:
        return _FieldWriter(self, storage, segment)

    def postings_writer(self, dbfile: Any, byteids: bool = False) -> W3PostingsWriter:
        # Only posting lists of at least `inlinelimit` postings reach it (`_FieldWriter._term`), and
        # blocks are what it writes well: it is never asked to inline.
        return W3PostingsWriter(
            dbfile, blocklimit=self._blocklimit, byteids=byteids, compression=self._compression, inlinelimit=1
        )

    def new_segment(self, storage: Any, indexname: str) -> W3Segment:
        plain = W3Codec(self._blocklimit, self._compression, self._inlinelimit)
        return W3Segment(plain, indexname)
