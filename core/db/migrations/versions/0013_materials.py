"""Appeal materials (issue 22, item 1): the files a merchant sent for an appeal, from the
widget's upload or a WeChat image, after the sanitizer and the scanner (core.materials).

``materials``: one row per file, referencing the appeal and the merchant; the storage
key stays on the server (clients see the random id only); status clean / quarantined
(scanner down: kept, never shown) / infected; one row per source message
(``channel`` + ``source_ref``), so a WeChat retry never stores a file twice.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "materials",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("appeal_id", sa.String(13),
                  sa.ForeignKey("appeals.id", ondelete="CASCADE"), nullable=False),
        sa.Column("merchant_id", sa.String(10), sa.ForeignKey("merchants.id"),
                  nullable=False),
        sa.Column("channel", sa.String(40), nullable=False),
        sa.Column("source_ref", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("content_type", sa.String(40), nullable=False),
        sa.Column("size_bytes", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("original_name", sa.Text),
        sa.Column("storage_key", sa.String(128), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("scan_signature", sa.String(200)),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("scanned_at", sa.DateTime),
        sa.UniqueConstraint("channel", "source_ref", name="uq_materials_source"),
    )
    op.create_index("ix_materials_appeal_created", "materials", ["appeal_id", "created_at"])
    op.create_index("ix_materials_status", "materials", ["status"])


def downgrade() -> None:
    op.drop_index("ix_materials_status", table_name="materials")
    op.drop_index("ix_materials_appeal_created", table_name="materials")
    op.drop_table("materials")
