"""Shapes from the sixth new-user round (issue 19), through the trained model: a scam
told on another platform gets the warning and no redirect to that platform; a frozen
merchant who already saw the status and asks about the money is told the money is theirs;
a cashier is told what to tell the owner; a rejected merchant is told plainly that they
may resubmit, and that materials sent now would reach no appeal."""

from __future__ import annotations

import re

import pytest

from tests.dialogue.conftest import Talk
from tests.dialogue.test_appeal import verified

pytestmark = pytest.mark.dialogue


async def test_a_scam_on_another_platform_is_a_warning_not_a_redirect(talk: Talk) -> None:
    reply = await talk().say("抖音上有个人说交1500块能帮我解封商户号，靠谱吗")
    assert reply.entries and str(reply.entries[0]).startswith("scam_"), reply.entries
    assert not any(str(e).startswith("redirect_") for e in reply.entries), reply.entries
    assert "抖音平台处理" not in reply.text
    # A question that is the platform's own still goes there.
    shop = await talk().say("淘宝店铺保证金怎么退")
    assert shop.entries == ["redirect_taobao"], shop.entries


async def test_the_money_after_the_status_is_not_the_status_again(talk: Talk) -> None:
    merchant, checked = await verified(talk, "我的店收款被冻结了", "1900000003")
    assert "utter_appeal_status" in checked.responses, checked.responses
    money = await merchant.say("这钱是不是没了 房租咋办")
    assert money.responses == ["utter_funds_wait_review"], money.responses
    assert "钱还是你的" in money.text and "95017" in money.text
    assert "AP20261120001" in money.text  # the appeal it waits for


async def test_a_cashier_is_told_what_to_tell_the_owner(talk: Talk) -> None:
    cashier = talk()
    first = await cashier.say("我是店里的收银员，顾客扫码付不了钱")
    assert first.entries == ["customer_cannot_pay"], first.entries
    assert "老板" in first.text and "你的账户" not in first.text
    assert "后4位" not in first.text  # no identity check for staff
    tell = await cashier.say("该怎么跟老板说")
    assert tell.entries == ["staff_tell_owner"], tell.entries
    assert "风险处理" in tell.text and "换绑" not in tell.text


async def test_a_rejected_merchant_may_resubmit_and_materials_wait_for_it(talk: Talk) -> None:
    merchant, _ = await verified(talk, "查申诉进度", "1900000004")
    again = await merchant.say("驳回了还能再申诉吗")
    assert "我要申诉" in again.text, again.text
    photos = await merchant.say("材料照片能直接发你吗")
    assert photos.entries == ["materials_send_here"], photos.entries
    assert "驳回" in photos.text and "我要申诉" in photos.text
    assert not photos.text.startswith("可以")


async def test_materials_before_any_appeal_are_not_promised_to_reach_one(talk: Talk) -> None:
    merchant, _ = await verified(talk, "查下账户", "1900000001")
    photos = await merchant.say("执照照片能直接发这儿吗")
    assert photos.entries == ["materials_send_here"], photos.entries
    assert "还没有审核中的申诉" in photos.text, photos.text


async def test_an_angry_overdue_story_is_the_status_look_up(talk: Talk) -> None:
    merchant = talk()
    first = await merchant.say("你们到底怎么回事啊！！我商户号被冻结了申诉交上去快两个星期了一点动静都没有，"
                               "下周就要发工资了钱全卡在里面，我是不是要重新再交一次申诉？？")
    assert "utter_ask_rephrase" not in first.responses, first.responses
    checked = await merchant.say("1900000003 0003")
    assert "utter_appeal_status" in checked.responses and "先别重复提交" in checked.text


async def test_a_waiting_appeal_is_not_a_new_account_review(talk: Talk) -> None:
    reply = await talk().say("就是商户号冻结了啊 申诉审核中 等了快2周 钱提不出来")
    assert reply.entries == ["appeal_overdue"], reply.entries


@pytest.mark.parametrize(("text", "entry"), [
    ("我就想知道：一个子商户被关支付权限，会不会影响我们服务商自己的商户号？", "sp_own_account_affected"),
    ("我就要一句下单失败时给付款人看的提示语，比如弹窗里写什么", "dev_buyer_message"),
    ("结果出来了你们咋通知我？打电话还是发短信？", "appeal_result_notice"),
    ("我手机里有发货单和进货单的照片，能直接发给你吗？发这里行不行", "materials_send_here"),
])
async def test_new_user_asks_of_the_sixth_round(talk: Talk, text: str, entry: str) -> None:
    reply = await talk().say(text)
    assert reply.entries == [entry], reply.entries


async def test_a_frozen_wallet_is_a_personal_users_and_the_police_question_answered(
        talk: Talk) -> None:
    person = talk(channel="wechat")
    await person.say("你好 我微信零钱被冻结了 提示说什么有权机关冻结 我也没做啥坏事啊 钱要怎么才能拿出来")
    police = await person.say("那我是不是要去派出所啊 会不会被抓 我真的不知道朋友那钱是啥来路")
    assert police.entries == ["authority_contact_police"], police.entries
    money = await person.say("帮我查下冻结了多少钱")
    assert "商家助手" not in money.text and "后4位" not in money.text, money.text


async def test_a_payer_who_sees_a_personal_name_is_not_told_their_code_was_swapped(
        talk: Talk) -> None:
    payer = talk()
    await payer.say("我在一家店扫码付了268 微信显示支付成功钱也扣了 老板硬说没收到 让我再付一次 这咋整")
    name = await payer.say("账单里就是支付成功 收款方写的是个人名字不是店名 老板是不是在骗我啊？我要不要再付一次")
    assert name.entries[0] in ("scam_qr_replaced", "payer_pay_again"), name.entries
    assert "先别" in name.text and "换回你自己的码" not in name.text, name.text
    bye = await payer.say("好的 我先不付了 跟老板对一下码 3Q")
    assert bye.intent == "thank" and not any(bye.entries), (bye.intent, bye.entries)


def add_material(db_url: str, appeal_id: str, merchant_id: str, name: str) -> None:
    from sqlalchemy.orm import Session

    from core.db.models import Material, MaterialStatus
    from core.db.session import get_engine

    with Session(get_engine(db_url)) as session, session.begin():
        session.add(Material(appeal_id=appeal_id, merchant_id=merchant_id, channel="widget",
                             source_ref=f"widget:{name}", kind="jpeg", content_type="image/jpeg",
                             size_bytes=1000, sha256="0" * 64, original_name=name,
                             storage_key=f"k/{name}", status=MaterialStatus.clean))


async def test_the_checklist_is_offered_at_filing_and_ticked_by_what_arrived(
        talk: Talk, fresh_db: str) -> None:
    merchant, _ = await verified(talk, "我要申诉", "1900000002")
    await merchant.say("外地的老客户扫店里的码买水果，都有聊天记录")
    await merchant.say("用绑定手机")
    filed = await merchant.say("确认")
    assert "utter_appeal_filed" in filed.responses
    assert "和客户的聊天记录" in filed.text and "还缺什么材料" in filed.text
    appeal_id = re.search(r"AP\d{11}", filed.text).group(0)
    add_material(fresh_db, appeal_id, "1900000002", "订单截图.jpg")
    missing = await merchant.say("还缺什么材料")
    assert f"申诉 {appeal_id} 在这里收到了 1 份文件" in missing.text, missing.text
    assert "✓ 真实订单" in missing.text and "□ 和客户的聊天记录" in missing.text


async def test_a_handoff_problem_about_the_own_account_waits_for_the_check(
        talk: Talk, fresh_db: str) -> None:
    merchant = talk(channel="wechat")
    await merchant.say("人工")
    asked = await merchant.say("我就想问下我这个商户号为啥老是提示交易异常啊，是不是被限制了？")
    assert "核对身份后我先帮你查一下" in asked.text, asked.text
    assert "merchant_dormant" not in asked.entries, asked.entries


async def test_ids_given_late_in_the_handoff_show_the_state(talk: Talk) -> None:
    merchant = talk()
    await merchant.say("人工")
    await merchant.say("收款到账好像不太对，想找人看看")
    await merchant.say("不用核对")
    checked = await merchant.say("那算了还是你帮我查吧 1900000001 0001")
    assert checked.responses[0] == "utter_verified", checked.responses
    assert "utter_state_normal" in checked.responses, checked.responses


async def test_asking_what_the_phrase_is_explains_it_and_saves_nothing(
        talk: Talk, fresh_db: str) -> None:
    from tests.dialogue.test_appeal_notices import consent_phrase

    merchant, _ = await verified(talk, "查申诉进度", "1900000003")
    asked = await merchant.say("暗号那个到底咋设")
    assert "暗号 山茶花" in asked.text, asked.text
    assert consent_phrase(fresh_db, "AP20261120001") is None
    saved = await merchant.say("暗号 老槐树")
    assert saved.responses == ["utter_notice_phrase_saved"], saved.responses


async def test_a_payer_told_to_pay_again_and_leaving_with_typo_thanks(talk: Talk) -> None:
    payer = talk()
    await payer.say("我是买东西付钱的 刚才在一家店扫码付了268 我这边显示已扣款 老板说他那边没收到钱")
    again = await payer.say("那钱是进了贴码那个人的账户 不是老板的 找老板退也没用啊。我就想知道我还要不要再给老板付一次")
    assert again.entries == ["payer_pay_again"], again.entries
    bye = await payer.say("你说的啥啊 我不是老板 我是顾客。算了我先报警 谢谢啦辛苦了 xiexei")
    assert bye.intent == "thank" and not any(bye.entries), (bye.intent, bye.entries)


async def test_a_hk_merchant_asking_about_a_mainland_account_stays_hk(talk: Talk) -> None:
    merchant = talk()
    await merchant.say("你好，我喺香港開舖，用緊WeChat Pay HK收錢，今日個商戶賬戶話被限制咗收款，請問應該搵邊個處理？")
    fees = await merchant.say("咁即係95017唔啱用？另外想問下手續費，WeChat Pay HK收費幾多？如果我轉去開內地商戶號，費率係咪0.6%？")
    assert fees.entries == ["wechat_pay_hk"], fees.entries
    again = await merchant.say("咁香港嗰邊嘅費率呢？我係香港公司，冇內地營業執照")
    assert again.entries == ["wechat_pay_hk"], again.entries
