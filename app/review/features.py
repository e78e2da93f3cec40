"""Link-suggestion features of a text: reference numbers and a MinHash signature of its word shingles.

Pure functions of the text (no database), so the import's workers compute them beside extraction and
`suggest` computes them from the store with the same result.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence

import numpy as np

from app.patterns import BoundaryFirst

log = logging.getLogger(__name__)

# Default reference-number patterns; a case can replace them (case setting "reference_patterns").
# Each pattern's first group (or the whole match) is the reference, normalised to upper case without spaces.
DEFAULT_REFERENCE_PATTERNS = (
    r"\bWO[-\s]?\d{2,4}[-/]\d{3,6}\b",  # work orders: WO-2017-0413
    r"\bPO\s?#?\s?\d{6,12}\b",  # purchase orders: PO 4500012345
    r"\bContract\s+(?:No\.?|Number|#)\s*([A-Z0-9][A-Z0-9/.\-]*\d[A-Z0-9/.\-]*)",  # Contract No. 2013/HW/118
    r"\bInv(?:oice)?\.?\s*(?:No\.?|Number|#)\s*([A-Z0-9][A-Z0-9/.\-]*\d[A-Z0-9/.\-]*)",  # Invoice No. 2001-77
)

NUM_PERM = 64
BANDS = 16  # 16 bands × 4 rows: pairs above ~0.7 Jaccard almost always share a band
ROWS = NUM_PERM // BANDS
NEAR_DUPLICATE_MIN = 0.8  # estimated Jaccard similarity of word 5-shingles
SHINGLE = 5
MAX_SIGNATURE_CHARS = 2_000_000
MAX_DOCS_PER_REFERENCE = 50  # a "reference" shared by hundreds of documents is boilerplate, not a lead
_MERSENNE = np.uint64((1 << 61) - 1)
_SHIFT61 = np.uint64(61)
_rng = np.random.default_rng(20170413)
_A = _rng.integers(1, (1 << 61) - 1, size=NUM_PERM, dtype=np.uint64)
_B = _rng.integers(0, (1 << 61) - 1, size=NUM_PERM, dtype=np.uint64)
_WORD = re.compile(r"\w+")


def compile_patterns(patterns: Sequence[str]) -> list[BoundaryFirst]:
    compiled = []
    for p in patterns:
        try:
            compiled.append(BoundaryFirst(re.compile(p, re.IGNORECASE)))  # same matches, sooner
        except re.error as exc:
            log.warning("reference pattern %r ignored: %s", p, exc)
    return compiled


def references(text: str, patterns: Sequence[BoundaryFirst | re.Pattern[str]]) -> list[str]:
    found: set[str] = set()
    for pattern in patterns:
        for m in pattern.finditer(text):
            raw = m.group(1) if m.groups() and m.group(1) else m.group(0)
            ref = re.sub(r"\s+", "", raw.upper()).rstrip(".")
            if len(ref) >= 5:
                found.add(ref)
    return sorted(found)


def signature(text: str) -> np.ndarray | None:
    """MinHash of the word 5-shingles; None for texts too short to compare."""
    words = _WORD.findall(text[:MAX_SIGNATURE_CHARS].lower())
    if len(words) < SHINGLE * 4:
        return None
    shingles = set(map(" ".join, zip(*(words[i:] for i in range(SHINGLE)), strict=False)))
    blake2b = hashlib.blake2b
    digests = b"".join([blake2b(s.encode(), digest_size=8).digest() for s in shingles])
    hashes = np.frombuffer(digests, dtype="<u8") >> np.uint64(3)
    # (a*h + b) mod p, vectorised over shingles × permutations in chunks (bounded memory); uint64
    # arithmetic wraps, which is fine for hashing. The remainder by p = 2^61 - 1 is taken with shifts and
    # masks (y mod p = (y & p) + (y >> 61), less p once if that reaches p): no 64-bit division per value.
    result = np.full(NUM_PERM, np.iinfo(np.uint64).max, dtype=np.uint64)
    for start in range(0, len(hashes), 20_000):
        y = np.outer(hashes[start : start + 20_000], _A)
        y += _B
        r = y & _MERSENNE
        r += y >> _SHIFT61
        r[r >= _MERSENNE] -= _MERSENNE
        result = np.minimum(result, r.min(axis=0))
    return result


def similarities(a: bytes, others: Sequence[bytes]) -> np.ndarray:
    """The estimated Jaccard similarity (share of equal MinHash values) of `a` with each of `others`, in one
    array operation; a signature of another length scores 0."""
    sa = np.frombuffer(a, dtype=np.uint64)
    scores = np.zeros(len(others))
    fit = [i for i, o in enumerate(others) if len(o) == len(a)]
    if fit:
        sb = np.frombuffer(b"".join(others[i] for i in fit), dtype=np.uint64).reshape(len(fit), len(sa))
        scores[fit] = (sb == sa).mean(axis=1)
    return scores


def bands(sig: np.ndarray) -> list[str]:
    return [
        hashlib.blake2b(sig[i * ROWS : (i + 1) * ROWS].tobytes(), digest_size=10).hexdigest()
        for i in range(BANDS)
    ]


def text_features(text: str, patterns: Sequence[re.Pattern[str]]) -> tuple[np.ndarray | None, list[str]]:
    """A document's MinHash signature and reference numbers, from its whole text (parts joined by "\\n")."""
    return signature(text), references(text, patterns)
