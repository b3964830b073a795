"""Masking of personal data in free text (what is stored and logged)."""

from __future__ import annotations

import pytest

from core.privacy import mask_merchant_id, mask_personal_data, mask_phone


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("手机13800000002", "手机138********"),
        ("电话 +86 138-0000-0002", "电话 138********"),
        ("138 0000 0002", "138********"),
        ("１３８０００００００２", "138********"),  # full-width digits
        ("联系电话：138****0002", "联系电话：138********"),  # display mask shows the last 4
        ("身份证11010519491231002X", "身份证110105********002X"),
        ("身份证 110105 19491231 0021 号", "身份证 110105********0021 号"),
        ("卡号6222021234567890123", "卡号6222********0123"),
        ("卡号 6222 0212 3456 7890", "卡号 6222********7890"),
        ("6222-0212-3456-7890-123", "6222********0123"),
        ("商户号1900000002 0002", "商户号1900000002 0002"),  # masked where shown, not here
        ("订单20261126，2026 11 26 1030", "订单20261126，2026 11 26 1030"),
        ("confidence 0.9817126453586416", "confidence 0.9817126453586416"),
    ],
)
def test_mask_personal_data(text: str, masked: str) -> None:
    assert mask_personal_data(text) == masked


def test_display_masks_for_the_merchant_keep_the_product_format() -> None:
    assert mask_merchant_id("1900000003") == "1900****03"
    assert mask_phone("13800000003") == "138****0003"
