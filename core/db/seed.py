"""Demo merchants, states and appeals (idempotent: running it twice changes nothing)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from core.db.models import AccountState, AccountStatus, Appeal, AppealStatus, Merchant

DEMO_MERCHANTS = [
    # id, name, business type, bound phone, status, reason, can collect, can withdraw
    ("1900000001", "城东便利店", "retail", "13800000001", AccountStatus.normal, None, True, True),
    ("1900000002", "老街水果铺", "agriculture", "13800000002", AccountStatus.restricted,
     "remote_qr_collection", False, True),
    ("1900000003", "小林奶茶", "catering", "13800000003", AccountStatus.frozen,
     "instant_withdrawal", False, False),
    ("1900000004", "星河数码", "ecommerce", "13800000004", AccountStatus.risk_controlled,
     "high_frequency", True, False),
]

DEMO_APPEALS = [
    ("AP20261120001", "1900000003", "instant_withdrawal",
     "个人账户收款后立即提现，已准备真实交易记录", "13800000003",
     AppealStatus.reviewing, None, dt.datetime(2026, 11, 20, 10, 15)),
    ("AP20261118002", "1900000004", "high_frequency",
     "交易频繁是因为双十一促销", "13800000004",
     AppealStatus.rejected, "提交的材料不能证明交易真实", dt.datetime(2026, 11, 18, 16, 40)),
]

STATE_SINCE = {
    "1900000001": dt.datetime(2025, 3, 1, 9, 0),
    "1900000002": dt.datetime(2026, 11, 22, 14, 30),
    "1900000003": dt.datetime(2026, 11, 19, 20, 5),
    "1900000004": dt.datetime(2026, 11, 16, 11, 0),
}


def seed_demo_data(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        for (merchant_id, name, business_type, phone, status, reason, collect,
             withdraw) in DEMO_MERCHANTS:
            if session.get(Merchant, merchant_id) is None:
                session.add(Merchant(id=merchant_id, name=name, business_type=business_type,
                                     bound_phone=phone))
                session.flush()
            has_state = session.execute(
                select(AccountState.id).where(AccountState.merchant_id == merchant_id).limit(1)
            ).first()
            if not has_state:
                session.add(AccountState(
                    merchant_id=merchant_id, status=status, reason_code=reason,
                    since=STATE_SINCE[merchant_id], can_collect=collect, can_withdraw=withdraw,
                ))
        session.flush()
        for (appeal_id, merchant_id, category, description, phone, status, note,
             created) in DEMO_APPEALS:
            if session.get(Appeal, appeal_id) is None:
                session.add(Appeal(
                    id=appeal_id, merchant_id=merchant_id, category=category,
                    description=description, contact_phone=phone, status=status,
                    decision_note=note, created_at=created, updated_at=created,
                ))
