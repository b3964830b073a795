"""The widget channel as the cluster starts it: a Redis client manager shared by the
replicas, and engine.io session ids that tell nginx which replica issued them."""

from __future__ import annotations

import asyncio
import inspect
import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from socketio import AsyncRedisManager

from addons.channels.widget import WidgetInput, WidgetServer, enter_room
from tests.scaled.conftest import REDIS_URL, load_script, require

cluster_nginx = load_script("cluster_nginx")


def replica(monkeypatch: pytest.MonkeyPatch, node: str) -> WidgetServer:
    monkeypatch.setenv("WIDGET_REDIS_URL", REDIS_URL)
    monkeypatch.setenv("WIDGET_NODE_ID", node)
    server = WidgetInput.from_credentials({}).create_server()
    assert isinstance(server, WidgetServer)
    return server


def test_each_replica_issues_session_ids_nginx_routes_back_to_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = cluster_nginx.render(tmp_path, {"RASA1_ADDR": "10.0.0.1:5105",
                                             "RASA2_ADDR": "10.0.0.2:5106"})
    routes = dict(re.findall(r'"~\^(\w+)\\\.\"\s+(\w+);', config))
    for node, address in (("rasa1", "10.0.0.1:5105"), ("rasa2", "10.0.0.2:5106")):
        sid = replica(monkeypatch, node).eio.generate_id()
        assert sid.startswith(f"{node}.")
        upstream = routes[node]
        block = re.search(rf"upstream {upstream} \{{(.*?)\}}", config, re.S)
        assert block, upstream
        servers = re.findall(r"server (\S+)( backup)?", block.group(1))
        # The issuing replica first; the other one only as its backup.
        assert servers[0] == (address, "")
        assert all(flag == " backup" for _, flag in servers[1:])


def test_a_bad_node_id_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WIDGET_NODE_ID", "rasa 1")
    with pytest.raises(ValueError, match="node_id"):
        WidgetInput.from_credentials({})


@pytest.mark.redis
async def test_an_emit_on_one_replica_reaches_a_browser_on_the_other(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    require("Redis", "127.0.0.1", 6379)
    sender, receiver = replica(monkeypatch, "rasa1"), replica(monkeypatch, "rasa2")
    for server in (sender, receiver):
        assert isinstance(server.manager, AsyncRedisManager)
        assert server.manager.redis_url == REDIS_URL
        # Pub/sub channels are shared by every Redis database: one of this test only.
        server.manager.channel = f"widget-scaled-test-{uuid.uuid4().hex[:8]}"
    sender.manager.channel = receiver.manager.channel
    delivered: list[tuple[str, Any]] = []

    async def record(eio_sid: str, packet: Any) -> None:
        delivered.append((eio_sid, packet.data))

    receiver._send_eio_packet = record  # type: ignore[method-assign]
    receiver.manager.initialize()  # listens on the Redis channel
    connected = receiver.manager.connect("browser-1", "/")
    sid = await connected if inspect.isawaitable(connected) else connected
    await enter_room(receiver, sid, "session-1")
    try:
        for _ in range(100):  # the listener subscribes asynchronously
            await sender.emit("bot_uttered", {"text": "人工客服的回复"}, room="session-1")
            await asyncio.sleep(0.05)
            if delivered:
                break
        assert delivered, "the emit never reached the other replica"
        target, data = delivered[0]
        assert target == "browser-1"
        assert json.loads(data[data.index("["):]) == ["bot_uttered", {"text": "人工客服的回复"}]
    finally:
        receiver.manager.thread.cancel()
        await asyncio.gather(receiver.manager.thread, return_exceptions=True)
