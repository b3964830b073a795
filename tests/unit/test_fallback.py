"""The fallback's wording by stage, with the rankings the model gives."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.guidance import ActionFallback, misses_in_a_row

RANKING = [{"name": "nlu_fallback", "confidence": 0.55},
           {"name": "ask_unfreeze_time", "confidence": 0.4},
           {"name": "greet", "confidence": 0.3},
           {"name": "ask_frozen_funds", "confidence": 0.2}]


def user(intent: str, text: str = "那个钱啥时候") -> dict[str, Any]:
    return {"event": "user", "text": text,
            "parse_data": {"intent": {"name": intent}, "intent_ranking": RANKING}}


def tracker(intents: list[str]) -> Tracker:
    events: list[dict[str, Any]] = []
    for intent in intents:
        events += [user(intent), {"event": "action", "name": "action_fallback"},
                   {"event": "bot", "text": "..."}]
    latest = events[-3]["parse_data"] | {"text": "那个钱啥时候"}
    return Tracker("s", {}, latest, events[:-2], False, None, {}, "action_listen")


async def run(intents: list[str]) -> list[dict[str, Any]]:
    dispatcher = CollectingDispatcher()
    await ActionFallback().run(dispatcher, tracker(intents), {})
    return dispatcher.messages


def test_misses_are_counted_back_to_the_last_understood_message() -> None:
    assert misses_in_a_row(tracker(["nlu_fallback"])) == 1
    assert misses_in_a_row(tracker(["greet", "nlu_fallback", "nlu_fallback"])) == 2
    assert misses_in_a_row(tracker(["nlu_fallback", "greet", "nlu_fallback"])) == 1


async def test_first_miss_asks_to_rephrase_with_examples() -> None:
    assert [m["response"] for m in await run(["nlu_fallback"])] == ["utter_ask_rephrase"]


async def test_second_miss_offers_the_two_likeliest_topics() -> None:
    messages = await run(["nlu_fallback", "nlu_fallback"])
    assert messages[0]["response"] == "utter_did_you_mean"
    assert [b["payload"] for b in messages[0]["buttons"]] == [
        "/ask_unfreeze_time", "/ask_frozen_funds", "/deny"]
    assert messages[0]["buttons"][0]["title"].startswith("1 ")


async def test_third_miss_offers_a_person() -> None:
    messages = await run(["nlu_fallback"] * 3)
    assert [m["response"] for m in messages] == ["utter_fallback_person"]
