"""Masking of personal data in free text."""

from __future__ import annotations

import pytest

from actions.privacy import mask_merchant_id, mask_personal_data, mask_phone


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("手机13800000002", "手机138****0002"),
        ("身份证11010519491231002X", "身份证110105********002X"),
        ("身份证 110105194912310021 号", "身份证 110105********0021 号"),
        ("卡号6222021234567890123", "卡号6222********0123"),
        ("卡号 6222 0212 3456 7890", "卡号 6222 0212 3456 7890"),  # spaced: not one number
        ("商户号1900000002", "商户号1900000002"),  # masked where shown, not here
        ("订单20261126", "订单20261126"),
    ],
)
def test_mask_personal_data(text: str, masked: str) -> None:
    assert mask_personal_data(text) == masked


def test_masks_keep_what_identifies_nothing() -> None:
    assert mask_merchant_id("1900000003") == "1900****03"
    assert mask_phone("13800000003") == "138****0003"
