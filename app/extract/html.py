"""HTML to readable text with lxml's HTML parser; `html_to_text` is shared with the email extractor.

The parser streams events into a small target instead of building a tree: it is an order of magnitude
faster than building a BeautifulSoup tree on tag-dense pages, needs memory only for the text, and has
neither a nesting-depth limit nor recursion. libxml2 repairs broken markup as browsers do.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from app.extract.base import ExtractContext, Extraction, MetaValue, Part
from app.extract.errors import CorruptError
from app.extract.text import bom_encoding, decode_bytes, read_bounded

log = logging.getLogger(__name__)

# Elements whose content is never text a reader sees (the <title> is read separately).
_SKIPPED = frozenset({"script", "style", "noscript", "template", "head"})
# Elements that start and end a line.
_BLOCKS = frozenset(
    """address article aside blockquote body caption center dd details dialog dir div dl dt fieldset
    figcaption figure footer form frameset h1 h2 h3 h4 h5 h6 header hgroup hr html legend li listing main
    menu nav ol option p plaintext pre section summary table tbody tfoot thead title tr ul xmp""".split()
)
_CELLS = frozenset({"td", "th"})
_PREFORMATTED = frozenset({"pre", "listing", "plaintext", "xmp", "textarea"})
_META_KEYS = {"author": "author", "description": "description", "keywords": "keywords"}
# Only the first bytes are searched for a <meta charset>, as browsers do.
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_:.+-]+)""", re.IGNORECASE)
_CHARSET_SCAN = 4096
_FEED_CHARS = 1 << 16
_SPACES = re.compile(r"[ \t\r\n\f\u200b]+")
_LINE_TAIL = re.compile(r"[ \t]+\n")
_BLANK_LINES = re.compile(r"\n{3,}")


@dataclass
class HtmlContent:
    """What one pass over a document yields: its text, <title>, and meta/lang metadata."""

    text: str
    title: str | None
    metadata: dict[str, MetaValue] = field(default_factory=dict)


class _TextTarget:
    """lxml parser target: collects visible text, the <title> and meta fields as events stream by."""

    def __init__(self) -> None:
        self.out: list[str] = []
        self.title: list[str] = []
        self.metadata: dict[str, MetaValue] = {}
        self._skipping = 0  # depth inside script/style/noscript/template/head
        self._preformatted = 0
        self._in_title = 0

    def start(self, tag: object, attrib: dict[str, str]) -> None:
        name = tag.lower() if isinstance(tag, str) else ""
        if name == "title":
            self._in_title += 1
        elif name == "meta":
            self._meta(attrib)
        elif name == "html":
            lang = (attrib.get("lang") or attrib.get("xml:lang") or "").strip()
            if lang:
                self.metadata.setdefault("language", lang)
        if self._skipping or name in _SKIPPED:
            self._skipping += 1
            return
        if name == "br" or name in _BLOCKS:
            self.out.append("\n")
        if name in _PREFORMATTED:
            self._preformatted += 1

    def end(self, tag: object) -> None:
        name = tag.lower() if isinstance(tag, str) else ""
        if name == "title" and self._in_title:
            self._in_title -= 1
        if self._skipping:
            self._skipping -= 1
            return
        if name in _BLOCKS:
            self.out.append("\n")
        elif name in _CELLS:
            self.out.append("\t")
        if name in _PREFORMATTED and self._preformatted:
            self._preformatted -= 1

    def data(self, text: str) -> None:
        if self._in_title:
            self.title.append(text)
        if not self._skipping:
            self.out.append(text if self._preformatted else _SPACES.sub(" ", text))

    def close(self) -> None:
        return None

    def _meta(self, attrib: dict[str, str]) -> None:
        key = _META_KEYS.get((attrib.get("name") or "").strip().lower())
        content = _SPACES.sub(" ", attrib.get("content") or "").strip()
        if key and content:
            self.metadata.setdefault(key, content)


def read_html(markup: str) -> HtmlContent:
    """Text (blocks on their own lines), title and meta fields of decoded HTML."""
    target = _TextTarget()
    parser = etree.HTMLParser(target=target, encoding="utf-8", recover=True, no_network=True)
    try:
        for start in range(0, len(markup), _FEED_CHARS):
            parser.feed(markup[start : start + _FEED_CHARS].encode("utf-8", "replace"))
        parser.close()
    except etree.LxmlError as exc:  # recover=True repairs nearly everything; keep what was read
        log.info("HTML parser stopped early: %s", type(exc).__name__)
    title = _SPACES.sub(" ", "".join(target.title)).strip() or None
    return HtmlContent(_tidy("".join(target.out)), title, target.metadata)


def html_to_text(markup: bytes | str) -> tuple[str, str | None]:
    """Readable text of an HTML document (blocks on their own lines) and its <title>, if any."""
    if isinstance(markup, bytes):
        markup = decode_html_bytes(markup)[0]
    content = read_html(markup)
    return content.text, content.title


def decode_html_bytes(data: bytes, declared: str | None = None, final: bool = True) -> tuple[str, str]:
    """Decode HTML bytes: BOM first, then the document's own <meta charset>, `declared`, detection."""
    announced = bom_encoding(data)
    if announced is None:
        found = _META_CHARSET.search(data[:_CHARSET_SCAN])
        if found:
            announced = found.group(1).decode("ascii", "replace")
    return decode_bytes(data, announced or declared, final=final)


def _tidy(text: str) -> str:
    text = "\n".join(line.strip(" ") for line in text.split("\n"))
    text = _LINE_TAIL.sub("\n", text)
    return _BLANK_LINES.sub("\n\n", text).strip()


class HtmlExtractor:
    """HTML: one body part; <title> as title; author/description/keywords/lang as metadata."""

    name = "html"
    version = "1"
    doc_types = ("html",)

    def extract(self, path: Path, ctx: ExtractContext) -> Extraction:
        limit = ctx.limits.max_text_chars
        warnings: list[str] = []
        try:
            # Markup outweighs text, so a few times the text budget is read.
            data, truncated = read_bounded(path, limit * 4)
        except OSError as exc:
            raise CorruptError(f"HTML file cannot be read: {exc.strerror or exc}") from exc
        markup, encoding = decode_html_bytes(data, final=not truncated)
        del data
        if truncated:
            warnings.append("HTML file too large: only its beginning was read")
        content = read_html(markup)
        del markup
        text = content.text
        if len(text) > limit:
            text = text[:limit]
            warnings.append(f"text truncated at {limit:,} characters")
        metadata = dict(content.metadata)
        metadata["encoding"] = encoding
        if content.title:
            metadata["title"] = content.title
        return Extraction(
            doc_type="html",
            title=content.title,
            parts=(Part(kind="body", label="body", text=text),),
            metadata=metadata,
            warnings=tuple(warnings),
        )
