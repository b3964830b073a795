from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.db.migrate import upgrade
from core.db.seed import seed_demo_data
from core.db.session import get_engine
from tests.e2e.servers import Servers, running_servers


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    workdir = tmp_path_factory.mktemp("e2e")
    db_url = f"sqlite:///{workdir / 'merchant.db'}"
    upgrade(db_url)
    seed_demo_data(get_engine(db_url))
    with running_servers(Path(workdir), db_url) as running:
        yield running
