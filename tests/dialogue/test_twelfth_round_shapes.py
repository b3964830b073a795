"""Shapes from the twelfth new-user round (issue 19), through the trained model: a customer
who paid to a stranger's name is told to check with the owner first, then how to report a
swapped code and what to tell 95017, never asked for a merchant id; a cashier reporting a
wrong payee gets the swapped-code steps, not the identity check; "要不要报警" is a question;
an authority's freeze keeps its context for "一般几个月" and a partial freeze; a provider
who said they lack the phone is not asked for it again; "打了好几次" is no appeal count;
asking how long a review takes is no complaint; "我要申诉" said beside another ask starts
the appeal."""

from __future__ import annotations

import pytest

from tests.dialogue.conftest import Talk
from tests.dialogue.test_appeal import verified

pytestmark = pytest.mark.dialogue


async def test_a_customer_paid_to_a_strangers_name_is_helped_without_a_merchant_id(
        talk: Talk) -> None:
    payer = talk()
    first = await payer.say("你好 我刚在一家小饭馆扫码付了86块，老板说他没收到钱，"
                            "我一看付款记录上收款人名字是个不认识的人，这是怎么回事啊")
    assert first.entries == ["scam_qr_replaced"], first.entries
    assert "先别再付" in first.text  # the customer's variant: check with the owner first
    swapped = await payer.say("老板说那不是他 码被人换了 我这86块还能不能要回来")
    assert swapped.entries == ["payer_replaced_code_recover"], swapped.entries
    police = await payer.say("那我是要自己去报警还是老板去报？打110还是去派出所？")
    assert police.entries == ["payer_report_police"], police.entries
    call = await payer.say("算了 你就告诉我打95017跟客服怎么说能把钱追回来")
    assert call.entries == ["contact_support"], call.entries
    assert "营业执照" not in call.text and "商户号" not in call.text.replace("不用商户号", "")
    assert await payer.active_form() is None
    assert not any("utter_ask_merchant_id" in r.responses for r in payer.replies)


async def test_asking_whether_to_call_the_police_is_no_refusal(talk: Talk) -> None:
    payer = talk()
    await payer.say("我是顾客 扫了店里被换掉的码付了钱 能不能追回")
    police = await payer.say("要不要报警")
    assert police.intent != "deny" and "utter_deny_ack" not in police.responses, police.responses
    assert police.entries and police.entries[0] in ("payer_report_police",
                                                    "payer_replaced_code_recover"), police.entries


async def test_a_cashier_reporting_a_wrong_payee_is_not_checked(talk: Talk) -> None:
    cashier = talk(channel="wechat")
    await cashier.say("我是店里收银员 顾客扫码付不了说商家收款受限")
    payee = await cashier.say("有个顾客说付款时显示的收款方不是我们店")
    assert payee.entries == ["scam_qr_replaced"], payee.entries
    assert await cashier.active_form() is None
    thanks = await cashier.say("谢谢")
    assert thanks.intent == "thank" and "utter_pause_verify_form" not in thanks.responses


async def test_an_authority_freeze_keeps_its_context_for_the_usual_time(talk: Talk) -> None:
    person = talk()
    await person.say("你好 我不是开店的 就是普通用户，今天发现微信零钱被冻结了，"
                     "显示“被有权机关冻结”，这个要冻多久？")
    usual = await person.say("那到底冻多久啊 一般几个月？我朋友说他之前是临时限制，"
                             "过几天自己就解除了，我这个是不是也会自动解除")
    assert usual.entries[:1] == ["authority_freeze_duration"], usual.entries
    assert "超时" not in usual.text and "申诉编号" not in usual.text
    unfreeze = await person.say("你就说能不能帮我解冻，能还是不能？不能的话那个公安局我怎么联系")
    assert "bot_can_unfreeze" not in unfreeze.entries, unfreeze.entries
    assert "提交申诉" not in unfreeze.text
    partial = await person.say("行吧 那我明天带身份证去那个公安局问问，3千多块要是只冻一部分，"
                               "剩下的钱能提现吗")
    assert partial.entries == ["authority_partial_balance"], partial.entries


async def test_a_provider_without_the_phone_is_not_asked_for_it_again(talk: Talk) -> None:
    provider = talk()
    await provider.say("您好，我们是服务商，下面有个特约商户收款被限制了")
    await provider.say("好的 子商户号是1900000002 你帮我查下他到底啥原因被限制的，"
                       "我们这边没有他预留的手机号哈")
    later = await provider.say("行吧 我们服务商后台看了 写的是 远程收款 疑似异常 限制收款。"
                               "这种一般准备什么材料 会不会连累我们服务商号")
    assert "utter_ask_phone_last4" not in later.responses, later.responses
    assert await provider.active_form() is None
    assert "后4位" not in later.text


async def test_calling_many_times_is_no_appeal_count_and_transfers_are_answered(
        talk: Talk) -> None:
    merchant, _ = await verified(talk, "查下驳回原因", "1900000004")
    busy = await merchant.say("你说打95017 我打了好几次了根本没人接 还有别的办法没")
    assert "appeal_resubmit_limit" not in busy.entries, busy.entries
    assert busy.entries[:1] in (["support_called_no_help"], ["support_95017_busy"]), busy.entries
    transfer = await merchant.say("那我继续收款会不会钱越压越多啊 要不要先让客人转账给我个人微信？")
    assert transfer.entries == ["transfer_instead"], transfer.entries
    assert "转账" in transfer.text


async def test_asking_the_usual_review_time_is_no_complaint(talk: Talk) -> None:
    merchant = talk()
    usual = await merchant.say("那要是被限了 申诉审核一般多久啊 要等很久吗")
    assert "utter_reaction_impatient" not in usual.responses, usual.responses
    assert usual.entries == ["appeal_review_time"], usual.entries
    notice = await merchant.say("那结果出来了是发短信给我还是我要自己来问？")
    assert notice.entries == ["appeal_result_notice"], notice.entries
    appeal = await merchant.say("那我现在限制着呢 弄小程序也收不了吧？是不是得先申诉。我要申诉")
    assert await merchant.active_form() == "verify_form"
    assert await merchant.slot("lookup_purpose") == "appeal"
    assert "utter_did_you_mean" not in appeal.responses


async def test_i_want_to_appeal_beside_another_question_starts_the_appeal(talk: Talk) -> None:
    merchant = talk()
    await merchant.say("请问一下 申诉一般审核要多久啊？结果是怎么通知的 短信还是微信？")
    appeal = await merchant.say("哦哦 那我要申诉 顺便问下申诉期间还能正常收款吗？我店里每天都要用的")
    assert "utter_did_you_mean" not in appeal.responses and "utter_kb_did_you_mean" not in \
        appeal.responses, appeal.responses
    assert await merchant.active_form() == "verify_form"
    assert await merchant.slot("lookup_purpose") == "appeal"


async def test_a_site_not_filed_said_with_a_question_is_the_advisors_no(talk: Talk) -> None:
    merchant = talk(channel="wechat")
    await merchant.say("老板你好 我开水果店的 想问下外地的客户要买我的水果 怎么收钱啊")
    await merchant.say("1")
    site = await merchant.say("有个网站 但是没备案。。备案又要时间 能先用吗")
    assert await merchant.slot("has_website_icp") is False
    assert "utter_ask_has_miniprogram" in site.responses, site.responses  # never asked again
    assert "utter_ask_has_website_icp" not in site.responses


async def test_beside_an_authority_freeze_a_cause_asked_is_the_authoritys(talk: Talk) -> None:
    person = talk(channel="wechat")
    await person.say("我零钱里显示被有权机关冻结 是啥意思啊？？我又没开店 也没干啥 要冻多久")
    cause = await person.say("那到底冻多久 会不会过一阵自己就解开了？我前几天卖了个二手手机给别人"
                             "收了2000 是不是这个原因")
    assert cause.entries[:1] in (["authority_contact_police"], ["authority_freeze_duration"]), \
        cause.entries
    assert "商户" not in cause.text


async def test_a_customer_is_told_where_the_bill_number_is_and_to_keep_the_fake_code(
        talk: Talk) -> None:
    payer = talk()
    await payer.say("我是顾客 扫了路边摊的码付了45 码牌上被人贴了一层假码")
    evidence = await payer.say("交易单号在哪看啊 我找半天没找到。另外老板想把贴上去的那层码撕了，撕了还能当证据吗")
    assert evidence.entries[:1] == ["payer_bill_evidence"], evidence.entries
    assert "账单" in evidence.text and "商户号" not in evidence.text


async def test_a_withdrawal_stuck_in_processing_is_no_can_i_withdraw(talk: Talk) -> None:
    merchant, _ = await verified(talk, "查下账户", "1900000001")
    stuck = await merchant.say("昨天提现了2000多 到现在一直显示处理中 都一天了 咋回事啊 钱会不会没了")
    assert "余额现在就能提现" not in stuck.text, stuck.text
    assert stuck.entries and stuck.entries[0] in ("settlement_not_arrived", "funds_withdraw_now",
                                                  "settlement_delayed"), stuck.entries


async def test_a_provider_is_not_offered_to_file_the_merchants_appeal(talk: Talk) -> None:
    provider = talk()
    await provider.say("您好，我们是服务商，下面有个特约商户收款被限制了")
    rejected = await provider.say("子商户的申诉被驳回了 一般还能再申诉吗")
    assert "“我要申诉”" not in rejected.text, rejected.text
