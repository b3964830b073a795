"""The retry schedule shared by the outboxes (media downloads, notices)."""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence


def delay_after(schedule: Sequence[dt.timedelta], failures: int) -> dt.timedelta:
    """The wait after ``failures`` failed tries (1 = the first); the last step repeats."""
    if not schedule:
        raise ValueError("a retry schedule needs at least one step")
    return schedule[min(max(failures, 1), len(schedule)) - 1]
