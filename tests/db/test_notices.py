"""core.db.notices on SQLite and PostgreSQL: the texts, the outbox filled by
record_event (only with a consent, once per event, not for a late older event), and
what "删除我的记录" leaves of sent notices."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import appeal_events, forget, notices
from core.db.appeal_events import DecisionKind
from core.db.notices import AppealNotice
from core.db.session import get_engine

APPEAL = "AP20261120001"  # seed: reviewing
D = dt.datetime


@pytest.mark.parametrize(("kind", "expected"), [
    ("approved", ["已审核通过", "说明：交易真实"]),
    ("rejected", ["没有通过审核", "原因：交易真实"]),
    ("needs_materials", ["需要补充材料：营业执照、门店照片", "请在这里直接发送"]),
])
def test_each_text_has_the_decision_the_appeal_id_the_phrase_and_the_warning(
        kind: str, expected: list[str]) -> None:
    text = notices.render(kind, APPEAL, "山茶花", "交易真实。", ["营业执照", "门店照片"])
    for part in [*expected, APPEAL, "暗号：“山茶花”", "不是我们发的", "不要付款", "验证码"]:
        assert part in text, (part, text)
    assert "。。" not in text


def record(session: Session, event_id: str, kind: DecisionKind, decided: dt.datetime) -> None:
    appeal_events.record_event(session, APPEAL, event_id, kind, "理由", [], decided)


def test_record_event_enqueues_once_only_with_consent_and_only_for_the_newest(
        db_url: str) -> None:
    engine = get_engine(db_url)
    with Session(engine) as session, session.begin():
        record(session, "e-0", DecisionKind.needs_materials, D(2026, 11, 21))  # no consent
        notices.remember_consent(session, APPEAL, "widget", "web-9", "老槐树")
        record(session, "e-1", DecisionKind.approved, D(2026, 11, 23))
        record(session, "e-1", DecisionKind.approved, D(2026, 11, 23))  # a retry
        record(session, "e-late", DecisionKind.rejected, D(2026, 11, 22))  # older, late
    with Session(engine) as session:
        queued = session.execute(select(AppealNotice)).scalars().all()
        assert [(n.event_id, n.kind, n.sender_id) for n in queued] == [
            ("e-1", "approved", "web-9")]


def test_forgetting_keeps_sent_notices_without_the_sender(db_url: str) -> None:
    engine = get_engine(db_url)
    with Session(engine) as session, session.begin():
        notices.remember_consent(session, APPEAL, "wechat", "oSender", "老槐树")
        record(session, "e-2", DecisionKind.needs_materials, D(2026, 11, 23))
        sent = session.execute(select(AppealNotice)).scalar_one()
        notices.mark_sent(session, sent.id)
    with Session(engine) as session, session.begin():
        forget.forget(session, "wechat", "oSender")
    with Session(engine) as session:
        kept = session.execute(select(AppealNotice)).scalar_one()
        assert kept.status == "sent" and kept.sender_id.startswith("forgotten:")
        assert notices.consent_for(session, APPEAL) is None
