"""Who is speaking, when the words say it: the few readings both the rasa server's
knowledge matcher and the action server need (``actions.repair.role_of`` reads the rest)."""

from __future__ import annotations

import re

# A customer paying a shop: "我是买东西的", "扫店家的码付款", "是我的问题还是商家的问题".
PAYER_VOICE = re.compile(
    r"我(是|只是)(付款|付钱|买东西)的|我是(顾客|买家|消费者|付款人|付款方)"
    r"|我不是商(户|家)(，|,|。|\s|$|我是)"
    r"|(还是|是不是)(店家|商家|卖家|老板|对方)(那边)?的问题"
    r"|(在|去)(一家|一个|别人的?|人家的?|某个|楼下的?|路边的?)[^，。,.]{0,4}(店|超市|饭店|饭馆|馆子|餐厅|摊位?|商店|面馆)"
    r"(里|上)?(扫码|扫了码)?(付|买|消费|吃饭)"
    # "付款记录上收款人名字是个不认识的人": the payer's own bill.
    r"|(付款|支付|账单)(记录|详情|页面)?(上|里)?(的)?收款(人|方)"
    r"|我在(店里|店家|商家)(那)?(付|买|扫)"
    r"|扫(别人|店家|商家|卖家|老板|对方)的(收款)?码(付|付钱|付款|买单|支付)?"
    r"|我这边(显示)?(扣款|扣钱|钱被扣|被扣)"
    # "我又不是商家", "扫了店里被换掉的码付了128", "老板说他没收到我付的钱".
    r"|我(又|也|可|并)不是(商家|商户|老板|店家|卖家)"
    r"|我(是|就)?扫了?(店里|店家|商家|他家|人家)[^，。,.]{0,8}码[^，。,.]{0,4}付"
    r"|(老板|店家|商家)[^，。,.]{0,8}(没收到|没有收到|没到账)[^，。,.]{0,6}(我|我的)?付的")


def is_payer(text: str) -> bool:
    return bool(PAYER_VOICE.search(text))


# "我是商家", "我就是老板", "我自己开店的": the speaker is the merchant after all.
MERCHANT_VOICE = re.compile(r"我(就|才|自己)?是(这家店的|店里的)?(商家|商户|老板|店主|卖家)(啊|呀|本人)?(?!吗)"
                            r"|我(自己)?(开|开了)(个|家)?(店|小店|铺子)的")


def payer_in(texts: list[str]) -> bool:
    """Whether, of the conversation's user messages (oldest first), the latest that says
    who is speaking says it is a customer paying a shop: a payer stays one for the
    follow-ups that no longer say so ("那我的钱呢")."""
    for text in reversed(texts):
        if is_payer(text):
            return True
        if MERCHANT_VOICE.search(text):
            return False
    return False


# What a scam story says: someone asking for money, a code or a password, a fake helper
# or notice, a swapped code, renting out a code. A frozen account without any of it
# ("我的帐户被冻结了，钱提不出来") is not one: the scam entries are for these stories only.
SCAM_CUE = re.compile(
    r"骗|诈|验证码|校验码|动态码|密码|转账|转了|打钱|交钱|交了|付了|保证金|押金|定金|解封费|解冻费|激活费"
    r"|顾问|中介|代办|陌生|冒充|自称|假(的|冒|客服|通知|短信)|屏幕共享|共享屏幕|萤幕共享|远程(操作|控制|协助|操控|软件)|向日葵|todesk"
    r"|链接|加(我)?(的)?(微信|好友|qq|vx)|私信|包过|包解|包通过|内部|渠道|被盗|盗号|泄露|泄漏|钓鱼"
    r"|96110|110|报警|刷单|出租|出借|借码|卖码|租码|收购|兼职|佣金|返利|码被换|换了?码|贴了|覆盖"
    r"|收款方(的)?(名字|名称)?(不是|不对|变了)|收款(人|方)[^，。,.]{0,6}(不认识|陌生)|别人的码|名字不是|换了|换我的|偷换|被人换|贴了"
    r"|代申诉|工作室|收费|付费|专业解封|广告|配合|年审|注销|网址|点(开|击)|连结|连接|解封的人"
    r"|说是(微信|官方|客服|腾讯|工作人员|风控|银行)|自称是|打过来|打电话来|来电|是真的吗|花钱|借我|租|借(他|给|别人)|跑分|收二手|二手商户|(要|去|先|把|不用)冻结(帐户|账户|账号)|余额还在|钱没少"
    # "有个人说交1500块能帮我解封": an amount asked for, a third party offering to unfreeze.
    r"|(交|转|付|给他|给对方)\s*[0-9一二三四五六七八九十百千万两几]+\s*(块|元|千|万|百|w)"
    r"|(有人|有个人|对方|那人|那个人|他)(说)?(能|可以|会)?帮(我|你)?(解封|解冻|解除|恢复)",
    re.IGNORECASE)
# "我没有给别人验证码": the cue denied; "别让买家以为是骗子": a worry, no scam told.
SCAM_DENIED = re.compile(
    r"(以为|当成|当作|觉得|怀疑|误会)(我们|我|商家|店家|这)?(是)?(骗子|诈骗|骗人)|"
    r"(没|没有|沒|沒有|从来没|从没|并没有?|不会)(把)?(给|告诉|发给?|透露|说)(过)?(别人|任何人|对方|谁|他|她)?"
    r"(过)?(验证码|校验码|密码)|(没|没有|不是)被骗|没上当"
    r"|(跟|和)(验证码|校验码|密码)(根本|完全|一点)?(没|没有)(关系|关联)|不是(因为)?(验证码|密码)(的)?(问题|原因)")
# "有人说是我把验证码给别人了": a claim reported, when the same message denies it.
REPORTED_CLAIM = re.compile(
    r"(有人|他们|客服|对方|你们|人家)?(说|以为|怀疑|认为|讲)(是)?(因为)?我(把)?(验证码|校验码|密码)(给|告诉|发给?|泄露)"
    r"(了)?(别人|对方|他人|出去)?(了)?")


# "我根本没有", "我没泄露", "连验证码短信都没收到过": the message denies handing anything over.
DENIES = re.compile(r"(根本|从来|压根|从)(就)?(没|没有|沒)|没(有)?(泄露|泄漏|给过?|告诉过?|说过)"
                    r"|没收到过?(验证码|短信)|(验证码|短信)(都|也)没收到")
CREDENTIAL_WORDS = re.compile(r"(短信)?(验证码|校验码|动态码)|(支付|登录|交易)?密码|泄露|泄漏")


def without_denied(text: str) -> str:
    """``text`` without what it denies ("我没给别人验证码") and, when it denies, without the
    claim it answers ("有人说是我把验证码给别人了", "你们客服说我泄露了验证码") and without
    the codes it names at all: a denial is no leak story."""
    text = text or ""
    denied = SCAM_DENIED.sub("", text)
    if denied == text and not DENIES.search(text):
        return text
    return CREDENTIAL_WORDS.sub("", REPORTED_CLAIM.sub("", denied))


def tells_of_scam(text: str) -> bool:
    return bool(SCAM_CUE.search(without_denied(text)))


AUTHORITY = re.compile(r"有权机关|有權機關|机关|機關|公安|法院|司法|检察|警察|警方|派出所|刑侦|止付|涉案")


def names_an_authority(text: str) -> bool:
    """"有权机关", "公安", "法院", "司法冻结": a freeze by an authority is what the message
    is about, not the merchant's own risk control ("我这个号为啥被冻结了")."""
    return bool(AUTHORITY.search(text or ""))


def names_a_card(text: str) -> bool:
    """"银行卡", "储蓄卡", "张卡", "建行": a bank card is what the message is about."""
    return bool(re.search(r"卡|银行|[工农建招中交]行", text or ""))


# "不是我交的申诉", "陌生设备登录", "结算卡被改了不是我改的": operations the merchant did not do.
UNKNOWN_OPERATION = re.compile(
    r"不是我(本人)?(做|交|弄|改|申请|提|登|操作|绑)|我(没|从来没|压根没|没有|根本没)(有)?(交|申请|提交|登|改|操作|提现|绑)"
    r"|陌生|盗号|被盗|盗了|被人(登|用|改|操作)|别人(登|用|在用|改)|不认识的|异地登录|唔係我"
    # "我没印象交过啊", "不记得提交过".
    r"|(没(有)?印象|不记得|想不起)(我)?(自己)?(交|提交|申请|操作|申诉)过"
    # "不是我们自己办的", "是谁提交的", "有人在用我的号".
    r"|不是我(们)?(自己)?(交|提交|申请|操作|改|弄|办)的|(是)?谁(交|提交|申请|操作|改)的"
    r"|有人(在)?(动|用|登|操作)(了)?我")


# "没人盗号", "没人登我账号", "不是被盗": the merchant says it is not that.
NOT_UNKNOWN_OPERATION = re.compile(r"没(有)?人(盗|登|用)[^，。,.!！?？\s]*|没被盗|不是被盗|没有被盗")


def tells_of_unknown_operation(text: str) -> bool:
    """Someone else acting on the account is what the message tells ("我侄子给我弄过个小店"
    or "我回了1的啊" is not)."""
    return bool(UNKNOWN_OPERATION.search(NOT_UNKNOWN_OPERATION.sub("", text or "")))


# "谁问你是不是官方了", "我没问投诉啊": what the merchant says they did not ask.
DISOWNED = re.compile(r"(谁问你|谁问|我(又|也|根本|压根)?没问|没问你|我问的不是)[^，。,.!！?？\s]{0,16}[了啊呀吧嘛]*[。.!！,，\s]*")


def without_disowned(text: str) -> str:
    """The message without what it says was not asked ("谁问你是不是官方了。。查吧 驳回理由
    写的啥" -> "查吧 驳回理由写的啥"); the message itself when nothing else is left."""
    rest = DISOWNED.sub(" ", text or "").strip()
    return rest if len(rest) >= 2 else text

