"""Console fixtures: the app on the test database (SQLite and PostgreSQL) with a fake
rasa API, agents, signed-in clients and queued handoffs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from console import agents, security
from console.app import create_app
from console.config import Settings
from core.db import handoffs
from core.db.models import Agent, AgentPresence
from core.db.session import get_engine
from tests.console.fake_rasa import TOKEN, FakeRasa

PASSWORD = "correct horse battery"
SNAPSHOT = {
    "merchant": "1900****02", "state": "restricted", "state_label": "限制收款",
    "since": "2026年11月22日", "allowed": "目前不能收款，但余额还能提现。",
    "reason_label": "店里的线下收款码被外地付款人扫码",
    "appeals": [{"id": "AP20261120001", "status_label": "审核中",
                 "category_label": "异地收款", "created": "2026年11月20日"}],
}


@dataclass
class Sleeps:
    """Stands in for asyncio.sleep: records the slow-down instead of waiting."""

    calls: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture(autouse=True, scope="session")
def cheap_argon2() -> Iterator[None]:
    """Argon2 with small parameters in tests (the same code, a fraction of the work:
    these machines are shared). Hashes carry their parameters, so the console
    subprocess verifies them too; production keeps argon2-cffi's defaults."""
    saved = security._hasher, security._DUMMY_HASH
    security._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    security._DUMMY_HASH = security._hasher.hash("dummy-password")
    yield
    security._hasher, security._DUMMY_HASH = saved


@pytest.fixture()
def fake_rasa() -> FakeRasa:
    return FakeRasa()


@pytest.fixture()
def sleeps() -> Sleeps:
    return Sleeps()


def settings_for(db_url: str, **overrides: Any) -> Settings:
    return Settings(db_url=db_url, rasa_url="http://rasa.test", rasa_token=TOKEN,
                    **overrides)


@pytest.fixture()
def console_app(db_url: str, fake_rasa: FakeRasa, sleeps: Sleeps) -> Any:
    return create_app(settings_for(db_url), rasa_transport=fake_rasa.transport(),
                      sleep=sleeps, background=False)


@pytest.fixture()
def client(console_app: Any) -> Iterator[TestClient]:
    with TestClient(console_app) as test_client:
        yield test_client


@pytest.fixture()
def make_client(console_app: Any) -> Iterator[Any]:
    """More browsers on the same console (one per agent)."""
    clients: list[TestClient] = []

    def build() -> TestClient:
        test_client = TestClient(console_app)
        test_client.__enter__()
        clients.append(test_client)
        return test_client

    yield build
    for test_client in clients:
        test_client.__exit__(None, None, None)


def add_agent(db_url: str, username: str, name: str, max_open: int = 3,
              password: str = PASSWORD, supervisor: bool = False) -> int:
    return agents.create(db_url, username, name, password, max_open, supervisor=supervisor)


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Signs in; the client keeps the cookie and sends the CSRF header from now on."""
    response = client.post("/console/api/login",
                           json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    csrf = response.json()["csrf_token"]
    client.headers["X-CSRF-Token"] = csrf
    return csrf


def queue_handoff(db_url: str, sender: str, channel: str = "wechat",
                  reason: str = "merchant_asked", problem: str = "收款码被限制了，钱能提出来吗",
                  snapshot: dict[str, Any] | None = SNAPSHOT, ticket: bool = False,
                  contact_phone: str | None = None) -> int:
    with Session(get_engine(db_url)) as session, session.begin():
        return handoffs.queue(
            session, channel, sender, reason, problem,
            merchant_id="1900000002" if snapshot else None,
            account_snapshot=json.dumps(snapshot, ensure_ascii=False) if snapshot else None,
            ticket=ticket, contact_method="phone" if contact_phone else None,
            contact_phone=contact_phone).id


def set_presence(db_url: str, agent_id: int, presence: AgentPresence) -> None:
    with Session(get_engine(db_url)) as session, session.begin():
        session.get(Agent, agent_id).presence = presence
