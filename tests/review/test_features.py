"""MinHash similarity of one signature against many at once agrees with the pairwise estimate."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from app.review.features import signature, similarities

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus" / "real" / "txt"


def similarity(a: bytes, b: bytes) -> float:
    """The pairwise estimate: the share of equal MinHash values."""
    return float(np.mean(np.frombuffer(a, dtype=np.uint64) == np.frombuffer(b, dtype=np.uint64)))


def test_similarities_equal_pairwise_similarity_on_real_texts() -> None:
    texts = [p.read_text("utf-8", "replace") for p in sorted(CORPUS.glob("*"))[:6] if p.is_file()]
    texts.append(texts[0] + "\nOne more closing line added to the first text, to make a near-duplicate.")
    sigs = [sig.tobytes() for sig in map(signature, texts) if sig is not None]
    assert len(sigs) >= 3
    for a in sigs:
        batch = similarities(a, sigs)
        assert np.allclose(batch, [similarity(a, b) for b in sigs])
        assert batch[sigs.index(a)] == 1.0


def test_a_signature_of_another_length_scores_zero() -> None:
    a = np.arange(64, dtype=np.uint64).tobytes()
    scores = similarities(a, [a, a[:-8], b""])
    assert scores.tolist() == [1.0, 0.0, 0.0]
    assert similarities(a, []).size == 0


TRICKY = (
    "WO-2017-0413 opens the text; XWO-2017-0413 is glued; _WO-2017-0414 too; (WO 17/12345) and wo-2018-0001.\n"
    "PO 4500012345, PO#4500012346, APO 4500012347, PO 45000123456789012.\n"
    "Contract No. 2013/HW/118 and contract number A-77; Invoice No. 2001-77, Inv. # 55-1, INV No 9.\n"
    "IBAN DE89 3704 0044 0532 0130 00, XDE89370400440532013000, GB29NWBK60161331926819; BIC DEUTDEFF500, "
    "SWIFT: NWBKGB2L, ÄDEUTDEFF; ÉWO-2017-0415 after a letter; 1WO-2017-0416 after a digit; «WO-2017-0417» in quotes; WO-2017-0418"
)


def test_reference_patterns_find_exactly_what_the_plain_regex_finds() -> None:
    import re

    from app.review.features import DEFAULT_REFERENCE_PATTERNS, compile_patterns

    texts = [TRICKY, TRICKY[::-1], "", "WO", " WO-2017-0413"]
    real = CORPUS.parent
    for path in (
        sorted(real.rglob("*.txt"))[:20] + sorted(real.rglob("*.csv"))[:10] + sorted(real.rglob("*.eml"))[:20]
    ):
        texts.append(path.read_text("utf-8", "replace"))
    assert len(texts) > 30
    patterns = [
        *DEFAULT_REFERENCE_PATTERNS,
        r"\bfoo|WO-\d+",  # the boundary binds the first branch only: used as it is
        r"\b#\d{3,}",  # a boundary before a non-word character
        r"(?i)\bpo\d+",  # inline flags first: used as it is
        r"\b(?=W)WO-\d+\b",
    ]
    compiled = compile_patterns(patterns)
    assert compiled[0]._rest is not None and compiled[4]._rest is None and compiled[6]._rest is None
    from app.insights import entities
    from app.patterns import BoundaryFirst

    account_numbers = [BoundaryFirst(entities._IBAN), BoundaryFirst(entities._BIC)]
    assert all(p._rest is not None for p in account_numbers)
    for pattern in compiled + account_numbers:
        plain = re.compile(pattern.pattern, pattern.flags)
        for text in texts:
            ours = [(m.span(), m.groups()) for m in pattern.finditer(text)]
            assert ours == [(m.span(), m.groups()) for m in plain.finditer(text)], (
                pattern.pattern,
                text[:80],
            )
    found = [m.group(0) for m in compiled[0].finditer(TRICKY)]
    assert found == ["WO-2017-0413", "WO 17/12345", "wo-2018-0001", "WO-2017-0417", "WO-2017-0418"]


def test_signature_equals_the_plain_modular_formula() -> None:
    import hashlib

    from app.review import features as F

    def plain(text: str) -> np.ndarray:  # the definition, with numpy's remainder
        words = F._WORD.findall(text[: F.MAX_SIGNATURE_CHARS].lower())
        shingles = set(map(" ".join, zip(*(words[i:] for i in range(F.SHINGLE)), strict=False)))
        digests = b"".join(hashlib.blake2b(s.encode(), digest_size=8).digest() for s in shingles)
        hashes = np.frombuffer(digests, dtype="<u8") >> np.uint64(3)
        return ((np.outer(hashes, F._A) + F._B) % F._MERSENNE).min(axis=0)

    texts = [p.read_text("utf-8", "replace") for p in sorted(CORPUS.glob("*"))[:8] if p.is_file()]
    texts = [t for t in texts if F.signature(t) is not None]
    assert len(texts) >= 3
    for text in texts:
        assert (F.signature(text) == plain(text)).all()
    edge = np.array([0, 1, (1 << 61) - 2, (1 << 61) - 1, 1 << 61, (1 << 64) - 1], dtype=np.uint64)
    r = (edge & F._MERSENNE) + (edge >> F._SHIFT61)
    r[r >= F._MERSENNE] -= F._MERSENNE
    assert (r == edge % F._MERSENNE).all()
