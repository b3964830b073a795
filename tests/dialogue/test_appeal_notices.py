"""The merchant's consent to the appeal's result notices (issue 22 item 3): after filing,
"暗号 山茶花" records the phrase every notice will carry, for this appeal and this
channel; it needs the identity check and an open appeal, and a number is never a phrase."""

from __future__ import annotations

import re

import pytest
from sqlalchemy.orm import Session

from core.db import notices
from core.db.session import get_engine
from tests.dialogue.conftest import Talk
from tests.dialogue.test_appeal import verified

pytestmark = pytest.mark.dialogue


def consent_phrase(db_url: str, appeal_id: str) -> str | None:
    with Session(get_engine(db_url)) as session:
        consent = notices.consent_for(session, appeal_id)
        return consent.phrase if consent is not None else None


async def test_the_phrase_given_after_filing_is_the_notices_consent(
        talk: Talk, fresh_db: str) -> None:
    merchant, _ = await verified(talk, "我要申诉", "1900000002")
    await merchant.say("外地的老客户扫店里的码买水果，都有聊天记录")
    await merchant.say("用绑定手机")
    filed = await merchant.say("确认")
    assert "暗号" in filed.text  # the offer comes with the filing
    appeal_id = re.search(r"AP\d{11}", filed.text).group(0)
    saved = await merchant.say("暗号 山茶花")
    assert saved.responses == ["utter_notice_phrase_saved"] and appeal_id in saved.text
    assert consent_phrase(fresh_db, appeal_id) == "山茶花"


async def test_a_number_is_never_a_phrase(talk: Talk) -> None:
    merchant, _ = await verified(talk, "查申诉进度", "1900000003")  # an open appeal
    reply = await merchant.say("暗号 13812345678")
    assert reply.responses == ["utter_notice_phrase_hint"], reply.responses


async def test_a_phrase_needs_the_check_and_an_open_appeal(talk: Talk) -> None:
    stranger = await talk().say("暗号 山茶花")
    assert stranger.responses == ["utter_notice_phrase_unverified"], stranger.responses
    normal, _ = await verified(talk, "查下账户", "1900000001")
    reply = await normal.say("暗号 山茶花")
    assert reply.responses == ["utter_notice_phrase_no_appeal"], reply.responses


async def test_a_wechat_merchant_gets_the_subscription_consent_link(
        talk: Talk, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WECHAT_SUBSCRIBE_TEMPLATE_ID", "tmpl-appeal-result")
    monkeypatch.setenv("CONSOLE_PUBLIC_URL", "https://support.example.com")
    merchant = talk(channel="wechat")
    await merchant.say("查申诉进度")
    await merchant.say("1900000003 0003")  # an open appeal
    saved = await merchant.say("暗号 山茶花")
    assert saved.responses == ["utter_notice_phrase_saved", "utter_notice_consent_link"], \
        saved.responses
    link = re.search(r"https://support\.example\.com/\S+", saved.text).group(0)
    assert "appeal=AP20261120001" in link and "token=" in link
    # Without the subscription template the link is not offered (nothing could be sent).
    monkeypatch.delenv("WECHAT_SUBSCRIBE_TEMPLATE_ID")
    again = await merchant.say("暗号 老槐树")
    assert again.responses == ["utter_notice_phrase_saved"], again.responses


async def test_the_widget_gets_no_wechat_consent_link(
        talk: Talk, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WECHAT_SUBSCRIBE_TEMPLATE_ID", "tmpl-appeal-result")
    monkeypatch.setenv("CONSOLE_PUBLIC_URL", "https://support.example.com")
    merchant, _ = await verified(talk, "查申诉进度", "1900000003")
    saved = await merchant.say("暗号 山茶花")
    assert saved.responses == ["utter_notice_phrase_saved"], saved.responses
