"""What a merchant says after asking for a person is read as about that request
(core.handoff_followup): more of the problem is added, a question is not."""

from __future__ import annotations

import pytest

from core.handoff_followup import About, about_handoff


@pytest.mark.parametrize("text", [
    "我的问题是提现一直显示处理中",
    "问题写的不对啊，帮我补一句：店里没法收款，请尽快处理",
    "你都没问我啥问题。。就是冻结申诉交了半个多月没结果 求尽快处理",
    "麻烦帮我加一句 急用钱",
])
def test_more_of_the_problem_is_added(text: str) -> None:
    assert about_handoff(text) is About.ADD


@pytest.mark.parametrize("text", ["还要等多久", "申诉材料有哪些", "你好"])
def test_other_messages_are_not_additions(text: str) -> None:
    assert about_handoff(text) is not About.ADD
