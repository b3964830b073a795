"""The message's other ask is said only where it fits beside the main answer: a freeze
by an authority is never followed by our review times or appeal steps."""

from __future__ import annotations

import pytest

from actions.knowledge import fits_beside
from core.knowledge.entries import load_directory

ENTRIES = {entry.id: entry for entry in load_directory()}


@pytest.mark.parametrize("other", ["funds_release_time", "appeal_review_time"])
def test_no_review_time_beside_an_authority_freeze(other: str) -> None:
    assert not fits_beside(ENTRIES["wallet_frozen_authority"], ENTRIES[other])


@pytest.mark.parametrize(("main", "other"), [
    ("wallet_frozen_authority", "scam_safe_account"),
    ("appeal_rejected", "funds_release_time"),
    (None, "appeal_review_time"),
])
def test_other_asks_fit_elsewhere(main: str | None, other: str) -> None:
    assert fits_beside(ENTRIES[main] if main else None, ENTRIES[other])
