"""Reactions (actions.reactions): a short annoyed line after a wait or after advice that
did not work is read as such, and nothing longer or different is."""

from __future__ import annotations

import pytest

from actions.reactions import reaction_of


@pytest.mark.parametrize("text", ["这么久啊？？", "怎么这么慢", "太慢了吧", "等了好久了",
                                  "怎么还没结果", "都拖这么久了", "等不了了！！"])
def test_impatience_is_a_reaction(text: str) -> None:
    assert reaction_of(text) == "impatient"


@pytest.mark.parametrize("text", ["还是传不上去", "还是不行啊", "又失败了", "试了好几次都不行",
                                  "还是 打不通"])
def test_advice_that_did_not_work_is_a_reaction(text: str) -> None:
    assert reaction_of(text) == "still_failing"


@pytest.mark.parametrize("text", [
    "", "还要多久", "申诉要多久才有结果", "好的谢谢", "我要申诉",
    # A story that happens to say it was slow is a question for the matcher.
    "我的申诉提交了两个星期了一直审核中怎么这么慢到底什么时候能解冻啊",
])
def test_questions_and_other_moves_are_not(text: str) -> None:
    assert reaction_of(text) is None
