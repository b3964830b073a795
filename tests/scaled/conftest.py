"""The scaled deployment's wiring (endpoints.scaled.yml, nginx) against the real local
services. A service that is really unreachable skips its tests loudly."""

from __future__ import annotations

import importlib.util
import socket
from pathlib import Path
from types import ModuleType

import pytest
from rasa.core.utils import AvailableEndpoints

from tests.conftest import PROJECT_ROOT

SCALED_ENDPOINTS = PROJECT_ROOT / "endpoints.scaled.yml"
# Redis database of these tests (the cluster uses 10 and 11, other tests 0 and 7).
TEST_REDIS_DB = 9
REDIS_URL = f"redis://127.0.0.1:6379/{TEST_REDIS_DB}"


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def require(name: str, host: str, port: int) -> None:
    if not reachable(host, port):
        pytest.skip(f"!!! {name} is not reachable on {host}:{port}: scaled wiring test "
                    f"SKIPPED !!!")


@pytest.fixture()
def scaled_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every variable endpoints.scaled.yml reads, pointing at this machine's services."""
    for name, value in {
        "ACTION_ENDPOINT_URL": "http://127.0.0.1:9/webhook",
        "ACTIONS_SECRET": "actions-secret-for-tests",
        "TRACKER_DB_URL": "postgresql://postgres@127.0.0.1:5432/postgres",
        "LOCK_REDIS_HOST": "127.0.0.1", "LOCK_REDIS_PORT": "6379",
        "LOCK_REDIS_DB": str(TEST_REDIS_DB),
        "RABBITMQ_HOST": "127.0.0.1", "RABBITMQ_PORT": "5672",
        "RABBITMQ_USER": "guest", "RABBITMQ_PASSWORD": "guest",
        "SQL_POOL_SIZE": "3", "SQL_MAX_OVERFLOW": "2",
    }.items():
        monkeypatch.setenv(name, value)


def read_scaled_endpoints(path: Path = SCALED_ENDPOINTS) -> AvailableEndpoints:
    return AvailableEndpoints.read_endpoints(str(path))


def load_script(name: str) -> ModuleType:
    """A module of scripts/ (not a package), loaded by path."""
    spec = importlib.util.spec_from_file_location(name, PROJECT_ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
