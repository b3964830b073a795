"""The whole pipeline on a real database and a real clamd: EICAR refused, clean files
stored private and without metadata, limits, retries, scanner down → quarantine."""

from __future__ import annotations

import io
import stat
from pathlib import Path

from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db.models import Material, MaterialStatus
from core.db.session import get_engine
from core.materials import ACCEPTED, QUARANTINED, REFUSED, ClamdScanner, MaterialsSettings
from core.materials.pipeline import NotFound, source_ref
from tests.materials.conftest import (
    EICAR,
    OWN_APPEAL,
    OWN_MERCHANT,
    bind,
    gps_jpeg,
    pdf,
)


def rows(db_url: str) -> list[Material]:
    with Session(get_engine(db_url)) as session:
        found = list(session.execute(select(Material).order_by(Material.created_at)).scalars())
        session.expunge_all()
        return found


def test_clamd_itself_finds_eicar(clamd_socket: str) -> None:
    scanner = ClamdScanner(clamd_socket)
    assert scanner.available()
    assert not scanner.scan(EICAR).clean
    assert "EICAR" in scanner.scan(EICAR).signature.upper()
    assert scanner.scan(b"%PDF-1.4 nothing here").clean


def test_eicar_inside_an_accepted_type_is_refused_by_the_real_clamd(
        make_pipeline, db_url: str, settings: MaterialsSettings) -> None:
    # A well-formed PDF (type and structure pass) carrying the EICAR string in a stream.
    infected = pdf(body=b"BT (" + EICAR + b") Tj ET")
    outcome = make_pipeline().accept(OWN_MERCHANT, OWN_APPEAL, "widget", "up-1", infected,
                                     "licence.pdf")
    assert outcome.status == REFUSED and outcome.reason == "infected"
    assert outcome.message.startswith("文件没通过安全检查")
    assert rows(db_url) == []
    assert not any(settings.storage_dir.rglob("*.pdf"))


def test_a_clean_photo_is_stored_private_and_without_exif(
        make_pipeline, db_url: str, settings: MaterialsSettings) -> None:
    pipeline = make_pipeline()
    outcome = pipeline.accept(OWN_MERCHANT, OWN_APPEAL, "widget", "up-2", gps_jpeg(),
                              "../../门头照片.jpg")
    assert outcome.status == ACCEPTED and outcome.count == 1
    assert "已加入申诉 AP20261120001" in outcome.message
    [row] = rows(db_url)
    assert row.status == MaterialStatus.clean and row.original_name == "门头照片.jpg"
    assert row.merchant_id == OWN_MERCHANT and row.appeal_id == OWN_APPEAL
    assert row.id not in row.storage_key  # the id given to clients does not name the file
    stored = settings.storage_dir / row.storage_key
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    for directory in (stored.parent, settings.storage_dir):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert not Image.open(io.BytesIO(stored.read_bytes())).getexif()
    assert b"Merchant Phone X" not in stored.read_bytes()


def test_a_retry_of_the_same_message_keeps_one_file(make_pipeline, db_url: str) -> None:
    pipeline = make_pipeline()
    first = pipeline.accept(OWN_MERCHANT, OWN_APPEAL, "wechat", "wechat:o:1", gps_jpeg())
    again = pipeline.accept(OWN_MERCHANT, OWN_APPEAL, "wechat", "wechat:o:1", gps_jpeg())
    assert first.material_id == again.material_id and len(rows(db_url)) == 1


def test_files_per_appeal_are_limited(make_pipeline, settings: MaterialsSettings) -> None:
    pipeline = make_pipeline()
    for number in range(settings.max_files_per_appeal):
        assert pipeline.accept(OWN_MERCHANT, OWN_APPEAL, "widget", f"n{number}",
                               gps_jpeg()).status == ACCEPTED
    over = pipeline.accept(OWN_MERCHANT, OWN_APPEAL, "widget", "one-more", gps_jpeg())
    assert over.status == REFUSED and over.reason == "too_many"
    assert "达到上限" in over.message


def test_scanner_down_quarantines_and_a_later_scan_decides(
        make_pipeline, down_scanner: ClamdScanner, db_url: str,
        settings: MaterialsSettings) -> None:
    offline = make_pipeline(down_scanner)
    bind(db_url, "widget", "s" * 32, OWN_MERCHANT)
    photo = offline.accept(OWN_MERCHANT, OWN_APPEAL, "widget", source_ref("widget", "s" * 32, "q1"),
                           gps_jpeg(), "a.jpg")
    infected = offline.accept(OWN_MERCHANT, OWN_APPEAL, "widget",
                              source_ref("widget", "s" * 32, "q2"),
                              pdf(body=b"(" + EICAR + b")"), "b.pdf")
    # Kept (never lost), never accepted unscanned, never shown.
    for outcome in (photo, infected):
        assert outcome.status == QUARANTINED, outcome
        assert "安全检查暂时没能完成" in outcome.message
    assert {row.status for row in rows(db_url)} == {MaterialStatus.quarantined}
    assert all(row.storage_key.startswith("quarantine/") for row in rows(db_url))
    owner = offline.owner("widget", "s" * 32)
    assert [view.public()["status"] for view in owner.materials] == ["checking", "checking"]
    for outcome in (photo, infected):
        try:
            offline.read_for_sender("widget", "s" * 32, outcome.material_id or "")
            raise AssertionError("a quarantined file was readable")
        except NotFound:
            pass
    # Still down: nothing changes.
    assert offline.rescan_quarantined()["waiting"] == 2

    counts = make_pipeline().rescan_quarantined()
    assert counts == {"released": 1, "infected": 1, "waiting": 0}
    by_id = {row.id: row for row in rows(db_url)}
    released, refused = by_id[photo.material_id], by_id[infected.material_id]
    assert released.status == MaterialStatus.clean
    assert released.storage_key.startswith("clean/")
    clean_bytes = (settings.storage_dir / released.storage_key).read_bytes()
    assert not Image.open(io.BytesIO(clean_bytes)).getexif()  # sanitized on release
    assert refused.status == MaterialStatus.infected and "EICAR" in refused.scan_signature.upper()
    assert not (settings.storage_dir / refused.storage_key).exists()
    assert not list(Path(settings.storage_dir, "quarantine").glob("*"))
    _, data = make_pipeline().read_for_sender("widget", "s" * 32, photo.material_id or "")
    assert data == clean_bytes


def test_storage_down_keeps_nothing_and_says_so(make_pipeline, db_url: str,
                                                settings: MaterialsSettings) -> None:
    pipeline = make_pipeline()
    settings.storage_dir.parent.mkdir(parents=True, exist_ok=True)
    settings.storage_dir.write_text("not a directory")  # the disk refuses
    outcome = pipeline.accept(OWN_MERCHANT, OWN_APPEAL, "widget", "s1", gps_jpeg())
    assert outcome.status == REFUSED and outcome.reason == "unavailable"
    assert "稍后再发" in outcome.message and rows(db_url) == []


def test_one_rescan_at_a_time(offline_pipeline) -> None:
    offline_pipeline.accept(OWN_MERCHANT, OWN_APPEAL, "widget", "r1", gps_jpeg())
    with offline_pipeline._rescanning:  # another upload's rescan is running
        assert offline_pipeline.rescan_quarantined() == {"released": 0, "infected": 0,
                                                         "waiting": 0}
    assert offline_pipeline.rescan_quarantined()["waiting"] == 1
