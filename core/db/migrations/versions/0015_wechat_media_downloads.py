"""WeChat media downloads to retry (issue 22): a file a verified merchant sent on WeChat
that could not be fetched at once (the API down or answering an error), fetched again
within WeChat's 3-day media window, and what the merchant is to be told
(core.db.media_downloads).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wechat_media_downloads",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("openid", sa.String(128), nullable=False),
        sa.Column("msg_type", sa.String(10), nullable=False),
        sa.Column("media_id", sa.String(256), nullable=False),
        sa.Column("source_ref", sa.String(128), nullable=False),
        sa.Column("file_name", sa.Text),
        sa.Column("merchant_id", sa.String(10), nullable=False),
        sa.Column("appeal_id", sa.String(13),
                  sa.ForeignKey("appeals.id", ondelete="CASCADE"), nullable=False),
        sa.Column("sent_at", sa.DateTime, nullable=False),
        sa.Column("fetch_until", sa.DateTime, nullable=False),
        sa.Column("tell_until", sa.DateTime, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("errors", sa.Text, nullable=False),
        sa.Column("outcome", sa.String(20)),
        sa.Column("material_id", sa.String(32)),
        sa.Column("reply", sa.Text),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("told_at", sa.DateTime),
        sa.UniqueConstraint("source_ref", name="uq_wechat_media_downloads_source"),
    )
    op.create_index("ix_wechat_media_downloads_due", "wechat_media_downloads",
                    ["status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_wechat_media_downloads_due", table_name="wechat_media_downloads")
    op.drop_table("wechat_media_downloads")
