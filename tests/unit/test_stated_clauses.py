"""What a merchant already said counts in the advisor, also when typed with spaces
instead of commas (actions.remote_collection.clauses)."""

from __future__ import annotations

from actions.remote_collection import _stated, clauses


def test_clauses_typed_with_spaces_are_read_one_by_one() -> None:
    text = "我做民宿的 客人都是外地提前订房付定金 被限制收款了 以后该用啥收款方式"
    assert "客人都是外地提前订房付定金" in clauses(text)
    assert "remote" in [_stated(clause)["payer_location"] for clause in clauses(text)]


def test_a_negation_typed_apart_stays_with_what_it_negates() -> None:
    assert "没有外地客户" in clauses("没有 外地客户 都是街坊")
    assert "外地客户" not in clauses("没有 外地客户 都是街坊")


def test_commas_still_split() -> None:
    assert clauses("客户都在外地，有网站但没备案，怎么收款") == ["客户都在外地", "有网站但没备案", "怎么收款"]
