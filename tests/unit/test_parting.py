"""Parting messages (core.parting): thanks for now, whatever topic is in the middle."""

from __future__ import annotations

import pytest

from core.parting import is_parting, parting_kind


@pytest.mark.parametrize("text", [
    "行 我打95017催一下 谢谢", "好的我先整理快递单，整理好再来，谢谢", "好吧，我先去改密码。谢了",
    "我没说信用卡啊。。算了 谢谢", "好 我打电话问 谢谢你", "吓死我了 好的我不帮他收了 谢谢啊",
    "好 我让老板自己登商家助手看 谢谢", "明白了，谢谢解答", "好吧 知道了 拜拜", "3Q", "好滴 谢啦~",
    "那个人又发消息说今天打八折，我把他拉黑了。谢谢提醒啊",
    "行 知道了", "好的，明白了", "ok 懂了", "hao de xiexie 👍",
    "呃 绑的哪个手机我忘了 算了明天再打95017问吧，谢谢",
])
def test_partings(text: str) -> None:
    assert is_parting(text)


@pytest.mark.parametrize("text", [
    "我的收款码被限制了，麻烦帮我看看，谢谢",  # a polite request
    "收款被限制了，谢谢",  # a report, nothing says it is done
    "谢谢，那驳回了还能再申诉吗",  # a question after thanks
    "好的，还要多久能解冻？谢谢",  # a question
    "我已经转了2000保证金给他了，谢谢",  # money handed over: safety first
    "好的我把验证码发给他了 谢谢",  # a code given
    "商户号1900000003 谢谢",  # an id: a look-up
    "知道了，那申诉要多久",  # understood, then a question
    "算了，那哪个方式能用？谢谢",  # giving up on one thing, asking another
    "不知道了",  # not an acknowledgement
    "",
])
def test_not_partings(text: str) -> None:
    assert not is_parting(text)


@pytest.mark.parametrize(("text", "kind"), [
    ("好的 拜拜", "goodbye"), ("行 我打95017催一下 谢谢", "thank"), ("好的谢谢 拜拜", "thank"),
    ("收到 再见", "goodbye"), ("我的收款码被限制了怎么办", None),
])
def test_a_goodbye_without_thanks_is_a_goodbye(text: str, kind: str | None) -> None:
    assert parting_kind(text) == kind


@pytest.mark.parametrize(("text", "parting"), [
    ("行，谢谢，我今晚把接龙截图整理好明天交", True),
    ("谢谢，我明天去打95017", True),
    ("谢谢，那我要怎么申诉", False),
    ("谢谢 我的收款码被限制了", False),
])
def test_thanks_then_a_plan_is_a_parting(text: str, parting: bool) -> None:
    assert is_parting(text) is parting
