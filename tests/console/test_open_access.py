"""Who reads an open handoff (issue 25, item 4; docs/security.md P5 g): a queued one is
previewed by any agent (who may claim it); one an agent holds is read (transcript,
account panel, notes, the whole call-back number) and changed only by that agent and
supervisors. Everyone else gets the answer for an id that does not exist, also after a
transfer, which hands the reading over to the receiving agent."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from core.db.models import AgentPresence
from tests.console.conftest import add_agent, queue_handoff, set_presence, sign_in
from tests.console.fake_rasa import FakeRasa
from tests.console.test_history import make_supervisor

API = "/console/api"


def absent(client: TestClient, method: str, path: str, **body: Any) -> dict[str, Any]:
    response = client.request(method, f"{API}{path}", **({"json": body} if body else {}))
    assert response.status_code == 404, (path, response.status_code, response.text)
    return response.json()


def test_a_held_handoff_is_read_only_by_its_agent_and_supervisors(
        db_url: str, make_client, fake_rasa: FakeRasa) -> None:
    add_agent(db_url, "wang", "小王")
    li_id = add_agent(db_url, "li", "小李")
    make_supervisor(db_url, add_agent(db_url, "boss", "组长"))
    wang, li, boss = make_client(), make_client(), make_client()
    for client, name in ((wang, "wang"), (li, "li"), (boss, "boss")):
        sign_in(client, name)
    fake_rasa.user_says("oHeld1", "转人工，申诉一个月了还没结果")
    ticket = queue_handoff(db_url, "oHeld1", ticket=True, contact_phone="13900001111")

    # Queued: any agent previews what they are about to claim (not the whole number).
    preview = li.get(f"{API}/handoffs/{ticket}")
    assert preview.status_code == 200
    assert preview.json()["transcript"][0]["text"] == "转人工，申诉一个月了还没结果"
    assert preview.json()["callback_phone"] is None
    assert [h["id"] for h in li.get(f"{API}/queue").json()["tickets"]] == [ticket]

    assert wang.post(f"{API}/handoffs/{ticket}/claim").status_code == 200
    assert wang.post(f"{API}/handoffs/{ticket}/notes",
                     json={"text": "先核对申诉单号"}).status_code == 200
    sent = wang.post(f"{API}/handoffs/{ticket}/messages", json={"text": "你好，我是小王"})
    assert sent.status_code == 200
    message_id = sent.json()["id"]

    # Held by wang: another agent gets exactly the answer for an unknown id.
    unknown = absent(li, "GET", f"/handoffs/{ticket + 1000}")
    assert absent(li, "GET", f"/handoffs/{ticket}") == unknown
    assert absent(li, "POST", f"/handoffs/{ticket}/notes", text="我也看看") == unknown
    assert absent(li, "POST", f"/handoffs/{ticket}/messages", text="插一句") == unknown
    assert absent(li, "POST", f"/handoffs/{ticket}/close", resolution="结束") == unknown
    assert absent(li, "POST", f"/handoffs/{ticket}/transfer", agent_id=li_id) == unknown
    assert absent(li, "POST", f"/messages/{message_id}/retry") \
        == absent(li, "POST", f"/messages/{message_id + 1000}/retry")
    # The queue still says who holds how many (how agents pick a transfer target), not
    # what another agent's conversations are about.
    assert [h["id"] for h in wang.get(f"{API}/queue").json()["mine"]] == [ticket]
    others = {a["username"]: a for a in li.get(f"{API}/queue").json()["agents"]}
    assert li.get(f"{API}/queue").json()["mine"] == [] and others["wang"]["open"] == 1
    assert "problem" not in others["wang"]["conversations"][0]
    overseen = {a["username"]: a for a in boss.get(f"{API}/queue").json()["agents"]}
    assert overseen["wang"]["conversations"][0]["problem"] == "收款码被限制了，钱能提出来吗"

    for reader in (wang, boss):
        view = reader.get(f"{API}/handoffs/{ticket}").json()
        assert [n["text"] for n in view["notes"]] == ["先核对申诉单号"]
        assert view["account"]["state_label"] == "限制收款"
        assert view["transcript"][0]["role"] == "merchant"
    assert wang.get(f"{API}/handoffs/{ticket}").json()["callback_phone"] == "13900001111"
    assert boss.get(f"{API}/handoffs/{ticket}").json()["callback_phone"] is None
    # A supervisor reads it, but it is still wang's to answer and close.
    assert boss.post(f"{API}/handoffs/{ticket}/messages", json={"text": "x"}).status_code == 409
    assert boss.post(f"{API}/handoffs/{ticket}/notes",
                     json={"text": "组长：注意语气"}).status_code == 200

    # Transferred: the receiving agent reads it (whole number included); wang no longer.
    set_presence(db_url, li_id, AgentPresence.online)
    moved = wang.post(f"{API}/handoffs/{ticket}/transfer", json={"agent_id": li_id})
    assert moved.status_code == 200, moved.text
    view = li.get(f"{API}/handoffs/{ticket}").json()
    assert [n["text"] for n in view["notes"]] == ["先核对申诉单号", "组长：注意语气"]
    assert view["callback_phone"] == "13900001111"
    assert [m["text"] for m in view["messages"]] == ["你好，我是小王"]
    assert absent(wang, "GET", f"/handoffs/{ticket}") == unknown
    assert li.post(f"{API}/handoffs/{ticket}/notes", json={"text": "已接手"}).status_code == 200
    assert boss.get(f"{API}/handoffs/{ticket}").status_code == 200
