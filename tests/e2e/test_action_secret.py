"""The test stack's action server is the one `make run` starts (scripts/action_server.py):
it runs actions only for callers holding the shared secret, which the rasa server sends."""

from __future__ import annotations

import uuid

import pytest
import requests

from tests.e2e.servers import ACTIONS_HEADER, Servers

pytestmark = pytest.mark.e2e


def action_call(sender: str) -> dict:
    """What rasa posts to run an action (enough for the executor to look it up)."""
    return {"next_action": "action_forget", "sender_id": sender, "version": "3.6.2",
            "domain": {}, "tracker": {"sender_id": sender, "slots": {}, "events": [],
                                      "latest_message": {}, "active_loop": {}}}


@pytest.mark.parametrize("headers", [{}, {ACTIONS_HEADER: "wrong"}])
def test_the_action_server_refuses_calls_without_the_secret(
        servers: Servers, headers: dict[str, str]) -> None:
    response = requests.post(f"{servers.actions_url}/webhook", json=action_call("e2e-intruder"),
                             headers=headers, timeout=10)
    assert response.status_code == 401
    assert requests.get(f"{servers.actions_url}/actions", headers=headers,
                        timeout=10).status_code == 401
    # Only the health check stays open (the launchers wait on it).
    assert requests.get(f"{servers.actions_url}/health", timeout=10).ok


def test_the_rasa_server_reaches_its_actions_with_the_secret(servers: Servers) -> None:
    listing = requests.get(f"{servers.actions_url}/actions",
                           headers={ACTIONS_HEADER: servers.actions_secret}, timeout=10)
    assert listing.ok and {"name": "action_forget"} in listing.json()
    # A status look-up runs the form's custom actions: the rasa server sends the secret.
    user = f"e2e-secret-{uuid.uuid4().hex[:8]}"
    servers.texts(user, "帮我查一下账户状态")
    servers.texts(user, "1900000001")
    assert "状态正常" in servers.texts(user, "0001")
