"""The anti-scam warning's signals (pure patterns: no database)."""

from __future__ import annotations

import pytest

from actions.guidance import looks_like_scam


@pytest.mark.parametrize(
    "text",
    ["有人说交800块就能帮我解封", "花钱找人代解封靠谱吗", "客服让我把短信验证码发给他",
     "加我微信，内部渠道帮你解冻", "解封要交多少钱", "告诉我你的支付密码",
     "还有个人说交500块就能包过，靠谱吗", "他说付两千保证通过", "包过的，收费800",
     "我还没交呢 就问问是不是真的"],
)
def test_scam_signals_are_recognised(text: str) -> None:
    assert looks_like_scam(text)


@pytest.mark.parametrize("text", ["多久能解封", "申诉要什么材料", "客服电话多少", "费率多少",
                                  "能保证申诉通过吗", "材料包括哪些"])
def test_ordinary_questions_are_not_scams(text: str) -> None:
    assert not looks_like_scam(text)
