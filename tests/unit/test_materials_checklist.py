"""The per-reason checklist of an appeal's materials (core.materials.checklist)."""

from __future__ import annotations

from core.materials.checklist import checklist_for, offer_text, status, status_text


def test_each_reason_has_its_own_list_and_an_unknown_reason_the_general_one() -> None:
    remote = [i.key for i in checklist_for("remote_qr_collection")]
    assert remote == ["orders", "chats", "delivery", "changes"]
    assert [i.key for i in checklist_for("no_such_reason")] == \
        [i.key for i in checklist_for("other")]
    assert "还缺什么材料" in offer_text("high_frequency")


def test_files_tick_items_by_their_names_and_unnamed_photos_tick_none() -> None:
    ticked = {s.item.key: s.received for s in status(
        "instant_withdrawal", ["营业执照.jpg", "微信图片_20261206.jpg"], "")}
    assert ticked == {"licence": True, "orders": False, "use_of_funds": False}


def test_what_is_written_counts_only_for_written_items() -> None:
    # The description promises the change; it does not stand in for the orders.
    ticked = {s.item.key: s.received for s in status(
        "remote_qr_collection", [], "外地客户以后改用小程序下单，订单都有")}
    assert ticked["changes"] is True and ticked["orders"] is False
    # Saying how the money was withdrawn is no statement of what it was used for.
    assert not status("instant_withdrawal", [], "个人账户收款后立即提现")[2].received


def test_the_status_says_what_arrived_and_what_to_look_at() -> None:
    text = status_text("AP20261206001", "other", ["营业执照.pdf", None], "")
    assert text.startswith("申诉 AP20261206001 在这里收到了 2 份文件")
    assert "✓ 营业执照" in text and "□ 真实订单" in text
    assert "没有名字的照片" in text
    done = status_text("AP20261206001", "other",
                       ["执照.jpg", "订单.pdf", "聊天记录.png", "快递单.jpg"], "")
    assert "都对上了" in done and "□" not in done
