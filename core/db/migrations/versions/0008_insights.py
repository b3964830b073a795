"""Insights: the reporting views of the merchant database (docs/insights.md).

``insights_handoffs``: one row per handoff with its durations in seconds, already with
the report's exclusions (tickets have no queue wait or first response; the first
response is the first *delivered agent message*, never a bot notice);
``insights_lockouts``: one row per identity lock-out (the failed check that made the
fifth failure of a sender within an hour). A BI tool reads the same views the console's
report reads. The conversation figures come from the event broker's database, whose
views ``core.db.insights`` creates there (Rasa owns that database, not this migration).

The lock-out rule (5 failures per sender within an hour) is frozen here on purpose:
a migration must not change meaning when application constants move; a new rule gets a
new migration.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

VIEWS = ("insights_handoffs", "insights_lockouts")


def _seconds(dialect: str, start: str, end: str) -> str:
    """Seconds from ``start`` to ``end`` (NULL when either is NULL)."""
    if dialect == "postgresql":
        return f"EXTRACT(EPOCH FROM ({end} - {start}))"
    return f"((julianday({end}) - julianday({start})) * 86400.0)"


def _hour_before(dialect: str, column: str) -> str:
    if dialect == "postgresql":
        return f"{column} - INTERVAL '1 hour'"
    return f"julianday({column}) - 1.0 / 24"


def _as_time(dialect: str, column: str) -> str:
    return column if dialect == "postgresql" else f"julianday({column})"


def handoffs_view(dialect: str) -> str:
    seconds = _seconds
    return f"""
CREATE VIEW insights_handoffs AS
SELECT h.id AS handoff_id, h.channel, h.sender_id, h.reason, h.status,
       CASE WHEN h.contact_method IS NULL THEN 0 ELSE 1 END AS is_ticket,
       h.agent_id, a.display_name AS agent_name,
       h.queued_at, h.claimed_at, h.closed_at, h.satisfaction,
       fr.first_response_at,
       CASE WHEN h.contact_method IS NULL
            THEN {seconds(dialect, 'h.queued_at', 'h.claimed_at')} END AS queue_wait_s,
       CASE WHEN h.contact_method IS NULL
            THEN {seconds(dialect, 'h.queued_at', 'fr.first_response_at')} END
            AS first_response_s,
       CASE WHEN h.status = 'closed'
            THEN {seconds(dialect, 'h.queued_at', 'h.closed_at')} END AS resolution_s
FROM handoffs h
LEFT JOIN agents a ON a.id = h.agent_id
LEFT JOIN (SELECT handoff_id, MIN(sent_at) AS first_response_at
           FROM agent_messages WHERE status = 'sent' AND sent_at IS NOT NULL
           GROUP BY handoff_id) fr ON fr.handoff_id = h.id
"""


def lockouts_view(dialect: str) -> str:
    at_a, at_b = _as_time(dialect, "a.attempted_at"), _as_time(dialect, "b.attempted_at")
    return f"""
CREATE VIEW insights_lockouts AS
SELECT a.id AS attempt_id, a.channel, a.sender_id, a.attempted_at
FROM verification_attempts a
WHERE NOT a.success
  AND (SELECT COUNT(*) FROM verification_attempts b
       WHERE b.channel = a.channel AND b.sender_id = a.sender_id AND NOT b.success
         AND {at_b} > {_hour_before(dialect, 'a.attempted_at')}
         AND ({at_b} < {at_a} OR ({at_b} = {at_a} AND b.id <= a.id))) = 5
"""


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    # Period filters scan by time.
    op.create_index("ix_handoffs_queued_at", "handoffs", ["queued_at"])
    op.create_index("ix_verification_attempts_time", "verification_attempts",
                    ["attempted_at"])
    op.execute(sa.text(handoffs_view(dialect)))
    op.execute(sa.text(lockouts_view(dialect)))


def downgrade() -> None:
    for view in VIEWS:
        op.execute(sa.text(f"DROP VIEW IF EXISTS {view}"))
    op.drop_index("ix_verification_attempts_time", table_name="verification_attempts")
    op.drop_index("ix_handoffs_queued_at", table_name="handoffs")
