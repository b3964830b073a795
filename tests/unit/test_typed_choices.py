"""Typed choices (issue 19, shape 3): the matcher (core.choices.match / offered) and the
hook that reads a message against the last bot turn's buttons (addons.typed_choices),
without the model. Whole conversations: tests/dialogue/test_typed_choices.py."""

from __future__ import annotations

from typing import Any

import pytest
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.processor import MessageProcessor
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    Event,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.slots import TextSlot
from rasa.shared.core.trackers import DialogueStateTracker

from addons import rasa_compat, typed_choices
from addons.channels.wechat_render import render_messages
from core.choices import match, offered, parse_choice_number, split_choice

REMOTE_OFFER = [{"text": "要我问几个问题，帮你挑最合适的一种吗？", "buttons": [
    {"title": "1 帮我挑一个", "payload": "/affirm"},
    {"title": "2 不用了", "payload": "/deny"}]}]
DID_YOU_MEAN = [{"text": "你是想问：", "buttons": [
    {"title": "1 费率是多少", "payload": '/knowledge{"kb_entry":"fee_rate"}'},
    {"title": "2 提现多久到账", "payload": '/knowledge{"kb_entry":"withdrawal_time"}'},
    {"title": "3 都不是，转人工", "payload": "/request_human"}]}]
VOLUME = [{"text": "每月大概收多少钱？", "buttons": [
    {"title": "1 1万元以下", "payload": "1"},
    {"title": "2 1万到10万元", "payload": "2"},
    {"title": "3 10万元以上", "payload": "3"}]}]
CONFIRM = [{"text": "确认提交吗？", "buttons": [
    {"title": "确认提交", "payload": "/affirm"}, {"title": "不提交", "payload": "/deny"}]}]
SCORE = [{"text": "打个分吧", "buttons": [
    {"title": f"{n} {t}", "payload": str(n)}
    for n, t in enumerate(["很不满意", "不满意", "一般", "满意", "很满意"], start=1)]}]
GREET = [{"text": "你好", "buttons": [
    {"title": "查我的账户状态", "payload": "/check_account_status"},
    {"title": "为什么会被限制", "payload": "/ask_abnormal_reason"},
    {"title": "怎么申诉", "payload": "/ask_appeal_process"},
    {"title": "客服电话", "payload": "/contact_support"}]}]
PAYER = {"text": "接着选收款方式：你的客户主要在哪里？", "buttons": [
    {"title": "1 本地，到店当面付", "payload": "1"},
    {"title": "2 外地，远程付款", "payload": "2"},
    {"title": "3 两种都有", "payload": "3"}]}


def payload_of(text: str, messages: list[dict[str, Any]], across: bool = False) -> str | None:
    picked = match(text, offered(messages, across), clicks=not across)
    return picked.choice.payload if picked else None


# --- number forms and ordinals -------------------------------------------------------------
@pytest.mark.parametrize(
    ("typed", "payload"),
    [("1", "/affirm"), ("１", "/affirm"), ("1.", "/affirm"), ("（1）", "/affirm"),
     ("第1个", "/affirm"), ("第一个", "/affirm"), ("选2", "/deny"), ("第2个", "/deny"),
     ("二", "/deny"), ("第二个", "/deny"), ("2吧", "/deny"), ("选择二", "/deny"),
     ("最后一个", "/deny"), ("最后那个", "/deny")],
)
def test_typed_numbers_and_ordinals_pick_the_button(typed: str, payload: str) -> None:
    assert payload_of(typed, REMOTE_OFFER) == payload


def test_knowledge_choices_work_as_numbers() -> None:
    assert payload_of("1", DID_YOU_MEAN) == '/knowledge{"kb_entry":"fee_rate"}'
    assert payload_of("第二个", DID_YOU_MEAN) == '/knowledge{"kb_entry":"withdrawal_time"}'
    assert payload_of("3", DID_YOU_MEAN) == "/request_human"


def test_titles_without_their_own_number_are_numbered_by_place() -> None:
    assert payload_of("2", GREET) == "/ask_abnormal_reason"
    assert payload_of("2", CONFIRM) == "/deny"


# --- titles: exact, without the number, with filler words, partial, typos ------------------
@pytest.mark.parametrize(
    ("typed", "payload"),
    [("帮我挑一个", "/affirm"), ("1 帮我挑一个", "/affirm"), ("1.帮我挑一个", "/affirm"),
     ("幫我挑一個", "/affirm"), ("帮我挑一个吧", "/affirm"), ("好的，帮我挑一个", "/affirm"),
     ("挑一个", "/affirm"), ("帮我挑一下", "/affirm"), ("帮我跳一个", "/affirm"),
     ("不用了", "/deny"), ("不用", "/deny"), ("2 不用了", "/deny")],
)
def test_typed_titles_pick_the_button(typed: str, payload: str) -> None:
    assert payload_of(typed, REMOTE_OFFER) == payload


@pytest.mark.parametrize("typed", ["随便", "都行", "不太懂", "你直接推荐一个吧 我没网站 没小程序"])
def test_leaving_the_choice_to_us_picks_the_button_that_does(typed: str) -> None:
    """New users answered the advisor's offer with "都行" and got "好的。"."""
    assert payload_of(typed, REMOTE_OFFER) == "/affirm"
    assert payload_of(typed, CONFIRM) is None  # nothing there chooses for them


def test_titles_of_knowledge_choices_and_greeting_buttons() -> None:
    assert payload_of("提现多久到账", DID_YOU_MEAN) == '/knowledge{"kb_entry":"withdrawal_time"}'
    assert payload_of("费率是多少？", DID_YOU_MEAN) == '/knowledge{"kb_entry":"fee_rate"}'
    assert payload_of("客服电话", GREET) == "/contact_support"
    assert payload_of("确认提交", CONFIRM) == "/affirm"
    assert payload_of("不提交", CONFIRM) == "/deny"
    assert payload_of("10万元以上", VOLUME) == "3"
    assert payload_of("很满意", SCORE) == "5"
    assert payload_of("满意", SCORE) == "4"
    assert payload_of("不满意", SCORE) == "2"


# --- refusals: ids, amounts, long texts, questions, negation, ties, no buttons --------------
@pytest.mark.parametrize(
    "typed",
    ["1900000002", "1900 0000 02", "0002", "AP20261120001", "13800000002", "3", "0",
     "帮我挑一个吗？", "不帮我挑一个", "2 帮我挑一个", "我想问一下外地客户到底怎么付款比较好呢",
     "懂了", "查账户", ""],
)
def test_what_is_not_a_choice_of_the_offer(typed: str) -> None:
    assert payload_of(typed, REMOTE_OFFER) is None


@pytest.mark.parametrize("typed", ["2万", "2 万", "1万", "10万", "5万", "八千", "1.5w", "20000"])
def test_amounts_are_never_taken_as_the_volume_buttons(typed: str) -> None:
    assert payload_of(typed, VOLUME) is None


@pytest.mark.parametrize("typed", ["确认", "提交", "不确认", "不交了"])
def test_yes_no_words_the_title_does_not_say_are_left_to_the_form(typed: str) -> None:
    assert payload_of(typed, CONFIRM) is None


def test_a_word_that_fits_two_buttons_picks_neither() -> None:
    assert payload_of("非常满意", SCORE) is None
    assert payload_of("满意吗", SCORE) is None


def test_no_buttons_nothing_to_pick() -> None:
    assert payload_of("1", []) is None
    assert payload_of("1", [{"text": "推荐：小程序收款通道。"}]) is None
    assert payload_of("帮我挑一个", [{"text": "好的", "buttons": [
        {"title": "官网", "url": "https://pay.weixin.qq.com"}]}]) is None


def test_the_shared_number_parser_is_unchanged() -> None:
    assert [parse_choice_number(t) for t in ("2", "第十二个", "选择二", "0002", "2万")] == [
        2, 12, 2, None, None]


# --- several lists in one turn: REST titles vs WeChat numbering ------------------------------
TWO_LISTS = [DID_YOU_MEAN[0], PAYER]


def test_rest_numbers_follow_the_titles_and_the_latest_list_wins() -> None:
    # The form's question came last: "2" answers it, as the titles showed.
    assert payload_of("2", TWO_LISTS) == "2"
    assert payload_of("提现多久到账", TWO_LISTS) == '/knowledge{"kb_entry":"withdrawal_time"}'


def test_wechat_numbers_follow_what_the_merchant_read() -> None:
    rendered = render_messages(TWO_LISTS)
    assert "2. 提现多久到账" in rendered.text and "5. 外地，远程付款" in rendered.text
    assert "5. 2 外地" not in rendered.text  # a title's own number is not shown twice
    assert payload_of("2", TWO_LISTS, across=True) == '/knowledge{"kb_entry":"withdrawal_time"}'
    assert payload_of("5", TWO_LISTS, across=True) == "2"
    assert payload_of("外地，远程付款", TWO_LISTS, across=True) == "2"
    # The render and the matcher number the same buttons the same way.
    choices = offered(TWO_LISTS, numbered_across=True)
    assert [c.payload for c in choices] == rendered.choices
    for choice in choices:
        assert f"{choice.number}. {choice.title}" in rendered.text


# --- the hook, on real trackers ---------------------------------------------------------------
class FakeProcessor:
    """parse_message as the NLU would answer a bare number: inform."""

    def __init__(self) -> None:
        self.parsed: list[str] = []

    async def parse_message(self, message: UserMessage, tracker: Any = None) -> dict[str, Any]:
        self.parsed.append(message.text)
        inform = {"name": "inform", "confidence": 0.97}
        return {"text": message.text, "intent": inform, "entities": [],
                "intent_ranking": [inform, {"name": "affirm", "confidence": 0.02}],
                "knowledge": {"decision": "keep"}}


def tracker_of(*events: Event) -> DialogueStateTracker:
    return DialogueStateTracker.from_events(
        "u1", [ActionExecuted("action_listen"), *events],
        slots=[TextSlot("paused_form", mappings=[])])


def bot(message: dict[str, Any], utter: str | None = None, **metadata: Any) -> BotUttered:
    data = {key: value for key, value in message.items() if key != "text"}
    return BotUttered(message.get("text"), data, {**({"utter_action": utter} if utter else {}),
                                                  **metadata})


def user(text: str) -> UserUttered:
    return UserUttered(text, {"name": "inform", "confidence": 1.0})


def typed(text: str, channel: str = "rest", metadata: dict[str, Any] | None = None
          ) -> UserMessage:
    return UserMessage(text, CollectingOutputChannel(), "u1", input_channel=channel,
                       metadata=metadata)


async def resolve(text: str, tracker: DialogueStateTracker, **kwargs: Any) -> UserMessage:
    return await typed_choices.resolve(FakeProcessor(), typed(text, **kwargs), tracker)  # type: ignore[arg-type]


async def test_a_typed_title_becomes_the_payload_and_keeps_what_was_typed() -> None:
    tracker = tracker_of(user("外地客户怎么付款"), bot(REMOTE_OFFER[0], "utter_remote_options"))
    message = await resolve("帮我挑一个", tracker)
    assert message.text == "/affirm"
    assert message.metadata["choice"] == {"typed": "帮我挑一个", "number": 1,
                                          "payload": "/affirm", "how": "title"}


async def test_channels_keep_the_typed_text_where_they_show_it() -> None:
    tracker = tracker_of(user("你好"), bot(GREET[0], "utter_greet"))
    wechat = await resolve("２", tracker, channel="wechat", metadata={"wechat": {"openid": "o"}})
    assert wechat.text == "/ask_abnormal_reason"
    assert wechat.metadata["wechat"] == {"openid": "o", "choice": {"number": 2, "typed": "２"}}
    widget = await resolve("客服电话", tracker, channel="widget",
                           metadata={"widget": {"message_id": "m1"}})
    assert widget.text == "/contact_support"
    assert widget.metadata["widget"] == {"message_id": "m1", "display": "客服电话"}


async def test_a_click_is_passed_on_as_it_is() -> None:
    tracker = tracker_of(user("帮我查"), bot(VOLUME[0], "utter_ask_monthly_volume"))
    message = typed("2")
    assert await typed_choices.resolve(FakeProcessor(), message, tracker) is message  # type: ignore[arg-type]
    slash = typed('/knowledge{"kb_entry":"fee_rate"}')
    assert await typed_choices.resolve(FakeProcessor(), slash, tracker) is slash  # type: ignore[arg-type]


async def test_only_the_last_bot_turn_counts() -> None:
    tracker = tracker_of(user("外地客户怎么付款"), bot(REMOTE_OFFER[0], "utter_remote_options"),
                         user("审核要多久"), bot({"text": "一般1到3个工作日。"}))
    message = await resolve("1", tracker)
    assert message.text == "1"
    assert message.parse_data["intent"]["name"] == "nlu_fallback"  # not a look-up


async def test_an_agent_message_since_ends_the_old_choices() -> None:
    tracker = tracker_of(user("你好"), bot(GREET[0], "utter_greet"),
                         BotUttered("客服小王已接入", {}, {"agent": "小王", "agent_message_id": 7}))
    message = await resolve("1", tracker)
    assert message.text == "1" and message.metadata is None
    notice = tracker_of(user("转人工"), bot(GREET[0], "utter_greet"),
                        BotUttered("客服小王已接入", {}, {"handoff_notice": "claimed"}))
    assert (await resolve("1", notice)).text == "1"


async def test_a_new_session_ends_the_old_choices() -> None:
    tracker = tracker_of(user("你好"), bot(GREET[0], "utter_greet"), SessionStarted(),
                         ActionExecuted("action_listen"))
    assert (await resolve("2", tracker)).text == "2"


async def test_a_stray_number_outside_a_form_is_not_understood_not_a_look_up() -> None:
    tracker = tracker_of(user("外地客户怎么付款"), bot({"text": "推荐：小程序收款通道。"}))
    message = await resolve("1", tracker)
    assert message.text == "1"
    parse = message.parse_data
    assert parse["intent"]["name"] == "nlu_fallback"
    assert [i["name"] for i in parse["intent_ranking"]] == ["nlu_fallback"]
    assert "knowledge" not in parse


async def test_a_merchant_id_outside_a_form_is_left_to_the_identity_check() -> None:
    tracker = tracker_of(user("外地客户怎么付款"), bot(REMOTE_OFFER[0], "utter_remote_options"))
    for text in ("1900000002", "1900000002 0002"):
        message = await resolve(text, tracker)
        assert message.text == text and message.parse_data is None


async def test_inside_a_form_numbers_without_buttons_are_the_forms() -> None:
    tracker = tracker_of(ActiveLoop("verify_form"), user("查账户"),
                         bot({"text": "请告诉我你的商户号"}, "utter_ask_merchant_id"))
    for text in ("1", "0002", "1900000002"):
        message = await resolve(text, tracker)
        assert message.text == text and message.parse_data is None


def paused_advisor(*after: Event) -> DialogueStateTracker:
    return tracker_of(
        ActiveLoop("remote_advice_form"), user("好"), bot(PAYER, "utter_ask_payer_location"),
        user("审核多久"), bot({"text": "1到3个工作日"}), bot(PAYER, "utter_remind_payer_location"),
        user("费率多少"), bot({"text": "0.6%左右"}), SlotSet("paused_form", "remote_advice_form"),
        ActiveLoop(None), bot({"text": "先放一放"}, "utter_form_paused"), *after)


async def test_a_number_after_a_paused_form_resumes_it() -> None:
    message = await resolve("2", paused_advisor(), channel="wechat",
                            metadata={"wechat": {"openid": "o"}})
    assert message.text == "/affirm"
    assert message.metadata["choice"]["resumes"] == "remote_advice_form"
    assert message.metadata["wechat"]["choice"] == {"number": 2, "typed": "2"}


async def test_a_number_the_paused_question_did_not_offer_is_not_understood() -> None:
    message = await resolve("7", paused_advisor())
    assert message.text == "7" and message.parse_data["intent"]["name"] == "nlu_fallback"


async def test_a_paused_identity_check_is_not_resumed_by_a_number() -> None:
    tracker = tracker_of(
        ActiveLoop("verify_form"), user("查账户"),
        bot({"text": "请告诉我你的商户号"}, "utter_ask_merchant_id"),
        SlotSet("paused_form", "verify_form"), ActiveLoop(None),
        bot({"text": "要继续核对身份吗？"}, "utter_pause_verify_form"))
    message = await resolve("1", tracker)
    assert message.text == "1" and message.parse_data["intent"]["name"] == "nlu_fallback"


async def test_the_hook_is_installed_once_and_guards_rasa() -> None:
    handler = MessageProcessor._handle_message_with_tracker
    assert "typed_choices" in rasa_compat.installed_hooks()
    typed_choices.install()  # idempotent
    assert MessageProcessor._handle_message_with_tracker is handler


async def test_a_failing_match_never_loses_the_turn(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    async def broken(*args: Any) -> UserMessage:
        raise RuntimeError("boom")

    async def original(self: Any, message: UserMessage, tracker: Any) -> None:
        seen.append(message.text)

    original.typed_choices = False  # type: ignore[attr-defined]
    monkeypatch.setattr(MessageProcessor, "_handle_message_with_tracker", original)
    monkeypatch.setattr(typed_choices, "resolve", broken)
    typed_choices.install()
    await MessageProcessor._handle_message_with_tracker(None, typed("1"), None)  # type: ignore[arg-type]
    assert seen == ["1"]


# --- a choice typed with something more ----------------------------------------------------
@pytest.mark.parametrize(("typed", "payload", "rest"), [
    ("1 不过你还没说为啥给我限制了呀", "/affirm", "不过你还没说为啥给我限制了呀"),
    ("1，那这几种要花钱吗", "/affirm", "那这几种要花钱吗"),
    ("第一个，但是要多久才能用", "/affirm", "但是要多久才能用"),
    ("1 帮我挑一个 顺便问下要花钱吗", "/affirm", "顺便问下要花钱吗"),
    ("2 不用了，我先问问审核要多久", "/deny", "我先问问审核要多久"),
])
def test_a_choice_and_a_question_split_into_both(typed: str, payload: str, rest: str) -> None:
    split = split_choice(typed, offered(REMOTE_OFFER))
    assert split is not None
    picked, choice, said = split
    assert (picked.choice.payload, said) == (payload, rest)
    assert choice[0] in "12第"


@pytest.mark.parametrize("typed", [
    "1 帮我挑一个", "2 不用了", "2，不用了", "1", "2 万", "3 那个是啥", "1 好的",
    "1900000002 尾号0002", "1 ok", "2 个月了还没消息"])
def test_one_thing_typed_is_never_split(typed: str) -> None:
    assert split_choice(typed, offered(REMOTE_OFFER)) is None


async def test_the_rest_is_handled_next_as_its_own_turn() -> None:
    tracker = tracker_of(user("外地客户怎么付款"), bot(REMOTE_OFFER[0], "utter_remote_options"))
    handled: list[tuple[str, Any]] = []

    class Processor(MessageProcessor):
        def __init__(self) -> None:  # noqa: D107 - no model: only handle_message is used
            pass

    async def original(self: Any, message: UserMessage) -> list[dict[str, Any]]:
        message = await typed_choices.resolve(FakeProcessor(), message, tracker)  # type: ignore[arg-type]
        handled.append((message.text, message.metadata))
        await message.output_channel.send_text_with_buttons(
            message.sender_id, f"re:{message.text}", [{"title": "1 有", "payload": "1"}])
        return message.output_channel.messages

    saved = MessageProcessor.handle_message
    try:
        MessageProcessor.handle_message = original  # type: ignore[method-assign]
        rasa_compat._install_then_handle()
        out = await MessageProcessor.handle_message(Processor(), typed("1 不过为啥限制我"))
    finally:
        MessageProcessor.handle_message = saved  # type: ignore[method-assign]
    assert [text for text, _ in handled] == ["/affirm", "不过为啥限制我"]
    assert handled[0][1]["choice"]["typed"] == "1"
    assert handled[1][1] == {"after_choice": True}
    # One reply: only the later turn's buttons are left to answer.
    assert [bool(m.get("buttons")) for m in out] == [False, True]


async def test_outside_a_turn_nothing_is_split() -> None:
    tracker = tracker_of(user("外地客户怎么付款"), bot(REMOTE_OFFER[0], "utter_remote_options"))
    message = await resolve("1 不过为啥限制我", tracker)
    assert message.text == "1 不过为啥限制我"  # no turn to hand the rest to: read whole



@pytest.mark.parametrize("typed", ["2 快点", "2！！！", "2快点", "2 谢谢", "2 赶紧"])
def test_a_number_urged_is_still_the_number(typed: str) -> None:
    assert payload_of(typed, REMOTE_OFFER) == "/deny"
    assert payload_of(typed, REMOTE_OFFER, across=True) == "/deny"


@pytest.mark.parametrize("typed", ["2万", "2 万", "3 快点", "2 我要查"])
def test_an_urged_number_never_turns_amounts_or_other_numbers_into_choices(typed: str) -> None:
    assert payload_of(typed, REMOTE_OFFER) is None
