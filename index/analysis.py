"""How text becomes index terms. Shared by indexing, query parsing and hit highlighting.

- Words: lower-cased and accent-folded ("Résumé" → "resume"); Chinese and Japanese characters are single
  terms (no spaces to split on), so a phrase of them matches exactly.
- Identifiers: work-order, contract, invoice and account numbers, dates written with dots, IBANs and email
  addresses are also kept whole in their own field, so `WO-2017-0413` finds that reference and not every
  document that mentions 2017.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

from whoosh.analysis import Token, Tokenizer

# -- folding ----------------------------------------------------------------------------------------


def _build_fold_table() -> dict[int, str]:
    """Lower-case and strip accents, one character to one character (so offsets stay aligned)."""
    table: dict[int, str] = {}
    for cp in range(0x80, 0x3000):
        ch = chr(cp)
        base = "".join(c for c in unicodedata.normalize("NFD", ch) if not unicodedata.combining(c))
        folded = (base or ch).lower()
        if len(folded) != 1:
            folded = ch.lower() if len(ch.lower()) == 1 else ch
        if folded != ch:
            table[cp] = folded
    for cp in range(ord("A"), ord("Z") + 1):
        table[cp] = chr(cp + 32)
    # Typographic variants reporters type plainly.
    for src, dst in {"’": "'", "‘": "'", "‐": "-", "‑": "-", "‒": "-", "–": "-", "—": "-"}.items():
        table[ord(src)] = dst
    return table


FOLD_TABLE = _build_fold_table()


_NON_ASCII = re.compile(r"[^\x00-\x7f]+")


def _fold_run(match: re.Match[str]) -> str:
    return match.group(0).translate(FOLD_TABLE)


def fold(text: str) -> str:
    """Lower-case and accent-fold; the result has the same length as `text`.

    The same as `text.translate(FOLD_TABLE)`, for a fraction of its time: only the runs of non-ASCII
    characters go through the table (a dictionary lookup per character); ASCII letters are lower-cased
    in bytes, where UTF-8 leaves every other character's bytes above 0x7F, untouched by `bytes.lower`.
    """
    if text.isascii():
        return text.lower()
    folded = _NON_ASCII.sub(_fold_run, text)
    return folded.encode("utf-8", "surrogatepass").lower().decode("utf-8", "surrogatepass")


# -- words ------------------------------------------------------------------------------------------

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u31f0-\u31ff\uff66-\uff9f"
WORD_RE = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+")


class WordTokenizer(Tokenizer):
    """Folded word terms; each CJK character is a term of its own."""

    def __call__(  # noqa: PLR0913 - whoosh's tokenizer signature
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs: object,
    ) -> Iterator[Token]:
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        if not tokenize:
            t.original = t.text = fold(value)
            t.boost = 1.0
            if positions:
                t.pos = start_pos
            if chars:
                t.startchar, t.endchar = start_char, start_char + len(value)
            yield t
            return
        for pos, match in enumerate(WORD_RE.finditer(fold(value))):
            t.text = match.group(0)
            t.boost = 1.0
            t.stopped = False
            if keeporiginal:
                t.original = t.text
            if positions:
                t.pos = start_pos + pos
            if chars:
                t.startchar, t.endchar = start_char + match.start(), start_char + match.end()
            yield t


def words(text: str) -> list[str]:
    return WORD_RE.findall(fold(text))


# -- identifiers ------------------------------------------------------------------------------------

# Anchored at the start of a run and bounded (RFC 5321 local parts are at most 64 characters): without
# that, a long run of word characters with no "@" costs quadratic time.
_EMAIL = r"(?<![\w.+'-])[\w.+'-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,8}"
_IBAN = r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?\b"
# Letters/digits joined by - / . with at least one digit: WO-2017-0413, 2013/HW/118, 20.02.2022.
_JOINED = r"\b[^\W_]+(?:[-/.][^\W_]+)+\b"
# A short prefix, a space, a long number: PO 4500012345, No. 778812, INV #20931.
_PREFIXED = r"\b[A-Za-z]{1,5}\.?[ ]?#?[ ]?\d{5,}\b"
IDENT_RE = re.compile(f"{_EMAIL}|{_IBAN}|{_JOINED}|{_PREFIXED}")
# The same without the address alternative, for lines without an "@" (where it can never match, but is
# tried at every word start): the same matches, a third less scanning.
_IDENT_NO_EMAIL = re.compile(f"{_IBAN}|{_JOINED}|{_PREFIXED}")
_HAS_DIGIT = re.compile(r"\d")
_SPACES = re.compile(r"[\s#]+")


def normalise_ident(raw: str) -> str:
    """The form an identifier is stored and looked up in: folded, spaces and '#' removed."""
    return _SPACES.sub("", fold(raw)).rstrip(".")


_DIGIT_OR_AT = re.compile(r"[\d@]")


def identifiers(text: str) -> Iterator[str]:
    """Every identifier-like string in `text`, normalised.

    No identifier spans a line break and every one holds a digit or an "@", so only the lines that hold one
    are scanned: the same matches, for a fraction of the scanning of running text.
    """
    has_candidate = _DIGIT_OR_AT.search
    for line in text.splitlines():
        if not has_candidate(line):
            continue
        for match in (IDENT_RE if "@" in line else _IDENT_NO_EMAIL).finditer(line):
            raw = match.group(0)
            if "@" in raw or _HAS_DIGIT.search(raw):
                ident = normalise_ident(raw)
                if len(ident) >= 4:
                    yield ident


class IdentTokenizer(Tokenizer):
    """Terms for the `ident` field: each identifier in the text, whole and normalised."""

    def __call__(  # noqa: PLR0913
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs: object,
    ) -> Iterator[Token]:
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        items = [normalise_ident(value)] if (not tokenize or mode == "query") else identifiers(value)
        for pos, ident in enumerate(items):
            t.text = ident
            t.boost = 1.0
            t.stopped = False
            if keeporiginal:
                t.original = ident
            if positions:
                t.pos = start_pos + pos
            if chars:
                t.startchar, t.endchar = start_char, start_char + len(value)
            yield t


# -- addresses (from/to/cc) -------------------------------------------------------------------------

_ADDRESS_RE = re.compile(rf"{_EMAIL}|[^\W_]+")


class AddressTokenizer(Tokenizer):
    """Email addresses whole (for `from:*@example.com`) plus every word of names and addresses."""

    def __call__(  # noqa: PLR0913
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs: object,
    ) -> Iterator[Token]:
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        folded = fold(value)
        if not tokenize:
            terms = [folded]
        else:
            terms = []
            for match in _ADDRESS_RE.finditer(folded):
                term = match.group(0)
                terms.append(term)
                if "@" in term:
                    terms += WORD_RE.findall(term)
        for pos, term in enumerate(terms):
            t.text = term
            t.boost = 1.0
            t.stopped = False
            if keeporiginal:
                t.original = term
            if positions:
                t.pos = start_pos + pos
            if chars:
                t.startchar, t.endchar = start_char, start_char + len(value)
            yield t


# -- paths ------------------------------------------------------------------------------------------

PATH_RE = re.compile(r"[^\W_]+")


class PathTokenizer(Tokenizer):
    """Folder and file name words of source paths (`path:invoices`)."""

    def __call__(  # noqa: PLR0913
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs: object,
    ) -> Iterator[Token]:
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        terms = [fold(value)] if not tokenize else PATH_RE.findall(fold(value))
        for pos, term in enumerate(terms):
            t.text = term
            t.boost = 1.0
            t.stopped = False
            if keeporiginal:
                t.original = term
            if positions:
                t.pos = start_pos + pos
            if chars:
                t.startchar, t.endchar = start_char, start_char + len(value)
            yield t
