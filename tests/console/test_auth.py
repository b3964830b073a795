"""Console accounts and security, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import re
import subprocess

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from console import security
from core.db.models import Agent, AgentPresence, AgentSession, utcnow
from core.db.session import get_engine
from tests.conftest import PROJECT_ROOT
from tests.console.conftest import PASSWORD, Sleeps, add_agent, sign_in

LOGIN = "/console/api/login"


def test_agent_created_by_the_command_with_the_password_from_stdin(db_url: str) -> None:
    result = subprocess.run(
        [str(PROJECT_ROOT / ".venv" / "bin" / "python"), "-m", "console.agents",
         "--url", db_url, "create", "wang", "--name", "小王", "--password-stdin"],
        input=f"{PASSWORD}\n", capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    with Session(get_engine(db_url)) as session:
        agent = session.execute(select(Agent).where(Agent.username == "wang")).scalar_one()
        assert agent.display_name == "小王"
        assert agent.password_hash.startswith("$argon2id$")
        assert PASSWORD not in agent.password_hash
        assert security.verify_password(agent.password_hash, PASSWORD)


def test_sign_in_sets_a_strict_httponly_cookie_and_stores_only_its_hash(
        db_url: str, client: TestClient) -> None:
    add_agent(db_url, "wang", "小王")
    response = client.post(LOGIN, json={"username": "wang", "password": PASSWORD})
    assert response.status_code == 200
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # plain http in the test; https would add it
    token = re.search(r"console_session=([^;]+)", cookie).group(1)
    with Session(get_engine(db_url)) as session:
        rows = session.execute(select(AgentSession)).scalars().all()
        assert [r.token_hash for r in rows] == [security.token_hash(token)]
        assert rows[0].csrf_token == response.json()["csrf_token"]
        assert session.execute(select(Agent.presence)).scalar_one() == AgentPresence.online
    assert client.get("/console/api/me").json()["agent"]["name"] == "小王"


def test_secure_cookie_when_configured(db_url: str, fake_rasa, sleeps: Sleeps) -> None:
    from console.app import create_app
    from tests.console.conftest import settings_for

    add_agent(db_url, "wang", "小王")
    app = create_app(settings_for(db_url, cookie_secure="true"),
                     rasa_transport=fake_rasa.transport(), sleep=sleeps, background=False)
    with TestClient(app) as secure_client:
        response = secure_client.post(LOGIN, json={"username": "wang", "password": PASSWORD})
    assert "Secure" in response.headers["set-cookie"]


def test_wrong_passwords_slow_down_then_lock_and_unknown_users_look_the_same(
        db_url: str, client: TestClient, sleeps: Sleeps) -> None:
    add_agent(db_url, "wang", "小王")
    answers = {}
    for username in ("wang", "nobody"):
        sleeps.calls.clear()
        seen = [client.post(LOGIN, json={"username": username, "password": "wrong-password"})
                for _ in range(5)]
        answers[username] = [(r.status_code, r.json()["detail"]) for r in seen]
        assert sleeps.calls[:4] == [0.5, 1.0, 2.0, 4.0]  # slower after each failure
        # Locked: even the right password is refused now.
        locked = client.post(LOGIN, json={"username": username, "password": PASSWORD})
        assert locked.status_code == 429
        answers[username].append((locked.status_code, locked.json()["detail"]))
    assert answers["wang"] == answers["nobody"]
    assert [status for status, _ in answers["wang"]] == [401, 401, 401, 401, 429, 429]
    assert "锁定" in answers["wang"][-1][1]
    assert "console_session" not in client.cookies

    # When the lock has run out, the right password works again and resets the count.
    with Session(get_engine(db_url)) as session, session.begin():
        agent = session.execute(select(Agent).where(Agent.username == "wang")).scalar_one()
        assert agent.locked_until > utcnow() + dt.timedelta(minutes=14)
        agent.locked_until = utcnow() - dt.timedelta(seconds=1)
    sign_in(client, "wang")
    with Session(get_engine(db_url)) as session:
        agent = session.execute(select(Agent).where(Agent.username == "wang")).scalar_one()
        assert agent.failed_logins == 0 and agent.locked_until is None


def test_a_right_password_resets_the_count_of_failures(db_url: str, client: TestClient,
                                                       sleeps: Sleeps) -> None:
    add_agent(db_url, "wang", "小王")
    for _ in range(4):
        assert client.post(LOGIN, json={"username": "wang", "password": "x"}).status_code == 401
    sign_in(client, "wang")
    sleeps.calls.clear()
    assert client.post(LOGIN, json={"username": "wang", "password": "x"}).status_code == 401
    assert sleeps.calls == [0.5]


def test_state_changing_requests_need_the_csrf_token_of_the_session(
        db_url: str, client: TestClient, make_client) -> None:
    add_agent(db_url, "wang", "小王")
    add_agent(db_url, "li", "小李")
    csrf = sign_in(client, "wang")
    other = make_client()
    other_csrf = sign_in(other, "li")

    del client.headers["X-CSRF-Token"]
    body = {"presence": "away"}
    missing = client.put("/console/api/me/presence", json=body)
    assert missing.status_code == 403
    wrong = client.put("/console/api/me/presence", json=body,
                       headers={"X-CSRF-Token": other_csrf})  # another session's token
    assert wrong.status_code == 403
    assert client.post("/console/api/logout").status_code == 403
    foreign = client.put("/console/api/me/presence", json=body,
                         headers={"X-CSRF-Token": csrf, "Origin": "https://evil.example"})
    assert foreign.status_code == 403
    with Session(get_engine(db_url)) as session:
        presence = session.execute(select(Agent.presence).where(Agent.username == "wang"))
        assert presence.scalar_one() == AgentPresence.online  # nothing changed
    ok = client.put("/console/api/me/presence", json=body, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 200 and ok.json()["agent"]["presence"] == "away"
    assert client.get("/console/api/queue").status_code == 200  # reads need no token


def test_every_api_route_but_login_needs_a_session(client: TestClient) -> None:
    spec = client.get("/console/api/openapi.json").json()
    checked = []
    for path, methods in spec["paths"].items():
        for method in methods:
            url = re.sub(r"\{[^}]+\}", "1", path)
            response = client.request(method.upper(), url, json={})
            if path == "/console/api/login":
                assert response.status_code != 401 or "用户名或密码" in response.text
                continue
            assert response.status_code == 401, (method, path, response.text)
            checked.append(f"{method} {path}")
    assert len(checked) >= 12
    # A forged or expired cookie is no session either.
    client.cookies.set("console_session", "forged", path="/console")
    assert client.get("/console/api/queue").status_code == 401


def test_sign_out_ends_the_session_and_sets_the_agent_offline(
        db_url: str, client: TestClient) -> None:
    add_agent(db_url, "wang", "小王")
    sign_in(client, "wang")
    cookie = client.cookies.get("console_session")
    assert client.post("/console/api/logout").status_code == 200
    client.cookies.set("console_session", cookie, path="/console")
    assert client.get("/console/api/queue").status_code == 401
    with Session(get_engine(db_url)) as session:
        assert session.execute(select(AgentSession)).first() is None
        assert session.execute(select(Agent.presence)).scalar_one() == AgentPresence.offline


def test_expired_sessions_are_refused_and_swept_with_presence(
        db_url: str, client: TestClient) -> None:
    from console.live import sweep

    add_agent(db_url, "wang", "小王")
    sign_in(client, "wang")
    with Session(get_engine(db_url)) as session, session.begin():
        for row in session.execute(select(AgentSession)).scalars():
            row.expires_at = utcnow() - dt.timedelta(seconds=1)
    assert client.get("/console/api/me").status_code == 401
    gone = sweep(get_engine(db_url), dt.timedelta(minutes=5))
    assert len(gone) == 1
    with Session(get_engine(db_url)) as session:
        assert session.execute(select(Agent.presence)).scalar_one() == AgentPresence.offline
        assert session.execute(select(AgentSession)).first() is None


@pytest.mark.parametrize("password", ["short", ""])
def test_passwords_shorter_than_ten_characters_are_refused(password: str) -> None:
    with pytest.raises(ValueError):
        security.hash_password(password)


def test_a_user_name_with_control_characters_is_refused_not_a_server_error(
        client: TestClient) -> None:
    """PostgreSQL refuses NUL in a string; the sign-in answers 422, never 500."""
    for name in ("wang\x00", "wa\nng", "\x7f"):
        response = client.post("/console/api/login", json={"username": name, "password": "x" * 12})
        assert response.status_code == 422, name
