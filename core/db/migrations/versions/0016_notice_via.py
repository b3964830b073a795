"""Notices to the merchant (issue 22, item 3): how a sent notice went (``via``: in the
conversation or as a WeChat template message) and WeChat's msgid of a template message.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch: SQLite cannot drop columns in place (downgrade); nullable, so no default.
    with op.batch_alter_table("appeal_notices") as batch:
        batch.add_column(sa.Column("via", sa.String(20)))
        batch.add_column(sa.Column("wechat_msgid", sa.String(40)))
    # Notices sent before this revision all went in the conversation.
    op.execute("UPDATE appeal_notices SET via = 'conversation' WHERE status = 'sent'")


def downgrade() -> None:
    with op.batch_alter_table("appeal_notices") as batch:
        batch.drop_column("wechat_msgid")
        batch.drop_column("via")
