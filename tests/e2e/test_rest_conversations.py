"""Real conversations through the REST channel against running servers."""

from __future__ import annotations

import re
import uuid

import pytest

from tests.e2e.servers import Servers

pytestmark = pytest.mark.e2e

CHINESE = re.compile(r"[\u4e00-\u9fff]")


def sender() -> str:
    return f"e2e-{uuid.uuid4().hex[:8]}"


def test_first_question_is_answered_in_chinese(servers: Servers) -> None:
    # Latency is measured by bench/, not asserted here.
    reply = servers.texts(sender(), "我的收款码被限制了怎么办")
    assert CHINESE.search(reply)
    assert "95017" in reply and "商户号" in reply


@pytest.mark.parametrize(
    ("merchant_id", "last4", "expected"),
    [
        ("1900000001", "0001", ["状态正常"]),
        ("1900000002", "0002", ["限制收款", "外地", "1900****02"]),
        ("1900000003", "0003", ["冻结", "提现", "AP20261120001"]),
        ("1900000004", "0004", ["风控", "频繁", "未通过"]),
    ],
)
def test_status_look_up_per_demo_merchant(
    servers: Servers, merchant_id: str, last4: str, expected: list[str]
) -> None:
    user = sender()
    assert "商户号" in servers.texts(user, "帮我查一下账户状态")
    assert "后4位" in servers.texts(user, merchant_id)
    reply = servers.texts(user, last4)
    for fragment in expected:
        assert fragment in reply
    assert merchant_id not in reply  # masked


def test_wrong_digits_give_nothing_away_and_sixth_attempt_is_locked(servers: Servers) -> None:
    first_failures = []
    for mid in ("1900000002", "1999999999", "1900000003"):
        someone = sender()
        servers.texts(someone, "查下我的账户")
        first_failures.append(servers.texts(someone, f"{mid} 9999"))
    # Existing and unknown ids look the same (the wording changes only with the attempt).
    assert len(set(first_failures)) == 1
    assert "对不上" in first_failures[0] and "限制收款" not in first_failures[0]
    user = sender()
    servers.texts(user, "查下我的账户")
    for mid in ("1900000002", "1999999999", "1900000003", "1900000004", "1900000002"):
        assert "限制收款" not in servers.texts(user, f"{mid} 9999")  # five failures
    sixth = servers.texts(user, "1900000002 0002")  # right answer, but locked
    assert "暂停查询" in sixth and "95017" in sixth
    assert "限制收款" not in sixth


def test_appeal_is_filed_once_and_found_by_id(servers: Servers) -> None:
    user = sender()
    servers.texts(user, "我要申诉")
    servers.texts(user, "1900000002")
    # The account's reason fills the category in.
    assert "异地扫码收款被限制" in servers.texts(user, "0002")
    servers.texts(user, "外地的老客户扫店里的码买水果，都有聊天记录")
    summary = servers.texts(user, "13800000002")
    assert "138****0002" in summary and "13800000002" not in summary
    filed = servers.texts(user, "确认")
    appeal_id = re.search(r"AP\d{11}", filed).group(0)

    assert "处理中" in servers.texts(user, "我要申诉")  # refused: one is open

    lookup = servers.texts(user, f"查一下申诉{appeal_id}的进度")
    assert appeal_id in lookup and "已提交" in lookup

    stranger = sender()
    servers.texts(stranger, f"查一下申诉{appeal_id}的进度")
    foreign = servers.texts(stranger, "1900000004 0004")
    assert "没有找到" in foreign and appeal_id not in foreign


@pytest.mark.parametrize(
    "message",
    [
        "",
        "😀😀😀",
        "<script>alert(1)</script>",
        "'; DROP TABLE merchants; --",
        "收款" * 2500,
        "{{7*7}} ${jndi:ldap://x}",
    ],
)
def test_bad_input_gets_a_polite_chinese_answer(servers: Servers, message: str) -> None:
    reply = servers.texts(sender(), message)
    assert CHINESE.search(reply)
    assert "<script>" not in reply and "49" not in reply
    assert not re.search(r"\{[a-z_]+\}", reply)  # no template variable left unfilled


def test_text_that_reaches_the_database_is_stored_literally(servers: Servers) -> None:
    """The appeal description is the merchant's free text written into the database:
    an injection attempt there is stored as text and breaks nothing."""
    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    from core.db.models import Appeal

    payload = "外地客户扫码'); DROP TABLE appeals; -- <b>{{7*7}}</b>"
    user = sender()
    servers.texts(user, "我要申诉")
    assert "交易频繁被风控" in servers.texts(user, "1900000004 0004")
    servers.texts(user, payload)
    summary = servers.texts(user, "用绑定手机")
    assert payload in summary and "49" not in summary  # echoed as text, not evaluated
    appeal_id = re.search(r"AP\d{11}", servers.texts(user, "确认"))
    assert appeal_id is not None
    with Session(create_engine(servers.db_url)) as session:
        stored = session.execute(select(Appeal.description).where(
            Appeal.id == appeal_id.group(0))).scalar_one()
    assert stored == payload
    assert "状态" in servers.texts(user, f"查一下申诉{appeal_id.group(0)}的进度")
