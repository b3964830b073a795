"""Shapes from the second new-user run (issue 19), through the trained model: an id typed
in groups inside a question, then the digits alone; someone who says the merchant is not
theirs; a frozen account told plainly (never the leaked-code emergency); an appeal story
that mentions "前几天"."""

from __future__ import annotations

import pytest

from tests.dialogue.conftest import Talk
from tests.dialogue.test_identity_shapes import is_verified, say

pytestmark = pytest.mark.dialogue


async def test_an_id_in_groups_in_a_question_then_the_digits_alone_pass_the_check(
        talk: Talk) -> None:
    merchant = talk()
    names = await say(merchant, "请问下我商户号 1900 0000 02 ，昨天收的钱今天还没到银行卡，是不是被延迟结算了")
    assert "id:ask_digits" in names or "utter_ask_phone_last4" in names, names
    names = await say(merchant, "0002")
    assert names[0] == "utter_verified", names  # not "请告诉我你的商户号" again
    assert await is_verified(merchant)


async def test_someone_who_says_the_merchant_is_not_theirs_is_never_shown_it(
        talk: Talk) -> None:
    neighbour = talk()
    await say(neighbour, "帮我查下1900000003的状态")
    names = await say(neighbour, "这不是我的 是我隔壁老王的店 他被冻结了我想看看是啥原因 我没他手机号")
    assert "id:third_party" in names, names
    names = await say(neighbour, "老王刚微信告诉我了 1900000003 尾号0003 你帮他查")
    assert "utter_verified" not in names, names
    assert {"id:third_party", "id:third_party_again"} & set(names), names
    assert not await is_verified(neighbour)


@pytest.mark.parametrize("text", [
    "請問一下，我的帳戶被凍結了，錢提不出來，我年紀大了不太會用手機，要怎麼辦才好？",
    "我沒有給別人驗證碼啊，是微信支付說我的商戶號凍結了。我是賣早餐的。",
])
async def test_a_plain_freeze_never_gets_the_leaked_code_emergency(talk: Talk, text: str) -> None:
    names = await say(talk(), text)
    assert not any(str(n).startswith(("kb:scam_", "utter_scam", "utter_anti_scam")) for n in names), names


async def test_an_appeal_story_saying_a_few_days_ago_is_the_description(talk: Talk) -> None:
    merchant = talk()
    await say(merchant, "我要申诉")
    await say(merchant, "1900000002 0002")
    await say(merchant, "1")
    names = await say(merchant, "我在县城开早餐店 卖包子豆浆油条 开了6年了 平时都是客人在店里扫码 前几天有几个"
                                "老顾客回外地老家 他们远程扫码先付的钱 老人过来拿 一共也就七八单 每单十几块")
    assert "utter_digression_unclear" not in names, names
    assert await merchant.slot("appeal_description"), names


@pytest.mark.parametrize("reply", ["都行", "不太懂", "你直接推荐一个吧 我没网站 没小程序 也不会弄"])
async def test_leaving_the_choice_to_us_at_the_advisors_offer_starts_it(
        talk: Talk, reply: str) -> None:
    merchant = talk()
    await say(merchant, "外地客户怎么付款")
    names = await say(merchant, reply)
    assert await merchant.slot("requested_slot") or any(
        str(n).startswith("utter_recommend_") for n in names), names
    if "没网站" in reply:
        asked = list(names)
        for answer in ["外地的多", "不急", "一个月两三万"]:
            if any(str(n).startswith("utter_recommend_") for n in asked):
                break
            asked += await say(merchant, answer)
        assert not {"utter_ask_has_website_icp", "utter_ask_has_miniprogram"} & set(asked), asked
        assert "utter_recommend_multi_channel_code" in asked, asked


async def test_nobody_online_is_said_honestly_when_the_merchant_asks_how_long(
        talk: Talk, monkeypatch: pytest.MonkeyPatch) -> None:
    """Within the hours, nobody signed in: never "客服正在按先后处理留言"."""
    monkeypatch.setenv("HANDOFF_HOURS", "00:00-24:00")
    merchant = talk()
    await merchant.say("转人工，钱被冻结了")
    await merchant.say("2")
    await merchant.say("1")
    wait = await merchant.say("还要等多久")
    assert "正在按先后处理" not in wait.text and "没有客服在线" in wait.text, wait.text


async def test_asking_when_people_answer_gets_the_hours(
        talk: Talk, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HANDOFF_HOURS", "09:00-21:00")
    merchant = talk()
    await merchant.say("转人工")
    asked = await merchant.say("不在线？？那人工几点在线")
    assert "9:00-21:00" in asked.text, asked.text
    assert "回到你刚才的问题" not in asked.text


async def test_another_id_typed_while_verified_switches_to_it(talk: Talk) -> None:
    """"哦不对 这是我表哥的店 我自己的是1900-0000-04，尾号零零零四" after 03 was shown."""
    merchant = talk()
    await say(merchant, "帮我查下商户状态，商户号：１９００ ０００ ００３，手机尾号是0003")
    names = await say(merchant, "哦不对不对 这是我表哥的店 我自己的是 1900-0000-04，尾号 零零零四")
    assert "utter_unbound" in names and "utter_verified" in names, names
    assert "utter_state_risk_controlled" in names, names


async def test_asking_the_same_again_gets_the_answer_in_one_sentence(talk: Talk) -> None:
    """"所以你到底是不是官方的？一句话" after the answer: its first sentence, not "说过了"."""
    merchant = talk()
    first = await merchant.say("你们是官方客服吗")
    assert first.entries == ["bot_official"], first.entries
    gist = first.text.split("。")[0]
    again = await merchant.say("所以你到底是不是官方的？一句话")
    assert gist in again.text and again.text != first.text, again.text


async def test_right_after_filing_the_merchant_is_not_told_to_appeal_again(talk: Talk) -> None:
    merchant = talk()
    for text in ["我要申诉", "1900000002 0002", "1",
                 "卖早餐的，几个老顾客在外地帮家里老人付了早餐钱，都是真实交易", "用绑定手机", "确认"]:
        await merchant.say(text)
    reply = await merchant.say("余额还能提现吗")
    assert "我要申诉" not in reply.text and "审核" in reply.text, reply.text


async def test_someone_who_waited_two_weeks_is_not_told_one_to_three_days(talk: Talk) -> None:
    reply = await talk().say("申诉交上去两个星期了一点消息都没有 到底还要等多久啊 店里的钱全冻着 房租都交不起了")
    assert "超时" in reply.text and "95017" in reply.text, reply.text


async def test_asking_to_withdraw_a_little_while_frozen_is_answered_not_the_status_again(
        talk: Talk) -> None:
    merchant = talk()
    await say(merchant, "查申诉进度 1900000003 尾号0003")
    reply = await merchant.say("那审核期间冻结的钱能不能先提一点出来交房租？")
    assert "还是审核中，和刚才查到的一样" not in reply.text, reply.text
    assert "提" in reply.text, reply.text


async def test_an_appeal_the_merchant_did_not_file_gets_what_to_do(talk: Talk) -> None:
    merchant = talk()
    await say(merchant, "1900000003 尾号0003 帮我查下账户")
    names = await say(merchant, "AP20261120001这个申诉不是我交的，是谁交的？是不是有人用我的号")
    assert "kb:account_unknown_operation" in names, names


async def test_money_back_after_a_scam_is_about_the_money_sent(talk: Talk) -> None:
    merchant = talk()
    await say(merchant, "我已经转了500块给那个说能解封的顾问，现在联系不上了")
    names = await say(merchant, "咁即係佢係呃人㗎？我500蚊仲攞唔攞得返？")
    assert not {"kb:frozen_funds", "kb:funds_forfeit"} & set(names), names


@pytest.mark.parametrize("text", ["商户号被冻结了钱提不出来", "我的商户号被冻结了 钱提不出来怎么办"])
async def test_a_merchant_freeze_is_not_a_bank_card_freeze(talk: Talk, text: str) -> None:
    names = await say(talk(), text)
    assert "kb:personal_card_frozen_merchant" not in names, names


async def test_a_withdrawal_under_way_is_not_answered_with_you_can_withdraw(talk: Talk) -> None:
    merchant = talk()
    await say(merchant, "1900000001 尾号0001 查下账户")
    names = await say(merchant, "提现记录一直显示处理中，已经十几个小时了，啥时候到")
    assert "kb:settlement_not_arrived" in names, names


async def test_a_correction_with_a_spelled_out_id_and_the_digits_checks_the_new_pair(
        talk: Talk) -> None:
    merchant = talk()
    await say(merchant, "查账户")
    await say(merchant, "1900000003")
    names = await say(merchant, "哦不对 我记错了 是一九零零零零零零零二，尾号0002")
    assert "utter_verified" in names, names
    assert "utter_state_restricted" in names, names


@pytest.mark.parametrize("text", ["不核对 直接人工 你们人工几点上班？现在排队要多久",
                                  "我说了不核对！！！直接转人工"])
async def test_refusing_the_check_at_the_handoff_goes_on_to_the_queue(
        talk: Talk, text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HANDOFF_HOURS", "00:00-24:00")
    merchant = talk()
    await merchant.say("转人工，钱被冻结了")
    reply = await merchant.say(text)
    assert "要先核对身份吗" not in reply.text, reply.text


async def test_a_neighbour_without_an_id_is_not_asked_for_theirs(talk: Talk) -> None:
    neighbour = talk()
    await say(neighbour, "帮我查下账户状态")
    names = await say(neighbour, "不是我的号 是隔壁王姐的店 别问商户号了 她该怎么办")
    assert "id:third_party" in names, names
    assert not {"utter_ask_merchant_id", "utter_remind_merchant_id"} & set(names), names
