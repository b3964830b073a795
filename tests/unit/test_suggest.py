"""The "你是想问：" choices leave out what this session already answered (issue 19,
shape 5): offering it again leads only to "这个刚才说过了"."""

from __future__ import annotations

import asyncio

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions import knowledge
from core.knowledge.entries import Entry

ENTRIES = {i: Entry(id=i, question=f"问题{i[-1]}", answer="答") for i in ("fee_a", "fee_b", "fee_c")}


@pytest.fixture(autouse=True)
def entries(monkeypatch: pytest.MonkeyPatch) -> None:
    async def load(ids: list[str]) -> dict[str, Entry]:
        return {i: ENTRIES[i] for i in ids if i in ENTRIES}

    monkeypatch.setattr(knowledge, "load_entries", load)


def offered(ids: list[str], answered: list[str]) -> list[str]:
    dispatcher = CollectingDispatcher()
    assert asyncio.run(knowledge.suggest(dispatcher, ids, answered))
    buttons = dispatcher.messages[0]["buttons"]
    return [b["payload"].split('"')[-2] for b in buttons if "kb_entry" in b["payload"]]


def test_entries_answered_in_this_session_are_not_offered_again() -> None:
    assert offered(["fee_a", "fee_b", "fee_c"], answered=["fee_b"]) == ["fee_a", "fee_c"]


def test_when_every_choice_was_answered_they_are_still_offered() -> None:
    assert offered(["fee_a", "fee_b"], answered=["fee_a", "fee_b"]) == ["fee_a", "fee_b"]
