"""The case store: typed SQLAlchemy 2 models. The SQLite file is the source of truth for a case.

Schema changes go through Alembic (db/migrations); never edit a released migration.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Constraint names are fixed from the first migration on, so batch migrations on SQLite can find them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class CaseSetting(Base):
    """Case-wide settings and identity (case id, created, reference-number patterns, …)."""

    __tablename__ = "case_settings"
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)


class ImportRun(Base):
    __tablename__ = "import_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    user: Mapped[str] = mapped_column(String(200), default="")
    host: Mapped[str] = mapped_column(String(200), default="")
    paths: Mapped[list[Any]] = mapped_column(JSON, default=list)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # running | completed | interrupted | failed
    status: Mapped[str] = mapped_column(String(20), default="running")
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Blob(Base):
    """One stored original per distinct content, at blobs/<2 hex>/<sha256>."""

    __tablename__ = "blobs"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    stored_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Document(Base):
    """One distinct content in the case. Where it was found is in `sources` (provenance)."""

    __tablename__ = "documents"
    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"), unique=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id", ondelete="SET NULL"), index=True)
    depth: Mapped[int] = mapped_column(Integer, default=0)  # container nesting: 0 for files given to import
    file_name: Mapped[str] = mapped_column(Text, default="")  # first name seen (display)
    doc_type: Mapped[str] = mapped_column(String(40), default="", index=True)
    title: Mapped[str | None] = mapped_column(Text)
    # pending | ok | encrypted | corrupt | unsupported | timeout | out_of_memory | crashed | too_large | skipped
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    size: Mapped[int] = mapped_column(Integer, default=0)
    page_count: Mapped[int | None] = mapped_column(Integer)
    date: Mapped[str | None] = mapped_column(String(40), index=True)  # ISO-8601: the document's own date
    date_source: Mapped[str | None] = mapped_column(String(40))  # which field `date` came from
    author: Mapped[str | None] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    warnings: Mapped[list[Any]] = mapped_column(JSON, default=list)
    text_chars: Mapped[int] = mapped_column(Integer, default=0)
    needs_ocr: Mapped[bool] = mapped_column(Boolean, default=False)
    extractor: Mapped[str] = mapped_column(String(40), default="")
    extractor_version: Mapped[str] = mapped_column(String(40), default="")
    review_status: Mapped[str] = mapped_column(String(20), default="unreviewed", index=True)
    first_run_id: Mapped[int | None] = mapped_column(ForeignKey("import_runs.id"))
    imported_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    extracted_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Bumped on every change the index must see; the index records the version it holds.
    revision: Mapped[int] = mapped_column(Integer, default=0)
    indexed_revision: Mapped[int] = mapped_column(Integer, default=-1, index=True)

    parts: Mapped[list[Part]] = relationship(
        back_populates="document", cascade="all, delete-orphan", order_by="Part.ordinal"
    )
    sources: Mapped[list[Source]] = relationship(
        back_populates="document", cascade="all, delete-orphan", foreign_keys="Source.document_id"
    )
    children: Mapped[list[Document]] = relationship(foreign_keys=[parent_id])


class Part(Base):
    """Text of a page, sheet, slide or email part."""

    __tablename__ = "parts"
    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    ordinal: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    label: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text, default="")
    needs_ocr: Mapped[bool] = mapped_column(Boolean, default=False)
    origin: Mapped[str] = mapped_column(String(20), default="text")  # text | ocr

    document: Mapped[Document] = relationship(back_populates="parts")

    __table_args__ = (UniqueConstraint("document_id", "ordinal"),)


class Cell(Base):
    """A non-empty spreadsheet cell, so a hit can point at `Sheet1!C14`."""

    __tablename__ = "cells"
    id: Mapped[int] = mapped_column(primary_key=True)
    part_id: Mapped[int] = mapped_column(ForeignKey("parts.id", ondelete="CASCADE"), index=True)
    row: Mapped[int] = mapped_column(Integer)
    col: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)


class Source(Base):
    """Provenance: one place a content was found (a file path, or a member of a container)."""

    __tablename__ = "sources"
    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("import_runs.id"))
    path: Mapped[str] = mapped_column(Text)  # absolute path, or "<container path>//<member name>"
    name: Mapped[str] = mapped_column(Text, default="")
    size: Mapped[int] = mapped_column(Integer, default=0)
    mtime: Mapped[float | None] = mapped_column(Float)
    parent_document_id: Mapped[int | None] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), index=True
    )
    relation: Mapped[str] = mapped_column(
        String(20), default="file"
    )  # file|member|attachment|message|embedded
    found_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    document: Mapped[Document] = relationship(back_populates="sources", foreign_keys=[document_id])

    __table_args__ = (
        Index("ix_sources_path_size_mtime", "path", "size", "mtime"),
        UniqueConstraint("document_id", "path", name="uq_sources_document_id_path"),
    )


class ExtractionAttempt(Base):
    __tablename__ = "extraction_attempts"
    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("import_runs.id"))
    extractor: Mapped[str] = mapped_column(String(40), default="")
    extractor_version: Mapped[str] = mapped_column(String(40), default="")
    status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text, default="")
    duration_s: Mapped[float] = mapped_column(Float, default=0.0)
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Email(Base):
    """Email header fields kept as columns: threads are joined on Message-ID / In-Reply-To."""

    __tablename__ = "emails"
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True)
    message_id: Mapped[str | None] = mapped_column(Text, index=True)
    in_reply_to: Mapped[str | None] = mapped_column(Text, index=True)
    references: Mapped[list[Any]] = mapped_column(JSON, default=list)
    sender: Mapped[str | None] = mapped_column(Text)
    to: Mapped[list[Any]] = mapped_column(JSON, default=list)
    cc: Mapped[list[Any]] = mapped_column(JSON, default=list)
    bcc: Mapped[list[Any]] = mapped_column(JSON, default=list)
    date: Mapped[str | None] = mapped_column(String(40))
    subject: Mapped[str | None] = mapped_column(Text)


# -- review data ------------------------------------------------------------------------------------


class Tag(Base):
    __tablename__ = "tags"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    key: Mapped[str] = mapped_column(Text, unique=True)  # case-folded name: "Key Evidence" == "key evidence"
    color: Mapped[str] = mapped_column(String(9), default="#6b7280")
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200), default="")


class DocumentTag(Base):
    __tablename__ = "document_tags"
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True)
    tag_id: Mapped[int] = mapped_column(
        ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200), default="")


class Note(Base):
    __tablename__ = "notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True)  # stable across cases (bundles merge by it)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    page: Mapped[int | None] = mapped_column(Integer)
    cell: Mapped[str | None] = mapped_column(String(200))
    quote: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Relation(Base):
    """The editable vocabulary of link relations."""

    __tablename__ = "relations"
    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    description: Mapped[str] = mapped_column(Text, default="")


class Link(Base):
    """A reviewer's link between two documents (links the import knows are derived, not stored)."""

    __tablename__ = "links"
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    relation: Mapped[str] = mapped_column(ForeignKey("relations.name", onupdate="CASCADE"))
    note: Mapped[str] = mapped_column(Text, default="")
    origin: Mapped[str] = mapped_column(String(20), default="reviewer")  # reviewer | suggestion | bundle
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200), default="")

    __table_args__ = (UniqueConstraint("source_id", "target_id", "relation", name="uq_links_pair_relation"),)


class Suggestion(Base):
    """A link the case proposes (shared reference number, near-duplicate text) for a reviewer to decide."""

    __tablename__ = "suggestions"
    id: Mapped[int] = mapped_column(primary_key=True)
    a_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    b_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # reference | near_duplicate
    detail: Mapped[str] = mapped_column(Text, default="")
    score: Mapped[float] = mapped_column(Float, default=0.0)
    state: Mapped[str] = mapped_column(String(20), default="open")  # open | accepted | dismissed
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)

    __table_args__ = (
        UniqueConstraint("a_id", "b_id", "kind", "detail", name="uq_suggestions_pair_kind_detail"),
    )


class DocumentFeatures(Base):
    """Per-document features behind suggestions: reference numbers found and a MinHash signature."""

    __tablename__ = "document_features"
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, default=0)
    references: Mapped[list[Any]] = mapped_column(JSON, default=list)
    signature: Mapped[bytes | None] = mapped_column(LargeBinary)


class DocumentBand(Base):
    """LSH bands of MinHash signatures: documents sharing a band are near-duplicate candidates."""

    __tablename__ = "document_bands"
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True)
    band: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[str] = mapped_column(String(40))

    __table_args__ = (Index("ix_document_bands_band_value", "band", "value"),)


class AuditEntry(Base):
    """Append-only log of review actions: who, when, what."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(40))
    document_id: Mapped[int | None] = mapped_column(Integer, index=True)  # kept after a document is deleted
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


# -- bundles ----------------------------------------------------------------------------------------


class MergeConflict(Base):
    """A review value that differed between this case and a merged bundle (shown to the reporter)."""

    __tablename__ = "merge_conflicts"
    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    field: Mapped[str] = mapped_column(String(40))
    kept_value: Mapped[str] = mapped_column(Text)
    other_value: Mapped[str] = mapped_column(Text)
    resolution: Mapped[str] = mapped_column(String(20))  # bundle | local: whose value was kept
    bundle: Mapped[str] = mapped_column(Text, default="")
    bundle_creator: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    resolved: Mapped[bool] = mapped_column(Boolean, default=False)


class RedactionArea(Base):
    """A redaction drawn in the app: a rectangle on a PDF page (PDF points) or a term on every page."""

    __tablename__ = "redactions"
    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    page: Mapped[int | None] = mapped_column(Integer)
    x0: Mapped[float | None] = mapped_column(Float)
    y0: Mapped[float | None] = mapped_column(Float)
    x1: Mapped[float | None] = mapped_column(Float)
    y1: Mapped[float | None] = mapped_column(Float)
    term: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


# -- insights: entities found in the documents ------------------------------------------------------


class Entity(Base):
    """Something the documents mention (an address, a number, a company …), once per kind and normalised value.

    Derived at import; what a reviewer decided about it (name, merge, hide) lives in `entity_corrections`,
    keyed by (kind, value), and is copied onto these rows whenever they are (re)created.
    """

    __tablename__ = "entities"
    id: Mapped[int] = mapped_column(primary_key=True)
    # person | org | company | place | email | phone | iban | bic | money | date | url | ip | reference
    kind: Mapped[str] = mapped_column(String(20))
    value: Mapped[str] = mapped_column(Text)  # normalised: E.164 phone, upper-case IBAN, folded name …
    display: Mapped[str] = mapped_column(Text, default="")  # as first found (or its canonical format)
    label: Mapped[str | None] = mapped_column(Text)  # a reviewer's name for it
    hidden: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    merged_into: Mapped[int | None] = mapped_column(
        ForeignKey("entities.id", ondelete="SET NULL"), index=True
    )

    __table_args__ = (UniqueConstraint("kind", "value", name="uq_entities_kind_value"),)


class DocumentEntity(Base):
    """Which entities a document mentions, and how often (facets, counts and graphs read this)."""

    __tablename__ = "document_entities"
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True)
    entity_id: Mapped[int] = mapped_column(
        ForeignKey("entities.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    count: Mapped[int] = mapped_column(Integer, default=1)


class Mention(Base):
    """Where an entity is mentioned: a part of the text (by ordinal) or a metadata field, and the offsets."""

    __tablename__ = "mentions"
    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    entity_id: Mapped[int] = mapped_column(ForeignKey("entities.id", ondelete="CASCADE"), index=True)
    part: Mapped[int | None] = mapped_column(Integer)  # parts.ordinal; None for a metadata field
    field: Mapped[str | None] = mapped_column(String(40))  # the metadata field (from, to, title …)
    start: Mapped[int] = mapped_column(Integer)
    end: Mapped[int] = mapped_column(Integer)


class DocumentInsights(Base):
    """Which revision of a document its entities were computed from, and the first date found in its text."""

    __tablename__ = "document_insights"
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[str] = mapped_column(String(80), default="")  # rules (+ NER model) that computed them
    text_date: Mapped[str | None] = mapped_column(String(10), index=True)


class EntityCorrection(Base):
    """A reviewer's decision about an entity, keyed by (kind, value) so that it outlives re-extraction."""

    __tablename__ = "entity_corrections"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    value: Mapped[str] = mapped_column(Text)
    label: Mapped[str | None] = mapped_column(Text)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    merge_kind: Mapped[str | None] = mapped_column(String(20))
    merge_value: Mapped[str | None] = mapped_column(Text)
    merge_display: Mapped[str | None] = mapped_column(Text)  # the target's name, should its rows be gone
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(200), default="")

    __table_args__ = (UniqueConstraint("kind", "value", name="uq_entity_corrections_kind_value"),)


# -- OCR --------------------------------------------------------------------------------------------


class OcrCache(Base):
    """One OCR reading of one page of a stored original, so a re-import, a reindex or an `ocr` re-run
    never recognises the same page twice. Keyed by content, not by document: it outlives deletion and
    serves every copy. `words` holds [text, x0, y0, x1, y1, confidence, line] per word, coordinates in
    1/10,000 of the page image as displayed (app/extract/ocr.py); `text` is rebuilt from them."""

    __tablename__ = "ocr_cache"
    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256", ondelete="CASCADE"))
    page: Mapped[int] = mapped_column(Integer)  # 1-based page (PDF) or frame (TIFF)
    lang: Mapped[str] = mapped_column(String(100))  # "eng+deu"
    engine: Mapped[str] = mapped_column(String(200))  # engine version, models' digest, pipeline revision
    text: Mapped[str] = mapped_column(Text, default="")
    words: Mapped[list[Any]] = mapped_column(JSON, default=list)
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("sha256", "page", "lang", "engine", name="uq_ocr_cache_sha256_page_lang_engine"),
    )
