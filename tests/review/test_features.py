"""MinHash similarity of one signature against many at once agrees with the pairwise estimate."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from app.review.features import signature, similarities, similarity

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus" / "real" / "txt"


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
