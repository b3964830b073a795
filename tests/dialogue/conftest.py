"""Conversations in-process (tests/conversation.py) on a fresh SQLite merchant database."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from rasa.utils.log_utils import configure_structlog
from sqlalchemy import update
from sqlalchemy.orm import Session

from core.db.migrate import upgrade
from core.db.models import AccountState
from core.db.seed import seed_demo_data
from core.db.session import get_engine
from tests.conversation import Conversation, InProcessActionEndpoint, load_agent
from tests.e2e.servers import MODEL

Talk = Callable[..., Conversation]


@pytest.fixture(scope="session")
def action_endpoint() -> InProcessActionEndpoint:
    return InProcessActionEndpoint()


@pytest.fixture(scope="session")
def agent(action_endpoint: InProcessActionEndpoint):  # type: ignore[no-untyped-def]
    # Rasa's structured debug log would print every slot of every turn.
    configure_structlog(logging.WARNING)
    if not MODEL.exists():
        raise RuntimeError("no trained model: run `make train` first")
    return load_agent(MODEL, action_endpoint)


@pytest.fixture()
def fresh_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'merchant.db'}"
    upgrade(url)
    seed_demo_data(get_engine(url))
    monkeypatch.setenv("MERCHANT_DB_URL", url)
    return url


def forget_reason(merchant_id: str) -> None:
    """The merchant's restriction has no known reason (in the test's fresh database): the
    appeal form then asks for the category instead of filling it in from the reason."""
    with Session(get_engine(os.environ["MERCHANT_DB_URL"])) as session, session.begin():
        session.execute(update(AccountState).where(AccountState.merchant_id == merchant_id)
                        .values(reason_code=None))


@pytest.fixture()
def talk(agent, fresh_db: str) -> Talk:  # type: ignore[no-untyped-def]
    """A new conversation (new sender) with the assistant."""

    def start(**kwargs: object) -> Conversation:
        return Conversation(agent, **kwargs)  # type: ignore[arg-type]

    return start
