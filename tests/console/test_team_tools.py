"""Team tools (issue 20, item 5, first half): canned replies the team manages (seeded
from today's FAQ in the agent's voice, shortcuts, variables filled from the
conversation, supervisors only may change them, every change audited) and the 会话小结
label an agent must choose at close (a taxonomy supervisors edit; stored on the
handoff, shown in history and searchable there)."""

from __future__ import annotations

import json
import re
import threading
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import handoffs
from core.db.models import CannedReply, Handoff, HandoffStatus, TeamChange
from core.db.session import get_engine
from tests.console.conftest import SNAPSHOT, add_agent, queue_handoff, sign_in
from tests.console.fake_rasa import FakeRasa

API = "/console/api"
# What the console offered before (the assistant's FAQ answers, by these titles).
TODAYS_FAQ = ("客服电话95017怎么打", "申诉步骤和材料", "多久能解除", "钱会不会没了",
              "常见受限原因", "外地客户怎么收款", "网站支付接口", "小程序收款", "费率",
              "以后怎么避免", "防骗提醒")
# "说“我要申诉”就行": telling the merchant what to type to the bot.
BOT_COMMAND = re.compile(r"(说|发|回复|输入|打)\s*[“\"'‘「]")
SEEDED_LABELS = ["申诉进度", "解封时间", "限制原因", "资金安全", "收款方式", "身份核验", "防骗",
                 "投诉", "其他"]


def canned(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    response = client.get(f"{API}/canned", params=params)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def by_shortcut(client: TestClient, shortcut: str) -> dict[str, Any]:
    return next(r for r in canned(client) if r["shortcut"] == shortcut)


def label_id(client: TestClient, name: str) -> int:
    items = client.get(f"{API}/labels", params={"include_disabled": "true"}).json()["items"]
    return next(label["id"] for label in items if label["name"] == name)


def problems(response: Any) -> list[str]:
    detail = response.json()["detail"]
    return detail["problems"] if isinstance(detail, dict) else [detail]


def supervisor_and_agent(db_url: str, make_client: Any) -> tuple[TestClient, TestClient]:
    add_agent(db_url, "zhang", "老张", supervisor=True)
    add_agent(db_url, "wang", "小王")
    boss, wang = make_client(), make_client()
    sign_in(boss, "zhang")
    sign_in(wang, "wang")
    return boss, wang


def queue_merchant(db_url: str, sender: str, merchant_id: str | None) -> int:
    """A queued WeChat handoff of a verified merchant (or an unverified visitor)."""
    with Session(get_engine(db_url)) as session, session.begin():
        return handoffs.queue(session, "wechat", sender, "merchant_asked", "申诉进度怎么样",
                              merchant_id=merchant_id,
                              account_snapshot=json.dumps(SNAPSHOT, ensure_ascii=False)).id


# --- canned replies --------------------------------------------------------------------------
def test_the_first_list_seeds_todays_faq_in_the_agents_own_voice(
        db_url: str, client: TestClient) -> None:
    add_agent(db_url, "wang", "小王")
    sign_in(client, "wang")
    items = canned(client)
    titles = {r["title"] for r in items}
    assert set(TODAYS_FAQ) <= titles  # nothing offered before is lost
    assert by_shortcut(client, "/95017")["title"] == "客服电话95017怎么打"
    assert "95017" in by_shortcut(client, "/95017")["text"]
    for reply in items:
        text = reply["text"]
        # A person speaks: no bot command for the merchant to type, no "I, the assistant".
        assert not BOT_COMMAND.search(text), text
        assert "我要申诉" not in text and "查账户状态" not in text, text
        assert "机器人" not in text and "智能助手" not in text, text
        assert reply["shortcut"].startswith("/") and len(text) <= 600
    # Seeded once, recorded as the seed (nobody's change); a second list adds nothing.
    assert len(canned(client)) == len(items)
    with Session(get_engine(db_url)) as session:
        seeded = session.execute(select(TeamChange).where(TeamChange.action == "seeded")
                                 ).scalars().all()
        assert len(seeded) == len(items) and all(c.agent_id is None for c in seeded)
        assert session.execute(select(CannedReply)).scalars().all().__len__() == len(items)


def test_supervisors_create_edit_disable_and_agents_only_use(db_url: str,
                                                             make_client: Any) -> None:
    boss, wang = supervisor_and_agent(db_url, make_client)
    body = {"title": "材料补充", "shortcut": "/补材料", "text": "麻烦您把门头照片再补一张，我这边帮您跟进。"}
    # An agent may not change the team's replies (nor see the disabled ones).
    assert wang.post(f"{API}/canned", json=body).status_code == 403
    assert wang.get(f"{API}/canned", params={"include_disabled": "true"}).status_code == 403
    created = boss.post(f"{API}/canned", json=body)
    assert created.status_code == 201, created.text
    reply = created.json()
    assert reply["shortcut"] == "/补材料" and reply["version"] == 1
    assert any(r["id"] == reply["id"] for r in canned(wang))  # agents use it at once
    edit = {**body, "text": "麻烦您再补一张门头照片。", "version": reply["version"]}
    assert wang.put(f"{API}/canned/{reply['id']}", json=edit).status_code == 403
    edited = boss.put(f"{API}/canned/{reply['id']}", json=edit)
    assert edited.status_code == 200 and edited.json()["version"] == 2
    assert edited.json()["updated_by"] == "老张"
    # An edit made on what was read before someone else's change is refused.
    stale = boss.put(f"{API}/canned/{reply['id']}", json={**edit, "text": "旧的", "version": 1})
    assert stale.status_code == 409 and "刚被别人改过" in stale.json()["detail"]
    assert wang.post(f"{API}/canned/{reply['id']}/disable").status_code == 403
    assert boss.post(f"{API}/canned/{reply['id']}/disable").status_code == 200
    assert all(r["id"] != reply["id"] for r in canned(wang))  # no longer offered
    assert [r["active"] for r in canned(boss, include_disabled="true")
            if r["id"] == reply["id"]] == [False]
    assert boss.post(f"{API}/canned/{reply['id']}/enable").status_code == 200
    assert any(r["id"] == reply["id"] for r in canned(wang))
    assert boss.put(f"{API}/canned/999999", json=body).status_code == 404


def test_every_change_is_audited_with_who_before_and_after(db_url: str,
                                                           make_client: Any) -> None:
    boss, wang = supervisor_and_agent(db_url, make_client)
    target = by_shortcut(boss, "/费率")
    boss.put(f"{API}/canned/{target['id']}",
             json={"title": "费率说明", "shortcut": "/费率", "text": target["text"]})
    boss.post(f"{API}/canned/{target['id']}/disable")
    assert wang.get(f"{API}/team/changes").status_code == 403
    changes = boss.get(f"{API}/team/changes",
                       params={"kind": "canned_reply", "item_id": target["id"]}).json()["items"]
    assert [c["action"] for c in changes] == ["disabled", "edited", "seeded"]
    disabled, edited, _ = changes
    assert edited["agent"] == "老张" and edited["agent_username"] == "zhang"
    assert edited["before"]["title"] == "费率" and edited["after"]["title"] == "费率说明"
    assert disabled["before"]["active"] is True and disabled["after"]["active"] is False


def test_empty_huge_duplicate_and_unknown_variables_are_refused_clearly(
        db_url: str, make_client: Any) -> None:
    boss, _ = supervisor_and_agent(db_url, make_client)
    empty = boss.post(f"{API}/canned", json={"title": " ", "shortcut": "", "text": ""})
    assert empty.status_code == 422
    assert problems(empty) == ["请填写标题", "请填写快捷码，例如 /95017", "请填写回复内容"]
    missing = boss.post(f"{API}/canned", json={})
    assert missing.status_code == 422 and "请填写标题" in problems(missing)
    huge = boss.post(f"{API}/canned", json={"title": "长", "shortcut": "/long",
                                            "text": "好" * 601})
    assert huge.status_code == 422 and problems(huge) == ["回复内容最多600个字（现在601个）"]
    long_title = boss.post(f"{API}/canned", json={"title": "题" * 41, "shortcut": "/t",
                                                  "text": "好的"})
    assert "标题最多40个字（现在41个）" in problems(long_title)
    # Shortcuts are compared as typed lower-case; a disabled reply keeps its own.
    canned(boss)  # seeds
    dup = boss.post(f"{API}/canned", json={"title": "另一个", "shortcut": "/95017", "text": "你好"})
    assert dup.status_code == 422
    assert problems(dup) == ["快捷码 /95017 已经被「客服电话95017怎么打」用了，请换一个"]
    boss.post(f"{API}/canned", json={"title": "甲", "shortcut": "/Abc", "text": "你好"})
    again = boss.post(f"{API}/canned", json={"title": "乙", "shortcut": "abc", "text": "你好"})
    assert again.status_code == 422 and "/abc" in problems(again)[0]
    bad = boss.post(f"{API}/canned", json={"title": "坏", "shortcut": "/坏 码", "text": "好"})
    assert "快捷码以 / 开头" in problems(bad)[0]
    unknown = boss.post(f"{API}/canned", json={"title": "变量", "shortcut": "/v",
                                               "text": "您的手机号是{手机号}，商户号{商户号}"})
    assert unknown.status_code == 422
    assert problems(unknown) == ["不认识的变量：{手机号}；可以用的变量：{商户号}、{申诉单号}、{客服}"]
    stray = boss.post(f"{API}/canned", json={"title": "括号", "shortcut": "/b",
                                             "text": "单号{申诉单号 还在审核"})
    assert stray.status_code == 422 and "花括号只能用来写变量" in problems(stray)[0]
    phone = boss.post(f"{API}/canned", json={"title": "电话", "shortcut": "/p",
                                             "text": "打我手机13812345678"})
    assert phone.status_code == 422 and "手机号" in problems(phone)[0]
    # Full-width braces (typed with a Chinese input method) are variables too.
    wide = boss.post(f"{API}/canned", json={"title": "全角", "shortcut": "/w",
                                            "text": "我是｛客服｝"})
    assert wide.status_code == 201 and wide.json()["text"] == "我是{客服}"
    assert wide.json()["variables"] == ["客服"]


def test_variables_are_filled_from_the_conversation_at_insert_time(
        db_url: str, make_client: Any) -> None:
    boss, wang = supervisor_and_agent(db_url, make_client)
    # 1900000003 is frozen with appeal AP20261120001 under review (the demo data).
    handoff_id = queue_merchant(db_url, "oFill1", "1900000003")
    assert wang.post(f"{API}/handoffs/{handoff_id}/claim").status_code == 200

    def fill(shortcut: str) -> dict[str, Any]:
        reply = by_shortcut(wang, shortcut)
        response = wang.get(f"{API}/handoffs/{handoff_id}/canned/{reply['id']}")
        assert response.status_code == 200, response.text
        return response.json()

    assert fill("/你好")["text"].startswith("您好，我是客服小王，")
    check = fill("/核对")
    assert "1900****03" in check["text"] and "1900000003" not in check["text"]
    progress = fill("/进度")
    assert "AP20261120001" in progress["text"] and progress["complete"] is True
    assert "{" not in progress["text"] and progress["missing"] == []
    # Another agent, and a supervisor who does not hold it, cannot fill it.
    add_agent(db_url, "li", "小李")
    from tests.console.conftest import sign_in as login
    li = make_client()
    login(li, "li")
    reply_id = by_shortcut(li, "/你好")["id"]
    assert li.get(f"{API}/handoffs/{handoff_id}/canned/{reply_id}").status_code == 404
    assert boss.get(f"{API}/handoffs/{handoff_id}/canned/{reply_id}").status_code == 409


def test_a_missing_value_is_a_clear_mark_and_a_reply_with_it_is_not_sent(
        db_url: str, make_client: Any, fake_rasa: FakeRasa) -> None:
    _, wang = supervisor_and_agent(db_url, make_client)
    fake_rasa.user_says("oFill2", "申诉进度怎么样")
    no_appeal = queue_merchant(db_url, "oFill2", "1900000002")  # restricted, no appeal
    visitor = queue_handoff(db_url, "oFill3", snapshot=None)  # never verified
    for handoff_id in (no_appeal, visitor):
        assert wang.post(f"{API}/handoffs/{handoff_id}/claim").status_code == 200
    progress = by_shortcut(wang, "/进度")["id"]
    check = by_shortcut(wang, "/核对")["id"]
    filled = wang.get(f"{API}/handoffs/{no_appeal}/canned/{progress}").json()
    assert filled["complete"] is False
    assert "【待填：申诉单号】" in filled["text"] and "{" not in filled["text"]
    assert filled["missing"] == [{"name": "申诉单号", "reason": "这位商户没有进行中的申诉"}]
    assert filled["problems"] == ["这位商户没有进行中的申诉，请把【待填：申诉单号】改成实际内容或删掉"]
    unverified = wang.get(f"{API}/handoffs/{visitor}/canned/{check}").json()
    assert unverified["missing"] == [{"name": "商户号", "reason": "商户还没有核验身份"}]
    # Sent as it is, the mark (or a raw variable) never reaches the merchant.
    appends = len(fake_rasa.appends)
    for text in (filled["text"], "您的商户号是{商户号}", "您的商户号是｛商户号｝"):
        refused = wang.post(f"{API}/handoffs/{no_appeal}/messages", json={"text": text})
        assert refused.status_code == 422, text
        assert "还有没填的内容" in problems(refused)[0]
    assert len(fake_rasa.appends) == appends
    fixed = filled["text"].replace("【待填：申诉单号】", "（稍后告诉您）")
    sent = wang.post(f"{API}/handoffs/{no_appeal}/messages", json={"text": fixed})
    assert sent.status_code == 200 and sent.json()["status"] == "sent"
    assert fake_rasa.bot_events("oFill2")[-1]["text"] == fixed


def test_a_disabled_reply_cannot_be_filled(db_url: str, make_client: Any) -> None:
    boss, wang = supervisor_and_agent(db_url, make_client)
    handoff_id = queue_merchant(db_url, "oFill4", "1900000003")
    wang.post(f"{API}/handoffs/{handoff_id}/claim")
    reply = by_shortcut(wang, "/防骗")
    boss.post(f"{API}/canned/{reply['id']}/disable")
    gone = wang.get(f"{API}/handoffs/{handoff_id}/canned/{reply['id']}")
    assert gone.status_code == 404 and "已停用" in gone.json()["detail"]


# --- 会话小结 labels at close ------------------------------------------------------------------
def test_the_taxonomy_is_seeded_for_this_domain(db_url: str, client: TestClient) -> None:
    add_agent(db_url, "wang", "小王")
    sign_in(client, "wang")
    assert [label["name"] for label in client.get(f"{API}/labels").json()["items"]] \
        == SEEDED_LABELS


def test_closing_needs_a_valid_label_which_is_stored_and_shown_in_history(
        db_url: str, make_client: Any, fake_rasa: FakeRasa) -> None:
    boss, wang = supervisor_and_agent(db_url, make_client)
    fake_rasa.user_says("oLabel1", "转人工")
    handoff_id = queue_handoff(db_url, "oLabel1")
    wang.post(f"{API}/handoffs/{handoff_id}/claim")
    none = wang.post(f"{API}/handoffs/{handoff_id}/close", json={"resolution": "已解答"})
    assert none.status_code == 422
    assert none.json()["detail"].startswith("结束会话前请选一个会话小结标签（例如：申诉进度、解封时间")
    unknown = wang.post(f"{API}/handoffs/{handoff_id}/close",
                        json={"resolution": "已解答", "label_id": 999999})
    assert unknown.status_code == 422 and "没有这个会话小结标签" in unknown.json()["detail"]
    boss.post(f"{API}/labels/{label_id(boss, '投诉')}/disable")
    disabled = wang.post(f"{API}/handoffs/{handoff_id}/close",
                         json={"resolution": "已解答", "label": "投诉"})
    assert disabled.status_code == 422 and "已停用" in disabled.json()["detail"]
    with Session(get_engine(db_url)) as session:  # refused: still the agent's, bot silent
        assert session.get(Handoff, handoff_id).status == HandoffStatus.agent
    assert fake_rasa.triggers == []
    unfreeze = label_id(boss, "解封时间")
    closed = wang.post(f"{API}/handoffs/{handoff_id}/close",
                       json={"resolution": "已告知审核时间", "label_id": unfreeze})
    assert closed.status_code == 200 and closed.json()["label"] == "解封时间"
    with Session(get_engine(db_url)) as session:
        assert session.get(Handoff, handoff_id).label_id == unfreeze
    [item] = wang.get(f"{API}/history").json()["items"]
    assert item["label"] == "解封时间"
    view = wang.get(f"{API}/history/{item['ref']}").json()
    assert view["history"]["label"] == "解封时间"


def test_history_is_searchable_by_label(db_url: str, make_client: Any,
                                        fake_rasa: FakeRasa) -> None:
    boss, wang = supervisor_and_agent(db_url, make_client)
    for sender, label in (("oS1", "申诉进度"), ("oS2", "防骗"), ("oS3", "申诉进度")):
        fake_rasa.user_says(sender, "转人工")
        handoff_id = queue_handoff(db_url, sender)
        wang.post(f"{API}/handoffs/{handoff_id}/claim")
        assert wang.post(f"{API}/handoffs/{handoff_id}/close",
                         json={"resolution": "已解答", "label": label}).status_code == 200
    appeal = label_id(boss, "申诉进度")
    found = wang.get(f"{API}/history", params={"label_id": appeal}).json()
    assert [i["label"] for i in found["items"]] == ["申诉进度", "申诉进度"]
    assert {label["name"] for label in found["labels"]} >= set(SEEDED_LABELS)
    assert wang.get(f"{API}/history", params={"label_id": label_id(boss, "投诉")}
                    ).json()["items"] == []
    # A renamed label is the same label: the handoffs that had it show the new name.
    assert boss.put(f"{API}/labels/{appeal}", json={"name": "申诉进展"}).status_code == 200
    renamed = wang.get(f"{API}/history", params={"label_id": appeal}).json()["items"]
    assert [i["label"] for i in renamed] == ["申诉进展", "申诉进展"]
    # Disabled: no longer offered at close, still on the handoffs and in the filter.
    boss.post(f"{API}/labels/{appeal}/disable")
    assert "申诉进展" not in [x["name"] for x in wang.get(f"{API}/labels").json()["items"]]
    still = wang.get(f"{API}/history", params={"label_id": appeal}).json()
    assert len(still["items"]) == 2
    assert any(x["name"] == "申诉进展" and not x["active"] for x in still["labels"])


def test_supervisors_edit_the_taxonomy_and_agents_cannot(db_url: str,
                                                         make_client: Any) -> None:
    boss, wang = supervisor_and_agent(db_url, make_client)
    assert wang.post(f"{API}/labels", json={"name": "开户"}).status_code == 403
    assert wang.post(f"{API}/labels/{label_id(boss, '其他')}/disable").status_code == 403
    created = boss.post(f"{API}/labels", json={"name": "开户"})
    assert created.status_code == 201 and created.json()["name"] == "开户"
    assert "开户" in [x["name"] for x in wang.get(f"{API}/labels").json()["items"]]
    dup = boss.post(f"{API}/labels", json={"name": "防骗"})
    assert dup.status_code == 422 and problems(dup) == ["已经有标签「防骗」了"]
    assert problems(boss.post(f"{API}/labels", json={"name": ""})) == ["请填写标签名称"]
    assert "最多12个字" in problems(boss.post(f"{API}/labels", json={"name": "长" * 13}))[0]
    # The last label offered cannot go: nobody could close a conversation any more.
    for label in wang.get(f"{API}/labels").json()["items"][:-1]:
        assert boss.post(f"{API}/labels/{label['id']}/disable").status_code == 200
    last = wang.get(f"{API}/labels").json()["items"]
    assert len(last) == 1
    refused = boss.post(f"{API}/labels/{last[0]['id']}/disable")
    assert refused.status_code == 422 and "至少要留一个" in problems(refused)[0]
    changes = boss.get(f"{API}/team/changes", params={"kind": "handoff_label"}).json()["items"]
    assert changes[-1]["action"] == "created" and changes[-1]["after"]["name"] == "开户"
    assert {c["agent"] for c in changes} == {"老张"}


def test_two_consoles_seeding_at_once_seed_once(db_url: str) -> None:
    """The first list on two console replicas at the same moment: one seeds, the other
    reads that list (the unique shortcut), neither fails."""
    from console import canned as canned_replies

    barrier = threading.Barrier(2)
    results: list[int] = []
    failures: list[BaseException] = []

    def first_list() -> None:
        try:
            with Session(get_engine(db_url)) as session, session.begin():
                barrier.wait(5)
                results.append(len(canned_replies.listing(session)))
        except BaseException as error:  # noqa: BLE001 - reported below
            failures.append(error)

    threads = [threading.Thread(target=first_list) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not failures, failures
    assert results == [len(canned_replies.SEEDS)] * 2
    with Session(get_engine(db_url)) as session:
        assert len(session.execute(select(CannedReply)).scalars().all()) \
            == len(canned_replies.SEEDS)


def test_the_team_page_is_served_under_the_strict_policy(client: TestClient) -> None:
    response = client.get("/console/team")
    assert response.status_code == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    html = response.text
    assert '<script src="/console/static/team.js"' in html
    assert "<script>" not in html and "style=" not in html and "<style" not in html
    for name in ("team.js", "team.css"):
        assert client.get(f"/console/static/{name}").status_code == 200
    # Behind a session like every API route.
    assert client.get(f"{API}/canned").status_code == 401
    assert client.get(f"{API}/team/changes").status_code == 401
