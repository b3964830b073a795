"""A refused claim says what is true (issue 20, item 6): cancelled by the merchant,
already yours, taken by a named colleague, or closed."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from core.db import handoffs
from core.db.session import get_engine
from tests.console.conftest import add_agent, queue_handoff, sign_in

API = "/console/api"


def claim(client: TestClient, handoff_id: int) -> tuple[int, str]:
    response = client.post(f"{API}/handoffs/{handoff_id}/claim")
    return response.status_code, response.json().get("detail", "")


def test_a_cancelled_conversation_says_the_merchant_left(db_url: str,
                                                         client: TestClient) -> None:
    add_agent(db_url, "wang", "小王")
    handoff_id = queue_handoff(db_url, "oLeft")
    with Session(get_engine(db_url)) as session, session.begin():
        handoffs.cancel(session, "wechat", "oLeft")
    sign_in(client, "wang")
    assert claim(client, handoff_id) == (409, "商户已取消排队，不用再接入了")


def test_claiming_twice_says_it_is_already_yours(db_url: str, client: TestClient) -> None:
    add_agent(db_url, "wang", "小王", max_open=1)
    handoff_id = queue_handoff(db_url, "oMine")
    sign_in(client, "wang")
    assert claim(client, handoff_id)[0] == 200
    # Also at the limit: the truth is that it is already held by this agent.
    assert claim(client, handoff_id) == (409, "这个会话已经在你手上了")


def test_taken_names_the_colleague_and_closed_says_closed(db_url: str,
                                                          make_client) -> None:
    add_agent(db_url, "wang", "小王")
    add_agent(db_url, "li", "小李")
    handoff_id = queue_handoff(db_url, "oTaken")
    wang, li = make_client(), make_client()
    sign_in(wang, "wang")
    sign_in(li, "li")
    assert claim(wang, handoff_id)[0] == 200
    assert claim(li, handoff_id) == (409, "已被客服小王接入")
    assert wang.post(f"{API}/handoffs/{handoff_id}/close",
                     json={"resolution": "已解答", "label": "其他"}).status_code == 200
    assert claim(li, handoff_id)[1] == "这个会话已经结束了"
