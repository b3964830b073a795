"""Dates as merchants are told them: reviews are promised in working days."""

from __future__ import annotations

import datetime as dt

# Official reviews are counted Monday to Friday; public holidays are not modelled (a
# holiday makes an appeal look overdue a day early, never late).
WORKING_DAYS = frozenset(range(5))
# "审核一般需要1到3个工作日" (knowledge.md): past this an appeal is overdue.
REVIEW_WORKING_DAYS = 3


def working_days_between(start: dt.datetime, end: dt.datetime) -> int:
    """Whole working days after ``start``'s day up to and including ``end``'s day."""
    if end <= start:
        return 0
    day, last, count = start.date(), end.date(), 0
    while day < last:
        day += dt.timedelta(days=1)
        count += day.weekday() in WORKING_DAYS
    return count


def is_overdue(filed_at: dt.datetime, now: dt.datetime,
               working_days: int = REVIEW_WORKING_DAYS) -> bool:
    return working_days_between(filed_at, now) > working_days
