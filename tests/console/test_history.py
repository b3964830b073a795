"""History and search of ended conversations (issue 20, item 2) and who may read them
(issue 25, P5): listed and searchable with transcript, score, resolution, notes and
timings, masked; reached by an opaque reference; read only by the agent who handled
it, a supervisor, or the agent now serving the same conversation again; every read
audited; no notes once ended."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.db import handoffs
from core.db.models import Agent, Handoff, HandoffRead
from core.db.session import get_engine
from tests.console.conftest import add_agent, queue_handoff, sign_in
from tests.console.fake_rasa import FakeRasa

API = "/console/api"


def handle(client: TestClient, handoff_id: int, resolution: str = "已指导提交申诉",
           reply: str | None = "你好，我来看一下") -> None:
    assert client.post(f"{API}/handoffs/{handoff_id}/claim").status_code == 200
    if reply:
        assert client.post(f"{API}/handoffs/{handoff_id}/messages",
                           json={"text": reply}).status_code == 200
    assert client.post(f"{API}/handoffs/{handoff_id}/notes",
                       json={"text": "商户说手机13800000002打不通"}).status_code == 200
    assert client.post(f"{API}/handoffs/{handoff_id}/close",
                       json={"resolution": resolution, "label": "其他"}).status_code == 200


def make_supervisor(db_url: str, agent_id: int) -> None:
    with Session(get_engine(db_url)) as session, session.begin():
        session.execute(update(Agent).where(Agent.id == agent_id).values(supervisor=True))


def score(db_url: str, sender: str, value: int) -> None:
    with Session(get_engine(db_url)) as session, session.begin():
        handoffs.record_satisfaction(session, "wechat", sender, value)


def history(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    response = client.get(f"{API}/history", params=params)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def test_an_ended_conversation_is_listed_with_score_timings_masked(
        db_url: str, client: TestClient, fake_rasa: FakeRasa) -> None:
    add_agent(db_url, "wang", "小王")
    fake_rasa.user_says("oH1", "转人工")
    handoff_id = queue_handoff(db_url, "oH1", problem="手机13800000002收不了款")
    sign_in(client, "wang")
    handle(client, handoff_id, resolution="已回电13800000002，指导申诉")
    score(db_url, "oH1", 5)
    [item] = history(client)
    assert set(item) >= {"ref", "agent", "satisfaction", "resolution", "timings"}
    assert "id" not in item  # only the opaque reference names it
    assert len(item["ref"]) >= 20
    assert item["agent"] == "小王" and item["satisfaction"] == 5
    assert item["merchant"] == "1900****02"
    assert "13800000002" not in str(item) and "138********" in item["resolution"]
    timings = item["timings"]
    assert timings["wait_seconds"] >= 0 and timings["handling_seconds"] >= 0
    assert timings["first_reply_seconds"] is not None


def test_search_by_merchant_agent_dates_and_text(db_url: str, make_client) -> None:
    wang_id = add_agent(db_url, "wang", "小王")
    li_id = add_agent(db_url, "li", "小李")
    boss_id = add_agent(db_url, "boss", "组长")
    make_supervisor(db_url, boss_id)
    wang, li, boss = make_client(), make_client(), make_client()
    for client, name in ((wang, "wang"), (li, "li"), (boss, "boss")):
        sign_in(client, name)
    first = queue_handoff(db_url, "oS1", problem="提现不到账")
    handle(wang, first, resolution="已说明到账时间")
    second = queue_handoff(db_url, "oS2", snapshot=None, problem="收款码被限制")
    handle(li, second, resolution="已转申诉专员")

    assert {i["agent"] for i in history(boss)} == {"小王", "小李"}
    assert [i["agent"] for i in history(boss, merchant="1900000002")] == ["小王"]
    assert [i["agent"] for i in history(boss, agent_id=li_id)] == ["小李"]
    assert [i["problem"] for i in history(boss, q="申诉专员")] == ["收款码被限制"]
    assert len(history(boss, q="打不通")) == 2  # notes are searched too
    today = dt.date.today()
    assert len(history(boss, date_from=str(today - dt.timedelta(days=1)),
                       date_to=str(today + dt.timedelta(days=1)))) == 2
    assert history(boss, date_from=str(today + dt.timedelta(days=2))) == []
    # Searching for a personal number would tell which conversations hold it: refused.
    refused = boss.get(f"{API}/history", params={"q": "13800000002"})
    assert refused.status_code == 422
    # An agent (no supervisor) sees only what they handled, whatever they ask for.
    assert [i["agent"] for i in history(li)] == ["小李"]
    assert history(li, agent_id=wang_id) == []


def test_detail_has_the_transcript_up_to_the_close_and_every_read_is_audited(
        db_url: str, client: TestClient, fake_rasa: FakeRasa) -> None:
    add_agent(db_url, "wang", "小王")
    fake_rasa.user_says("oD1", "转人工")
    handoff_id = queue_handoff(db_url, "oD1")
    sign_in(client, "wang")
    handle(client, handoff_id)
    fake_rasa.user_says("oD1", "后来又说的话", ts=time.time() + 60)
    [item] = history(client)
    detail = client.get(f"{API}/history/{item['ref']}")
    assert detail.status_code == 200
    view = detail.json()
    lines = [(line["role"], line["text"]) for line in view["transcript"]]
    assert lines[0] == ("merchant", "转人工")
    assert lines[-1] == ("system", "客服小王已结束会话，之后由智能助手回复。")
    assert "后来又说的话" not in str(lines)  # what the merchant said after the close
    assert [n["text"] for n in view["notes"]] == ["商户说手机138********打不通"]
    assert view["handoff"]["resolution"] == "已指导提交申诉"
    with Session(get_engine(db_url)) as session:
        reads = session.execute(select(HandoffRead.handoff_id)).scalars().all()
    assert reads == [handoff_id]


def test_guessed_ids_and_references_show_nothing_and_ended_ones_take_no_notes(
        db_url: str, make_client, fake_rasa: FakeRasa) -> None:
    add_agent(db_url, "wang", "小王")
    add_agent(db_url, "li", "小李")
    boss_id = add_agent(db_url, "boss", "组长")
    make_supervisor(db_url, boss_id)
    wang, li, boss = make_client(), make_client(), make_client()
    for client, name in ((wang, "wang"), (li, "li"), (boss, "boss")):
        sign_in(client, name)
    handoff_id = queue_handoff(db_url, "oP5")
    handle(wang, handoff_id)
    with Session(get_engine(db_url)) as session:
        ref = session.get(Handoff, handoff_id).ref
    # Another agent, by the sequential id or the reference: as if it did not exist.
    assert li.get(f"{API}/handoffs/{handoff_id}").status_code == 404
    assert li.get(f"{API}/handoffs/{handoff_id + 1000}").status_code == 404
    assert li.get(f"{API}/history/{ref}").status_code == 404
    assert li.post(f"{API}/handoffs/{handoff_id}/notes",
                   json={"text": "看看"}).status_code == 404
    # The agent who handled it and a supervisor read it; nobody adds notes any more.
    assert wang.get(f"{API}/handoffs/{handoff_id}").status_code == 200
    assert boss.get(f"{API}/history/{ref}").status_code == 200
    for client in (wang, boss):
        note = client.post(f"{API}/handoffs/{handoff_id}/notes", json={"text": "补充"})
        assert note.status_code == 409 and note.json()["detail"] == "会话已结束，不能再加备注"


def test_the_agent_serving_the_merchant_again_reads_the_earlier_conversation(
        db_url: str, make_client, fake_rasa: FakeRasa) -> None:
    add_agent(db_url, "wang", "小王")
    add_agent(db_url, "li", "小李")
    wang, li = make_client(), make_client()
    sign_in(wang, "wang")
    sign_in(li, "li")
    earlier = queue_handoff(db_url, "oAgain")
    handle(wang, earlier)
    again = queue_handoff(db_url, "oAgain")
    assert li.get(f"{API}/handoffs/{earlier}").status_code == 404
    assert li.post(f"{API}/handoffs/{again}/claim").status_code == 200
    view = li.get(f"{API}/handoffs/{again}").json()
    [previous] = view["earlier"]
    assert previous["resolution"] == "已指导提交申诉"
    assert li.get(f"{API}/history/{previous['ref']}").status_code == 200
    assert [i["ref"] for i in history(li)] == [previous["ref"]]
