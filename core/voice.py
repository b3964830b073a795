"""Who is speaking, when the words say it: the few readings both the rasa server's
knowledge matcher and the action server need (``actions.repair.role_of`` reads the rest)."""

from __future__ import annotations

import re

# A customer paying a shop: "我是买东西的", "扫店家的码付款", "是我的问题还是商家的问题".
PAYER_VOICE = re.compile(
    r"我(是|只是)(付款|付钱|买东西)的|我是(顾客|买家|消费者|付款人|付款方)"
    r"|我不是商(户|家)(，|,|。|\s|$|我是)"
    r"|(还是|是不是)(店家|商家|卖家|老板|对方)(那边)?的问题"
    r"|(在|去)(一家|别人的?|人家的?|某个)(店|超市|饭店|餐厅|摊位?|商店)(里|上)?(扫码)?(付|买|消费|吃饭)"
    r"|我在(店里|店家|商家)(那)?(付|买|扫)"
    r"|扫(别人|店家|商家|卖家|老板|对方)的(收款)?码(付|付钱|付款|买单|支付)?"
    r"|我这边(显示)?(扣款|扣钱|钱被扣|被扣)")


def is_payer(text: str) -> bool:
    return bool(PAYER_VOICE.search(text))
