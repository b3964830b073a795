"""Canned replies the team manages (``canned_replies``): supervisors create, edit,
disable and enable them; agents pick one by its title or type its shortcut
(``/95017``) in the reply box, and the variables in it are filled from the conversation
when it is inserted.

The texts are the agent's own voice, never the bot's: the bot is silent while a person
holds the conversation, so nothing tells the merchant to type a bot command. The first
list of a new database seeds today's FAQ topics (what the console offered before, from
the assistant's answers in domain.yml), rewritten as an agent would say them, plus a
greeting and two replies that show the variables.

Variables (``{商户号}``, ``{申诉单号}``, ``{客服}``; full-width braces work too): a text
with an unknown variable or a stray brace is refused when saved (422), so a stored text
only holds known ones. A value the conversation does not have (a merchant who has not
verified, no open appeal) is filled as a visible ``【待填：申诉单号】`` with the reason,
and a reply still holding that mark, or a variable, is refused when sent
(``unfilled``): a raw brace never reaches a merchant.

Every function takes an open Session; the caller owns the transaction."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from console import team
from console.delivery import MAX_CHARS
from console.errors import Refused
from console.service import epoch
from console.transcript import mask_text
from core.db.models import (
    Agent,
    Appeal,
    AppealStatus,
    CannedReply,
    Handoff,
    utcnow,
)
from core.privacy import mask_merchant_id

TITLE_MAX = 40
SHORTCUT_MAX = 20  # after the slash
TEXT_MAX = MAX_CHARS  # a reply is at most this long (one WeChat message)
SHORTCUT = re.compile(r"^/[0-9a-z_\-\u4e00-\u9fff]{1," + str(SHORTCUT_MAX) + "}$")

# name → what it is filled with (shown to supervisors next to the text box).
VARIABLES = {
    "商户号": "商户号（打码，如 1900****02；商户核验过身份才有）",
    "申诉单号": "进行中的申诉单号（如 AP20261120001；没有进行中的申诉就没有）",
    "客服": "你自己的名字（商户看到的客服名，如 小王）",
}
_BRACES = str.maketrans({"｛": "{", "｝": "}"})
VARIABLE = re.compile(r"\{([^{}\n]{0,20})\}")
MARK_PREFIX = "【待填："
MISSING_MARK = MARK_PREFIX + "{name}】"
_UNFILLED = re.compile(r"【待填：[^】]*】|[{｛](?:" + "|".join(VARIABLES) + r")[}｝]")

# Open as in the database's one-open-appeal index (models.OPEN_APPEAL_SQL).
OPEN_APPEAL = tuple(status for status in AppealStatus if status.is_open)


@dataclass(frozen=True)
class Seed:
    shortcut: str
    title: str
    text: str


# Today's FAQ topics (the console's canned list before it was the team's), in the
# agent's voice; then a greeting and replies that use the variables.
SEEDS = (
    Seed("/95017", "客服电话95017怎么打",
         "微信支付官方客服电话是95017，建议用绑定微信的手机号拨打，识别会快一些。"
         "打之前请准备好商户号、营业执照等材料；接通后按提示选择商户收款相关的服务，"
         "再转人工客服，说清楚商户号、从什么时候开始收不了款、平时怎么收款。"
         "资金冻结、账户安全这类急事建议您直接打电话。"),
    Seed("/申诉", "申诉步骤和材料",
         "申诉可以这样操作：打开“微信支付商家助手”小程序 → 我的 → 风险处理，找到这条记录"
         "点“申诉”并上传材料；也可以在微信支付商户平台 → 账户中心 → 风险处理里提交。"
         "常用材料有：营业执照、法人身份证、门头和店内照片、真实交易的凭证（订单、发货记录、"
         "聊天记录、收据），再附一份情况说明。结果以官方审核为准，谁也不能保证一定解封。"
         "准备材料时有拿不准的地方，可以直接问我。"),
    Seed("/多久", "多久能解除",
         "审核一般需要1到3个工作日，情况复杂的会更久；有些系统自动触发的临时限制，"
         "几小时到几天会自动解除。具体时间以官方审核为准，我这边没法保证解封或给您确切日期，"
         "有结果会通过微信支付的通知告诉您。"),
    Seed("/资金", "钱会不会没了",
         "请放心，限制通常只是暂停收款或提现，钱还是您的，不会因此被没收。审核通过或按官方流程"
         "处理后，余额就能正常提出。着急用钱可以打95017说明情况，也千万别相信收费帮您“解冻”的人。"),
    Seed("/原因", "常见受限原因",
         "常见的触发原因有：1. 店里的线下收款码被外地的人扫码付款（这类码只适合当面收款）；"
         "2. 每收到一笔钱就马上提现；3. 扫码收款和提现交替进行，笔数多或金额突然暴增；"
         "4. 经营内容超出登记范围、资质不全、投诉多、身份信息没核实，或商户号长期没有交易。"
         "您的账户具体是哪一种，我这边帮您看一下。"),
    Seed("/外地", "外地客户怎么收款",
         "店里的收款码只能当面收款，外地客户付款建议换成这几种方式：1. 网站支付接口（要有网站并"
         "完成ICP备案，手续多一些，但费率较低、风险也低）；2. 小程序收款（每笔都有独立订单号，"
         "比接网站简单）；3. 持牌支付服务商的收款方式。费率要看经营类目和服务商合同，"
         "请只找有支付牌照的正规服务商，别信私人“顾问”。"),
    Seed("/网站", "网站支付接口",
         "网站支付接口适合有自己网站或商城系统的商家：需要网站并完成ICP备案，开通和对接的手续"
         "多一些，但费率相对低、风控风险也更小。如果您那边没有技术人员，小程序收款会简单很多。"),
    Seed("/小程序", "小程序收款",
         "小程序收款比对接网站简单：每笔收款都会生成独一无二、有时效的订单号，客户付款后您会"
         "收到通知，再安排发货就行。适合在外地有客户、又没有自己网站的商家。"),
    Seed("/费率", "费率",
         "常见的商户费率一般在0.6%左右，部分类目或服务商可能是0.38%或更低，最终以您的经营类目"
         "和与服务商签的合同为准。“超低费率、保证不风控”的宣传请不要相信。"),
    Seed("/避免", "以后怎么避免",
         "以后可以注意这几点：1. 线下码只在店里当面收款，外地客户改用网站支付、小程序或正规"
         "服务商的收款方式；2. 做生意用经营收款码，不用个人收款码；3. 别一收到钱就马上提现，"
         "也别让交易量突然暴涨；4. 只卖营业执照范围内的东西，保存好订单和发货记录，及时处理"
         "客户投诉；5. 实名信息保持准确。"),
    Seed("/防骗", "防骗提醒",
         "提醒您一下：只有官方渠道能解除限制。任何收费“解封”、索要密码或短信验证码、"
         "让您加私人微信的“顾问”都不要相信，我们也不会向您要密码或验证码。"),
    Seed("/你好", "接入问候",
         "您好，我是客服{客服}，前面您说的情况我都看到了，不用再重复，我先帮您看一下。"),
    Seed("/核对", "核对商户号",
         "我这边看到的商户号是{商户号}，请您确认一下是不是这个商户号。"),
    Seed("/进度", "申诉进度",
         "我查到您的申诉单号是{申诉单号}，目前还在审核中。审核一般需要1到3个工作日，"
         "有结果会通过微信支付的通知告诉您，请留意消息。"),
)


# --- checking a reply's content ------------------------------------------------------------
def normalized_shortcut(value: str) -> str:
    shortcut = value.strip().replace("／", "/").lower()
    return shortcut if shortcut.startswith("/") else f"/{shortcut}"


def variables_in(text: str) -> list[str]:
    return list(dict.fromkeys(VARIABLE.findall(text.translate(_BRACES))))


def _text_problems(text: str) -> list[str]:
    problems = []
    unknown = [name for name in variables_in(text) if name not in VARIABLES]
    if unknown:
        problems.append(f"不认识的变量：{'、'.join('{' + n + '}' for n in unknown)}；"
                        f"可以用的变量：{'、'.join('{' + n + '}' for n in VARIABLES)}")
    elif set("{}") & set(VARIABLE.sub("", text)):
        problems.append("花括号只能用来写变量，例如 {商户号}；多余的 { 或 } 请删掉")
    if MARK_PREFIX in text:
        problems.append("不能包含“【待填：”，变量请写成 {商户号} 这样")
    if team.has_personal_number(text):
        problems.append("不能写手机号、证件号或银行卡号")
    return problems


def checked(title: str | None, shortcut: str | None,
            text: str | None) -> tuple[str, str, str]:
    """(title, shortcut, text) cleaned, or 422 listing every problem."""
    title = (title or "").strip()
    shortcut = normalized_shortcut(shortcut or "") if (shortcut or "").strip() else ""
    text = (text or "").strip().translate(_BRACES)
    problems = []
    if not title:
        problems.append("请填写标题")
    elif len(title) > TITLE_MAX:
        problems.append(f"标题最多{TITLE_MAX}个字（现在{len(title)}个）")
    elif "\n" in title or "\r" in title:
        problems.append("标题不能换行")
    if not shortcut:
        problems.append("请填写快捷码，例如 /95017")
    elif len(shortcut) > SHORTCUT_MAX + 1:
        problems.append(f"快捷码最多{SHORTCUT_MAX}个字（现在{len(shortcut) - 1}个）")
    elif not SHORTCUT.match(shortcut):
        problems.append("快捷码以 / 开头，后面只能是字母、数字、汉字、- 或 _，例如 /95017")
    if not text:
        problems.append("请填写回复内容")
    elif len(text) > TEXT_MAX:
        problems.append(f"回复内容最多{TEXT_MAX}个字（现在{len(text)}个）")
    else:
        problems += _text_problems(text)
    if problems:
        raise Refused("常用回复没有保存：" + "；".join(problems), 422, problems=problems)
    return title, shortcut, text


def unfilled(text: str) -> list[str]:
    """What in a reply is still a variable or a ``【待填：…】`` mark (sending it is refused)."""
    return list(dict.fromkeys(_UNFILLED.findall(text)))


# --- the replies ---------------------------------------------------------------------------
def _snapshot(reply: CannedReply) -> dict[str, Any]:
    return {"title": reply.title, "shortcut": reply.shortcut, "text": reply.text,
            "active": bool(reply.active), "position": reply.position}


def view(reply: CannedReply, names: dict[int, str]) -> dict[str, Any]:
    return {
        "id": reply.id, "title": reply.title, "shortcut": reply.shortcut,
        "text": mask_text(reply.text), "active": bool(reply.active),
        "position": reply.position, "version": reply.version,
        "variables": [n for n in variables_in(reply.text) if n in VARIABLES],
        "updated_at": epoch(reply.updated_at),
        "updated_by": names.get(reply.updated_by) if reply.updated_by else None,
    }


def ensure_seeded(session: Session) -> bool:
    """On first use: today's FAQ topics (``SEEDS``), recorded as seeded. Once there is
    any reply (even a disabled one) nothing is added; of two consoles seeding at the
    same moment one does (the unique shortcut)."""
    if session.execute(select(CannedReply.id).limit(1)).first() is not None:
        return False
    now = utcnow()
    try:
        with session.begin_nested():
            rows = [CannedReply(title=s.title, shortcut=s.shortcut, text=s.text, active=True,
                                position=index, version=1, created_at=now, updated_at=now)
                    for index, s in enumerate(SEEDS, start=1)]
            session.add_all(rows)
            session.flush()
            for row in rows:
                team.record(session, team.CANNED, row.id, "seeded", None, None, _snapshot(row))
            session.flush()
    except IntegrityError:
        return False
    return True


def listing(session: Session, include_disabled: bool = False) -> list[dict[str, Any]]:
    ensure_seeded(session)
    query = select(CannedReply)
    if not include_disabled:
        query = query.where(CannedReply.active.is_(True))
    rows = session.execute(query.order_by(CannedReply.position, CannedReply.id)).scalars()
    names = dict(session.execute(select(Agent.id, Agent.display_name)).all())
    return [view(row, names) for row in rows]


def get(session: Session, reply_id: int) -> CannedReply:
    reply = session.get(CannedReply, reply_id)
    if reply is None:
        raise Refused("没有这条常用回复", 404)
    return reply


def _check_unique(session: Session, shortcut: str, own_id: int | None = None) -> None:
    other = session.execute(
        select(CannedReply).where(CannedReply.shortcut == shortcut)
    ).scalar_one_or_none()
    if other is not None and other.id != own_id:
        disabled = "（已停用，可以重新启用它）" if not other.active else ""
        message = f"快捷码 {shortcut} 已经被「{other.title}」用了{disabled}，请换一个"
        raise Refused(message, 422, problems=[message])


def _duplicate(shortcut: str) -> Refused:
    message = f"快捷码 {shortcut} 刚被别人用了，请换一个"
    return Refused(message, 422, problems=[message])


def create(session: Session, editor: team.Editor, title: str | None, shortcut: str | None,
           text: str | None) -> CannedReply:
    ensure_seeded(session)  # the seed first: a new reply never blocks today's list
    title, shortcut, text = checked(title, shortcut, text)
    _check_unique(session, shortcut)
    last = session.execute(select(func.max(CannedReply.position))).scalar_one_or_none()
    now = utcnow()
    reply = CannedReply(title=title, shortcut=shortcut, text=text, active=True,
                        position=(last or 0) + 1, version=1, created_at=now, updated_at=now,
                        updated_by=editor.agent_id)
    try:
        with session.begin_nested():
            session.add(reply)
            session.flush()
    except IntegrityError:  # a reply with the same shortcut saved a moment before
        raise _duplicate(shortcut) from None
    team.record(session, team.CANNED, reply.id, "created", editor, None, _snapshot(reply))
    return reply


def edit(session: Session, editor: team.Editor, reply_id: int, title: str | None,
         shortcut: str | None, text: str | None, version: int | None = None,
         position: int | None = None) -> CannedReply:
    reply = get(session, reply_id)
    if version is not None and version != reply.version:
        raise Refused("这条常用回复刚被别人改过，请刷新后再改", 409)
    title, shortcut, text = checked(title, shortcut, text)
    _check_unique(session, shortcut, reply.id)
    before = _snapshot(reply)
    changed = {"title": title, "shortcut": shortcut, "text": text,
               "position": reply.position if position is None else position}
    if all(before[key] == value for key, value in changed.items()):
        return reply  # nothing changed: no new version, no audit row
    try:
        with session.begin_nested():
            for key, value in changed.items():
                setattr(reply, key, value)
            reply.version += 1
            reply.updated_at = utcnow()
            reply.updated_by = editor.agent_id
            session.flush()
    except IntegrityError:
        session.refresh(reply)
        raise _duplicate(shortcut) from None
    team.record(session, team.CANNED, reply.id, "edited", editor, before, _snapshot(reply))
    return reply


def set_active(session: Session, editor: team.Editor, reply_id: int,
               active: bool) -> CannedReply:
    reply = get(session, reply_id)
    if bool(reply.active) == active:
        return reply  # already so: nothing to record
    before = _snapshot(reply)
    reply.active = active
    reply.version += 1
    reply.updated_at = utcnow()
    reply.updated_by = editor.agent_id
    session.flush()
    team.record(session, team.CANNED, reply.id, "enabled" if active else "disabled",
                editor, before, _snapshot(reply))
    return reply


# --- filling the variables for one conversation -----------------------------------------------
def open_appeal_id(session: Session, merchant_id: str) -> str | None:
    return session.execute(
        select(Appeal.id).where(Appeal.merchant_id == merchant_id,
                                Appeal.status.in_(OPEN_APPEAL))
        .order_by(Appeal.created_at.desc()).limit(1)
    ).scalar_one_or_none()


def values_for(session: Session, handoff: Handoff,
               agent_name: str) -> dict[str, tuple[str | None, str]]:
    """name → (value, why there is none) for the conversation ``handoff``."""
    unverified = "商户还没有核验身份"
    appeal = open_appeal_id(session, handoff.merchant_id) if handoff.merchant_id else None
    return {
        "商户号": (mask_merchant_id(handoff.merchant_id) if handoff.merchant_id else None,
                unverified),
        "申诉单号": (appeal, "这位商户没有进行中的申诉" if handoff.merchant_id else unverified),
        "客服": (agent_name or None, "不知道你的名字"),
    }


def fill(text: str, values: dict[str, tuple[str | None, str]]) -> dict[str, Any]:
    """The text with its variables filled; what could not be filled is a visible
    ``【待填：名字】`` and listed with the reason (``complete`` false)."""
    missing: list[dict[str, str]] = []

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        value, why = values.get(name, (None, "不认识这个变量"))
        if value:
            return value
        if name not in {m["name"] for m in missing}:
            missing.append({"name": name, "reason": why})
        return MISSING_MARK.format(name=name)

    filled = VARIABLE.sub(one, text.translate(_BRACES))
    problems = [f"{m['reason']}，请把{MISSING_MARK.format(name=m['name'])}改成实际内容或删掉"
                for m in missing]
    if len(filled) > TEXT_MAX:
        problems.append(f"填好后有{len(filled)}个字，超过了{TEXT_MAX}个字，请删减后再发")
    return {"text": mask_text(filled), "missing": missing, "problems": problems,
            "complete": not problems}
