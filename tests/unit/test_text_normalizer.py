from __future__ import annotations

import pytest
from rasa.shared.nlu.training_data.message import Message

from addons.nlu.text_normalizer import TextNormalizer
from core.text import condense, informative_selection, normalize

SEED = "在現(xiàn)代商業(yè)活動(dòng)中,隨著網(wǎng)絡(luò)和移動(dòng)設(shè)備的迅猛發(fā)展"


def test_seed_sentence_becomes_plain_simplified() -> None:
    assert normalize(SEED).text == "在现代商业活动中,随着网络和移动设备的迅猛发展"


def test_seed_title_and_heading() -> None:
    assert normalize("微信收款賬戶異常怎么弄").text == "微信收款账户异常怎么弄"
    assert normalize("一、微信收款賬戶被風(fēng)控怎么辦?").text == "一、微信收款账户被风控怎么办?"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("尾號(0003)", "尾号(0003)"),  # digits in parentheses are not pinyin
        ("接入网站支付(API)", "接入网站支付(API)"),  # upper-case acronym stays
        ("收款(1)(2)", "收款(1)(2)"),
        ("步驟(1)在微信中搜索", "步骤(1)在微信中搜索"),
        ("現(xiàn dài)", "现"),  # multi-syllable annotation
        ("現(xian4)代", "现代"),  # numbered tones
        ("商户(ok)", "商户(ok)"),  # not a pinyin syllable
    ],
)
def test_only_pinyin_annotations_are_removed(raw: str, expected: str) -> None:
    assert normalize(raw).text == expected


def test_full_width_digits_letters_and_space() -> None:
    assert normalize("商户号１９００００００02　ＡＰ２０２６").text == "商户号1900000002 AP2026"


def test_emoji_zero_width_and_whitespace_are_tidied() -> None:
    assert normalize("  收款码😡😡被\u200b限制了\n\n\n怎么办 👍🏻 ").text == "收款码被限制了 怎么办"


def test_empty_and_emoji_only() -> None:
    assert normalize("").text == ""
    assert normalize("😀😀").text == ""


def test_mixed_scripts() -> None:
    # Full-width punctuation becomes ASCII too; 帳號 -> 账号, not OpenCC's 帐号.
    assert normalize("我的帳號被凍結了，钱还在吗").text == "我的账号被冻结了,钱还在吗"


def test_offsets_map_back_to_the_original() -> None:
    raw = "賬(zhàng)戶被凍(dòng)結"
    result = normalize(raw)
    assert result.text == "账户被冻结"
    start, end = result.original_span(3, 5, len(raw))
    assert raw[start:end] == "凍(dòng)結"
    assert result.normalized_span(raw.index("凍"), len(raw)) == (3, 5)


def test_five_thousand_characters() -> None:
    unit = "收款賬(zhàng)戶異常１２３"  # 16 characters
    raw = unit * 312 + "收" * 8
    assert len(raw) == 5000
    result = normalize(raw)
    assert len(result.source) == len(result.text)
    assert "(" not in result.text
    assert result.text.startswith("收款账户异常123")


def test_component_keeps_entity_offsets_and_bounds_length() -> None:
    component = TextNormalizer({"max_chars": 20})
    text = "商(shāng)户号１９００００００02"
    message = Message.build(text=text)
    message.set("entities", [{"start": text.index("１"), "end": len(text),
                              "value": "1900000002", "entity": "merchant_id"}])
    component.process([message])
    assert message.get("text") == "商户号1900000002"
    entity = message.get("entities")[0]
    assert message.get("text")[entity["start"]:entity["end"]] == "1900000002"

    long_message = Message.build(text="".join(chr(0x4E00 + i * 37) for i in range(100)))
    component.process([long_message])
    assert len(long_message.get("text")) == 20


def test_component_leaves_emoji_only_text_for_the_fallback() -> None:
    message = Message.build(text=" 😀😀 ")
    TextNormalizer({"max_chars": 600}).process([message])
    assert message.get("text") == "😀😀"


def condensed(text: str, max_chars: int = 600) -> str:
    return condense(normalize(text), max_chars).text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("转人工转人工转人工转人工", "转人工"),
        ("转人工 转人工,转人工!转人工", "转人工"),
        ("人工人工人工", "人工"),
        ("急急急急急 收款码被限制了！！！！", "急急 收款码被限制了!"),
        ("帮帮我,帮帮我,帮帮我,我的码被冻结了", "帮帮我,我的码被冻结了"),
        ("ok ok ok", "ok"),
        ("谢谢", "谢谢"),  # two copies are no repetition
        ("多谢多谢", "多谢多谢"),
    ],
)
def test_repeated_units_collapse(raw: str, expected: str) -> None:
    assert condensed(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["商户号1900000002 手机尾号0000", "1900000002 1900000002 1900000002", "666666", "AP20261120001"],
)
def test_digits_never_collapse(raw: str) -> None:
    assert condensed(raw) == raw


def test_repeated_sentences_are_kept_once() -> None:
    raw = "我的码被冻结了。其他都正常。我的码被冻结了。到底怎么办"
    assert condensed(raw) == "我的码被冻结了。其他都正常。到底怎么办"


def test_a_phrase_pasted_thousands_of_times_keeps_the_question() -> None:
    raw = "我要退款!" * 1000 + "请问冻结的钱多久能提出来?"
    assert len(raw) > 5000
    assert condensed(raw) == "我要退款!请问冻结的钱多久能提出来?"
    raw = "急急急急急急急急" * 600 + "客服电话多少"
    assert condensed(raw) == "急急客服电话多少"


def test_long_text_without_repeats_keeps_the_informative_sentences() -> None:
    # 5,000 characters of varied filler with one real question in the middle.
    filler = "".join(chr(0x4E00 + (i * 7919) % 20000) + ("。" if i % 40 == 39 else "")
                     for i in range(4900))
    question = "我的微信收款码被限制了,多久能解冻?"
    raw = filler[:2500] + "。" + question + filler[2500:]
    result = condensed(raw, 200)
    assert len(result) <= 200
    assert question in result


def test_informative_selection_keeps_order_and_budget() -> None:
    text = "我是开饭店的。" + "今天天气不错。" * 3 + "为什么收款码被限制了?" + "我很着急。"
    spans = informative_selection(text, 20)
    kept = "".join(text[a:b] for a, b in spans)
    assert "为什么收款码被限制了?" in kept
    assert len(kept) <= 20
    assert [a for a, _ in spans] == sorted(a for a, _ in spans)


def test_collapse_keeps_entity_offsets() -> None:
    component = TextNormalizer({"max_chars": 600})
    text = "转人工转人工转人工 商户号１９００００００02"
    message = Message.build(text=text)
    message.set("entities", [{"start": text.index("１"), "end": len(text),
                              "value": "1900000002", "entity": "merchant_id"}])
    component.process([message])
    assert message.get("text") == "转人工 商户号1900000002"
    entity = message.get("entities")[0]
    assert message.get("text")[entity["start"]:entity["end"]] == "1900000002"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("收款碼被風控了，點算", "收款码被风控了,怎么办"),
        ("我嘅收款碼突然收唔到錢", "我的收款码突然收不到钱"),
        ("點解我個商戶號俾人凍結咗", "为什么我个商户号被人冻结了"),
        ("申訴入口喺邊度", "申诉入口在哪里"),
        ("仲裁", "仲裁"),  # a Mandarin word that merely contains a Cantonese character
        ("錢甚麼時候能提", "钱什么时候能提"),
        ("審核要幾耐", "审核要多久"),  # the Taiwan/HK spelling of 什么
    ],
)
def test_cantonese_becomes_mandarin(raw: str, expected: str) -> None:
    assert normalize(raw).text == expected


def test_cantonese_replacement_keeps_offsets() -> None:
    raw = "點算 商戶號1900000002"
    result = normalize(raw)
    assert result.text == "怎么办 商户号1900000002"
    start = result.text.index("1900")
    assert result.original_span(start, start + 10, len(raw)) == (raw.index("1900"), len(raw))


@pytest.mark.parametrize(("typed", "meant"), [
    ("钱被东结了提不出来", "钱被冻结了提不出来"),
    ("微信之付收款被现制了", "微信支付收款被限制了"),
    ("申述被驳回了", "申诉被驳回了"),
    ("商护号什么时候能解东", "商户号什么时候能解冻"),
])
def test_common_input_slips_in_our_words_are_fixed(typed: str, meant: str) -> None:
    result = normalize(typed)
    assert result.text == meant
    assert len(result.source) == len(result.text)


def test_a_slip_that_is_also_a_word_stays() -> None:
    assert normalize("我开的现制奶茶店").text == "我开的现制奶茶店"
