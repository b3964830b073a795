"""The running index: an edit is answered within seconds, the database down is survived."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy.orm import Session

from core.db.session import get_engine
from core.knowledge import store
from core.knowledge.entries import Entry
from core.knowledge.live import LiveKnowledge
from tests.knowledge.conftest import fake_embed, make_entry


def top(live: LiveKnowledge, text: str) -> str:
    index = live.index()
    assert index is not None
    return index.search(text, fake_embed([text])[0])[0].entry_id


def test_a_published_entry_is_matched_within_seconds_without_restart(
        merchant_db: str, small_entries: list[Entry], knowledge_dir: Path) -> None:
    with Session(get_engine(merchant_db)) as session, session.begin():
        store.sync(session, small_entries, embed=fake_embed)
    live = LiveKnowledge(directory=knowledge_dir, refresh_s=0.2, embed=fake_embed)
    assert live.index().source == "database"
    assert top(live, "费率多少") == "fee_rate"
    new = make_entry("settlement_delayed", "结算变成T+7了", "延迟结算是风控措施。",
                     "T+7结算", "钱七天才到", "结算周期变长", "延迟结算", "为什么T+7")
    with Session(get_engine(merchant_db)) as session, session.begin():
        store.save_draft(session, new, "wang")
        store.publish(session, new.id, author="wang", embed=fake_embed)
    deadline = time.monotonic() + 5
    found = None
    while time.monotonic() < deadline:
        index = live.index()
        if index is not None and "settlement_delayed" in index.entries:
            found = top(live, "结算变成T+7了")
            break
        time.sleep(0.1)
    assert found == "settlement_delayed"


def test_an_empty_or_unreachable_database_answers_from_the_files(
        merchant_db: str, knowledge_dir: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    live = LiveKnowledge(directory=knowledge_dir, refresh_s=0.1, embed=fake_embed)
    assert live.index().source == "files"
    assert top(live, "怎么申诉") == "appeal_process"
    down = LiveKnowledge(directory=knowledge_dir, url="postgresql://nobody@127.0.0.1:1/none",
                         embed=fake_embed)
    assert down.index().source == "files"


def test_without_embeddings_the_lexical_signal_still_matches(
        knowledge_dir: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def broken(texts: list[str]):  # type: ignore[no-untyped-def]
        raise OSError("model file missing")

    monkeypatch.setenv("MERCHANT_DB_URL", "sqlite:///" + str(knowledge_dir / "none.db"))
    live = LiveKnowledge(directory=knowledge_dir, embed=broken)
    index = live.index()
    assert index is not None and not index.has_vectors
    assert index.search("客服电话", None)[0].entry_id == "contact_support"
