"""With the merchant database unreachable the assistant answers politely and stays up."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.e2e.servers import Servers, running_servers, warm_up

pytestmark = pytest.mark.e2e

DEAD_URL = "postgresql+psycopg2://nobody@127.0.0.1:9/none"  # nothing listens on port 9


@pytest.fixture(scope="module")
def servers_without_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    with running_servers(Path(tmp_path_factory.mktemp("dead-db")), DEAD_URL,
                         warm_up=warm_up) as running:
        yield running


def test_lookups_say_busy_and_the_servers_stay_up(servers_without_db: Servers) -> None:
    user = f"down-{uuid.uuid4().hex[:8]}"
    first = servers_without_db.texts(user, "帮我查一下账户状态")
    assert "系统繁忙" in first and "95017" in first
    again = servers_without_db.texts(user, "1900000002 0002")
    assert "1900000002" not in again
    # FAQ answers do not need the database and still work.
    assert "95017" in servers_without_db.texts(user, "客服电话多少")
    assert requests.get(f"{servers_without_db.actions_url}/health", timeout=5).ok
