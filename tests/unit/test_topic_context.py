"""Follow-ups read with their topic: the hook that hands the entries just said to the NLU
(addons.topic_context) and the rule that reads a short message with them
(core.knowledge.decision.follow_up), without the model. Through the trained model:
scripts/check_followups.py and tests/dialogue/test_follow_ups.py."""

from __future__ import annotations

import asyncio

from rasa.core.channels.channel import UserMessage
from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    Event,
    SessionStarted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from addons import rasa_compat, topic_context
from core.knowledge.decision import Decision, follow_up
from core.knowledge.entries import Entry
from core.knowledge.matching import Candidate


def _tracker(*events: Event) -> DialogueStateTracker:
    return DialogueStateTracker.from_events("s1", [SessionStarted(), *events])


def _said(entry: str, text: str = "……") -> BotUttered:
    return BotUttered(text, metadata={"knowledge_entry": entry})


def test_the_last_turns_entries_and_the_sessions_are_the_topic() -> None:
    tracker = _tracker(
        UserUttered("怎么申诉"), _said("appeal_process"),
        UserUttered("钱怎么办"), _said("frozen_funds"), _said("funds_release_time"))
    assert topic_context.topic_of(tracker) == {
        "last": ["frozen_funds", "funds_release_time"],
        "answered": ["appeal_process", "frozen_funds", "funds_release_time"]}


def test_a_turn_without_an_entry_leaves_only_the_history() -> None:
    tracker = _tracker(UserUttered("怎么申诉"), _said("appeal_process"),
                       UserUttered("帮我查一下"), BotUttered("请发商户号"))
    assert topic_context.topic_of(tracker) == {"last": [], "answered": ["appeal_process"]}


def test_after_an_agents_reply_the_topic_is_theirs() -> None:
    tracker = _tracker(UserUttered("怎么申诉"), _said("appeal_process"),
                       BotUttered("你好，我是客服小王", metadata={"agent": "小王"}))
    assert topic_context.topic_of(tracker)["last"] == []


def test_a_new_session_forgets_the_topic() -> None:
    tracker = _tracker(UserUttered("怎么申诉"), _said("appeal_process"),
                       ActionExecuted("action_session_start"), SessionStarted())
    assert topic_context.topic_of(tracker) is None


def test_the_hook_adds_the_topic_to_a_copy_of_the_message() -> None:
    tracker = _tracker(UserUttered("钱怎么办"), _said("frozen_funds"))
    message = UserMessage("那要多久", sender_id="s1", metadata={"widget": {"x": 1}})
    handled = asyncio.run(topic_context.add_topic(None, message, tracker))  # type: ignore[arg-type]
    assert handled.metadata["topic"] == {"last": ["frozen_funds"], "answered": ["frozen_funds"]}
    assert handled.metadata["widget"] == {"x": 1} and handled.text == "那要多久"
    assert "topic" not in message.metadata


def test_a_customer_stays_the_speaker_until_they_say_they_are_the_merchant() -> None:
    message = UserMessage("那我的钱能退回来吗", sender_id="s1")
    payer = _tracker(UserUttered("我是顾客 扫了店里的码付了128 老板说没收到"))
    handled = asyncio.run(topic_context.add_topic(None, message, payer))  # type: ignore[arg-type]
    assert handled.metadata["speaker"] == "payer" and "topic" not in handled.metadata
    merchant = _tracker(UserUttered("我是顾客的时候扫码付不了"), UserUttered("不对，我是商家"))
    kept = asyncio.run(topic_context.add_topic(None, message, merchant))  # type: ignore[arg-type]
    assert kept is message  # nothing to add
    # A new session forgets who spoke.
    later = _tracker(UserUttered("我是买东西的"), ActionExecuted("action_session_start"),
                     SessionStarted())
    assert asyncio.run(topic_context.add_topic(None, message, later)) is message  # type: ignore[arg-type]


def test_the_hook_is_installed_in_front_of_typed_choices_once() -> None:
    from rasa.core.processor import MessageProcessor

    import addons  # noqa: F401 - installs the hooks

    installed = MessageProcessor._handle_message_with_tracker
    assert rasa_compat.installed_hooks() == ["topic_context", "typed_choices"]
    rasa_compat.hook_before_nlu("typed_choices", lambda *a: None)  # type: ignore[arg-type]
    assert MessageProcessor._handle_message_with_tracker is installed


def _entry(entry_id: str, tags: list[str], follow_ups: list[str] = (),
           scope: str = "ours") -> Entry:
    return Entry(id=entry_id, question=entry_id, similar=[f"{entry_id} {n}" for n in range(5)],
                 answer="…", scope=scope,
                 redirect="alipay" if scope == "redirect" else None,
                 follow_ups=list(follow_ups), tags=tags, source="test")


ENTRIES = {e.id: e for e in [
    _entry("frozen_funds", ["funds", "frozen"], ["funds_release_time"]),
    _entry("funds_release_time", ["funds", "timing"]),
    _entry("appeal_review_time", ["appeal", "timing"]),
    _entry("contact_support", ["support"]),
    _entry("redirect_alipay", ["redirect"], scope="redirect"),
]}


def _c(entry_id: str, score: float) -> Candidate:
    return Candidate(entry_id=entry_id, score=score, dense=score, lexical=score,
                     question=entry_id)


def test_a_short_follow_up_gets_the_entry_its_topic_finds() -> None:
    alone = Decision("answer", "appeal_review_time", why="intent")
    decision = follow_up(alone, "ask_unfreeze_time", 0.9,
                         [_c("appeal_review_time", 0.22)],
                         [_c("frozen_funds", 0.5), _c("funds_release_time", 0.3),
                          _c("appeal_review_time", 0.15)],
                         ENTRIES, ["frozen_funds"], ["frozen_funds"], chars=4)
    assert (decision.kind, decision.entry_id, decision.why) == \
        ("answer", "funds_release_time", "follow-up")


def test_a_sure_new_question_stays_its_own() -> None:
    alone = Decision("answer", "contact_support", why="match")
    decision = follow_up(alone, "contact_support", 0.95, [_c("contact_support", 0.6)],
                         [_c("frozen_funds", 0.5), _c("contact_support", 0.36),
                          _c("funds_release_time", 0.3)], ENTRIES, ["frozen_funds"],
                         ["frozen_funds"], chars=8)
    assert decision is alone


def test_an_answer_sure_alone_yields_to_a_family_entry_far_ahead_with_the_topic() -> None:
    alone = Decision("answer", "appeal_review_time", why="match")
    plain = [_c("appeal_review_time", 0.5), _c("funds_release_time", 0.31)]
    ahead = [_c("frozen_funds", 0.57), _c("funds_release_time", 0.44),
             _c("appeal_review_time", 0.24)]
    decision = follow_up(alone, "knowledge", 0.9, plain, ahead, ENTRIES, ["frozen_funds"],
                         ["frozen_funds"], chars=4)
    assert decision.entry_id == "funds_release_time"
    near = [_c("frozen_funds", 0.57), _c("funds_release_time", 0.44),
            _c("appeal_review_time", 0.4)]
    assert follow_up(alone, "knowledge", 0.9, plain, near, ENTRIES, ["frozen_funds"],
                     ["frozen_funds"], chars=4) is alone


def test_moves_long_messages_and_no_topic_are_left_alone() -> None:
    alone = Decision("keep", why="control")
    contextual = [_c("funds_release_time", 0.4)]
    assert follow_up(alone, "affirm", 0.9, [], contextual, ENTRIES, ["frozen_funds"],
                     [], chars=2) is alone
    assert follow_up(alone, "check_account_status", 0.8, [], contextual, ENTRIES,
                     ["frozen_funds"], [], chars=5) is alone
    fallback = Decision("keep", why="no match")
    assert follow_up(fallback, "nlu_fallback", 0.3, [], contextual, ENTRIES, [], [],
                     chars=4) is fallback
    assert follow_up(fallback, "nlu_fallback", 0.3, [], contextual, ENTRIES,
                     ["frozen_funds"], [], chars=40) is fallback


def test_never_the_entry_just_said_an_answered_one_or_a_redirect() -> None:
    fallback = Decision("keep", why="no match")
    decision = follow_up(fallback, "nlu_fallback", 0.3, [],
                         [_c("frozen_funds", 0.6), _c("redirect_alipay", 0.5),
                          _c("funds_release_time", 0.45)],
                         ENTRIES, ["frozen_funds"], ["funds_release_time", "frozen_funds"],
                         chars=4)
    assert decision is fallback


def test_outside_the_family_only_a_clear_fit_answers() -> None:
    fallback = Decision("keep", why="no match")
    close = follow_up(fallback, "nlu_fallback", 0.3, [],
                      [_c("appeal_review_time", 0.21), _c("contact_support", 0.2)],
                      ENTRIES, ["frozen_funds"], ["frozen_funds"], chars=4)
    assert close is fallback
    clear = follow_up(fallback, "nlu_fallback", 0.3, [],
                      [_c("appeal_review_time", 0.3), _c("contact_support", 0.2)],
                      ENTRIES, ["frozen_funds"], ["frozen_funds"], chars=4)
    assert clear.entry_id == "appeal_review_time"
