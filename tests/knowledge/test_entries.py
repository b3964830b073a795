"""The entry format: every problem is reported, nothing half-valid is accepted."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from core.knowledge.entries import (
    DEFAULT_DIRECTORY,
    KnowledgeError,
    check,
    load_directory,
    parse_entry,
)


def entry(**overrides: object) -> dict:
    base = {"id": "fee_rate_test", "question": "费率是多少",
            "similar": ["手续费多少", "扣多少点", "費率怎麼算", "收款要扣钱吗", "费率咋算的"],
            "answer": "一般在0.6%左右，以合同为准。", "tags": ["fees"]}
    return {**base, **overrides}


def test_the_shipped_knowledge_base_is_valid_and_large_enough() -> None:
    entries = load_directory(DEFAULT_DIRECTORY)
    assert len(entries) >= 150
    assert all(len(e.similar) >= 5 for e in entries)
    assert {e.scope for e in entries} == {"ours", "redirect"}
    # every informational intent has its entry
    from core.knowledge.decision import INTENT_ENTRIES

    assert set(INTENT_ENTRIES.values()) <= {e.id for e in entries}


@pytest.mark.parametrize(("overrides", "problem"), [
    ({"answer": "   "}, "answer"),
    ({"answer": None}, "answer"),
    ({"answer": "很长" * 600}, "longer than"),
    ({"question": ""}, "standard question"),
    ({"similar": ["只有一个"]}, "at least 5"),
    ({"similar": ["问题"] * 61}, "at most 60"),
    ({"id": "Bad Id"}, "ids are"),
    ({"scope": "redirect"}, "redirect names"),
    ({"variants": [{"when": {"mood": "angry"}, "answer": "x"}]}, "unknown condition"),
    ({"variants": [{"when": {"state": "sleepy"}, "answer": "x"}]}, "unknown state"),
    ({"variants": [{"when": {"role": "boss"}, "answer": "x"}]}, "unknown role"),
    ({"variants": [{"when": {}, "answer": "x"}]}, "at least one condition"),
    ({"variants": [{"when": {"appeal": ["open", "late"]}, "answer": "x"}]}, "unknown appeal"),
    ({"variants": [{"when": {"appeal": []}, "answer": "x"}]}, "empty list"),
    ({"surprise": 1}, "extra fields"),
])
def test_a_broken_entry_is_refused_with_the_reason(overrides: dict, problem: str) -> None:
    with pytest.raises(KnowledgeError) as error:
        parse_entry(entry(**overrides))
    assert any(problem in p for p in error.value.problems), error.value.problems


def test_variants_answer_the_merchants_own_case() -> None:
    parsed = parse_entry(entry(variants=[
        {"when": {"state": "frozen", "can_withdraw": False}, "answer": "冻结时提现不了。"},
        {"when": {"appeal": "overdue"}, "answer": "已超时。"}]))
    assert parsed.answer_for({"state": "frozen", "can_withdraw": False}) == "冻结时提现不了。"
    assert parsed.answer_for({"state": "frozen", "can_withdraw": True}) == parsed.answer
    assert parsed.answer_for({"appeal": "overdue"}) == "已超时。"
    assert parsed.answer_for({}) == parsed.answer


def test_a_list_condition_matches_any_of_its_values() -> None:
    parsed = parse_entry(entry(variants=[
        {"when": {"appeal": ["open", "overdue"]}, "answer": "审核中。"}]))
    assert parsed.answer_for({"appeal": "open"}) == "审核中。"
    assert parsed.answer_for({"appeal": "overdue"}) == "审核中。"
    assert parsed.answer_for({"appeal": "rejected"}) == parsed.answer


def test_the_same_question_in_two_entries_is_reported_across_scripts() -> None:
    first = parse_entry(entry())
    second = parse_entry(entry(id="fee_other", similar=["費率是多少？", "b1", "b2", "b3", "b4"]))
    problems = check([first, second])
    assert any("several entries" in p and "fee_other" in p for p in problems)


def test_a_directory_reports_every_problem_at_once(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text(yaml.safe_dump({"entries": [
        entry(), entry(id="second_one", answer=""), entry(id="third_one", follow_ups=["nope"])]},
        allow_unicode=True), encoding="utf-8")
    (tmp_path / "b.yml").write_text("entries: [unclosed", encoding="utf-8")
    with pytest.raises(KnowledgeError) as error:
        load_directory(tmp_path)
    text = " | ".join(error.value.problems)
    assert "second_one" in text and "follow-up nope" in text and "b.yml" in text


def test_an_empty_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeError):
        load_directory(tmp_path)
