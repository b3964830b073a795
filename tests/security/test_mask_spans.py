"""Masking by span (issue 25, High 1 and Medium 3): personal numbers are found once in the
text as merchants type them (grouped, prefixed, dotted, bracketed, full-width, Chinese
numerals), and every entity, ``parse_data`` string and slot value that overlaps one is
masked before the tracker store, the event broker, the HTTP API or a log line sees it."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from rasa.core.brokers.broker import EventBroker
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity

from addons.stores.tracker_store import PrivateSQLTrackerStore
from core import privacy
from core.log_privacy import install as install_log_masking
from core.privacy import mask_personal_data, seal, unseal
from core.text import normalize
from tests.conftest import PROJECT_ROOT
from tests.conversation import Conversation
from tests.security import test_tracker_privacy as slow_lane

# The slow lane's fixtures: the trained model, a private store on SQLite and PostgreSQL.
model_agent, tracker_url, conversation = (
    slow_lane.model_agent, slow_lane.tracker_url, slow_lane.conversation)

# --- how merchants write numbers --------------------------------------------------------

CHINESE = dict(zip("0123456789", "零一二三四五六七八九", strict=True))
CHINESE_VARIANT = {**CHINESE, "0": "〇", "1": "幺"}
FULL_WIDTH = {digit: chr(0xFF10 + int(digit)) for digit in "0123456789"}
STYLES = [{}, FULL_WIDTH, CHINESE, CHINESE_VARIANT]
READ_BACK = {**{v: k for k, v in CHINESE_VARIANT.items()}, **{v: k for k, v in CHINESE.items()},
             **{v: k for k, v in FULL_WIDTH.items()}, "○": "0"}
SEPARATORS = [" ", "-", ".", "\t", "－", "—", "–", "  ", " - ", "·", "\u3000"]
PHONE_PREFIXES = ["", "+86", "+86 ", "0086", "0086 ", "86 ", "+86-", "(+86)", "（+86）",
                  "(+86) ", "+86 (", "0086-"]
BEFORE = ["", "手机", "我的手机号是", "电话：", "联系方式:", "号码 ", "（", "1.", "2. ", "：",
          "\n"]
AFTER = ["", "。", ".", "，谢谢", "）", " 谢谢", "!", "\n", "号", "吧"]


def styled(digits: str, style: dict[str, str]) -> str:
    return "".join(style.get(char, char) for char in digits)


def digits_of(text: str) -> str:
    """Every digit a reader sees, in ASCII."""
    return "".join(READ_BACK.get(char, char) for char in text
                   if char.isdigit() or char in READ_BACK)


def grouped(number: str, sizes: list[int], separator: str) -> str:
    parts, start = [], 0
    for size in sizes:
        parts.append(number[start:start + size])
        start += size
    assert start == len(number)
    return separator.join(parts)


MOBILES = st.builds(lambda second, rest: f"1{second}{rest}",
                    st.sampled_from("3456789"), st.text("0123456789", min_size=9, max_size=9))
PHONE_GROUPS = [[11], [3, 4, 4], [3, 8], [7, 4], [3, 3, 5]]


@st.composite
def typed_phone(draw: st.DrawFn) -> tuple[str, str, str]:
    """(the phone, the text before it, the whole text as typed)."""
    phone = draw(MOBILES)
    prefix = draw(st.sampled_from(PHONE_PREFIXES))
    style = draw(st.sampled_from(STYLES))
    body = grouped(phone, draw(st.sampled_from(PHONE_GROUPS)), draw(st.sampled_from(SEPARATORS)))
    if prefix.endswith("("):
        body = f"{body[:3]}){body[3:]}"  # +86 (138) 0000 0002
    elif draw(st.booleans()):
        body = f"({body[:3]}){body[3:]}"  # (138)0000 0002
    before = draw(st.sampled_from(BEFORE))
    return phone, before, before + styled(prefix + body, style) + draw(st.sampled_from(AFTER))


@given(typed_phone())
@settings(max_examples=400, deadline=None)
def test_a_phone_in_any_format_keeps_only_its_first_three_digits(
    case: tuple[str, str, str],
) -> None:
    phone, before, text = case
    masked = mask_personal_data(text)
    assert digits_of(masked) == digits_of(before) + phone[:3], (text, masked)
    assert mask_personal_data(masked) == masked


def id_card(draw: st.DrawFn) -> str:
    region = draw(st.sampled_from(["110105", "440305", "310115", "510107"]))
    birth = draw(st.dates(min_value=dt.date(1930, 1, 1), max_value=dt.date(2012, 12, 31)))
    serial = draw(st.text("0123456789", min_size=3, max_size=3))
    check = draw(st.sampled_from(list("0123456789X")))
    return f"{region}{birth:%Y%m%d}{serial}{check}"


ID_GROUPS = [[18], [6, 8, 4], [6, 4, 4, 4], [3, 3, 4, 4, 4], [6, 12]]


@st.composite
def typed_id_card(draw: st.DrawFn) -> tuple[str, str]:
    number = id_card(draw)
    body = grouped(number, draw(st.sampled_from(ID_GROUPS)), draw(st.sampled_from(SEPARATORS)))
    style = draw(st.sampled_from([{}, FULL_WIDTH]))
    if style and body.endswith("X"):
        body = body[:-1] + draw(st.sampled_from(["X", "Ｘ", "x"]))
    text = draw(st.sampled_from(["", "身份证", "身份证号：", "证件号 "])) + styled(body, style) \
        + draw(st.sampled_from(AFTER))
    return number, text


@given(typed_id_card())
@settings(max_examples=300, deadline=None)
def test_an_id_card_in_any_grouping_keeps_only_region_and_last_four(case: tuple[str, str]) -> None:
    number, text = case
    masked = mask_personal_data(text)
    assert digits_of(masked) == digits_of(number[:6] + number[-4:]), (text, masked)
    assert mask_personal_data(masked) == masked


CARD_GROUPS = {16: [[16], [4, 4, 4, 4], [6, 10], [4, 12]],
               17: [[17], [4, 4, 4, 5], [6, 11]],
               19: [[19], [4, 4, 4, 4, 3], [6, 13], [4, 15]]}


@st.composite
def typed_bank_card(draw: st.DrawFn) -> tuple[str, str]:
    length = draw(st.sampled_from(sorted(CARD_GROUPS)))
    number = "62" + draw(st.text("0123456789", min_size=length - 2, max_size=length - 2))
    body = grouped(number, draw(st.sampled_from(CARD_GROUPS[length])),
                   draw(st.sampled_from(SEPARATORS)))
    text = draw(st.sampled_from(["", "卡号", "银行卡：", "我的卡 "])) \
        + styled(body, draw(st.sampled_from([{}, FULL_WIDTH]))) + draw(st.sampled_from(AFTER))
    return number, text


@given(typed_bank_card())
@settings(max_examples=300, deadline=None)
def test_a_bank_card_in_any_grouping_keeps_only_first_and_last_four(case: tuple[str, str]) -> None:
    number, text = case
    masked = mask_personal_data(text)
    assert digits_of(masked) == number[:4] + number[-4:], (text, masked)
    assert mask_personal_data(masked) == masked


@pytest.mark.parametrize(("text", "masked"), [
    ("1.13800000002 2.13900001111", "1.138******** 2.139********"),  # a numbered list
    ("手机13800000002.", "手机138********."),
    ("电话0086 138 0000 0002。", "电话138********。"),
    ("+86.138.0000.0002", "138********"),
    ("(+86)138-0000-0002", "138********"),
    ("电话一三八零零零零零零零二", "电话138********"),
    ("幺三八〇〇〇〇〇〇〇二", "138********"),
    ("身份证 110105 1949 1231 002X", "身份证 110105********002X"),
    ("卡号 622848 1234567890123", "卡号 6228********0123"),
    ("尾号 138 **** 0002", "尾号 138********"),
    # Round 3 (bench/results/pentest_round3.md, M-2).
    ("电话138/1234/5678", "电话138********"),
    ("电话138~1234~5678", "电话138********"),
    ("电话138,1234,5678", "电话138********"),
    ("电话138\u200b1234\u200b5678", "电话138********"),
    ("电话 1 3 8 1 2 3 4 5 6 7 8", "电话 138********"),
    ("壹叁捌壹贰叁肆伍陆柒捌", "138********"),
    ("卡号 62284812 34567890", "卡号 6228********7890"),
    ("卡号 6228481234 567890", "卡号 6228********7890"),
    ("身份证 1101051990 0307123X", "身份证 110105********123X"),
])
def test_formats_the_penetration_test_used(text: str, masked: str) -> None:
    assert mask_personal_data(text) == masked


NOT_PERSONAL = [
    "商户号1900000002 0002", "商户号 1900 0000 02，尾号0002", "1900000002 0002",
    "订单20261126，2026 11 26 1030", "2026-11-26 10:30", "2026.11.26", "申诉AP20261120001",
    "confidence 0.9817126453586416", "ts 1795682452.000327", "score 1.2345678901234567e-05",
    "收了2000块，3000元", "192.168.1.100", "版本3.6.21", "第1 2 3 4步", "一二三四五",
    "[0.12 0.98171264535864162]", "客服95017", "**重要**",
]


@pytest.mark.parametrize("text", NOT_PERSONAL)
def test_numbers_that_are_not_personal_are_left_alone(text: str) -> None:
    assert mask_personal_data(text) == text


# --- the same numbers in what is stored, streamed and returned ---------------------------

PATTERNS = yaml.safe_load((PROJECT_ROOT / "data/nlu/patterns.yml").read_text(encoding="utf-8"))


def regex_entities(text: str) -> list[dict[str, Any]]:
    """What RegexEntityExtractor tags in the normalized text (data/nlu/patterns.yml)."""
    found = []
    for item in PATTERNS["nlu"]:
        if "regex" not in item:
            continue
        for pattern in re.findall(r"^\s*- (.+)$", item["examples"], re.M):
            for match in re.finditer(pattern, text, re.I):
                found.append({"entity": item["regex"], "start": match.start(),
                              "end": match.end(), "value": match.group(0),
                              "extractor": "RegexEntityExtractor"})
    return found


def user_event(text: str) -> UserUttered:
    normalized = normalize(text).text
    entities = regex_entities(normalized)
    return UserUttered(text, {"name": "inform", "confidence": 0.9}, entities,
                       parse_data={"text": normalized, "entities": entities,
                                   "intent_ranking": [{"name": "inform", "confidence": 0.9}]},
                       message_id="m1")


class Capture(EventBroker):
    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    def publish(self, event: dict[str, Any]) -> None:
        self.bodies.append(event)


def strings(value: Any) -> list[str]:
    """Every string in ``value`` (numbers such as timestamps and confidences left out)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for key, item in value.items() if key != "timestamp"
                for text in strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in strings(item)]
    return []


GROUPED = [
    # (typed, the groups that must not survive anywhere)
    ("卡号6228 4812 3456 7890", ["4812", "3456"]),
    ("我的卡 6228-4812-3456-7890-123 被限制了", ["4812", "3456", "7890"]),
    ("身份证 110105 1949 1231 002X", ["1949", "1231"]),
    ("身份证110105 19491231 0021", ["19491231"]),
    ("手机 138 0000 1234 打我电话", ["1234"]),
    ("电话 +86 138-5555-6666", ["5555", "6666"]),
    ("电话１３８ ５５５５ ６６６６", ["5555", "6666"]),
    ("身份证 110105 1990 0307 123X", ["1101051990", "1990", "0307"]),
    ("卡号 6228481234 567890", ["6228481234", "567890"]),
]


@pytest.mark.parametrize(("text", "groups"), GROUPED)
async def test_grouped_numbers_survive_nowhere(tmp_path: Path, text: str,
                                               groups: list[str]) -> None:
    """High 1: neither the tracker store, nor the broker, nor the tracker the HTTP API
    returns (it is read from the store) keeps any group of the number."""
    event = user_event(text)
    assert any(entity["value"] in groups for entity in event.entities) or \
        "19491231" in groups, "the regexes tag no group: the test would prove nothing"
    tagged = [entity["value"] for entity in event.entities]
    broker = Capture()
    store = PrivateSQLTrackerStore(domain=Domain.empty(), dialect="sqlite",
                                   db=str(tmp_path / "tracker.db"), event_broker=broker)
    tracker = DialogueStateTracker.from_events("s1", [
        ActionExecuted("action_listen"), event,
        # A text slot mapped from a regex entity gets every tagged value (a list).
        SlotSet("phone_last4", tagged or None),
        BotUttered("好的"), ActionExecuted("action_listen")])
    await store.save(tracker)
    stored = await store.retrieve("s1")
    assert stored is not None
    api = stored.current_state(EventVerbosity.ALL)
    for where, data in (("broker", broker.bodies), ("api", api)):
        text_seen = "\n".join(strings(data))
        assert "*" in text_seen, f"{where}: nothing masked, the test would prove nothing"
        for group in groups:
            assert not re.search(rf"(?<!\d){group}(?!\d)", text_seen), (where, group, text_seen)
    # What the actions got this turn is untouched: masking works on copies.
    assert tracker.latest_message.text == text
    assert [entity["value"] for entity in tracker.latest_message.entities] == tagged
    store.engine.dispose()


async def test_the_identity_answers_reach_the_turn_and_the_merchant_id_stays(
    tmp_path: Path,
) -> None:
    """The check reads the in-memory tracker of its own turn; what is stored keeps the
    merchant id (it is masked where it is shown) and hides the phone digits."""
    store = PrivateSQLTrackerStore(domain=Domain.empty(), dialect="sqlite",
                                   db=str(tmp_path / "tracker.db"))
    typed = user_event("商户号1900000002 手机138 0000 0002")
    tracker = DialogueStateTracker.from_events("s1", [
        ActionExecuted("action_listen"), typed, SlotSet("merchant_id", "1900000002"),
        SlotSet("phone_last4", "0002")])
    await store.save(tracker)
    assert tracker.latest_message.text.endswith("138 0000 0002")
    stored = await store.retrieve("s1")
    assert stored is not None
    seen = "\n".join(strings(stored.current_state(EventVerbosity.ALL)))
    assert "1900000002" in seen
    assert not re.search(r"(?<!\d)0002(?!\d)", seen.replace("1900000002", "")), seen


async def test_a_message_that_starts_with_the_sealed_prefix_is_still_masked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Low: only real sealed values (the action server's tokens) are left alone."""
    monkeypatch.setenv("SLOT_SEAL_KEY", "9kQ4e1eDn1lV3nRr0gD3o7G0m2xYfNq8g3y0c5p1XxU=")
    privacy._fernet.cache_clear()
    try:
        store = PrivateSQLTrackerStore(domain=Domain.empty(), dialect="sqlite",
                                       db=str(tmp_path / "tracker.db"))
        sealed = seal("13900001111")
        tracker = DialogueStateTracker.from_events("s1", [
            ActionExecuted("action_listen"), user_event("sealed: 13800000002 卡6228 4812 3456 7890"),
            SlotSet("appeal_contact", sealed)])
        await store.save(tracker)
        stored = await store.retrieve("s1")
        assert stored is not None
        seen = "\n".join(strings(stored.current_state(EventVerbosity.ALL)))
        assert "13800000002" not in seen and "4812" not in seen, seen
        kept = [event.value for event in stored.events
                if isinstance(event, SlotSet) and event.key == "appeal_contact"]
        assert kept == [sealed] and unseal(kept[0]) == "13900001111"
    finally:
        privacy._fernet.cache_clear()


def test_a_log_line_masks_every_group_and_later_lines_the_same_digits(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Rasa logs the parse (text and entities) in one line and the slots it sets from
    them in later lines: the groups are masked in both."""
    install_log_masking()
    caplog.set_level(logging.DEBUG)
    log = logging.getLogger("tests.mask_spans")
    entities = regex_entities("卡号6228 4812 3456 7890")
    log.debug("processor.message.parse parse_data_text=%s parse_data_entities=%s",
              "卡号6228 4812 3456 7890", entities)
    log.debug("processor.extract.slots rasa_events=%s",
              [{"event": "slot", "name": "phone_last4", "value": ["6228", "4812", "3456"]}])
    assert len(caplog.records) == 2
    for record in caplog.records:
        message = record.getMessage()
        assert "4812" not in message and "3456" not in message, message
    assert "6228********7890" in caplog.records[0].getMessage()


def test_masking_never_touches_the_input_events() -> None:
    event = user_event("卡号6228 4812 3456 7890")
    before = json.dumps(event.as_dict(), sort_keys=True)
    privacy.mask_events([event.as_dict()])
    assert json.dumps(event.as_dict(), sort_keys=True) == before


# --- through the trained model (slow lane) ------------------------------------------------

@pytest.mark.dialogue
async def test_through_the_model_no_group_is_stored_and_the_check_completes(
    conversation: Conversation, tracker_url: str
) -> None:
    """The real pipeline tags every group; the identity check still reads its answers."""
    await conversation.say("查账户，我的卡 6228 4812 3456 7890 收不了钱")
    await conversation.say("1900000002")
    verified = await conversation.say("手机 138 0000 0002")
    assert "utter_verified" in verified.responses  # the action saw the real digits
    rows = [json.loads(row) for row in slow_lane.stored_rows(tracker_url)]
    tagged = [entity["value"] for row in rows
              for entity in row.get("parse_data", {}).get("entities", [])]
    assert len(tagged) >= 4, "the model tagged no group: the test proves nothing"
    seen = "\n".join(strings(rows))
    assert "1900000002" in seen  # the merchant id is masked where it is shown
    for group in ("4812", "3456", "0000", "0002"):
        assert not re.search(rf"(?<!\d){group}(?!\d)", seen), (group, seen)
