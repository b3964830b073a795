"""Shapes from the tenth new-user round (issue 19), through the trained model: a code read
out to a fake agent is the leak emergency (never the paid-money steps), and freezing one's
own account is answered; an urged number picks the button; a normal account answers what
the merchant told before the check; an authority's freeze keeps its context; a rejected
merchant asking whether to refile is told yes; a cashier is told how to collect today; a
payer whose money went to a swapped code is told how to try to recover it; the developer
asking which fields to check in code gets them."""

from __future__ import annotations

import pytest

from tests.dialogue.conftest import Talk
from tests.dialogue.test_appeal import verified

pytestmark = pytest.mark.dialogue


async def test_a_code_read_out_to_a_fake_agent_is_the_leak_emergency(talk: Talk) -> None:
    merchant = talk(channel="wechat")
    first = await merchant.say("救命 刚才10分钟前有个自称微信支付客服的打电话给我 说我商户要被封 "
                               "让我报手机收到的验证码 我就报了。。怎么办啊")
    assert first.entries[:1] == ["scam_credentials_leaked"], first.entries
    assert "95017" in first.text and "密码" in first.text
    freeze = await merchant.say("95017打了一直占线 我自己能先冻住吗")
    assert freeze.entries == ["account_freeze_self"], freeze.entries
    assert "微信安全中心" in freeze.text
    # An urged number at the handoff's question is the number.
    await merchant.say("转人工")
    urged = await merchant.say("2 快点")
    assert urged.intent == "deny", urged.intent
    assert "utter_ask_handoff_contact" in urged.responses, urged.responses


async def test_a_normal_account_answers_what_was_told_before_the_check(talk: Talk) -> None:
    merchant = talk()
    first = await merchant.say("顾客扫码付不了 提示商家收款受限")
    assert first.entries == ["customer_cannot_pay"], first.entries
    checked = await merchant.say("1900000001 尾号0001")
    assert "utter_state_normal" in checked.responses
    assert "utter_normal_followup" not in checked.responses  # no "是哪里不对劲？" again
    assert "customer_cannot_pay" in checked.entries, checked.entries
    assert "可以正常收款" in checked.text and "收款方名称" in checked.text


async def test_a_normal_account_with_nothing_told_asks_what_is_wrong(talk: Talk) -> None:
    merchant, checked = await verified(talk, "查下账户", "1900000001")
    assert checked.responses[-1] == "utter_normal_followup", checked.responses


async def test_an_authority_freeze_keeps_its_context(talk: Talk) -> None:
    person = talk(channel="wechat")
    first = await person.say("我就是个普通人 没开店 零钱被冻结了 提示被有权机关冻结 好像是公安局")
    assert first.entries == ["wallet_frozen_authority"], first.entries
    again = await person.say("你前面说审核1到3个工作日 让我申诉，到底哪个对？我在哪申诉？")
    assert again.entries == ["authority_freeze_duration"], again.entries
    assert "1到3个工作日" not in again.text and "支付限制" not in again.text


async def test_a_rejected_merchant_asking_to_refile_is_told_yes(talk: Talk) -> None:
    merchant, checked = await verified(talk, "查申诉进度", "1900000004")
    refile = await merchant.say("行吧 那被驳回了现在马上就能重新提吗 有没有次数限制 我怕提多了直接封号")
    assert refile.entries == ["appeal_resubmit_limit"], refile.entries
    assert refile.text.startswith("可以") and "我要申诉" in refile.text
    assert "utter_appeal_rejection_again" not in refile.responses


async def test_a_disowned_topic_is_not_matched(talk: Talk) -> None:
    merchant = talk()
    await merchant.say("星河数码的申诉被驳回了 凭什么")
    reply = await merchant.say("谁问你是不是官方了。。查吧 商户号1900000004 手机尾号0004，驳回理由到底写的啥")
    assert "bot_official" not in reply.entries, reply.entries
    assert "提交的材料不能证明交易真实" in reply.text


async def test_a_cashier_is_told_how_to_collect_today(talk: Talk) -> None:
    cashier = talk()
    await cashier.say("我是店里收银的，老板出差了，顾客扫码都说显示收款功能受限")
    today = await cashier.say("原来的码找不到了 老板在外地 今天下午先咋收钱啊？能不能先用我自己的微信收款码收着")
    assert today.entries == ["staff_collect_meanwhile"], today.entries
    assert "别用你自己的收款码" in today.text and "商家助手" in today.text
    assert "收款正常，可以照常收" not in today.text


async def test_a_payer_paid_to_a_swapped_code_is_told_how_to_recover(talk: Talk) -> None:
    payer = talk(channel="wechat")
    reply = await payer.say("我是顾客 扫了店里被换掉的码付了钱 能不能追回 微信赔不赔")
    assert reply.entries[:1] == ["payer_replaced_code_recover"], reply.entries
    assert "报警" in reply.text and "我没法承诺" in reply.text
    # Nothing of a merchant's frozen funds beside it.
    assert "funds_forfeit" not in reply.entries and "审核通过" not in reply.text


async def test_a_developer_asking_which_fields_gets_them(talk: Talk) -> None:
    dev = talk()
    await dev.say("我是帮客户接native支付的开发 统一下单返回 err_code_des: 商户号支付权限已被取消")
    fields = await dev.say("那代码里咋判断 return_code是SUCCESS result_code是FAIL 我按err_code判断还是匹配"
                           "err_code_des的文字？v3又返回啥")
    assert fields.entries == ["dev_detect_in_code"], fields.entries
    assert "result_code" in fields.text and "NO_AUTH" in fields.text


async def test_the_advisor_reads_unsure_and_someone_elses_shop_is_no_break_in(talk: Talk) -> None:
    merchant = talk(channel="wechat")
    await merchant.say("外地客户怎么付款比较好")
    await merchant.say("1")  # 帮我挑一个
    await merchant.say("2")  # 外地
    await merchant.say("2")  # no filed website
    unsure = await merchant.say("不确定 我侄子好像给我弄过个啥小店 不知道算不算")
    assert "account_unknown_operation" not in unsure.entries, unsure.entries
    assert "改微信登录密码" not in unsure.text
    assert await merchant.active_form() == "remote_advice_form" or any(
        r and r.startswith("utter_recommend_") for r in unsure.responses), unsure.responses


async def test_a_hong_kong_merchant_asking_to_open_a_mainland_account_is_answered(
        talk: Talk) -> None:
    hk = talk(channel="wechat")
    await hk.say("你好，我係香港微信支付商戶，點解我個帳戶收唔到錢呀？")
    reply = await hk.say("咁如果我改為喺內地開個微信支付商戶號，要準備啲咩資料？香港身份證得唔得？")
    assert reply.entries == ["merchant_open_account"], reply.entries
    assert "内地" in reply.text and "香港公司" in reply.text


async def test_where_to_see_ones_own_rate_without_a_computer(talk: Talk) -> None:
    owner = talk(channel="wechat")
    await owner.say("想问下你们手续费怎么收")
    reply = await owner.say("去哪看我自己的费率？我只用商家助手小程序，没电脑")
    assert reply.entries[:1] == ["fee_rate_where"], reply.entries
    assert "商家助手" in reply.text and "申诉" not in reply.text


async def test_a_provider_is_told_the_merchant_must_confirm_the_intent(talk: Talk) -> None:
    provider = talk()
    await provider.say("我是服务商 客户商户号一年多没交易 现在报支付权限被关闭 是不是长期没交易那种")
    reply = await provider.say("确认开户意愿能我们服务商替他点吗")
    assert reply.entries == ["confirm_account_intent"], reply.entries
    assert "商户本人" in reply.text and "替不了" in reply.text


async def test_an_answer_with_a_question_in_the_appeal_form_gets_both(talk: Talk) -> None:
    merchant, _ = await verified(talk, "查账户", "1900000002")
    await merchant.say("我要申诉")
    await merchant.say("卖水果的，老客搬去外地了，微信让我寄水果，我就发收款码给他们扫。都是真实交易")
    reply = await merchant.say("用绑定手机。对了，要交哪些材料？")
    assert "appeal_materials" in reply.entries, reply.entries
    assert reply.responses[-1] == "utter_ask_appeal_confirm", reply.responses
    assert "138****0002" in reply.text  # the phone answer was taken
