"""Canned replies for agents, built from the assistant's own FAQ answers (the
``responses`` of domain.yml, or of every file under a ``domain/`` directory)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

# Response name → the label an agent picks it by, in the order shown.
FAQ = {
    "utter_contact_support": "客服电话95017怎么打",
    "utter_ask_appeal_process": "申诉步骤和材料",
    "utter_ask_unfreeze_time": "多久能解除",
    "utter_ask_frozen_funds": "钱会不会没了",
    "utter_ask_abnormal_reason": "常见受限原因",
    "utter_ask_remote_collection": "外地客户怎么收款",
    "utter_ask_website_payment": "网站支付接口",
    "utter_ask_miniprogram_payment": "小程序收款",
    "utter_ask_fee_rate": "费率",
    "utter_ask_risk_prevention": "以后怎么避免",
    "utter_anti_scam": "防骗提醒",
}


def _responses(path: Path) -> dict[str, Any]:
    files = sorted(path.rglob("*.yml")) if path.is_dir() else [path]
    responses: dict[str, Any] = {}
    for file in files:
        content = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        responses.update(content.get("responses") or {})
    return responses


def load_canned(domain_path: Path) -> list[dict[str, str]]:
    """``[{"name", "label", "text"}]``: the first unconditional text of each FAQ answer."""
    if not domain_path.exists() and domain_path.with_suffix("").is_dir():
        domain_path = domain_path.with_suffix("")
    responses = _responses(domain_path)
    canned = []
    for name, label in FAQ.items():
        variants = responses.get(name) or []
        text = next((v.get("text") for v in variants
                     if isinstance(v, dict) and v.get("text") and not v.get("condition")), None)
        if text:
            canned.append({"name": name, "label": label, "text": str(text).strip()})
    return canned
