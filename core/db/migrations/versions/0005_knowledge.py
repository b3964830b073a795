"""Knowledge base: entries, their revisions (content as JSON), question vectors and the
version counter the running indexes poll.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "knowledge_entries",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("published_revision_id", sa.Integer),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "knowledge_revisions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("entry_id", sa.String(64), sa.ForeignKey("knowledge_entries.id"),
                  nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.Enum("draft", "published", "superseded", "retired",
                                    name="knowledge_revision_status", native_enum=False,
                                    create_constraint=True), nullable=False),
        sa.Column("author", sa.String(40), nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("published_at", sa.DateTime),
        sa.UniqueConstraint("entry_id", "number", name="uq_knowledge_revision"),
    )
    with op.batch_alter_table("knowledge_entries") as batch:
        batch.create_foreign_key("fk_knowledge_entries_published", "knowledge_revisions",
                                 ["published_revision_id"], ["id"])
    op.create_table(
        "knowledge_vectors",
        sa.Column("text_hash", sa.String(64), primary_key=True),
        sa.Column("model", sa.String(40), primary_key=True),
        sa.Column("vector", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "knowledge_version",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("changed_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("knowledge_version")
    op.drop_table("knowledge_vectors")
    with op.batch_alter_table("knowledge_entries") as batch:
        batch.drop_constraint("fk_knowledge_entries_published", type_="foreignkey")
    op.drop_table("knowledge_revisions")
    op.drop_table("knowledge_entries")
