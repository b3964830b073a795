"""Appeal materials in the console (issue 22, item 1; docs/materials.md "In the console"):
the 申诉材料 panel of a conversation lists the merchant's clean files only (the others as
counts), and one material is downloaded only by an agent who may read the conversation,
with the sandboxing headers, and recorded in the audit. Files go through the real
materials pipeline (a clean stub scanner, or one that is down: no clamd needed) into a
local storage in a temporary directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from console.app import create_app
from core.db.models import Appeal, AppealStatus, Material, MaterialStatus, TeamChange
from core.db.session import get_engine
from core.materials import (
    ACCEPTED,
    QUARANTINED,
    ClamdScanner,
    LocalStorage,
    MaterialsPipeline,
    MaterialsSettings,
    Scanner,
    ScanResult,
    StorageError,
)
from tests.console.conftest import Sleeps, add_agent, queue_handoff, settings_for, sign_in
from tests.console.fake_rasa import FakeRasa
from tests.console.test_history import make_supervisor
from tests.materials.conftest import pdf, png

API = "/console/api"
MERCHANT = "1900000002"  # the merchant of tests.console.conftest.queue_handoff
APPEAL = "AP20261201001"
OTHER_MERCHANT = "1900000003"  # open appeal AP20261120001 in the demo data
OTHER_APPEAL = "AP20261120001"


class CleanScanner(Scanner):
    def scan(self, data: bytes) -> ScanResult:
        return ScanResult(True)


class InfectedScanner(Scanner):
    def scan(self, data: bytes) -> ScanResult:
        return ScanResult(False, "Local.EICAR.TestString")


class BrokenStorage(LocalStorage):
    def get(self, key: str) -> bytes:
        raise StorageError("local storage: disk gone")


@pytest.fixture()
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "materials")


@pytest.fixture()
def pipelines(db_url: str, tmp_path: Path, storage: LocalStorage) -> dict[str, MaterialsPipeline]:
    settings = MaterialsSettings(storage_dir=storage.root)

    def build(scanner: Scanner) -> MaterialsPipeline:
        return MaterialsPipeline(settings, scanner, storage, db_url=db_url)

    return {"clean": build(CleanScanner()),
            "down": build(ClamdScanner(str(tmp_path / "no-clamd.sock"), timeout_s=1)),
            "infected": build(InfectedScanner())}


@pytest.fixture()
def console_app(db_url: str, fake_rasa: FakeRasa, sleeps: Sleeps,
                storage: LocalStorage) -> Any:
    return create_app(settings_for(db_url), rasa_transport=fake_rasa.transport(),
                      sleep=sleeps, background=False, materials_storage=storage)


@pytest.fixture()
def make_client(console_app: Any) -> Iterator[Any]:
    clients: list[TestClient] = []

    def build() -> TestClient:
        client = TestClient(console_app)
        client.__enter__()
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.__exit__(None, None, None)


def file_appeal(db_url: str) -> None:
    """An open appeal of the handed-over merchant (1900000002 has none in the demo data)."""
    with Session(get_engine(db_url)) as session, session.begin():
        session.add(Appeal(id=APPEAL, merchant_id=MERCHANT, category="异地收款",
                           description="外地客户扫码", contact_phone="13800000002",
                           status=AppealStatus.submitted))


def row(db_url: str, material_id: str) -> Material:
    with Session(get_engine(db_url)) as session:
        material = session.get(Material, material_id)
        session.expunge(material)
        return material


def audit(db_url: str) -> list[TeamChange]:
    with Session(get_engine(db_url)) as session:
        found = list(session.execute(
            select(TeamChange).where(TeamChange.kind == "material_viewed")
            .order_by(TeamChange.id)).scalars())
        session.expunge_all()
        return found


@pytest.fixture()
def files(db_url: str, pipelines: dict[str, MaterialsPipeline]) -> dict[str, str]:
    """The merchant's appeal with a clean photo (WeChat), a clean PDF (widget), one file
    still in quarantine and one refused by its later scan; another merchant's photo."""
    file_appeal(db_url)
    photo = pipelines["clean"].accept(MERCHANT, APPEAL, "wechat", "wechat:oMat1:1001",
                                      png(), "营业执照.png")
    licence = pipelines["clean"].accept(MERCHANT, APPEAL, "widget", "up-licence", pdf(),
                                        "身份证 110101199003077777.pdf")
    waiting = pipelines["down"].accept(MERCHANT, APPEAL, "widget", "up-waiting", png(),
                                       "门头照片.png")
    bad = pipelines["down"].accept(MERCHANT, APPEAL, "widget", "up-bad", pdf(), "流水.pdf")
    assert photo.status == licence.status == ACCEPTED
    assert waiting.status == bad.status == QUARANTINED
    # The later scan refuses one (the other stays in quarantine, its scanner still down).
    with Session(get_engine(pipelines["clean"].db_url)) as session, session.begin():
        session.get(Material, waiting.material_id).created_at = \
            session.get(Material, bad.material_id).created_at.replace(year=2100)
    assert pipelines["infected"].rescan_quarantined(limit=1)["infected"] == 1
    assert row(db_url, bad.material_id).status == MaterialStatus.infected
    assert row(db_url, waiting.material_id).status == MaterialStatus.quarantined
    other = pipelines["clean"].accept(OTHER_MERCHANT, OTHER_APPEAL, "wechat",
                                      "wechat:oOther:1", png(), "别人的执照.png")
    assert other.status == ACCEPTED
    return {"photo": photo.material_id, "licence": licence.material_id,
            "waiting": waiting.material_id, "bad": bad.material_id,
            "other": other.material_id}


def held_by_wang(db_url: str, make_client: Any, fake_rasa: FakeRasa,
                 sender: str = "oMat1") -> tuple[int, TestClient]:
    add_agent(db_url, "wang", "小王")
    wang = make_client()
    sign_in(wang, "wang")
    fake_rasa.user_says(sender, "我发了营业执照，你们看到了吗")
    handoff = queue_handoff(db_url, sender, reason="appeal_help")
    assert wang.post(f"{API}/handoffs/{handoff}/claim").status_code == 200
    return handoff, wang


def test_the_holder_sees_the_clean_files_and_downloads_them(
        db_url: str, make_client: Any, fake_rasa: FakeRasa, files: dict[str, str],
        storage: LocalStorage) -> None:
    handoff, wang = held_by_wang(db_url, make_client, fake_rasa)
    answer = wang.get(f"{API}/handoffs/{handoff}")
    assert answer.status_code == 200
    panel = answer.json()["materials"]
    assert [item["id"] for item in panel["items"]] == [files["photo"], files["licence"]]
    photo, licence = panel["items"]
    assert photo["name"] == "营业执照.png" and photo["kind"] == "png" and photo["image"]
    assert photo["kind_label"] == "PNG 图片" and photo["channel_label"] == "微信"
    assert photo["appeal_id"] == APPEAL and photo["size_bytes"] > 0
    assert photo["size_label"].endswith(("B", "KB")) and photo["created_at"] > 0
    assert photo["url"] == f"{API}/handoffs/{handoff}/materials/{files['photo']}"
    # The file name is masked like every text in the console.
    assert licence["name"] == "身份证 110101********7777.pdf" and not licence["image"]
    assert licence["channel_label"] == "网页" and licence["kind_label"] == "PDF"
    assert panel["checking"] == 1 and panel["checking_label"] == "1 个文件正在安全检查"
    assert panel["failed"] == 1 and panel["failed_label"] == "1 个文件未通过安全检查"
    # Neither the other files nor any storage key (or path) reaches the agent.
    for hidden in (files["waiting"], files["bad"], files["other"], "门头照片", "流水", "别人",
                   "clean/", "quarantine/", str(storage.root)):
        assert hidden not in answer.text
    for material_id in files.values():
        assert row(db_url, material_id).storage_key not in answer.text

    image = wang.get(photo["url"])
    assert image.status_code == 200
    assert image.content == storage.get(row(db_url, files["photo"]).storage_key)
    assert image.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert image.headers["content-type"] == "image/png"
    assert image.headers["x-content-type-options"] == "nosniff"
    assert image.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert image.headers["cache-control"] == "private, no-store"
    assert image.headers["content-disposition"].startswith("inline;")

    document = wang.get(licence["url"])
    assert document.status_code == 200
    assert document.content == storage.get(row(db_url, files["licence"]).storage_key)
    assert document.headers["content-type"] == "application/pdf"
    assert document.headers["content-disposition"].startswith('attachment; filename="material.pdf"')
    assert "110101199003077777" not in document.headers["content-disposition"]
    assert document.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert document.headers["cache-control"] == "private, no-store"

    # Each download is one audit row: who, which conversation, which file.
    rows = audit(db_url)
    assert [(r.item_id, r.action, r.agent_username) for r in rows] == \
        [(handoff, "viewed", "wang"), (handoff, "viewed", "wang")]
    assert files["photo"] in rows[0].after and files["licence"] in rows[1].after


def test_nobody_else_gets_a_file_and_every_refusal_is_the_same_404(
        db_url: str, make_client: Any, fake_rasa: FakeRasa, files: dict[str, str]) -> None:
    handoff, wang = held_by_wang(db_url, make_client, fake_rasa)
    add_agent(db_url, "li", "小李")
    make_supervisor(db_url, add_agent(db_url, "boss", "组长"))
    li, boss = make_client(), make_client()
    sign_in(li, "li")
    sign_in(boss, "boss")
    url = f"{API}/handoffs/{handoff}/materials"

    unknown = wang.get(f"{url}/{'x' * 32}")
    assert unknown.status_code == 404
    refusals = [
        li.get(f"{url}/{files['photo']}"),  # a colleague not holding the conversation
        wang.get(f"{url}/{files['waiting']}"),  # still in quarantine
        wang.get(f"{url}/{files['bad']}"),  # refused by its scan
        wang.get(f"{url}/{files['other']}"),  # another merchant's
        wang.get(f"{API}/handoffs/{handoff + 1000}/materials/{files['photo']}"),
        wang.get(f"{url}/{'y' * 65}"),
    ]
    for answer in refusals:
        assert answer.status_code == 404, answer.text
        assert answer.json() == unknown.json() == {"detail": "没有这个材料"}
    assert li.get(f"{API}/handoffs/{handoff}").status_code == 404  # the panel neither
    assert audit(db_url) == []

    # A supervisor reads every conversation, so its files too (and is recorded).
    assert boss.get(f"{url}/{files['photo']}").status_code == 200
    assert [r.agent_username for r in audit(db_url)] == ["boss"]
    # The audit of material views is asked for by kind; the team's list stays the team's.
    views = boss.get(f"{API}/team/changes", params={"kind": "material_viewed"}).json()["items"]
    assert [(v["kind_label"], v["action_label"], v["agent"]) for v in views] == \
        [("查看申诉材料", "查看", "组长")]
    assert views[0]["after"]["material_id"] == files["photo"]
    team = boss.get(f"{API}/team/changes").json()["items"]
    assert all(item["kind"] != "material_viewed" for item in team)


def test_a_queued_conversation_shows_its_files_to_whoever_may_claim_it(
        db_url: str, make_client: Any, fake_rasa: FakeRasa, files: dict[str, str]) -> None:
    add_agent(db_url, "li", "小李")
    li = make_client()
    sign_in(li, "li")
    fake_rasa.user_says("oQueued", "转人工")
    handoff = queue_handoff(db_url, "oQueued", reason="appeal_help")
    panel = li.get(f"{API}/handoffs/{handoff}").json()["materials"]
    assert [item["id"] for item in panel["items"]] == [files["photo"], files["licence"]]
    assert li.get(panel["items"][0]["url"]).status_code == 200


def test_without_a_verified_merchant_there_is_no_panel_and_no_file(
        db_url: str, make_client: Any, fake_rasa: FakeRasa, files: dict[str, str]) -> None:
    add_agent(db_url, "wang", "小王")
    wang = make_client()
    sign_in(wang, "wang")
    fake_rasa.user_says("visitor1", "转人工")
    handoff = queue_handoff(db_url, "visitor1", snapshot=None)
    assert wang.post(f"{API}/handoffs/{handoff}/claim").status_code == 200
    assert wang.get(f"{API}/handoffs/{handoff}").json()["materials"] is None
    answer = wang.get(f"{API}/handoffs/{handoff}/materials/{files['photo']}")
    assert answer.status_code == 404 and answer.json() == {"detail": "没有这个材料"}


def test_not_signed_in_is_401_and_tells_nothing(
        db_url: str, make_client: Any, fake_rasa: FakeRasa, files: dict[str, str]) -> None:
    handoff, _ = held_by_wang(db_url, make_client, fake_rasa)
    stranger = make_client()
    for material_id in (files["photo"], "x" * 32):
        answer = stranger.get(f"{API}/handoffs/{handoff}/materials/{material_id}")
        assert answer.status_code == 401
        assert answer.json() == {"detail": "请先登录"}
        assert answer.headers["content-type"].startswith("application/json")


def test_storage_down_answers_503_and_records_no_view(
        db_url: str, fake_rasa: FakeRasa, sleeps: Sleeps, files: dict[str, str],
        storage: LocalStorage) -> None:
    app = create_app(settings_for(db_url), rasa_transport=fake_rasa.transport(), sleep=sleeps,
                     background=False, materials_storage=BrokenStorage(storage.root))
    with TestClient(app) as client:
        handoff, wang = held_by_wang(db_url, lambda: client, fake_rasa)
        answer = wang.get(f"{API}/handoffs/{handoff}/materials/{files['photo']}")
    assert answer.status_code == 503
    assert answer.json() == {"detail": "材料暂时读不出来，请稍后再试"}
    assert audit(db_url) == []
