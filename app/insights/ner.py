"""Optional named-entity recognition (people, organisations, places in running text) through spaCy.

Nothing here is required: without spaCy, or without a model package, `model_name()` is None and the rest
of the insights work from the rule-based finders alone. A model is a Python package (`en_core_web_sm`,
`de_core_news_md`, `xx_ent_wiki_sm` …) installed into Dossier's environment; `HOW_TO` says how, offline
included. spaCy is imported lazily, the first time a model is actually needed.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Iterable
from functools import cache
from typing import Any

from app.insights.entities import Found, name_key

log = logging.getLogger(__name__)

# Preferred models, best first; any other installed spaCy pipeline with an NER component also works.
PREFERRED = (
    "en_core_web_trf",
    "en_core_web_lg",
    "en_core_web_md",
    "en_core_web_sm",
    "xx_ent_wiki_sm",
)
LABELS = {
    "PERSON": "person",
    "PER": "person",
    "ORG": "org",
    "GPE": "place",
    "LOC": "place",
    "FAC": "place",
}
MAX_CHARS = 100_000  # per document: NER is the expensive part, and names recur

HOW_TO = (
    "People, organisations and places in running text need a spaCy language model (optional). "
    "Install one into Dossier's environment, e.g. `.venv/bin/pip install spacy` and then "
    "`.venv/bin/python -m spacy download en_core_web_sm` on a connected machine, or offline: "
    "`.venv/bin/pip install spacy-*.whl en_core_web_sm-*.whl` from wheels copied over. "
    "Set DOSSIER_NER_MODEL to pick a model by name. The next import (or `entities`) recomputes the case."
)


@cache
def model_name() -> str | None:
    """The spaCy model package that will be used, or None (no spaCy, or no model installed)."""
    if os.environ.get("DOSSIER_NER_MODEL", "").lower() in ("0", "off", "none"):
        return None
    if importlib.util.find_spec("spacy") is None:
        return None
    wanted = os.environ.get("DOSSIER_NER_MODEL")
    if wanted:
        return wanted if importlib.util.find_spec(wanted) else None
    for name in PREFERRED:
        if importlib.util.find_spec(name) is not None:
            return name
    try:
        import spacy.util

        installed = sorted(spacy.util.get_installed_models())
    except Exception:  # an old or broken spaCy: treat as absent
        return None
    return installed[0] if installed else None


@cache
def _pipeline() -> Any:
    import spacy

    name = model_name()
    nlp = spacy.load(name, exclude=["parser", "lemmatizer", "textcat", "tagger", "attribute_ruler"])
    if "ner" not in nlp.pipe_names:
        raise RuntimeError(f"the spaCy model {name} has no named-entity component")
    nlp.max_length = max(nlp.max_length, MAX_CHARS + 1)
    return nlp


def status() -> dict[str, Any]:
    name = model_name()
    return {"available": name is not None, "model": name, "how_to": None if name else HOW_TO}


def find(texts: Iterable[str]) -> list[list[Found]]:
    """Names in each text (positions are offsets into that text); [] for each when NER is unavailable."""
    texts = [t[:MAX_CHARS] for t in texts]
    if model_name() is None:
        return [[] for _ in texts]
    try:
        nlp = _pipeline()
    except Exception as exc:
        log.warning("named-entity recognition unavailable: %s", exc)
        return [[] for _ in texts]
    out: list[list[Found]] = []
    for doc in nlp.pipe(texts, batch_size=16):
        found = []
        for ent in doc.ents:
            kind = LABELS.get(ent.label_)
            if kind is None:
                continue
            surface = ent.text.strip()
            key = name_key(surface)
            if len(key) < 2 or not any(ch.isalpha() for ch in key):
                continue
            found.append(Found(kind, key, surface, ent.start_char, ent.start_char + len(surface)))
        out.append(found)
    return out
