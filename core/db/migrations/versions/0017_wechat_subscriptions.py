"""WeChat one-time subscription consents (一次性订阅消息) for appeal notices (issue 22,
item 3): one row per confirmed consent (one message for one appeal), and the used
nonces of the consent flow's state/reserved values (core.db.subscriptions).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wechat_subscriptions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("appeal_id", sa.String(13),
                  sa.ForeignKey("appeals.id", ondelete="CASCADE"), nullable=False),
        sa.Column("openid", sa.String(128), nullable=False),
        sa.Column("template_id", sa.String(128), nullable=False),
        sa.Column("scene", sa.Integer, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("notice_id", sa.Integer),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("used_at", sa.DateTime),
    )
    op.create_index("ix_wechat_subscriptions_appeal", "wechat_subscriptions",
                    ["appeal_id", "openid", "status"])
    op.create_table(
        "wechat_consent_nonces",
        sa.Column("nonce", sa.String(32), primary_key=True),
        sa.Column("expires_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("wechat_consent_nonces")
    op.drop_index("ix_wechat_subscriptions_appeal", table_name="wechat_subscriptions")
    op.drop_table("wechat_subscriptions")
