"""The REST end-to-end tests talk to the session's shared stack (tests/stack.py)."""

from __future__ import annotations

import pytest

from tests.e2e.servers import Servers
from tests.stack import SharedStack


@pytest.fixture(scope="session")
def servers(shared_stack: SharedStack) -> Servers:
    return shared_stack.servers
