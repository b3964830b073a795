"""What canned replies (console.canned) and 会话小结 labels (console.labels) share: the
audit of who changed what (``team_changes``), and the check that a team text holds no
personal number. Every function takes an open Session; the caller owns the
transaction."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from console.service import epoch
from console.transcript import mask_text
from core.db.models import Agent, TeamChange, utcnow
from core.privacy import mask_personal_data

CANNED = "canned_reply"
LABEL = "handoff_label"
# An agent downloading an appeal material (console.materials): the handoff is the item.
MATERIAL_VIEWED = "material_viewed"
KIND_LABELS = {CANNED: "常用回复", LABEL: "会话小结标签", MATERIAL_VIEWED: "查看申诉材料"}
ACTION_LABELS = {"seeded": "初始导入", "created": "新建", "edited": "修改",
                 "disabled": "停用", "enabled": "启用", "viewed": "查看"}
# What the team changed (the list without a kind): material views are asked for by kind.
TEAM_KINDS = (CANNED, LABEL)
CHANGES_SHOWN = 200


@dataclass(frozen=True)
class Editor:
    """Who makes a change (None for the first-use seed)."""

    agent_id: int
    username: str


def has_personal_number(text: str) -> bool:
    """A phone, ID card or bank card number: never part of a team text."""
    return mask_personal_data(text) != text


def record(session: Session, kind: str, item_id: int, action: str, editor: Editor | None,
           before: dict[str, Any] | None, after: dict[str, Any] | None) -> TeamChange:
    change = TeamChange(
        kind=kind, item_id=item_id, action=action,
        agent_id=editor.agent_id if editor else None,
        agent_username=editor.username if editor else None,
        before=json.dumps(before, ensure_ascii=False) if before is not None else None,
        after=json.dumps(after, ensure_ascii=False) if after is not None else None,
        changed_at=utcnow())
    session.add(change)
    return change


def _loaded(value: str | None) -> Any:
    if not value:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return None


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
    return value


def changes(session: Session, kind: str | None = None, item_id: int | None = None,
            limit: int = CHANGES_SHOWN) -> list[dict[str, Any]]:
    """The newest changes first: what, by whom (their name now), before and after.
    Without ``kind``: the team's changes (canned replies, labels), not material views."""
    query = select(TeamChange)
    if kind:
        query = query.where(TeamChange.kind == kind)
    else:
        query = query.where(TeamChange.kind.in_(TEAM_KINDS))
    if item_id is not None:
        query = query.where(TeamChange.item_id == item_id)
    rows = session.execute(
        query.order_by(TeamChange.changed_at.desc(), TeamChange.id.desc()).limit(limit)
    ).scalars().all()
    names = dict(session.execute(select(Agent.id, Agent.display_name)).all())
    return [{
        "id": row.id, "kind": row.kind, "kind_label": KIND_LABELS.get(row.kind, row.kind),
        "item_id": row.item_id, "action": row.action,
        "action_label": ACTION_LABELS.get(row.action, row.action),
        "agent": names.get(row.agent_id) if row.agent_id else None,
        "agent_username": row.agent_username,
        "before": _masked(_loaded(row.before)), "after": _masked(_loaded(row.after)),
        "changed_at": epoch(row.changed_at),
    } for row in rows]
