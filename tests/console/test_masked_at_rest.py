"""Medium 9 of issue 25 (docs/security.md P5 h): call-back numbers, agent replies, notes
and resolutions are not stored as typed, and nothing the console shows of them is
unmasked. The merchant still receives the agent's reply as typed, also on a retry; the
agent holding a ticket still sees the whole call-back number."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from core.db.session import get_engine
from core.privacy import is_sealed
from tests.console.conftest import add_agent, queue_handoff, sign_in
from tests.console.fake_rasa import FakeRasa

API = "/console/api"
PHONE = "13800000002"
ID_CARD = "110101199003074514"
CALL_BACK = "13900001111"


def stored(db_url: str, sql: str) -> list[Any]:
    with Session(get_engine(db_url)) as session:
        return list(session.execute(text(sql)).scalars())


def test_notes_replies_resolutions_and_call_back_numbers_are_masked_at_rest(
        db_url: str, client: TestClient, fake_rasa: FakeRasa) -> None:
    add_agent(db_url, "wang", "小王")
    fake_rasa.user_says("oRest1", "转人工")
    ticket = queue_handoff(db_url, "oRest1", ticket=True, contact_phone=CALL_BACK)
    [raw_phone] = stored(db_url, "SELECT contact_phone FROM handoffs")
    assert CALL_BACK not in raw_phone and is_sealed(raw_phone)  # sealed, not as typed

    sign_in(client, "wang")
    assert client.post(f"{API}/handoffs/{ticket}/claim").status_code == 200
    view = client.get(f"{API}/handoffs/{ticket}").json()
    assert view["callback_phone"] == CALL_BACK  # the holder calls back
    assert view["handoff"]["contact_phone"] == "139********"

    note = client.post(f"{API}/handoffs/{ticket}/notes",
                       json={"text": f"商户身份证{ID_CARD}，备用电话{PHONE}"})
    assert note.status_code == 200
    assert PHONE not in note.text and ID_CARD not in note.text

    # A reply reaches the merchant as typed; a failed one too, when it is retried.
    fake_rasa.next_appends = ["channel_error"]
    failed = client.post(f"{API}/handoffs/{ticket}/messages",
                         json={"text": f"我稍后打{PHONE}给你"}).json()
    assert failed["status"] == "failed" and PHONE not in failed["text"]
    pending = stored(db_url, "SELECT text FROM agent_messages") \
        + stored(db_url, "SELECT outgoing FROM agent_messages")
    assert not any(PHONE in value for value in pending if value)
    retried = client.post(f"{API}/messages/{failed['id']}/retry").json()
    assert retried["status"] == "sent" and PHONE not in retried["text"]
    delivered = [a["event"]["text"] for a in fake_rasa.appends if a["behaviour"] == "ok"
                 and a["event"].get("metadata", {}).get("agent_message_id")]
    assert delivered == [f"我稍后打{PHONE}给你"]
    assert stored(db_url, "SELECT outgoing FROM agent_messages") == [None]

    assert client.post(f"{API}/handoffs/{ticket}/close",
                       json={"resolution": f"已回电{CALL_BACK}，身份证{ID_CARD}已核对",
                             "label": "身份核验"}
                       ).status_code == 200
    closed = client.get(f"{API}/handoffs/{ticket}").json()
    shown = str(closed)
    assert CALL_BACK not in shown and PHONE not in shown and ID_CARD not in shown
    assert closed["handoff"]["resolution"].startswith("已回电139********")
    for sql in ("SELECT text FROM handoff_notes", "SELECT resolution FROM handoffs",
                "SELECT text FROM agent_messages", "SELECT contact_phone FROM handoffs"):
        values = " ".join(str(v) for v in stored(db_url, sql))
        assert PHONE not in values and ID_CARD not in values and CALL_BACK not in values, sql


def test_rows_written_before_are_sealed_and_masked_by_the_migration(db_url: str) -> None:
    from alembic import command

    from core.db.migrate import alembic_config, upgrade

    agent = add_agent(db_url, "wang", "小王")
    command.downgrade(alembic_config(db_url), "0009")
    engine = get_engine(db_url)
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO handoffs (ref, channel, sender_id, reason, status, agent_id, "
            "contact_method, contact_phone, resolution, queued_at, updated_at) VALUES "
            "('r-old', 'wechat', 'oOld', 'merchant_asked', 'closed', :a, 'phone', :p, :r, "
            "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"),
            {"a": agent, "p": CALL_BACK, "r": f"已回电{CALL_BACK}"})
        handoff = connection.execute(text("SELECT id FROM handoffs WHERE ref = 'r-old'")
                                     ).scalar_one()
        connection.execute(text(
            "INSERT INTO handoff_notes (handoff_id, agent_id, text, created_at) "
            "VALUES (:h, :a, :t, CURRENT_TIMESTAMP)"),
            {"h": handoff, "a": agent, "t": f"身份证{ID_CARD}"})
        for status in ("sent", "failed"):
            connection.execute(text(
                "INSERT INTO agent_messages (handoff_id, agent_id, text, status, created_at) "
                "VALUES (:h, :a, :t, :s, CURRENT_TIMESTAMP)"),
                {"h": handoff, "a": agent, "t": f"{status}: 打{PHONE}", "s": status})
    upgrade(db_url)
    for sql in ("SELECT text FROM handoff_notes", "SELECT resolution FROM handoffs",
                "SELECT text FROM agent_messages", "SELECT contact_phone FROM handoffs",
                "SELECT outgoing FROM agent_messages"):
        values = " ".join(str(v) for v in stored(db_url, sql))
        assert PHONE not in values and ID_CARD not in values and CALL_BACK not in values, sql
    with Session(engine) as session:
        from core.db.models import AgentMessage, Handoff

        assert session.get(Handoff, handoff).contact_phone == CALL_BACK
        outgoing = {m.status.value: m.outgoing for m in session.query(AgentMessage)}
        assert outgoing == {"sent": None, "failed": f"failed: 打{PHONE}"}  # for a retry
