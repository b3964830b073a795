"""Honest waiting times (core.appeal_timing) from past decided appeals, on SQLite and
PostgreSQL. The figures below are counted by hand on the 2026 calendar (working days
after the filing day up to and including the decision day, weekends left out)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from core.appeal_timing import WaitEstimate, estimate_wait, nearest_rank, waiting_sentence
from core.db import appeal_events
from core.db.appeal_events import DecisionKind
from core.db.models import Appeal, AppealStatus, Merchant
from core.db.session import get_engine

D = dt.datetime
CATEGORY = "remote_qr_collection"  # the seed has no appeal of this reason
# (filed, first final decision, working days): Wed=2026-11-11, Fri=11-13, Mon=11-16, ...
PAST = [
    (D(2026, 11, 20, 10), D(2026, 11, 23, 9), 1),  # Fri → Mon: the weekend does not count
    (D(2026, 11, 16, 10), D(2026, 11, 18, 9), 2),  # Mon → Wed
    (D(2026, 11, 19, 10), D(2026, 11, 24, 9), 3),  # Thu → Tue across a weekend
    (D(2026, 11, 13, 10), D(2026, 11, 20, 9), 5),  # Fri → next Fri
    (D(2026, 11, 11, 10), D(2026, 11, 23, 9), 8),  # Wed → Mon twelve days later
    (D(2026, 11, 21, 10), D(2026, 11, 23, 9), 1),  # filed on a Saturday → Mon
]
# Sorted 1 1 2 3 5 8: median (2 + 3) / 2 = 2.5; 80th percentile, nearest rank
# ceil(0.8 * 6) = 5th value = 5.
FILED = D(2026, 11, 26, 10)  # a Thursday


class Fixture:
    def __init__(self, url: str) -> None:
        self.engine = get_engine(url)
        self.count = 0

    def appeal(self, filed: dt.datetime, category: str = CATEGORY) -> str:
        """A new merchant with one submitted appeal (one open appeal per merchant)."""
        self.count += 1
        merchant_id, appeal_id = f"19100{self.count:05d}", f"AP20260101{self.count:03d}"
        with Session(self.engine) as session, session.begin():
            session.add(Merchant(id=merchant_id, name="测试商户", business_type="retail",
                                 bound_phone="13900000000"))
            session.flush()
            session.add(Appeal(id=appeal_id, merchant_id=merchant_id, category=category,
                               description="测试", contact_phone="13900000000",
                               status=AppealStatus.submitted, created_at=filed,
                               updated_at=filed))
        return appeal_id

    def decide(self, appeal_id: str, kind: DecisionKind, at: dt.datetime) -> None:
        with Session(self.engine) as session, session.begin():
            appeal_events.record_event(session, appeal_id, f"evt-{appeal_id}-{kind.value}-{at:%j%H}",
                                       kind, "测试原因", [], at, now=at)

    def past(self, cases: list[tuple[dt.datetime, dt.datetime, int]]) -> None:
        for filed, decided, _ in cases:
            self.decide(self.appeal(filed), DecisionKind.approved, decided)

    def estimate(self, appeal_id: str, now: dt.datetime) -> WaitEstimate:
        with Session(self.engine) as session:
            return estimate_wait(session, session.get(Appeal, appeal_id), now)


@pytest.fixture()
def fx(db_url: str) -> Fixture:
    return Fixture(db_url)


def test_median_and_80th_percentile_in_working_days_across_weekends(fx: Fixture) -> None:
    fx.past(PAST)
    mine = fx.appeal(FILED)
    estimate = fx.estimate(mine, D(2026, 12, 1, 9))  # Thu → Tue: Fri, Mon, Tue
    assert estimate == WaitEstimate(appeal_id=mine, category=CATEGORY, is_open=True,
                                    waited_days=3, cases=6, median_days=2.5, p80_days=5)
    assert estimate.enough_history and not estimate.overdue
    assert waiting_sentence(estimate) == (
        "过去同类申诉一般3个工作日内有结果（80%在5个工作日内），你这条已经等了3个工作日。"
        "这是过去的情况，不是承诺，结果以官方审核为准。")


def test_only_first_final_decisions_of_the_same_reason_count(fx: Fixture) -> None:
    fx.past(PAST)
    # Another reason, a decided appeal the back office never reported, and an appeal
    # asked for materials, then rejected (3 working days), then approved on review.
    fx.decide(fx.appeal(D(2026, 11, 2, 10), "high_frequency"), DecisionKind.approved,
              D(2026, 11, 30, 9))
    with Session(fx.engine) as session, session.begin():
        unreported = session.get(Appeal, fx.appeal(D(2026, 11, 2, 10)))
        unreported.status = AppealStatus.rejected
    reviewed = fx.appeal(D(2026, 11, 16, 10))  # Mon
    fx.decide(reviewed, DecisionKind.needs_materials, D(2026, 11, 17, 9))
    fx.decide(reviewed, DecisionKind.rejected, D(2026, 11, 19, 9))  # Thu: 3
    fx.decide(reviewed, DecisionKind.approved, D(2026, 12, 2, 9))
    estimate = fx.estimate(fx.appeal(FILED), D(2026, 12, 1, 9))
    # 1 1 2 3 3 5 8: median 3, nearest rank ceil(5.6) = 6th = 5.
    assert (estimate.cases, estimate.median_days, estimate.p80_days) == (7, 3.0, 5)


def test_overdue_past_the_80th_percentile_points_to_95017(fx: Fixture) -> None:
    fx.past(PAST)
    mine = fx.appeal(FILED)
    estimate = fx.estimate(mine, D(2026, 12, 7, 9))  # Fri, Mon-Fri, Mon: 7 > 5
    assert estimate.waited_days == 7 and estimate.overdue
    sentence = waiting_sentence(estimate)
    assert sentence == (
        "过去同类申诉80%在5个工作日内有结果，你这条已经等了7个工作日，比大多数都久。"
        f"建议打微信支付客服95017，报商户号和申诉编号{mine}问一下进度，"
        "也可以说“转人工”让客服帮你跟进；先别重复提交。")


def test_with_too_few_past_cases_it_gives_no_figure(fx: Fixture) -> None:
    fx.past(PAST[:4])
    mine = fx.appeal(FILED)
    estimate = fx.estimate(mine, D(2026, 11, 30, 9))  # Fri, Mon
    assert (estimate.cases, estimate.median_days, estimate.p80_days) == (4, None, None)
    assert not estimate.enough_history and not estimate.overdue
    assert waiting_sentence(estimate) == (
        "同类申诉过去的记录还太少（4条），给不出靠谱的等待时间；你这条已经等了2个工作日。"
        "结果以官方审核为准。")
    late = fx.estimate(mine, D(2026, 12, 3, 9))  # 5 working days > the usual 3
    assert late.overdue
    assert "已经超过一般的1到3个工作日" in waiting_sentence(late)
    assert "95017" in waiting_sentence(late)


def test_the_day_of_filing_and_a_weekend_are_not_counted(fx: Fixture) -> None:
    fx.past(PAST)
    friday = fx.appeal(D(2026, 11, 27, 15))
    estimate = fx.estimate(friday, D(2026, 11, 29, 20))  # Sunday evening
    assert estimate.waited_days == 0
    assert "你这条还不到1个工作日。" in waiting_sentence(estimate)


def test_a_decided_appeal_gets_no_waiting_sentence(fx: Fixture) -> None:
    fx.past(PAST)
    mine = fx.appeal(FILED)
    fx.decide(mine, DecisionKind.rejected, D(2026, 11, 30, 9))
    estimate = fx.estimate(mine, D(2026, 12, 1, 9))
    assert not estimate.is_open and not estimate.overdue
    assert waiting_sentence(estimate) is None


def test_the_sentence_never_promises() -> None:
    for estimate in [
        WaitEstimate("AP20260101001", CATEGORY, True, 0, 9, 0.0, 0),
        WaitEstimate("AP20260101001", CATEGORY, True, 1, 9, 1.5, 2),
        WaitEstimate("AP20260101001", CATEGORY, True, 9, 9, 1.5, 2),
        WaitEstimate("AP20260101001", CATEGORY, True, 1, 0, None, None),
    ]:
        sentence = waiting_sentence(estimate)
        assert sentence is not None
        assert not any(word in sentence for word in ("保证", "一定", "肯定", "承诺会"))
    same_day = waiting_sentence(WaitEstimate("AP20260101001", CATEGORY, True, 0, 9, 0.0, 0))
    assert same_day.startswith("过去同类申诉一般不到1个工作日就有结果（80%不到1个工作日）")


@pytest.mark.parametrize(("values", "fraction", "expected"), [
    ([1, 1, 2, 3, 5, 8], 0.8, 5),
    ([1, 1, 2, 3, 5, 8], 0.5, 2),
    ([4], 0.8, 4),
    ([1, 2, 3, 4, 5], 0.8, 4),
])
def test_nearest_rank(values: list[int], fraction: float, expected: int) -> None:
    assert nearest_rank(values, fraction) == expected

