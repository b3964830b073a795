"""What-still-works answers from the verified merchant's own facts (actions.capability)."""

from __future__ import annotations

import pytest

from actions.capability import Capabilities, asks_capability, capability_answer, question_kind

FROZEN = Capabilities(merchant="1900****03", can_collect=False, can_withdraw=False,
                      appeal_id="AP20261120001", appeal_days=8, appeal_overdue=True)
RESTRICTED = Capabilities(merchant="1900****02", can_collect=False, can_withdraw=True)
RISK = Capabilities(merchant="1900****04", can_collect=True, can_withdraw=False,
                    rejected_last=True)
NORMAL = Capabilities(merchant="1900****01", can_collect=True, can_withdraw=True)


@pytest.mark.parametrize("text", [
    "现在还能收款吗", "那我能先提一部分出来吗", "那两万块提现要多久能到", "还能用什么功能",
    "客人还能付款吗", "钱能转出来吗", "收款码还能用吗", "那我钱什么时候能提", "钱啥时候可以提",
])
def test_capability_questions_are_recognised(text: str) -> None:
    assert asks_capability(text)


@pytest.mark.parametrize("text", [
    "为什么不能提现", "怎么申诉才能恢复收款", "收款被限制了转人工", "客服电话多少", "我要申诉",
    "问的是服务商那个多通道收款码 怎么申请 收不收费", "提现到银行卡要换卡怎么弄",
    "第二次再被驳回是不是就永久不能收款了", "小程序收款手续费高不高",
    "后台那个交易异常的提示是啥意思", "顾客扫码的时候弹出一个风险提醒",
    "昨天提现了2000多 到现在一直显示处理中 都一天了 咋回事啊 钱会不会没了",
    "要不要先让客人转账给我个人微信",
])
def test_other_questions_are_left_to_their_answers(text: str) -> None:
    assert not asks_capability(text)
    assert capability_answer(text, FROZEN) is None


def test_collecting_is_answered_about_collecting() -> None:
    answer = capability_answer("现在还能收款吗", RISK)
    assert answer is not None and "收款正常" in answer and "提现" not in answer.split("。")[0]
    blocked = capability_answer("现在还能收款吗", FROZEN)
    assert blocked is not None and "收不了款" in blocked


def test_part_of_a_blocked_balance_cannot_be_taken_out() -> None:
    answer = capability_answer("那我能先提一部分出来吗", FROZEN)
    assert answer is not None
    assert "一部分也不行" in answer and "不会因此被没收" in answer


def test_when_gives_no_promise_and_the_overdue_appeal_to_chase() -> None:
    answer = capability_answer("那两万块提现要多久能到", FROZEN)
    assert answer is not None
    assert "没法给你准确日期" in answer
    assert "AP20261120001" in answer and "8个工作日" in answer and "95017" in answer


def test_an_appeal_already_on_screen_is_not_told_again() -> None:
    said = Capabilities(**{**FROZEN.__dict__, "appeal_said": True, "appeal_overdue": False})
    answer = capability_answer("那两万块提现要多久能到", said)
    assert answer is not None and "8个工作日" not in answer and "AP20261120001" in answer


def test_withdrawals_that_work_are_said_to_work() -> None:
    answer = capability_answer("钱能提出来吗", RESTRICTED)
    assert answer is not None and "就能提现" in answer and "不会因此被没收" not in answer
    assert "我要申诉" in answer  # collection is still blocked: how to get it back


def test_without_an_open_appeal_after_a_rejection_the_next_step_is_a_new_one() -> None:
    answer = capability_answer("还能提现吗", RISK)
    assert answer is not None and "没通过" in answer and "我要申诉" in answer


def test_a_normal_account_hears_only_that_everything_works() -> None:
    assert capability_answer("还能收款吗", NORMAL) == "查到商户1900****01收款正常，可以照常收。"


def test_asked_again_it_is_short_and_offers_a_person() -> None:
    first = capability_answer("还能提现吗", FROZEN)
    again = capability_answer("还能提现吗", FROZEN, again=True)
    assert first is not None and again is not None and again != first
    assert "转人工" in again and "不会因此被没收" not in again


def test_only_the_same_question_counts_as_asked_again() -> None:
    kinds = {question_kind(t) for t in ("现在还能收款吗", "那我能先提一部分出来吗", "那两万块提现要多久能到")}
    assert len(kinds) == 3
    assert question_kind("还能提现吗") == question_kind("到底能不能提现啊")


def test_customers_paying_and_a_new_code_are_a_collecting_question() -> None:
    answer = capability_answer("冻结期间顾客扫我的码付钱会怎样，要不要先换个码", FROZEN)
    assert answer is not None and "收不了款" in answer and "换个码也没用" in answer


def test_money_that_cannot_come_out_is_a_withdrawal_question() -> None:
    answer = capability_answer("那就是一分钱都提不出来是吧？大概还要多久", FROZEN)
    assert answer is not None and "提现目前是暂停的" in answer and "没法给你准确日期" in answer
