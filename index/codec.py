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
import zlib
from array import array
from typing import Any

from whoosh.codec.base import OutOfOrderError
from whoosh.codec.whoosh3 import (
    WHOOSH3_HEADER_MAGIC,
    W3Codec,
    W3FieldWriter,
    W3PostingsWriter,
    W3Segment,
    W3TermInfo,
)
from whoosh.system import pack_int, pack_long, pack_ushort
from whoosh.util.numeric import length_to_byte

# Terms with fewer postings than this in a segment are kept in the terms file.
INLINE_LIMIT = 8


_TERMINFO: struct.Struct = W3TermInfo._struct


def _block_stats(weights: list[float], lens: list[int]) -> tuple[array, int | None, int, float]:
    """A block's statistics as Whoosh's postings writer keeps them: the weights as stored (float32), the
    shortest length that is not zero (None if all are), the longest length, the highest weight."""
    present = [length for length in lens if length]
    return array("f", weights), (min(present) if present else None), max(0, *lens), max(0, *weights)


def _term_info(
    inlined: bool,
    total_weight: float,
    ids: list[int],
    minlength: int | None,
    maxlength: int,
    maxweight: float,
) -> bytes:
    """The fixed part of a terms-file entry, as W3TermInfo.to_bytes packs it (`0 +` as it adds the weights)."""
    return _TERMINFO.pack(
        inlined,
        0 + total_weight,
        len(ids),
        0 if minlength is None else length_to_byte(minlength),
        length_to_byte(maxlength),
        maxweight,
        ids[0],
        ids[-1],
    )


class _FieldWriter(W3FieldWriter):
    """Whoosh's W3 field writer with the terms it inlines written in one step: the terms-file entry is
    built from the term's postings directly, the same bytes Whoosh's start_term/add/finish_term make
    through a postings writer, a term info object and a block per term (most of a small pass's time,
    since most terms of a segment are rare). Terms with more postings go through Whoosh's own calls."""

    def add_postings(self, schema: Any, lengths: Any, items: Any) -> None:
        dfl = lengths.doc_field_length if lengths else (lambda docnum, fieldname: 0)
        limit = self._codec._inlinelimit
        terms = getattr(items, "terms", None)  # index.store's pool: postings grouped by term
        if terms is not None:
            self._add_terms(schema, lengths, terms(), limit)
            return
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

    def _add_terms(self, schema: Any, lengths: Any, terms: Any, limit: int) -> None:
        """`add_postings` for postings already grouped by term, in term order, each term's in document
        order: (fieldname, tbytes, docnums, weights, values)."""
        column = getattr(lengths, "field_lengths", None)
        lastfn: str | None = None
        field_lengths: Any = None
        for fieldname, btext, ids, weights, values in terms:
            if fieldname != lastfn:
                if lastfn is not None:
                    self.finish_field()
                self.start_field(fieldname, schema[fieldname])
                lastfn = fieldname
                if column is not None:
                    field_lengths = column(fieldname)
            if ids[0] == -1:  # spelling-graph entries, which Whoosh's writer skips too
                kept = [i for i, docnum in enumerate(ids) if docnum != -1]
                if not kept:
                    continue
                ids = [ids[i] for i in kept]
                weights = [weights[i] for i in kept]
                values = [values[i] for i in kept]
            if field_lengths is not None:
                lens = [field_lengths[docnum] for docnum in ids]
            elif lengths:
                lens = [lengths.doc_field_length(docnum, fieldname) for docnum in ids]
            else:
                lens = [0] * len(ids)
            self._term(btext, ids, weights, [value or b"" for value in values], lens, limit)
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
        if count >= limit:  # blocks of their own in the postings file
            self._tindex.add(pack_ushort(self._fieldid) + btext, self._blocks(ids, weights, values, lens))
            return
        # What W3PostingsWriter.add_posting/finish_postings (with the term info's missing `set_inline`
        # read as its `set_inlined`), W3TermInfo.add_block and to_bytes compute: one block's statistics,
        # and values only when not empty (a format without values stores an empty one per posting).
        stored, minlength, maxlength, maxweight = _block_stats(weights, lens)
        kept = [value for value in values if value]
        if len(kept) != count:
            kept = [b""] * count
        entry = _term_info(True, sum(stored), ids, minlength, maxlength, maxweight) + pickle.dumps(
            (tuple(ids), tuple(stored), tuple(kept)), 2
        )
        self._tindex.add(pack_ushort(self._fieldid) + btext, entry)

    def _blocks(self, ids: list[int], weights: list[float], values: list[bytes], lens: list[int]) -> bytes:
        """Write a term's postings to the postings file as Whoosh's W3PostingsWriter does, block by block
        of `blocklimit` (add_posting, _write_block, finish_postings, W3TermInfo.add_block and to_bytes,
        with the same arithmetic in the same order), and return its terms-file entry."""
        codec = self._codec
        postfile = self._postfile
        startoffset = postfile.tell()
        postfile.write(WHOOSH3_HEADER_MAGIC)
        fixedsize = self._format.fixed_value_size()
        comp = codec._compression
        blocklimit = codec._blocklimit
        total_weight = 0.0
        minlength: int | None = None
        maxlength = 0
        maxweight = 0.0
        count = len(ids)
        for start in range(0, count, blocklimit):
            end = min(start + blocklimit, count)
            block_ids = ids[start:end]
            stored, block_min, block_max, block_maxweight = _block_stats(weights[start:end], lens[start:end])
            total_weight += sum(stored)
            if minlength is None:
                minlength = block_min
            else:
                minlength = min(minlength, block_min)  # type: ignore[type-var]  # as Whoosh's add_block
            maxlength = max(maxlength, block_max)
            maxweight = max(maxweight, block_maxweight)
            if all(w == 1.0 for w in stored):
                mini_weights: Any = None
            elif all(w == stored[0] for w in stored):
                mini_weights = stored[0]
            else:
                mini_weights = tuple(stored)
            kept = [value for value in values[start:end] if value]
            if fixedsize is None or fixedsize < 0:
                mini_values: Any = tuple(kept)
            elif fixedsize == 0:
                mini_values = None
            else:
                mini_values = b"".join(kept)
            deltas = [block_ids[0]] + [b - a for a, b in zip(block_ids, block_ids[1:], strict=False)]
            databytes = pickle.dumps((tuple(deltas), mini_weights, mini_values), 2)
            if comp:
                databytes = zlib.compress(databytes, comp)
            infobytes = pickle.dumps(
                (
                    end - start,
                    block_ids[-1],
                    block_maxweight,
                    comp,
                    length_to_byte(block_min),
                    length_to_byte(block_max),
                ),
                2,
            )
            blocklength = len(infobytes) + len(databytes)
            postfile.write(pack_int(-blocklength if end == count else blocklength))
            postfile.write(infobytes)
            postfile.write(databytes)
        return (
            _term_info(False, total_weight, ids, minlength, maxlength, maxweight)
            + pack_long(startoffset)
            + pack_int(postfile.tell() - startoffset)
        )


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
