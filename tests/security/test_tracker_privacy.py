"""Personal data at rest: the tracker store keeps no phone, ID-card or bank-card number
(SQLite and PostgreSQL), the actions still complete, and "删除我的记录" deletes."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from rasa.shared.core.domain import Domain
from rasa.utils.log_utils import configure_structlog

from addons.stores.tracker_store import PrivateSQLTrackerStore
from core.db.migrate import upgrade
from core.db.seed import seed_demo_data
from core.db.session import get_engine
from tests.conftest import PROJECT_ROOT
from tests.conversation import Conversation, InProcessActionEndpoint, load_agent
from tests.e2e.servers import MODEL

# Conversations through the trained model: the slow lane (make test-slow).
pytestmark = pytest.mark.dialogue

PHONE, ID_CARD, BANK_CARD = "13800000002", "11010519491231002X", "6222021234567890123"


def private_store(url: str, domain: Domain) -> PrivateSQLTrackerStore:
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return PrivateSQLTrackerStore(domain=domain, dialect="sqlite", db=parsed.database)
    return PrivateSQLTrackerStore(domain=domain, dialect="postgresql", host=parsed.host,
                                  port=parsed.port, db=parsed.database,
                                  username=parsed.username)


@pytest.fixture(scope="module")
def model_agent():  # type: ignore[no-untyped-def]
    configure_structlog(logging.WARNING)
    return load_agent(MODEL, InProcessActionEndpoint())


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def tracker_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tracker.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture()
def conversation(model_agent, tracker_url: str, sqlite_url: str,  # type: ignore[no-untyped-def]
                 monkeypatch: pytest.MonkeyPatch) -> Iterator[Conversation]:
    upgrade(sqlite_url)
    seed_demo_data(get_engine(sqlite_url))
    monkeypatch.setenv("MERCHANT_DB_URL", sqlite_url)
    store = private_store(tracker_url, model_agent.domain)
    original = model_agent.tracker_store
    model_agent.tracker_store = store
    model_agent.processor.tracker_store = store
    try:
        yield Conversation(model_agent)
    finally:
        model_agent.tracker_store = original
        model_agent.processor.tracker_store = original
        store.engine.dispose()


def stored_rows(url: str) -> list[str]:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        rows = [row[0] for row in connection.execute(sa.text("SELECT data FROM events"))]
    engine.dispose()
    return rows


async def test_no_personal_number_is_stored_and_the_check_still_completes(
    conversation: Conversation, tracker_url: str
) -> None:
    await conversation.say(f"查账户，我的身份证{ID_CARD}，卡号{BANK_CARD}")
    await conversation.say("1900000002")
    verified = await conversation.say(f"手机号{PHONE}")
    assert "utter_verified" in verified.responses  # the action saw the real number
    rows = "\n".join(stored_rows(tracker_url))
    assert rows, "nothing was stored: the test would prove nothing"
    for secret in (PHONE, ID_CARD, BANK_CARD):
        assert secret not in rows
    assert "138********" in rows and "110105********002X" in rows
    # The identity check's second factor is not readable afterwards either.
    assert '"0002"' not in rows and "138****0002" not in rows


async def test_the_typed_last_four_digits_are_not_stored(conversation: Conversation,
                                                         tracker_url: str) -> None:
    await conversation.say("查账户")
    await conversation.say("1900000003")
    assert "utter_verified" in (await conversation.say("0003")).responses
    # Timestamps (1795682452.000327) may hold any digits: everything else may not.
    events = [{key: value for key, value in json.loads(row).items() if key != "timestamp"}
              for row in stored_rows(tracker_url)]
    assert events, "nothing was stored: the test would prove nothing"
    rows = json.dumps(events, ensure_ascii=False)
    # Confidences (0.00030681) are floats too: only digits outside decimals count.
    cleaned = re.sub(r"\d*\.\d+", "", rows.replace("1900000003", ""))
    assert "0003" not in cleaned, cleaned[max(0, cleaned.find("0003") - 300):cleaned.find("0003") + 100]


async def test_a_contact_phone_kept_for_a_later_step_is_sealed(
    conversation: Conversation, tracker_url: str
) -> None:
    await conversation.say("我要申诉")
    await conversation.say("1900000002 0002")
    await conversation.say("1")
    await conversation.say("外地老客户扫码买水果，都有聊天记录")
    summary = await conversation.say("13900001111")
    assert "139****1111" in summary.text  # the next step could read it back
    assert "13900001111" not in "\n".join(stored_rows(tracker_url))


async def test_delete_my_records_deletes_and_unbinds(conversation: Conversation,
                                                     tracker_url: str) -> None:
    await conversation.say("查账户")
    await conversation.say("1900000002 0002")
    assert (await conversation.say("删除我的记录")).responses == ["utter_confirm_forget"]
    # (The reply's events are gone with the rest: read what the merchant was sent.)
    assert "已删除" in (await conversation.say("确认删除")).text
    # Only the new, empty conversation the harness opened to look is left.
    assert not [row for row in stored_rows(tracker_url)
                if '"event": "user"' in row or '"event": "bot"' in row]
    again = await conversation.say("帮我查一下账户状态")
    assert again.responses == ["utter_ask_merchant_id"]  # unbound: asked again


async def test_declining_deletes_nothing(conversation: Conversation, tracker_url: str) -> None:
    await conversation.say("删除我的记录")
    assert (await conversation.say("不删了")).responses == ["utter_forget_declined"]
    assert stored_rows(tracker_url) != []


def test_endpoints_use_the_private_store() -> None:
    text = (PROJECT_ROOT / "endpoints.yml").read_text(encoding="utf-8")
    assert "type: addons.stores.tracker_store.PrivateSQLTrackerStore" in text


async def test_no_personal_number_in_any_log_line(conversation: Conversation,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    """Everything Rasa, the actions and the libraries log, at DEBUG."""
    configure_structlog(logging.DEBUG)
    caplog.set_level(logging.DEBUG)
    try:
        await conversation.say(f"我的身份证{ID_CARD}，卡号{BANK_CARD}，查账户")
        await conversation.say("1900000002")
        assert "utter_verified" in (await conversation.say(f"手机{PHONE}")).responses
        logging.getLogger("tests").info("merchant typed %s", PHONE)  # formatted later
    finally:
        configure_structlog(logging.WARNING)
    assert len(caplog.records) > 20, "hardly anything was logged: the test proves nothing"
    text = caplog.text
    for secret in (PHONE, ID_CARD, BANK_CARD):
        assert secret not in text
    assert "138********" in text


async def test_a_traceback_in_the_logs_is_masked(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)
    try:
        raise ValueError(f"bad contact {PHONE}")
    except ValueError:
        logging.getLogger("tests").exception("failed")
    assert "bad contact" in caplog.text and PHONE not in caplog.text


def test_a_logged_stack_is_masked(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)
    logging.getLogger("tests").error("failed", stack_info=True)  # call back 13800000002
    assert "Stack (most recent call last)" in caplog.text
    assert "13800000002" not in caplog.text and "call back" in caplog.text


async def test_events_streamed_to_the_broker_are_masked(tmp_path: Path) -> None:
    """What the agent console and a RabbitMQ queue receive is masked the same way."""
    import json

    from rasa.core.brokers.broker import EventBroker
    from rasa.shared.core.events import SlotSet, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    class Capture(EventBroker):
        def __init__(self) -> None:
            self.bodies: list[dict] = []

        def publish(self, event: dict) -> None:
            self.bodies.append(event)

    broker = Capture()
    store = PrivateSQLTrackerStore(domain=Domain.empty(), dialect="sqlite",
                                   db=str(tmp_path / "tracker.db"), event_broker=broker)
    tracker = DialogueStateTracker.from_events("s1", [
        UserUttered(f"手机{PHONE} 身份证{ID_CARD}"), SlotSet("phone_last4", "0002")])
    await store.save(tracker)
    published = json.dumps(broker.bodies, ensure_ascii=False)
    assert broker.bodies, "nothing was published: the test would prove nothing"
    assert PHONE not in published and ID_CARD not in published
    assert '"0002"' not in published
