"""Revisions, publishing, rollback and loading the reviewed files, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db.models import KnowledgeVector
from core.db.session import get_engine
from core.knowledge import store
from core.knowledge.entries import Entry, KnowledgeError
from tests.knowledge.conftest import fake_embed, make_entry


def session_of(url: str) -> Session:
    return Session(get_engine(url))


def test_sync_publishes_the_files_once_and_keeps_the_teams_edits(
        merchant_db: str, small_entries: list[Entry]) -> None:
    with session_of(merchant_db) as session, session.begin():
        first = store.sync(session, small_entries, embed=fake_embed)
        assert sorted(first.added) == ["appeal_process", "contact_support", "fee_rate"]
        assert store.version(session) == 3
        assert {e.id for e in store.published(session)} == {e.id for e in small_entries}
        vectors = session.scalars(select(KnowledgeVector)).all()
        assert len(vectors) == sum(len(e.questions) for e in small_entries)
    with session_of(merchant_db) as session, session.begin():
        again = store.sync(session, small_entries, embed=fake_embed)
        assert not again.changed and len(again.unchanged) == 3
        assert store.version(session) == 3
        edited = make_entry("fee_rate", "费率是多少", "团队改过的答案。",
                            "手续费多少", "扣几个点", "费率怎么算", "收款手续费", "费率高不高")
        store.save_draft(session, edited, "wang")
        store.publish(session, "fee_rate", author="wang", embed=fake_embed)
    with session_of(merchant_db) as session, session.begin():
        changed_file = [make_entry("fee_rate", "费率是多少", "文件里的新答案。",
                                   "手续费多少", "扣几个点", "费率怎么算", "收款手续费", "费率高"),
                        *small_entries[1:]]
        report = store.sync(session, changed_file, embed=fake_embed)
        assert report.kept_edits == ["fee_rate"]
        assert store.published_entries(session, ["fee_rate"])["fee_rate"].answer == "团队改过的答案。"


def test_publish_rollback_and_retire(merchant_db: str, small_entries: list[Entry]) -> None:
    with session_of(merchant_db) as session, session.begin():
        store.sync(session, small_entries, embed=fake_embed)
        v0 = store.version(session)
        draft = make_entry("fee_rate", "费率是多少", "新答案。", "手续费多少", "扣几个点",
                           "费率怎么算", "收款手续费", "费率高不高")
        revision = store.save_draft(session, draft, "wang", "clearer")
        # a draft changes nothing
        assert store.published_entries(session, ["fee_rate"])["fee_rate"].answer == "一般0.6%左右。"
        assert store.version(session) == v0
        store.publish(session, "fee_rate", revision.number, "wang", embed=fake_embed)
        assert store.published_entries(session, ["fee_rate"])["fee_rate"].answer == "新答案。"
        assert store.version(session) == v0 + 1
        store.rollback(session, "fee_rate", "wang")
        assert store.published_entries(session, ["fee_rate"])["fee_rate"].answer == "一般0.6%左右。"
        with pytest.raises(KnowledgeError, match="no earlier"):
            store.rollback(session, "fee_rate", "wang")
        store.retire(session, "fee_rate")
        assert "fee_rate" not in store.published_entries(session, ["fee_rate"])
        assert store.version(session) == v0 + 3
        statuses = [r.status.value for r in store.history(session, "fee_rate")]
        assert statuses == ["retired", "retired"]


def test_a_question_another_entry_answers_cannot_be_published(
        merchant_db: str, small_entries: list[Entry]) -> None:
    with session_of(merchant_db) as session, session.begin():
        store.sync(session, small_entries, embed=fake_embed)
        thief = make_entry("fee_rate_lower", "费率能降吗", "看合同。", "能便宜点吗", "降费率",
                           "費率是多少！", "优惠费率", "费率太高")
        store.save_draft(session, thief, "wang")
        with pytest.raises(KnowledgeError, match="already in fee_rate"):
            store.publish(session, "fee_rate_lower", author="wang", embed=fake_embed)
        assert "fee_rate_lower" not in store.published_entries(session, ["fee_rate_lower"])


def test_publishing_unknown_entries_or_revisions_is_refused(merchant_db: str) -> None:
    with session_of(merchant_db) as session, session.begin():
        with pytest.raises(KnowledgeError, match="does not exist"):
            store.publish(session, "nothing_here", embed=fake_embed)
        with pytest.raises(KnowledgeError, match="not published"):
            store.retire(session, "nothing_here")
