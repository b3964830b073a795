"""The unanswered-questions inbox (core.inbox, core.db.inbox, docs/inbox.md) on a seeded
day of the event broker's table, on SQLite and PostgreSQL. The embedder is a fake that
knows two topics (收款码, 提现), so the grouping is about the inbox's bookkeeping; one
test runs the shipped e5 model.

The day (2026-12-01 in Asia/Shanghai; every time below is UTC inside it):

sender  channel what happens                                          in the inbox
q-1     widget  "收款码怎么收不了钱了" → fallback                      A (fallback)
q-2     wechat  "我的收款码扫不出来" → "你是想问" → a click             A (did_you_mean)
q-3     widget  "收款码一直报错 13912345678" → fallback                A, masked
q-4     widget  "收款码提示异常" answered, "转人工" → handoff form     A (handoff); "转人工" no
q-5     wechat  "收款码被停用了 138********" answered, "嗯", "人工"    A (handoff, 2 turns
                later); "嗯" is small talk: no
q-6     widget  "提现什么时候到账" → fallback                          B
q-7     rest    "提现一直没到" → "你是想问"                            B
q-8     widget  "提现失败怎么办" → fallback; EXTERNAL: trigger         B
q-9     widget  "啊啊啊" → fallback                                    noise
q-10    widget  "今天天气好吗" → "你是想问"                             noise
n-1     widget  "钱还能提出来吗" answered (contained)                  no
n-2     widget  "查一下账户", identity form: "1900000002", "0002", "转人工"  no (form answers)
n-3     widget  "收款码怎么开通" answered, "好的", "谢谢", "转人工"     no (3 turns before)
n-4     widget  "收款码不能用" → fallback at 17:00Z (the next local day) no
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from core import inbox
from core.db import inbox as triage
from core.db import insights
from core.db.models import Agent
from core.db.session import get_engine
from core.knowledge import store
from tests.db.test_insights import Log, at, events_url_for, write_events
from tests.knowledge.conftest import make_entry

DAY = dt.date(2026, 12, 1)
PERIOD = insights.Period(DAY, DAY, insights.ZoneInfo("Asia/Shanghai"))
TOPICS = ("收款码", "提现")
GROUP_A = {"收款码怎么收不了钱了", "我的收款码扫不出来", "收款码一直报错 139********",
           "收款码提示异常", "收款码被停用了 138********"}
GROUP_B = {"提现什么时候到账", "提现一直没到", "提现失败怎么办"}
NOISE = {"啊啊啊", "今天天气好吗"}


def topic_embed(texts: list[str]) -> np.ndarray:
    """A strong axis per known topic plus a weak bag of characters: one topic's
    questions are ~0.96 alike, anything else far apart."""
    rows = []
    for text_ in texts:
        vector = np.zeros(64, dtype=np.float32)
        for char in text_:
            vector[8 + int(hashlib.md5(char.encode()).hexdigest(), 16) % 56] += 1
        vector /= np.linalg.norm(vector) or 1
        for axis, topic in enumerate(TOPICS):
            if topic in text_:
                vector[axis] += 5
        rows.append(vector / np.linalg.norm(vector))
    return np.vstack(rows)


def _missed(log: Log, sender: str, when: dt.datetime, said: str, channel: str,
            dym: bool = False) -> None:
    log.session(sender, when)
    log.user(sender, when, said, "nlu_fallback", channel)
    if dym:
        log.action(sender, when, "action_answer_knowledge")
        log.bot(sender, when, utter_action="utter_kb_did_you_mean")
    else:
        log.action(sender, when, "action_fallback")
        log.bot(sender, when, utter_action="utter_ask_rephrase")


def the_inbox_day() -> Log:
    log = Log()
    _missed(log, "q-1", at(2), "收款码怎么收不了钱了", "widget")
    _missed(log, "q-2", at(2, 10), "我的收款码扫不出来", "wechat", dym=True)
    log.user("q-2", at(2, 11), "/ask_restricted", "ask_restricted", "wechat")  # a click
    _missed(log, "q-3", at(2, 20), "收款码一直报错 13912345678", "widget")
    log.session("q-4", at(3))
    log.user("q-4", at(3), "收款码提示异常", "knowledge", "widget")
    log.bot("q-4", at(3), knowledge_entry="qr_code_blocked")
    log.user("q-4", at(3, 1), "转人工", "request_human", "widget")
    log.loop("q-4", at(3, 1), "handoff_form")
    log.session("q-5", at(3, 30))
    log.user("q-5", at(3, 30), "收款码被停用了 138********", "knowledge", "wechat")
    log.bot("q-5", at(3, 30), knowledge_entry="qr_code_blocked")
    log.user("q-5", at(3, 31), "嗯", "affirm", "wechat")
    log.user("q-5", at(3, 32), "人工", "request_human", "wechat")
    log.loop("q-5", at(3, 32), "handoff_form")
    _missed(log, "q-6", at(4), "提现什么时候到账", "widget")
    _missed(log, "q-7", at(4, 10), "提现一直没到", "rest", dym=True)
    _missed(log, "q-8", at(4, 20), "提现失败怎么办", "widget")
    log.user("q-8", at(4, 30), "EXTERNAL: handoff_closed", "handoff_closed", "widget")
    _missed(log, "q-9", at(5), "啊啊啊", "widget")
    _missed(log, "q-10", at(5, 10), "今天天气好吗", "widget", dym=True)
    # Not in the inbox.
    log.session("n-1", at(6))
    log.user("n-1", at(6), "钱还能提出来吗", "knowledge", "widget")
    log.bot("n-1", at(6), knowledge_entry="frozen_funds")
    log.session("n-2", at(6, 30))
    log.user("n-2", at(6, 30), "查一下账户", "check_account", "widget")
    log.loop("n-2", at(6, 30), "verify_form")
    log.user("n-2", at(6, 31), "1900000002", "inform", "widget")
    log.user("n-2", at(6, 31, 30), "0002", "inform", "widget")
    log.user("n-2", at(6, 32), "转人工", "request_human", "widget")
    log.loop("n-2", at(6, 32), "handoff_form")
    log.session("n-3", at(7))
    log.user("n-3", at(7), "收款码怎么开通", "knowledge", "widget")
    log.bot("n-3", at(7), knowledge_entry="qr_code_open")
    log.user("n-3", at(7, 1), "好的", "affirm", "widget")
    log.user("n-3", at(7, 2), "谢谢", "thank", "widget")
    log.user("n-3", at(7, 3), "转人工", "request_human", "widget")
    log.loop("n-3", at(7, 3), "handoff_form")
    _missed(log, "n-4", at(17), "收款码不能用", "widget")
    return log


@pytest.fixture()
def events(db_url: str, tmp_path: Path) -> Iterator[Engine]:
    engine = create_engine(events_url_for(db_url, tmp_path), future=True)
    write_events(engine, the_inbox_day())
    yield engine
    engine.dispose()


@pytest.fixture(autouse=True)
def private_vector_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fake embedder must never fill the shared vector cache."""
    monkeypatch.setattr("core.knowledge.vectors.CACHE_FILE", tmp_path / "v.sqlite")
    monkeypatch.setattr("core.knowledge.vectors.default_embed", topic_embed)


def seed_entries(db_url: str) -> None:
    entries = [
        make_entry("qr_code_blocked", "收款码用不了怎么办", "先看商家助手里的通知。",
                   "收款码不能收款", "收款码被限制", "收款码失效", "收款码收不了钱",
                   "收款码异常"),
        make_entry("withdraw_time", "提现多久到账", "一般1到3个工作日。",
                   "提现到账时间", "提现没到账", "提现要几天", "提现慢", "提现查询"),
    ]
    with Session(get_engine(db_url)) as session, session.begin():
        store.sync(session, entries, embed=topic_embed)


def open_inbox(db_url: str, events: Engine, **options: Any) -> dict[str, Any]:
    with Session(get_engine(db_url)) as session, events.connect() as connection:
        return inbox.inbox(connection, session, PERIOD, **{"embed": topic_embed, **options})


def texts(group: dict[str, Any]) -> set[str]:
    return {example["text"] for example in group["examples"]}


def test_the_seeded_day_gives_two_groups_and_the_noise_alone(db_url: str,
                                                             events: Engine) -> None:
    result = open_inbox(db_url, events)
    assert result["events_available"] is True and result["messages"] == 10
    groups = result["groups"]
    assert [g["count"] for g in groups] == [5, 3, 1, 1]
    a, b, *noise = groups
    assert texts(a) == GROUP_A and texts(b) == GROUP_B
    assert {text_ for g in noise for text_ in texts(g)} == NOISE
    assert a["channels"] == {"wechat": 2, "widget": 3}
    assert a["reasons"] == {"did_you_mean": 1, "fallback": 2, "handoff": 2}
    assert b["channels"] == {"rest": 1, "widget": 2}
    assert a["first_seen"] == "2026-12-01T10:00:00+08:00"
    assert a["last_seen"] == "2026-12-01T11:30:00+08:00"
    assert a["by_day"] == {"2026-12-01": 5}
    assert len(a["message_ids"]) == 5 and len(a["examples"]) == 5
    # Neither the clicks, the console's trigger, a form answer, a contained answer nor
    # a message three turns before a handoff; the next local day neither.
    every = {text_ for g in groups for text_ in texts(g)}
    assert not every & {"转人工", "人工", "嗯", "/ask_restricted", "1900000002", "钱还能提出来吗",
                        "收款码怎么开通", "收款码不能用", "EXTERNAL: handoff_closed"}


def test_the_grouping_is_deterministic(db_url: str, events: Engine) -> None:
    assert open_inbox(db_url, events) == open_inbox(db_url, events)


def test_texts_stay_masked(db_url: str, events: Engine) -> None:
    shown = json.dumps(open_inbox(db_url, events), ensure_ascii=False)
    assert "13912345678" not in shown and "139********" in shown
    assert "138********" in shown


def test_each_group_suggests_the_nearest_entries(db_url: str, events: Engine) -> None:
    seed_entries(db_url)
    a, b, *_ = open_inbox(db_url, events)["groups"]
    assert a["suggestions"][0]["entry_id"] == "qr_code_blocked"
    assert a["suggestions"][0]["question"] == "收款码用不了怎么办"
    assert b["suggestions"][0]["entry_id"] == "withdraw_time"
    assert a["suggestions"][0]["score"] > a["suggestions"][1]["score"]


def _agent(db_url: str) -> int:
    with Session(get_engine(db_url)) as session, session.begin():
        agent = Agent(username="zhang", display_name="主管老张", password_hash="x")
        session.add(agent)
        session.flush()
        return agent.id


def test_an_action_is_audited_and_its_messages_leave_the_inbox(db_url: str,
                                                               events: Engine) -> None:
    agent = _agent(db_url)
    b = open_inbox(db_url, events)["groups"][1]
    with events.connect() as connection:
        messages = inbox.messages_by_id(connection, b["message_ids"])
    with Session(get_engine(db_url)) as session, session.begin():
        triage.record(session, triage.ActionKind.out_of_scope, agent, "zhang",
                      [m.key for m in messages], note="提现问题转给结算组")
    groups = open_inbox(db_url, events)["groups"]
    assert [g["count"] for g in groups] == [5, 1, 1]
    assert not any(texts(g) & GROUP_B for g in groups)
    with Session(get_engine(db_url)) as session:
        (row,) = triage.recent(session)
        view = row.view()
    assert (view["action"], view["agent"], view["messages"], view["note"]) == (
        "out_of_scope", "zhang", 3, "提现问题转给结算组")
    assert view["created_at"].endswith("Z")


def test_a_message_is_triaged_once(db_url: str, events: Engine) -> None:
    agent = _agent(db_url)
    noise = open_inbox(db_url, events)["groups"][-1]
    with events.connect() as connection:
        (message,) = inbox.messages_by_id(connection, noise["message_ids"])
    with Session(get_engine(db_url)) as session, session.begin():
        triage.record(session, triage.ActionKind.ignore, agent, "zhang", [message.key])
    with Session(get_engine(db_url)) as session, session.begin(), \
            pytest.raises(triage.AlreadyTriaged):
        triage.record(session, triage.ActionKind.ignore, agent, "zhang", [message.key])
    with Session(get_engine(db_url)) as session:
        assert len(triage.recent(session)) == 1


def test_adding_as_similar_skips_questions_the_entry_has(db_url: str) -> None:
    seed_entries(db_url)
    with Session(get_engine(db_url)) as session:
        entry = inbox.latest_entry(session, "qr_code_blocked")
    assert entry is not None
    changed, added = inbox.with_similar(
        entry, ["收款码收不了钱！", "收款码一直报错 13912345678", "收款码一直报错 13912345678"])
    assert added == ["收款码一直报错 139********"]
    assert changed.similar[-1] == "收款码一直报错 139********"
    assert inbox.latest_entry(session, "no_such_entry") is None


def test_the_shipped_e5_model_groups_paraphrases(db_url: str, tmp_path: Path) -> None:
    """The real embeddings with the default distance (about a second on this machine)."""
    from core.embeddings import embed_queries

    log = Log()
    said = ["收款码为什么收不了钱", "我的二维码收不了款了", "收款码突然不能用了",
            "提现要多久到账", "钱提出来要几天", "提现什么时候到银行卡",
            "你们公司在哪里", "我想买个手机"]
    for number, line in enumerate(said):
        _missed(log, f"e-{number}", at(2, number), line, "widget")
    engine = create_engine(f"sqlite:///{tmp_path / 'e5_events.db'}", future=True)
    write_events(engine, log)
    began = time.monotonic()
    with Session(get_engine(db_url)) as session, engine.connect() as connection:
        result = inbox.inbox(connection, session, PERIOD, embed=embed_queries)
    assert time.monotonic() - began < 20
    engine.dispose()
    grouped = sorted(sorted(texts(g)) for g in result["groups"])
    assert grouped == sorted([sorted(said[:3]), sorted(said[3:6]), [said[6]], [said[7]]])


def test_a_handoff_just_after_midnight_still_counts(tmp_path: Path) -> None:
    """23:59 local: the question; 00:01 the next day: "转人工". The question belongs to
    its own day, the handoff that makes it unanswered to the next."""
    log = Log()
    log.session("m-1", at(15, 59))
    log.user("m-1", at(15, 59), "收款码怎么还是不行", "knowledge", "widget")
    log.bot("m-1", at(15, 59), knowledge_entry="qr_code_blocked")
    log.user("m-1", at(16, 1), "转人工", "request_human", "widget")
    log.loop("m-1", at(16, 1), "handoff_form")
    engine = create_engine(f"sqlite:///{tmp_path / 'midnight.db'}", future=True)
    write_events(engine, log)
    with engine.connect() as connection:
        (message,) = inbox.collect(connection, PERIOD)
    engine.dispose()
    assert (message.text, message.reasons) == ("收款码怎么还是不行", ("handoff",))
