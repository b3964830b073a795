"""Agent accounts: ``python -m console.agents create wang --name 小王``.

The password is read from ``--password-stdin`` (one line), from the environment variable
``CONSOLE_AGENT_PASSWORD``, or asked for twice at the terminal (``make agent``). Passwords
are stored as argon2 hashes only.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from sqlalchemy import select
from sqlalchemy.orm import Session

from console import security
from core.db.migrate import upgrade
from core.db.models import Agent, AgentPresence, AgentSession, utcnow
from core.db.session import database_url, get_engine


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if os.environ.get("CONSOLE_AGENT_PASSWORD"):
        return os.environ["CONSOLE_AGENT_PASSWORD"]
    first = getpass.getpass("密码（至少10个字符）：")
    if getpass.getpass("再输一次：") != first:
        raise SystemExit("两次输入的密码不一样，没有保存")
    return first


def create(url: str, username: str, name: str, password: str, max_open: int,
           supervisor: bool = False) -> int:
    password_hash = security.hash_password(password)
    with Session(get_engine(url)) as session, session.begin():
        if session.execute(select(Agent.id).where(Agent.username == username)).first():
            raise SystemExit(f"agent {username!r} exists already (use set-password)")
        agent = Agent(username=username, display_name=name, password_hash=password_hash,
                      presence=AgentPresence.offline, max_open=max_open, failed_logins=0,
                      created_at=utcnow(), supervisor=supervisor)
        session.add(agent)
        session.flush()
        return agent.id


def set_password(url: str, username: str, password: str) -> None:
    password_hash = security.hash_password(password)
    with Session(get_engine(url)) as session, session.begin():
        agent = session.execute(select(Agent).where(Agent.username == username)
                                ).scalar_one_or_none()
        if agent is None:
            raise SystemExit(f"no agent {username!r}")
        agent.password_hash = password_hash
        agent.failed_logins, agent.locked_until = 0, None
        # Every session signed in with the old password ends.
        for row in session.execute(select(AgentSession).where(
                AgentSession.agent_id == agent.id)).scalars():
            session.delete(row)


def set_supervisor(url: str, username: str, on: bool) -> None:
    with Session(get_engine(url)) as session, session.begin():
        agent = session.execute(select(Agent).where(Agent.username == username)
                                ).scalar_one_or_none()
        if agent is None:
            raise SystemExit(f"no agent {username!r}")
        agent.supervisor = on


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m console.agents")
    parser.add_argument("--url", default=None, help="database URL (default: MERCHANT_DB_URL)")
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("create", help="create an agent account")
    make.add_argument("username")
    make.add_argument("--name", required=True, help="display name shown to merchants, e.g. 小王")
    make.add_argument("--max-open", type=int,
                      default=int(os.environ.get("CONSOLE_MAX_OPEN") or 3),
                      help="conversations at once (default 3)")
    make.add_argument("--password-stdin", action="store_true")
    make.add_argument("--supervisor", action="store_true",
                      help="reads every ended conversation, the figures and the inbox")
    role = commands.add_parser("set-supervisor", help="make an agent a supervisor or not")
    role.add_argument("username")
    role.add_argument("on", choices=["on", "off"])
    reset = commands.add_parser("set-password", help="new password (also unlocks)")
    reset.add_argument("username")
    reset.add_argument("--password-stdin", action="store_true")
    commands.add_parser("list", help="list agents")
    args = parser.parse_args(argv)
    url = args.url or database_url()
    upgrade(url)
    try:
        if args.command == "create":
            if not 1 <= args.max_open <= 20:
                raise SystemExit("--max-open must be between 1 and 20")
            agent_id = create(url, args.username, args.name, _password(args), args.max_open,
                              supervisor=args.supervisor)
            kind = "supervisor" if args.supervisor else "agent"
            print(f"{kind} {args.username} ({args.name}) created, id {agent_id}")
        elif args.command == "set-supervisor":
            set_supervisor(url, args.username, args.on == "on")
            print(f"{args.username}: supervisor {args.on}")
        elif args.command == "set-password":
            set_password(url, args.username, _password(args))
            print(f"password of {args.username} changed; old sessions signed out")
        else:
            with Session(get_engine(url)) as session:
                for agent in session.execute(select(Agent).order_by(Agent.id)).scalars():
                    print(f"{agent.id}\t{agent.username}\t{agent.display_name}\t"
                          f"{agent.presence.value}\tmax {agent.max_open}"
                          + ("\tsupervisor" if agent.supervisor else ""))
    except ValueError as error:  # a password too short
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
