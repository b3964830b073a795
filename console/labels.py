"""The 会话小结 taxonomy (``handoff_labels``): the labels an agent chooses from when
closing a handoff (one is required), stored on the handoff (``handoffs.label_id``),
shown in history and searchable there. Seeded by migration 0012 (申诉进度, 解封时间,
限制原因, 资金安全, 收款方式, 身份核验, 防骗, 投诉, 其他); supervisors add, rename,
reorder, disable and enable them. A label is never deleted: a disabled one stays on
the handoffs that had it and in the history filter, it is only no longer offered.

Every function takes an open Session; the caller owns the transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from console import team
from console.errors import Refused
from core.db.models import HandoffLabel, utcnow

NAME_MAX = 12


def _snapshot(label: HandoffLabel) -> dict[str, Any]:
    return {"name": label.name, "active": bool(label.active), "position": label.position}


def view(label: HandoffLabel) -> dict[str, Any]:
    return {"id": label.id, "name": label.name, "active": bool(label.active),
            "position": label.position}


def listing(session: Session, include_disabled: bool = False) -> list[dict[str, Any]]:
    query = select(HandoffLabel)
    if not include_disabled:
        query = query.where(HandoffLabel.active.is_(True))
    return [view(label) for label in session.execute(
        query.order_by(HandoffLabel.position, HandoffLabel.id)).scalars()]


def names(session: Session) -> dict[int, str]:
    return dict(session.execute(select(HandoffLabel.id, HandoffLabel.name)).all())


def _offered(session: Session) -> str:
    shown = [label["name"] for label in listing(session)][:6]
    return "、".join(shown)


def chosen(session: Session, label_id: int | None, name: str | None) -> HandoffLabel:
    """The label an agent chose to close with (by id, or by name), or 422 saying what to
    do: none chosen, an unknown one, a disabled one."""
    label = None
    if label_id is not None:
        label = session.get(HandoffLabel, label_id)
    elif name and name.strip():
        label = session.execute(
            select(HandoffLabel).where(HandoffLabel.name == name.strip())
        ).scalar_one_or_none()
    else:
        raise Refused(f"结束会话前请选一个会话小结标签（例如：{_offered(session)}）", 422)
    if label is None:
        raise Refused(f"没有这个会话小结标签，请从列表里选（例如：{_offered(session)}）", 422)
    if not label.active:
        raise Refused(f"标签「{label.name}」已停用，请重新选一个", 422)
    return label


def get(session: Session, label_id: int) -> HandoffLabel:
    label = session.get(HandoffLabel, label_id)
    if label is None:
        raise Refused("没有这个标签", 404)
    return label


def checked_name(session: Session, name: str | None, own_id: int | None = None) -> str:
    name = (name or "").strip()
    problem = None
    if not name:
        problem = "请填写标签名称"
    elif len(name) > NAME_MAX:
        problem = f"标签名称最多{NAME_MAX}个字（现在{len(name)}个）"
    elif any(ch.isspace() and ch != " " for ch in name):
        problem = "标签名称不能换行"
    elif team.has_personal_number(name):
        problem = "标签名称不能写手机号、证件号或银行卡号"
    else:
        other = session.execute(
            select(HandoffLabel).where(HandoffLabel.name == name)
        ).scalar_one_or_none()
        if other is not None and other.id != own_id:
            problem = f"已经有标签「{name}」了" + ("（已停用，可以重新启用它）"
                                               if not other.active else "")
    if problem:
        raise Refused(problem, 422, problems=[problem])
    return name


def _duplicate(name: str) -> Refused:
    message = f"已经有标签「{name}」了"
    return Refused(message, 422, problems=[message])


def create(session: Session, editor: team.Editor, name: str | None) -> HandoffLabel:
    name = checked_name(session, name)
    last = session.execute(select(func.max(HandoffLabel.position))).scalar_one_or_none()
    now = utcnow()
    label = HandoffLabel(name=name, active=True, position=(last or 0) + 1,
                         created_at=now, updated_at=now)
    try:
        with session.begin_nested():
            session.add(label)
            session.flush()
    except IntegrityError:
        raise _duplicate(name) from None
    team.record(session, team.LABEL, label.id, "created", editor, None, _snapshot(label))
    return label


def edit(session: Session, editor: team.Editor, label_id: int, name: str | None,
         position: int | None = None) -> HandoffLabel:
    """Rename (the handoffs that have it show the new name) or move a label."""
    label = get(session, label_id)
    name = checked_name(session, name, label.id)
    before = _snapshot(label)
    position = label.position if position is None else position
    if before["name"] == name and before["position"] == position:
        return label
    try:
        with session.begin_nested():
            label.name, label.position, label.updated_at = name, position, utcnow()
            session.flush()
    except IntegrityError:
        session.refresh(label)
        raise _duplicate(name) from None
    team.record(session, team.LABEL, label.id, "edited", editor, before, _snapshot(label))
    return label


def set_active(session: Session, editor: team.Editor, label_id: int,
               active: bool) -> HandoffLabel:
    label = get(session, label_id)
    if bool(label.active) == active:
        return label
    if not active:
        # The active rows locked: two supervisors disabling the last two at the same
        # moment cannot both succeed (the second reads what the first left).
        still = session.execute(
            select(HandoffLabel.id).where(HandoffLabel.active.is_(True)).with_for_update()
        ).scalars().all()
        if not set(still) - {label.id}:
            message = "至少要留一个可选的标签，否则没人能结束会话"
            raise Refused(message, 422, problems=[message])
    before = _snapshot(label)
    label.active, label.updated_at = active, utcnow()
    session.flush()
    team.record(session, team.LABEL, label.id, "enabled" if active else "disabled", editor,
                before, _snapshot(label))
    return label
