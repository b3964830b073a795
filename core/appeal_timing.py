"""Honest waiting times: how long past appeals of the same reason took, in working days,
and how long this one has waited; never a promise.

The history is what the back office recorded (core.db.appeal_events): an appeal counts
from its filing to its first 通过/驳回. Appeals decided before that API existed have no
trustworthy decision time (``updated_at`` moves with any edit) and are left out. With
fewer than ``MIN_CASES`` past cases the estimate says so instead of giving a figure.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from dataclasses import dataclass

from sqlalchemy.orm import Session

from core.dates import REVIEW_WORKING_DAYS, working_days_between
from core.db.appeal_events import first_final_decisions
from core.db.models import Appeal, utcnow

MIN_CASES = 5
# The most recent decided appeals of a category: the figure follows today's review speed.
MAX_CASES = 200
SUPPORT_PHONE = "95017"


@dataclass(frozen=True)
class WaitEstimate:
    appeal_id: str
    category: str
    is_open: bool
    waited_days: int  # working days since filing (core.dates)
    cases: int  # past decided appeals of the category the figures come from
    median_days: float | None  # None: fewer than MIN_CASES cases
    p80_days: int | None  # at least 80% of the cases were decided within this

    @property
    def enough_history(self) -> bool:
        return self.median_days is not None

    @property
    def overdue(self) -> bool:
        """Open and waiting longer than 80% of past cases took; without enough history,
        longer than the usual review (REVIEW_WORKING_DAYS)."""
        if not self.is_open:
            return False
        limit = self.p80_days if self.p80_days is not None else REVIEW_WORKING_DAYS
        return self.waited_days > limit


def nearest_rank(sorted_values: list[int], fraction: float) -> int:
    """The smallest value with at least ``fraction`` of the values at or below it."""
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def durations(session: Session, category: str, limit: int = MAX_CASES) -> list[int]:
    """Working days from filing to the first decision, for past appeals of ``category``."""
    return sorted(working_days_between(filed, decided)
                  for filed, decided in first_final_decisions(session, category, limit))


def estimate_wait(session: Session, appeal: Appeal, now: dt.datetime | None = None,
                  min_cases: int = MIN_CASES) -> WaitEstimate:
    now = now or utcnow()
    days = durations(session, appeal.category)
    enough = len(days) >= min_cases
    return WaitEstimate(
        appeal_id=appeal.id,
        category=appeal.category,
        is_open=appeal.status.is_open,
        waited_days=working_days_between(appeal.created_at, now),
        cases=len(days),
        median_days=float(statistics.median(days)) if enough else None,
        p80_days=nearest_rank(days, 0.8) if enough else None,
    )


def _waited(days: int) -> str:
    return "还不到1个工作日" if days == 0 else f"已经等了{days}个工作日"


def _chase(appeal_id: str) -> str:
    return (f"建议打微信支付客服{SUPPORT_PHONE}，报商户号和申诉编号{appeal_id}问一下进度，"
            "也可以说“转人工”让客服帮你跟进；先别重复提交。")


def waiting_sentence(estimate: WaitEstimate) -> str | None:
    """What the merchant is told about the wait (None once the appeal is decided: then
    the decision is the answer). Past figures only, never a promise."""
    if not estimate.is_open:
        return None
    waited = _waited(estimate.waited_days)
    if estimate.median_days is None or estimate.p80_days is None:
        text = (f"同类申诉过去的记录还太少（{estimate.cases}条），给不出靠谱的等待时间；"
                f"你这条{waited}。")
        if estimate.overdue:
            return text + f"已经超过一般的1到{REVIEW_WORKING_DAYS}个工作日，" + _chase(
                estimate.appeal_id)
        return text + "结果以官方审核为准。"
    typical = math.ceil(estimate.median_days)  # at least half were decided within it
    if estimate.overdue:
        return (f"过去同类申诉80%在{estimate.p80_days}个工作日内有结果，你这条{waited}，"
                "比大多数都久。" + _chase(estimate.appeal_id))
    usual = f"一般{typical}个工作日内有结果" if typical else "一般不到1个工作日就有结果"
    most = f"80%在{estimate.p80_days}个工作日内" if estimate.p80_days else "80%不到1个工作日"
    return (f"过去同类申诉{usual}（{most}），你这条{waited}。"
            "这是过去的情况，不是承诺，结果以官方审核为准。")
