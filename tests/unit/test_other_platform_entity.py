"""The other_platform entity: another platform or a bank, normalized to a small set."""

from __future__ import annotations

from pathlib import Path

import jieba
import pytest

from addons.nlu.spacy_entity_ruler import build_pipeline, read_patterns
from core.text import normalize

LEXICON = Path(__file__).resolve().parents[2] / "data" / "lexicon"
VALUES = {"alipay", "bank", "douyin", "kuaishou", "taobao", "pinduoduo", "meituan", "jd", "qq",
          "unionpay", "shopee", "other", "wechat_social", "game", "loan", "hotline"}


@pytest.fixture(scope="module")
def nlp():  # type: ignore[no-untyped-def]
    for dictionary in sorted((LEXICON / "jieba").iterdir()):
        jieba.load_userdict(str(dictionary))
    return build_pipeline(read_patterns(LEXICON / "entity_patterns.jsonl"))


def platforms(nlp, text: str) -> list[str]:  # type: ignore[no-untyped-def]
    doc = nlp(normalize(text).text)
    return [ent.ent_id_ for ent in doc.ents if ent.label_ == "other_platform"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("支付宝收钱码被限制收款了怎么办", "alipay"),
        ("支付寶帳戶被凍結了", "alipay"),
        ("95188打不通", "alipay"),
        ("花呗收钱被关闭了", "alipay"),
        ("我的工商银行卡被限制非柜面交易", "bank"),
        ("银行卡变成只收不付了", "bank"),
        ("信用卡被降额了", "bank"),
        ("抖店提示资金保护中", "douyin"),
        ("抖音小店的货款被冻结", "douyin"),
        ("快手小店保证金多久能退", "kuaishou"),
        ("淘宝店铺被冻结了", "taobao"),
        ("千牛后台显示店铺被监管", "taobao"),
        ("拼多多货款被冻结了", "pinduoduo"),
        ("美团外卖的账户被冻结了", "meituan"),
        ("京东白条用不了了", "jd"),
        ("QQ钱包被冻结了", "qq"),
        ("云闪付被限制收款了", "unionpay"),
        ("Shopee店铺被冻结了", "shopee"),
        ("虾皮的回款一直没到账", "shopee"),
        ("PayPal账户被限制了", "other"),
        ("微信号被封了怎么解封", "wechat_social"),
        ("和平精英被封十年，我没开挂", "game"),
        ("王者荣耀充值退款找谁", "game"),
        ("想贷款周转一下", "loan"),
        ("分付怎么关闭", "loan"),
        ("12306人工客服怎么转", "hotline"),
        ("中国移动的客服电话", "hotline"),
    ],
)
def test_platform_and_bank_words_are_normalized(nlp, text: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    assert platforms(nlp, text) and set(platforms(nlp, text)) == {expected}


def test_moving_from_alipay_to_wechat_still_names_alipay(nlp) -> None:  # type: ignore[no-untyped-def]
    # In scope (the intent decides); the entity is there for the answer to use or not.
    assert platforms(nlp, "以前用支付宝收款，现在换成微信经营收款码被限制了") == ["alipay"]


@pytest.mark.parametrize(
    "text", ["我的收款码被限制了怎么办", "商户号1900000002被冻结了", "95017打不通", "微信支付客服电话多少",
             "遇到电信诈骗了怎么办", "商户号被限制会影响征信吗", "开游戏厅的收款码被限了"]
)
def test_wechat_collection_questions_name_no_other_platform(nlp, text: str) -> None:  # type: ignore[no-untyped-def]
    assert platforms(nlp, text) == []


def test_every_pattern_value_is_in_the_documented_set() -> None:
    patterns = read_patterns(LEXICON / "entity_patterns.jsonl")
    values = {p["id"] for p in patterns if p["label"] == "other_platform"}
    assert values == VALUES
