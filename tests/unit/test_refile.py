"""A short go-ahead to file again is the request to file (core.refile); questions about
re-filing and other things done again are not."""

from __future__ import annotations

import pytest

from core.refile import is_refile_request


@pytest.mark.parametrize("text", ["行 那你帮我重新提一个", "好 再交一次吧", "那就重新申请",
                                  "帮我再提交一份", "嗯 重新弄一个"])
def test_a_go_ahead_to_file_again(text: str) -> None:
    assert is_refile_request(text)


@pytest.mark.parametrize("text", [
    "那我撤了重新交一份会不会快点？", "重新交以后多久出结果", "重新提交要什么材料",
    "再帮我转一下人工", "帮我重新发一下验证码", "重新上传照片", "好的谢谢",
    "我上个月重新提交过一次申诉但是一直没有任何结果",
])
def test_questions_and_other_things_are_not(text: str) -> None:
    assert not is_refile_request(text)
