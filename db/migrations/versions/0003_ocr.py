"""ocr: the OCR cache (one reading per page of a stored original, language and engine)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 04:12:11.638169
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ocr_cache",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("page", sa.Integer(), nullable=False),
        sa.Column("lang", sa.String(length=100), nullable=False),
        sa.Column("engine", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("words", sa.JSON(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["sha256"], ["blobs.sha256"], name=op.f("fk_ocr_cache_sha256_blobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ocr_cache")),
        # Also the index for lookups by content (sha256 first).
        sa.UniqueConstraint("sha256", "page", "lang", "engine", name="uq_ocr_cache_sha256_page_lang_engine"),
    )


def downgrade() -> None:
    op.drop_table("ocr_cache")
