"""Train, set up and start the two bots: the assistant and Rasa's starter bot (baseline)."""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.procs import (
    PROJECT_ROOT,
    PYTHON,
    RASA,
    Health,
    ServerGroup,
    base_env,
    free_port,
    run_timed,
    server_group,
)

TOKEN = "bench-token"
CREDENTIALS = "rest:\n"
# The launchers `make run` uses: the action server checks the shared secret (one per
# benchmark run), the rasa server takes its API token from RASA_TOKEN, not argv.
ACTION_SERVER = str(PROJECT_ROOT / "scripts" / "action_server.py")
RASA_SERVER = str(PROJECT_ROOT / "scripts" / "rasa_server.py")
ACTIONS_SECRET = secrets.token_urlsafe(32)


@dataclass
class RunningBot:
    name: str
    base_url: str
    token: str
    group: ServerGroup
    startup_s: float  # process start until every health check answered
    startup_detail: dict[str, float]


def train_assistant(workdir: Path) -> tuple[float, Path]:
    """Full training into a temp dir with a fresh cache; returns (seconds, model)."""
    out = workdir / "assistant-models"
    env = base_env(RASA_CACHE_DIRECTORY=str(workdir / "assistant-cache"))
    seconds = run_timed(
        [RASA, "train", "--out", str(out), "--fixed-model-name", "assistant"],
        PROJECT_ROOT, env, workdir / "assistant-train.log",
    )
    return seconds, out / "assistant.tar.gz"


def init_baseline(workdir: Path) -> Path:
    """`rasa init --no-prompt` (which also trains) in a temp dir; returns the project dir."""
    project = workdir / "starter"
    project.mkdir()
    env = base_env(RASA_CACHE_DIRECTORY=str(workdir / "starter-init-cache"))
    run_timed([RASA, "init", "--no-prompt", "--init-dir", str(project)], project, env,
              workdir / "starter-init.log")
    return project


def train_baseline(workdir: Path, project: Path) -> tuple[float, Path]:
    """A separate, timed full training of the starter bot with its own fresh cache."""
    out = workdir / "starter-models"
    env = base_env(RASA_CACHE_DIRECTORY=str(workdir / "starter-cache"))
    seconds = run_timed(
        [RASA, "train", "--out", str(out), "--fixed-model-name", "starter"],
        project, env, workdir / "starter-train.log",
    )
    return seconds, out / "starter.tar.gz"


def starter_model_of(project: Path) -> Path:
    models = sorted((project / "models").glob("*.tar.gz"))
    if not models:
        raise RuntimeError(f"rasa init left no model in {project / 'models'}")
    return models[-1]


def fresh_merchant_db(workdir: Path) -> str:
    url = f"sqlite:///{workdir / 'merchant.db'}"
    run_timed([PYTHON, "-m", "core.db", "init", "--url", url], PROJECT_ROOT, base_env(),
              workdir / "merchant-db.log", timeout=300)
    return url


def _rasa_cmd(model: Path, port: int, workdir: Path, endpoints: str) -> list[str]:
    """The rasa server's command; its environment must hold RASA_TOKEN=TOKEN."""
    (workdir / "endpoints.yml").write_text(endpoints, encoding="utf-8")
    (workdir / "credentials.yml").write_text(CREDENTIALS, encoding="utf-8")
    return [PYTHON, RASA_SERVER, "run", "--model", str(model), "--port", str(port),
            "--enable-api", "--endpoints", str(workdir / "endpoints.yml"),
            "--credentials", str(workdir / "credentials.yml")]


@contextmanager
def run_assistant(workdir: Path, model: Path, db_url: str) -> Iterator[RunningBot]:
    """Action server + rasa server (in-memory tracker and lock store), stopped on exit."""
    workdir.mkdir(parents=True, exist_ok=True)
    rasa_port, actions_port = free_port(), free_port()
    env = base_env(MERCHANT_DB_URL=db_url, ACTIONS_SECRET=ACTIONS_SECRET)
    # Rasa fills in ${ACTIONS_SECRET} from its environment, as in the project's endpoints.yml.
    endpoints = (f"action_endpoint:\n  url: http://127.0.0.1:{actions_port}/webhook\n"
                 "  headers:\n    X-Actions-Secret: ${ACTIONS_SECRET}\n")
    rasa_cmd = _rasa_cmd(model, rasa_port, workdir, endpoints)
    with server_group("assistant") as group:
        actions_log, rasa_log = workdir / "actions.log", workdir / "rasa.log"
        actions = group.start(
            [PYTHON, ACTION_SERVER, "--actions", "actions", "--port", str(actions_port)],
            PROJECT_ROOT, {**env, "SANIC_HOST": "127.0.0.1"}, actions_log,
        )
        rasa = group.start(rasa_cmd, PROJECT_ROOT, {**env, "RASA_TOKEN": TOKEN}, rasa_log)
        ready = group.wait_healthy([
            Health("actions", f"http://127.0.0.1:{actions_port}/health", actions, actions_log),
            Health("rasa", f"http://127.0.0.1:{rasa_port}/status?token={TOKEN}", rasa,
                   rasa_log),
        ])
        yield RunningBot("assistant", f"http://127.0.0.1:{rasa_port}", TOKEN, group,
                         max(ready.values()), ready)


@contextmanager
def run_baseline(workdir: Path, model: Path) -> Iterator[RunningBot]:
    """Only the starter bot's rasa server: its endpoints have no action server."""
    workdir.mkdir(parents=True, exist_ok=True)
    rasa_port = free_port()
    rasa_cmd = _rasa_cmd(model, rasa_port, workdir, "# starter bot: no action server\n")
    with server_group("baseline") as group:
        rasa_log = workdir / "rasa.log"
        rasa = group.start(rasa_cmd, workdir, base_env(RASA_TOKEN=TOKEN), rasa_log)
        ready = group.wait_healthy([
            Health("rasa", f"http://127.0.0.1:{rasa_port}/status?token={TOKEN}", rasa,
                   rasa_log),
        ])
        yield RunningBot("baseline", f"http://127.0.0.1:{rasa_port}", TOKEN, group,
                         max(ready.values()), ready)


def cache_copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, target)
