"""What a message is: an answer, or something that must be handled first.

Every form runs each message through ``classify`` before anything is taken as a slot
value (see ``actions.forms.RepairingForm``); the actions outside forms use the same
safety patterns (``safety_of``). One order of precedence, in every state:

1. safety: credentials already given away or money already paid to a fake helper
   (an emergency: stop, 95017 now, change the password, the bank, the police), then a
   scam in progress (someone asks for a fee, an SMS code, a password: the warning);
2. a request for a person ("转人工");
3. cancel ("算了"), closing ("好的我明天打95017", "先这样，拜拜") and thanks ("谢谢",
   "3Q"): acknowledged, never answered with the step's format hint;
4. an answer to the current step: restart ("重新来") and corrections ("刚才的手机号说错
   了") first, then what the requested slot's own parser accepts ("1900000002", "2",
   "两万"); where the form asks who someone is, "我是服务商" / "我没有商户号" ends that
   check; "I don't know" / "skip" for a slot that has a way around it;
5. a digression: another intent the model is sure of, or a message shaped like a
   question (a question is never stored as an answer);
6. a bare acknowledgement ("好的", "嗯") that answers nothing: a brief reminder;
7. anything else is a miss: the form explains what it needs, more helpfully each time.

The patterns here are deliberately narrow: they only decide what kind of move a message
is, the NLU model and the knowledge base decide which question it is.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import Any

from rasa_sdk import Tracker

from core.handoff_followup import wants_no_person
from core.parting import is_parting
from core.voice import PAYER_VOICE, without_denied

# --- 1. safety ---------------------------------------------------------------------------
# Paying someone to unfreeze, handing over passwords or SMS codes, private "consultants",
# someone posing as support.
SCAM_SIGNAL = re.compile(
    r"(付费|花钱|收费|交钱|给钱|出钱|转账|红包|交\s*\d+).{0,8}(解封|解冻|解除|解限|开通)"
    r"|\d+\s*(块|元)[^，。,.]{0,10}(解封|解冻|解除|解限|开通)"
    r"|(解封|解冻|解限).{0,8}(付费|花钱|收费|多少钱|费用|要钱|交钱|块|元|保证金|定金|押金)"
    r"|交.{0,3}(保证金|定金|押金|解封费|解冻费|激活费)"
    r"|代解封|解封(服务|渠道|顾问|专家|团队|中介)|内部(渠道|关系|人员)"
    r"|验证码|支付密码|登录密码|交易密码|密码"
    r"|(顾问|专员|专家|老师|中介).{0,6}(微信|vx|v信|wx|qq|电话|手机)"
    # "那个顾问让我交800，我到底要不要交": a helper asking for money.
    r"|(顾问|专员|专家|老师|中介|代办|工作室)[^，。,.]{0,8}(让|叫|要|要求|催)我?[^，。,.]{0,4}(交|转|付|打)"
    r"|加.{0,4}(微信|vx|v信|wx|qq)"
    r"|冒充|假冒|仿冒|钓鱼|(自称|说是|号称).{0,8}(客服|官方|微信|员工|工作人员|风控|专员)"
    r"|共享屏幕|屏幕共享|安全账户|年审|(专业|包|快速|加急|保证)解(封|冻)"
    # Fake police: "公安的人让我把钱转过去核查".
    r"|(公安|警察|警官|法院|检察院)[^，。,.]{0,12}(让|叫|要|要求|说)我?[^，。,.]{0,8}(转账|转到|转过去|转给|转钱)"
    r"|(点|打开)(了|开)?.{0,4}(链接|网址|连接)|(链接|网址).{0,12}(填|登录|领取|解封|解冻)"
    r"|(解封|解冻|审核|申诉).{0,4}(链接|网址)|骗子|诈骗"
    r"|(不|唔)(给|交|转|付|打)(多)?\s*\d+.{0,8}就"
    # "我还没交呢 就问问是不是真的": doubting a fee asked for.
    r"|还没(有)?(交|转|付|给)(钱)?.{0,8}(是不是真的|真的假的|是真的吗|靠谱|能信|是不是骗)"
    # "交500块就能包过": a paid promise that an appeal passes.
    r"|(交|付|给|花|转)\s*[\d一二两三四五六七八九十百千万]*\s*(块|元|钱|费)?.{0,8}(包过|保过|包通过|保证(能)?通过|稳过|必过|包成功)"
    r"|(包过|保过|包通过|稳过|必过).{0,8}(块|元|钱|费|收费)",
    re.IGNORECASE,
)
_CREDENTIAL = r"(短信)?(验证码|校验码|动态码)|(支付|登录|交易|银行卡|取款|微信|商户平台)?密码|卡号|cvv|安全码"
_HAND_OVER = r"给|告诉|发给?|报给?|念给?|读给?|说给?|透露|输给|填给|截图给"
_TAKER = r"他|她|对方|骗子|别人|人家|那个人|那人|陌生人|客服|顾问|专员"
# "我把验证码给他了", "验证码告诉别人了", "告诉了对方验证码", "密码泄露了".
LEAKED = re.compile(
    rf"({_CREDENTIAL})(都|也|全|全都)?(已经|已)?({_HAND_OVER})"
    rf"|({_HAND_OVER})了?({_TAKER})了?.{{0,4}}({_CREDENTIAL})"
    rf"|({_HAND_OVER}|读|念|报|说)(了|出了?)[^，。,.]{{0,4}}({_CREDENTIAL})"
    rf"|(拿|骗|盗|偷|套|要)(走|到)?了.{{0,4}}({_CREDENTIAL})"
    rf"|({_CREDENTIAL}).{{0,6}}(泄露|泄漏|被.{{0,5}}(拿|骗|盗|偷|知道|获取|套)|说出去|给出去|发出去)"
    # "让我报手机收到的验证码 我就报了": the code, then the merchant handing it over.
    rf"|({_CREDENTIAL})[^。.!！?？]{{0,8}}我(就|也|都|还)?({_HAND_OVER}|报|念|读|说)(了|他|她|对方|给他|给她|出去)",
    re.IGNORECASE,
)
# Someone is asking for it (the warning), unless it was handed over all the same.
REQUESTED = re.compile(r"让我|叫我|要我|要求我|找我要|问我要|跟我要|向我要|索要|索取")
ASKED_FOR_CODE = re.compile(rf"({REQUESTED.pattern})[^，。,.]{{0,8}}({_CREDENTIAL})", re.IGNORECASE)
DONE = re.compile(r"了|过|已经|刚才|刚刚|不小心|之前|被|泄露|泄漏")
NOT_HANDED = re.compile(r"(还|并|都|也)?没(有)?(念|读|报|说|给|发|告诉|填)|不敢(念|给|说|报|发)")
HANDED_ANYWAY = re.compile(
    rf"已经|刚才|刚刚|不小心|我(也|就|都|还)?({_HAND_OVER})(了|过|出去)"
)
# Money already paid to a fake helper: "已经转了2000给解封顾问", "给那个顾问打了钱".
_PAID_WHO = (r"解封|解冻|解限|解除限制|顾问|中介|骗子|被骗|代办|代申诉|内部|渠道|专员|专家|老师"
             r"|工作室|客服|定金|保证金|押金|解封费|解冻费|激活费")
# A number is money unless it counts time or things ("10分钟前", "3天了", "6位数").
_MONEY = (r"钱|块|元|定金|保证金|押金|费|红包|万|(?<!\d)(?!95017|96110|110)\d{2,6}(?!\d)"
          r"(?!\s*(分钟|分|秒|小时|天|号|点|次|个|位|年|月|岁|周|遍|多?分钟))")
PAID_STRONG = re.compile(
    r"(已经|已|刚才|刚刚|上周|昨天|前天|之前|前几天)[^，。,.！!？?]{0,16}(转|付|交|打|汇|充)"
    r"|(转|付|交|打|汇|充)(了|过)|被骗"
)
PAID_WEAK = re.compile(r"(转|付|交|打|汇)给")
PAID_DONE = re.compile(r"(转|付|交|打|汇|充)(了|过)|被骗")
DOUBT = re.compile(r"要不要|能不能|该不该|是不是|可以吗|真的吗|靠谱吗|能信吗|行不行|[?？]")


class Safety(str, enum.Enum):
    SCAM = "scam"  # in progress: someone asks for a fee, a code, a password
    LEAKED = "leaked"  # an SMS code or a password already given away
    PAID = "paid"  # money already paid to a fake helper


EMERGENCIES = (Safety.LEAKED, Safety.PAID)


# "打了六次95017", "打客服电话": calling, not paying.
CALLING = re.compile(r"(打|拨)(了|过)?[^，。,.！!？?]{0,4}(次|遍|通|电话|95017|客服|热线|人工)|打(电话)?过?来")


# "我没被骗", "不是被骗": said to deny it.
NOT_SCAMMED = re.compile(r"(没有?|不是|并没有?|没)被骗|没上当")


# "我还没转钱", "交了2000是不是就能马上恢复": not paid (yet), a scam in progress.
NOT_PAID = re.compile(r"(还|并|都)?没(有)?(转|交|付|打|汇|给)(钱|款|过|他|她|对方)?|不敢(转|交|付)"
                      # "我都准备转了", "差点就转了": about to, not done.
                      r"|(准备|打算|正要|正想|差点|差一点)(就)?(要)?(转|交|付|打|汇|给)")
IF_PAID = re.compile(r"(转|付|交|打|汇|充)了[^，。,.！!]{0,12}(是不是|就能|就可以|就会|能不能|会不会|才能|才可以)")
PAID_WHEN = re.compile(r"(已经|已|刚才|刚刚|上周|昨天|前天|之前|前几天)")


# Names with 付 or 支付 in them: "微信支付客服打电话" tells of no payment.
PAYMENT_NAMES = re.compile(r"微信支付|支付宝|支付密码|支付账户|支付功能|支付权限|付款码|收付款")


def _paid(text: str) -> bool:
    text = NOT_SCAMMED.sub("", CALLING.sub("", PAYMENT_NAMES.sub("", text)))
    if not (re.search(_MONEY, text) and re.search(_PAID_WHO, text)):
        return False
    if NOT_PAID.search(text) or (IF_PAID.search(text) and not PAID_WHEN.search(text)):
        return False
    if PAID_DONE.search(text):
        return True
    # "昨天有个客服说交2000块就能解封 我要不要交": what was asked for, still in doubt.
    return bool(PAID_STRONG.search(text) or PAID_WEAK.search(text)) and not DOUBT.search(text)


def _leaked(text: str) -> bool:
    if not LEAKED.search(text):
        return False
    if REQUESTED.search(text):
        # "让我把验证码念给他，我还没念": asked for, not handed over (yet).
        return bool(HANDED_ANYWAY.search(text)) and not NOT_HANDED.search(text)
    return bool(DONE.search(text))


# "密码改好了", "已经修改了支付密码": the emergency answer's own advice, done.
PASSWORD_CHANGED = re.compile(
    r"(支付|登录|交易|微信)?密码(我)?(已经|已|都|也)?(改|修改|换|重置)(好|完|过)?了"
    r"|(已经|已|都)?(改|修改|换|重置)(好|完|过)?了?(支付|登录|交易|微信)?密码")


# "客人在家订房先把定金付了", "有些是直接加我微信订的": the merchant's own customers paying
# a deposit or adding the merchant, which is business, not a scam told.
_CUSTOMERS = r"(客人|客户|顾客|买家|房客|住客|游客|学员|家长|他们|有些|有的|好多人)"
CUSTOMERS_DOING_BUSINESS = re.compile(
    _CUSTOMERS + r"[^，。,.!！？?]{0,12}(定金|订金|押金|尾款|房费)"
    r"|(收|付|交)(一半|全款)?的?(定金|订金|押金|尾款)(还收|收不收|怎么收)?"
    r"|(定金|订金|押金|尾款)(还)?(收不收|怎么收|还收|收)"
    r"|" + _CUSTOMERS + r"[^，。,.!！？?]{0,8}加(我|我的|店里的?)(微信|vx|v信|wx|qq)")


def safety_of(text: str) -> Safety | None:
    """What the message says about a scam: already paid, credentials already leaked,
    a scam in progress, or nothing."""
    # "密码改好了", "我没有给别人验证码啊": said to deny it, not to report it; but someone
    # asked for the code all the same ("他让我报验证码 我没给"): the warning.
    asked_for_code = bool(ASKED_FOR_CODE.search(text))
    text = without_denied(PASSWORD_CHANGED.sub("", CUSTOMERS_DOING_BUSINESS.sub("", text)))
    if _paid(text):
        return Safety.PAID
    if _leaked(text):
        return Safety.LEAKED
    if IF_PAID.search(text) and re.search(_MONEY, text):
        return Safety.SCAM  # "交了2000是不是就能马上恢复": the warning, before paying
    if SCAM_SIGNAL.search(text) or asked_for_code:
        return Safety.SCAM
    return None


# --- 2.-7. the rest ------------------------------------------------------------------------
CANCEL = re.compile(
    r"^\s*(我都说了|我说了|都说了|说了)?(等等|等一下)?[\s,，。]*(那|那就|那我|好|好的|行|嗯)?[\s,，。]*(算了|取消|不办了|不弄了|不查了|不申诉了|不用了|停止|退出|结束"
    # "等等 我先不提了", "我说了先不交了啊": not now.
    r"|我?先不(提|交|申诉|申请|弄|办)了"
    r"|不要了|不想弄了|不用(再)?(查|核对|核实|验证|看)了|不(再)?(核对|核实|验证|继续)了?(?!的)|不查[!！。]|别(再)?(问|核对|查)了"
    r"|不想(核对|查|继续))"
)
# Short closings: the merchant is leaving for now (answers are kept).
CLOSING = re.compile(
    r"(明天|明早|回头|晚点|晚些|稍后|等会儿?|待会儿?|过会儿?|改天|下次|有空|空了)(我)?(再|就)?(去)?"
    r"(打|联系|问|找|弄|办|试|查|看|来|说|申诉|处理)"
    r"|(我|那我)(先|这就|马上|现在)?(去)?(打|拨)(一下|个)?(95017|客服|电话)"
    # "3Q 好滴 我先去商家助手看看": off to look it up themselves.
    r"|(我|那我)(先|这就|马上|现在|自己)去[^，。,.？?]{0,8}(看看|查查|找找|看一下|查一下|找一下)"
    r"|(我|那我)?(就)?(等|等着)(客服|人工|你们|他们|老板)?的?(电话|回电|回复|联系|通知|消息)"
    r"|再见|拜拜|bye|^88$|先这样|就这样吧|不打扰了|没事了|没别的了|没有别的|(回头|改天|以后|下次)再说",
    re.IGNORECASE,
)
CLOSING_MAX = 24
THANKS = re.compile(
    r"谢|3q|thx|thank|感恩|感激|辛苦(了|啦|你|您)|蟹蟹|多谢|唔该|谢啦", re.IGNORECASE
)
# What may surround thanks: "好的谢谢你哈", "嗯嗯 3Q!".
POLITE_FILLER = re.compile(
    r"谢谢|谢了|谢啦|谢|3q|thx|thanks?( you| u)?|感恩|感激|辛苦(了|啦|你|您)?|蟹蟹|多谢|唔该"
    r"|好的|好滴|好嘞|好吧|好|嗯+|哦+|噢|ok|okay|收到|明白了?|知道了|懂了|了解"
    r"|啦|了|呀|啊|哈+|呢|你们?|您|亲|小助手|助手|非常|太|十分|万分|真是?|帮大忙|大忙"
    r"|[\s,，。.!！~～、…😀-🙏]",
    re.IGNORECASE,
)
# A bare acknowledgement, as an answer to nothing the step asked.
ACK = re.compile(
    r"^(好的?|好滴|好嘞|好吧|嗯+|哦+|噢|ok|okay|收到|明白了?|知道了|懂了|了解|行|可以)"
    r"[\s,，。.!！~～]*$",
    re.IGNORECASE,
)
RESTART = re.compile(r"重新(开始|来|填|选)|重来|从头(开始|来)?|再来一遍")
CORRECTION = re.compile(
    r"(说|填|写|打|输|选)错了?|错了|改一下|改成|改为|更正|修改|换成|^\s*不对|不是这个"
)
SKIP = re.compile(
    r"不知道|不清楚|不记得|忘了|忘记|想不起|说不好|说不准|不确定|没注意|跳过|不想(说|填|留)"
    r"|无所谓|都行|随便|都可以|你(就|直接|帮我)*(推荐|选|定)(吧|一个|个)?$|你看着办"
)
# "怎么联系客服" asks for the hotline (a question), not for a person in this chat.
HUMAN = re.compile(r"转人工|(找|要|换)(个)?人工|真人|人工服务|人工(来|回复|处理)")
# Shapes of a question in Chinese chat: a question mark or a question word/particle.
QUESTION = re.compile(
    r"[?？]|吗|呢\s*$|么\s*$|怎么|怎样|为什么|为啥|如何|多久|多长时间|(?<![前这那好过十两三])几天|多少|哪里|哪儿"
    r"|什么|啥|能不能|可不可以|是不是|有没有|要不要|会不会|需不需要"
    r"|够不够|行不行|对不对|好不好|算不算|管不管用"
)

# Who is asking, where the form would check a merchant's identity.
ROLES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("hong_kong", re.compile(
        r"香港商户|香港的商户|港商|(我|我们)(是|在)香港.{0,6}商户|wechat\s*pay\s*hk|港版微信"
        r"|香港钱包|微信支付香港|hk钱包|香港微信支付", re.IGNORECASE)),
    ("service_provider", re.compile(
        r"(?<!不是)服务商(?!(帮|给|替)(我|我们)(开|办|弄|申请))|渠道商|isv|(我们|我)(名下|下面|旗下)的?(子|特约)?商户"
        r"|(帮|替|给)(我们的?)?(子|特约)商户",
        re.IGNORECASE)),
    ("developer", re.compile(
        r"我(们)?(是|这边是|只是|就是)(公司|店里|商户|这边|他们|这家店|老板|客户)?(的|那边的)?"
        r"(外包|外包的|兼职)?(开发|程序员|技术|研发|工程师|it\b)|(我|我们)(负责|做)(技术|开发|对接|接口)"
        r"|作为(开发|技术)", re.IGNORECASE)),
    ("payer", PAYER_VOICE),
    ("staff", re.compile(
        r"我(是|只是|就是)(店里|这家店|这个店|店上|公司|老板)?(的|那边的|这边的)?"
        r"(店员|收银员|收银|员工|服务员|营业员|导购|前台|打工的|帮工|伙计|小工|帮忙的)"
        r"|(老板|店主|老板娘)(让我|叫我|出差|不在|没空|电话打不通|联系不上)|替老板|帮老板(问|查|看)"
        r"|我(是|只是|就是)(店里|店上|网店|公司|这家店|我们店|我们公司)的?(客服|小妹|运营|助理|会计|财务|店长|打包的)"
        r"|(我|我也|我又)?不是(老板|店主)(哈|啊|呀|哦|[，,。.！!\s]|$)|不是(商户|商家|老板)?本人"
        r"|(帮|替)(我)?(舅舅|舅|叔叔|叔|姑姑|阿姨|姨|爸|妈|爸爸|妈妈|父亲|母亲|老爸|老妈|哥|姐|弟|妹|老公|老婆|亲戚|朋友|家里人)(问|查|看|弄|办)"
        r"|(是|我是)(他|她)的?(外甥|侄子|侄女|儿子|女儿|亲戚|家人)")),
    ("personal", re.compile(
        r"没有?(开|开通|注册|申请|办)?过?(任何|什么)?商户|没得商户|无商户号|个人用户|个人微信"
        r"|个人收款码|个人的(收款)?码|(我是|就是|只是|我只是)个人|私人微信|普通(微信)?用户|(就是|只是)?普通人"
        # "我微信零钱被冻结了": a personal wallet, not a merchant account.
        r"|(我的?|微信)零钱(被|给)?(冻|限|封|锁)")),
)
# "我不是商家" from someone whose own collecting is restricted: a personal account.
OWN_COLLECTING = re.compile(r"收钱|收款|收到|收了|收的钱|被限|受限|限制|冻结|封了")
# A sub-merchant speaking for itself is a merchant ("我是服务商的子商户").
SELF_SUB_MERCHANT = re.compile(r"我(们)?(是|就是|只是)(一个|一家|某)?(.{0,6}的)?(子商户|特约商户)")


def role_of(text: str) -> str | None:
    """Who the message says is asking, when it is not the merchant: "hong_kong" (a
    WeChat Pay HK merchant), "service_provider", "developer", "payer" (a customer),
    "staff" (someone working for the merchant: "我是店里的收银员", "老板让我问"),
    "personal" (no merchant id), or None."""
    for role, pattern in ROLES:
        if match := pattern.search(text):
            if role == "service_provider" and SELF_SUB_MERCHANT.search(text):
                continue
            if role == "payer" and match.group().startswith("我不是商") and \
                    OWN_COLLECTING.search(text) and \
                    not re.search(r"顾客|买家|消费者|付款人|付款方|付款的|付钱的|买东西的", text):
                return "personal"
            return role
    return None


# Set by the knowledge matcher when it answers from the knowledge base.
KNOWLEDGE_INTENT = "knowledge"
# Intents that are never an answer to a form question.
CHITCHAT_INTENTS = {"greet", "thank", "goodbye", "bot_challenge"}
# Handled by the forms' own moves or rules, never answered as a question.
CONTROL_INTENTS = {"request_human", "stop_waiting", "handoff_closed"}
TASK_INTENTS = {
    "check_account_status", "report_account_abnormal", "submit_appeal",
    "check_appeal_status", "ask_remote_collection",
}
ANSWER_INTENTS = {"inform", "affirm", "deny", "nlu_fallback"}
# Gibberish typed at a form step lands here too: it needs the shape of a question.
WEAK_INTENTS = {"out_of_scope"}
# A description that is only this long and sure of a request is not a description.
SHORT = 12
# Requests that a short free-text answer can be instead ("帮我查下账户状态"); a report of
# the problem ("就是收不了钱") is what a description is made of.
REQUEST_INTENTS = {"check_account_status", "check_appeal_status", "submit_appeal",
                   "greet", "thank", "goodbye"}
# A free-text answer this long is a story, whatever else it asks.
LONG_STORY = 40
# A question this short is never a story.
SHORT_QUESTION = 24
# The model is overconfident: alone, an intent counts only when it is this sure.
SURE = 0.8
# A message shaped like a question needs less.
LIKELY = 0.5


class Move(str, enum.Enum):
    EMERGENCY = "emergency"
    SCAM = "scam"
    HUMAN = "human"
    CANCEL = "cancel"
    CLOSING = "closing"
    THANKS = "thanks"
    RESTART = "restart"
    CORRECT = "correct"
    ANSWER = "answer"
    NOT_MERCHANT = "not_merchant"
    SKIP = "skip"
    DIGRESS = "digress"
    ACK = "ack"
    MISS = "miss"


@dataclass(frozen=True)
class Said:
    """The latest user message as the form sees it."""

    text: str
    intent: str | None = None
    confidence: float = 0.0
    entities: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def of(cls, tracker: Tracker) -> Said:
        message = tracker.latest_message or {}
        intent = message.get("intent") or {}
        name, confidence = intent.get("name"), float(intent.get("confidence") or 0.0)
        knowledge = message.get("knowledge") or {}
        if name in ("knowledge", "nlu_fallback") and knowledge.get("intent") \
                and knowledge.get("decision") in ("answer", "suggest"):
            # The knowledge matcher took the message over; a form reads it by the NLU's
            # own intent (an answer to the step stays an answer) and, if it digresses,
            # answers it with the matched entry (actions.knowledge.chosen_entry_id).
            name = knowledge["intent"]
            confidence = next((float(r.get("confidence") or 0.0)
                               for r in message.get("intent_ranking") or []
                               if r.get("name") == name), confidence)
            if name in ("knowledge", "nlu_fallback"):
                name = "out_of_scope"
        return cls(
            text=(message.get("text") or "").strip(),
            intent=name,
            confidence=confidence,
            entities=list(message.get("entities") or []),
        )

    @property
    def is_question(self) -> bool:
        return bool(QUESTION.search(self.text))

    def entity(self, name: str) -> str | None:
        return next((str(e.get("value")) for e in self.entities if e.get("entity") == name),
                    None)


def is_digression(said: Said, free_text: bool = False) -> bool:
    """Another topic, not an answer: a sure non-answer intent, or a likely one asked as a
    question. For a free-text slot (a description) a story about the account naturally
    sounds like a report of it: only a question, or a short sure request, counts."""
    other = said.intent not in ANSWER_INTENTS and said.intent is not None
    asked = said.is_question and said.confidence >= LIKELY
    if not other:
        return said.is_question and not free_text
    if said.intent in WEAK_INTENTS:
        return asked
    if free_text:
        return asked or (said.intent in REQUEST_INTENTS and said.confidence >= SURE
                         and len(said.text) <= SHORT)
    # The knowledge matcher answers only what it is sure of, whatever the score's scale.
    return said.confidence >= SURE or asked or said.intent == KNOWLEDGE_INTENT


# "还没有，不过在找人做": hiring someone to build it, not asking for a person here.
HIRING = re.compile(r"(找|请|雇|托)(个)?(人|别人|朋友|公司|技术|师傅)(帮忙|帮我)?(做|弄|开发|搭|建|写|办|备案|装)")


def wants_person(said: Said) -> bool:
    if wants_no_person(said.text) or HIRING.search(said.text):
        return False  # "我没要转人工啊", "不用转人工了"
    return bool(HUMAN.search(said.text)) or (
        said.intent == "request_human" and said.confidence >= LIKELY)


def is_closing(said: Said, free_text: bool = False) -> bool:
    """"好的我明天打95017", "先这样吧，拜拜": the merchant is leaving for now. In a
    free-text step a story may mention tomorrow: there only a short one counts."""
    if said.is_question or RESTART.search(said.text):
        return False  # "重新来吧" starts over, whatever the model calls it
    if said.intent == "goodbye" and said.confidence >= SURE:
        return True
    limit = SHORT + 2 if free_text else CLOSING_MAX
    if len(said.text) <= limit and bool(CLOSING.search(said.text)):
        return True
    # "好的我先整理材料，谢谢" (thanks alone stays thanks: the step is asked again)
    return not free_text and not is_thanks(said) and is_parting(said.text)


def is_thanks(said: Said) -> bool:
    """Thanks and nothing else ("好的谢谢你", "3Q", "多谢啦"): no question, no number."""
    if said.is_question:
        return False
    thanked = bool(THANKS.search(said.text)) or (
        said.intent == "thank" and said.confidence >= SURE)
    if not thanked:
        return False
    rest = POLITE_FILLER.sub("", said.text)
    return not re.search(r"\d", rest) and len(rest) <= 2


def classify(said: Said, parsed: Any, free_text: bool = False, can_skip: bool = False,
             asks_who: bool = False, safety: bool = True) -> Move:
    """The kind of move ``said`` is, given what the requested slot's parser made of it,
    whether it is an "I don't know" the slot has a way around, and whether the form
    checks who is asking (``asks_who``: "我是服务商" ends the identity check). With
    ``safety=False`` the safety patterns are left out: the move that follows the
    warning."""
    if safety:
        found = safety_of(said.text)
        if found in EMERGENCIES:
            return Move.EMERGENCY
        if found is Safety.SCAM:
            return Move.SCAM
    if wants_person(said):
        return Move.HUMAN
    if CANCEL.match(said.text):
        return Move.CANCEL
    if is_closing(said, free_text):
        return Move.CLOSING
    if is_thanks(said):
        return Move.THANKS
    if RESTART.search(said.text):
        return Move.RESTART
    if CORRECTION.search(said.text) and not said.is_question:
        return Move.CORRECT
    if can_skip and free_text and len(said.text) <= SHORT:
        # "真不知道怎么写" parses as a (very short) description; it is not one.
        return Move.SKIP
    if parsed is not None and free_text and len(said.text) >= LONG_STORY:
        # A story is the description even when it ends in a question (which the form
        # answers too): "……外地客户怎么付款？" is not a reason to ask again.
        return Move.ANSWER
    if parsed is not None and not (free_text and is_digression(said, free_text=True)):
        return Move.ANSWER
    if asks_who and role_of(said.text):
        return Move.NOT_MERCHANT
    if can_skip:
        return Move.SKIP
    if is_digression(said, free_text):
        return Move.DIGRESS
    if ACK.match(said.text):
        return Move.ACK
    return Move.MISS
