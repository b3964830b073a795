"""A REST caller cannot reach another channel's conversation: not by using a WeChat
OpenID as sender id, not by claiming input_channel "wechat". With a shared secret,
requests without the secret are refused.

On the session's shared stack (tests/stack.py): the main REST channel as `make run` has
it, and the same class as ``rest_locked`` with ``shared_secret`` and a rate limit of 5."""

from __future__ import annotations

import time
import uuid

import pytest
import requests
from sqlalchemy.orm import Session

from core.db import repository
from core.db.session import get_engine
from tests.e2e.servers import Servers
from tests.stack import LOCKED_REST_LIMIT, REST_SECRET, SharedStack
from tests.wechat.client import TOKEN, wechat_send

pytestmark = pytest.mark.e2e

SECRET = REST_SECRET
LOCKED = "rest_locked"  # the REST channel with a shared secret and a rate limit of 5


@pytest.fixture(scope="module")
def servers(shared_stack: SharedStack) -> Servers:
    return shared_stack.servers


def rest(servers: Servers, body: dict, secret: str | None = SECRET,
         channel: str = LOCKED) -> requests.Response:
    headers = {"X-Rest-Secret": secret} if secret is not None else {}
    return requests.post(f"{servers.rasa_url}/webhooks/{channel}/webhook", json=body,
                         headers=headers, timeout=30)


def test_requests_without_the_shared_secret_are_refused(servers: Servers) -> None:
    body = {"sender": f"s-{uuid.uuid4().hex[:6]}", "message": "客服电话多少"}
    assert rest(servers, body, secret=None).status_code == 401
    assert rest(servers, body, secret="wrong").status_code == 401
    assert "95017" in rest(servers, body).text


def test_a_wechat_openid_used_on_rest_is_a_fresh_conversation(servers: Servers) -> None:
    openid = f"oWx{uuid.uuid4().hex[:24]}"
    # The WeChat user verifies as merchant 1900000003 (signed requests, as WeChat sends).
    for text in ("查账户", "1900000003 0003"):
        query, body = wechat_send.signed_request(wechat_send.text_xml(openid, text), TOKEN,
                                                 "", "")
        requests.post(f"{servers.rasa_url}/webhooks/wechat/webhook", params=query, data=body,
                      headers={"Content-Type": "text/xml"}, timeout=30).raise_for_status()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with Session(get_engine(servers.db_url)) as session:
            if repository.bound_merchant_id(session, "wechat", openid):
                break
        time.sleep(0.2)
    else:
        pytest.fail("the WeChat user was never verified: the test would prove nothing")
    # The same id on REST, even claiming to be WeChat, is somebody else.
    for claimed in (None, "wechat"):
        body = {"sender": openid, "message": "帮我查一下账户状态"}
        if claimed:
            body["input_channel"] = claimed
        reply = " ".join(m.get("text", "") for m in rest(servers, body, channel="rest").json())
        assert "冻结" not in reply and "1900****03" not in reply
        assert "商户号" in reply  # asked to verify, like any stranger
    wechat_tracker = requests.get(f"{servers.rasa_url}/conversations/{openid}/tracker",
                                  params={"token": servers.token}, timeout=10).json()
    rest_texts = [e.get("text") for e in wechat_tracker["events"] if e.get("event") == "user"]
    assert "帮我查一下账户状态" not in rest_texts  # nothing landed in the WeChat conversation


def test_rate_and_size_limits_answer_politely_and_keep_serving_others(
    servers: Servers,
) -> None:
    fast = f"fast-{uuid.uuid4().hex[:6]}"
    statuses = [rest(servers, {"sender": fast, "message": "客服电话多少"}).status_code
                for _ in range(LOCKED_REST_LIMIT + 1)]
    assert statuses == [200] * LOCKED_REST_LIMIT + [429]
    limited = rest(servers, {"sender": fast, "message": "客服电话多少"}).json()
    assert "稍等" in limited[0]["text"]
    calm = rest(servers, {"sender": f"calm-{uuid.uuid4().hex[:6]}", "message": "客服电话多少"})
    assert calm.status_code == 200 and "95017" in calm.text
    huge = rest(servers, {"sender": f"long-{uuid.uuid4().hex[:6]}", "message": "收款" * 4000})
    assert huge.status_code == 413 and "太长" in huge.json()[0]["text"]
