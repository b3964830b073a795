"""When people answer: the handoff's working hours, from the environment.

``HANDOFF_HOURS`` ("09:00-21:00"; "00:00-24:00" for all day), ``HANDOFF_DAYS`` ("1-7", Monday = 1; lists like
"1-5,7" work) and ``HANDOFF_TZ`` ("Asia/Shanghai"). Outside them, or with no agent
online, the assistant takes a message instead of queueing.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
DAY_NAMES = "一二三四五六日"


def _days(spec: str) -> frozenset[int]:
    days: set[int] = set()
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        first, _, last = part.partition("-")
        start, end = int(first), int(last or first)
        if not 1 <= start <= end <= 7:
            raise ValueError(f"HANDOFF_DAYS: {spec!r} is not like '1-5,7'")
        days.update(range(start, end + 1))
    return frozenset(days)


@dataclass(frozen=True)
class ServiceHours:
    start: dt.time
    end: dt.time
    days: frozenset[int]
    tz: ZoneInfo

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> ServiceHours:
        env = dict(os.environ if env is None else env)
        match = HOURS.match(env.get("HANDOFF_HOURS", "09:00-21:00"))
        if not match:
            raise ValueError("HANDOFF_HOURS must look like 09:00-21:00")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        end = dt.time.max if (h2, m2) == (24, 0) else dt.time(h2, m2)  # "24:00": midnight
        return cls(dt.time(h1, m1), end,
                   _days(env.get("HANDOFF_DAYS", "1-7")),
                   ZoneInfo(env.get("HANDOFF_TZ", "Asia/Shanghai")))

    def is_open(self, now_utc: dt.datetime) -> bool:
        local = now_utc.replace(tzinfo=dt.timezone.utc).astimezone(self.tz)
        if local.isoweekday() not in self.days:
            return False
        if self.start <= self.end:
            return self.start <= local.time() < self.end
        return local.time() >= self.start or local.time() < self.end  # over midnight

    def describe(self) -> str:
        """In Chinese for the merchant, e.g. "每天 9:00-21:00"."""
        if self.days == frozenset(range(1, 8)):
            days = "每天"
        elif self.days == frozenset(range(1, 6)):
            days = "周一至周五"
        else:
            days = "周" + "、".join(DAY_NAMES[d - 1] for d in sorted(self.days))
        end = "24:00" if self.end == dt.time.max else f"{self.end.hour}:{self.end.minute:02d}"
        return f"{days} {self.start.hour}:{self.start.minute:02d}-{end}"

    def when_answered(self, now_utc: dt.datetime) -> str:
        """When a message left now is picked up: after opening time outside the hours,
        as soon as an agent signs in within them (nobody online is not "closed")."""
        if self.is_open(now_utc):
            return "有客服上线后"
        return f"客服上班后（{self.describe()}）"
