"""Fixtures of the materials tests: a real clamd on a signature database made here with
``sigtool`` (signature updates need the internet: the one signature detects the EICAR
test string wherever it is in a file), a migrated and seeded database, files on disk."""

from __future__ import annotations

import io
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import clamd
import pytest
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db.models import Appeal, AppealStatus, IdentityBinding, Material
from core.db.session import get_engine
from core.materials import (
    ClamdScanner,
    LocalStorage,
    MaterialsPipeline,
    MaterialsSettings,
    Scanner,
    ScanResult,
)

CLAMD = shutil.which("clamd") or "/usr/sbin/clamd"
SIGTOOL = shutil.which("sigtool") or "/usr/bin/sigtool"
# The standard anti-virus test file (not a virus; every scanner must detect it).
EICAR = clamd.EICAR
OWN_MERCHANT = "1900000003"  # open appeal AP20261120001 (demo data)
OWN_APPEAL = "AP20261120001"
OTHER_MERCHANT = "1900000002"
OTHER_APPEAL = "AP20261201001"


def _skip(reason: str) -> None:
    pytest.skip(f"!!! clamd unavailable ({reason}): the real-scanner materials tests are "
                f"SKIPPED. Install Debian's clamav-daemon and clamav (`.ci/run` does). !!!")


@pytest.fixture(scope="session")
def clamd_socket(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A clamd of this test session (per xdist worker) on a unix socket."""
    if not (Path(CLAMD).exists() and Path(SIGTOOL).exists()):
        _skip(f"{CLAMD} or {SIGTOOL} missing")
    home = tmp_path_factory.mktemp("clamd")
    database = home / "db"
    database.mkdir()
    hexed = subprocess.run([SIGTOOL, "--hex-dump"], input=EICAR, capture_output=True,
                           check=False)
    signature = hexed.stdout.decode().strip()
    if hexed.returncode != 0 or not signature:
        _skip(f"sigtool --hex-dump failed: {hexed.stderr.decode(errors='replace')[:200]}")
    # Extended signature (.ndb): name:target type (0 = any file):offset (* = anywhere):hex
    (database / "local.ndb").write_text(f"Local.EICAR.TestString:0:*:{signature}\n")
    socket = home / "clamd.sock"
    (home / "clamd.conf").write_text(
        "Foreground yes\n"
        f"DatabaseDirectory {database}\n"
        f"LocalSocket {socket}\n"
        f"LogFile {home / 'clamd.log'}\n"
        f"PidFile {home / 'clamd.pid'}\n"
        "StreamMaxLength 32M\n"
    )
    process = subprocess.Popen([CLAMD, "-c", str(home / "clamd.conf")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    client = clamd.ClamdUnixSocket(str(socket), timeout=5)
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            _skip(f"clamd exited {process.returncode}: "
                  f"{(process.stderr.read() if process.stderr else b'').decode()[-300:]}")
        try:
            if client.ping() == "PONG":
                break
        except (clamd.ClamdError, OSError):
            pass
        if time.monotonic() > deadline:
            process.kill()
            _skip("clamd did not answer within 60 s")
        time.sleep(0.2)
    yield str(socket)
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture()
def settings(tmp_path: Path) -> MaterialsSettings:
    return MaterialsSettings(storage_dir=tmp_path / "materials", max_file_bytes=2 * 1024 * 1024,
                             max_files_per_appeal=5)


@pytest.fixture()
def down_scanner() -> ClamdScanner:
    """A clamd that is not there (its socket does not exist)."""
    return ClamdScanner("/nonexistent/clamd.sock", timeout_s=1)


class CleanScanner(Scanner):
    """Says clean to everything: for tests about who may, not about scanning."""

    def scan(self, data: bytes) -> ScanResult:
        return ScanResult(True)


@pytest.fixture()
def make_pipeline(db_url: str, settings: MaterialsSettings,
                  request: pytest.FixtureRequest):  # noqa: ANN201
    """A pipeline on the test database; its scanner the session's real clamd unless one
    is given (the clamd fixture, and its loud skip, only then)."""
    def build(scanner: Scanner | None = None) -> MaterialsPipeline:
        if scanner is None:
            scanner = ClamdScanner(request.getfixturevalue("clamd_socket"), timeout_s=10)
        return MaterialsPipeline(settings, scanner, LocalStorage(settings.storage_dir),
                                 db_url=db_url)

    return build


@pytest.fixture()
def offline_pipeline(db_url: str, settings: MaterialsSettings,
                     down_scanner: ClamdScanner) -> MaterialsPipeline:
    """A pipeline whose scanner is down (no clamd needed)."""
    return MaterialsPipeline(settings, down_scanner, LocalStorage(settings.storage_dir),
                             db_url=db_url)


@pytest.fixture()
def fake_wechat() -> Iterator[Any]:
    """The fake WeChat API with the media download (tests/materials/fake_media.py)."""
    from tests.materials.fake_media import FakeWeChatMedia
    from tests.wechat.client import APP_ID

    fake = FakeWeChatMedia(app_id=APP_ID, app_secret="secret").start()
    yield fake
    fake.stop()


@pytest.fixture()
async def make_channel(fake_wechat: Any, make_pipeline: Any,
                       monkeypatch: pytest.MonkeyPatch,
                       tmp_path: Path) -> AsyncIterator[Any]:
    """Builds WeChat channels on the fake WeChat API (``api_base`` = its URL, as
    ``WECHAT_API_BASE``) taking materials with ``make_pipeline()`` or the pipeline given;
    drained and closed after the test. The WeChat modules load rasa: imported here, for
    the tests that use them only."""
    from addons.channels.wechat import WeChatConfig, WeChatInput
    from addons.channels.wechat_media import WeChatMaterials
    from addons.channels.wechat_store import MemoryStore
    from tests.wechat.client import APP_ID, TOKEN

    monkeypatch.setenv("LOCAL_SECRETS_DIR", str(tmp_path / "secrets"))
    built: list[Any] = []

    def build(pipeline: MaterialsPipeline | None = None) -> Any:
        channel = WeChatInput(WeChatConfig(token=TOKEN, app_id=APP_ID, app_secret="secret",
                                           api_base=fake_wechat.url), store=MemoryStore())
        channel.materials = WeChatMaterials(channel.api, pipeline or make_pipeline())
        built.append(channel)
        return channel

    yield build
    for channel in built:
        await channel.drain()
        await channel.close()


@pytest.fixture()
def channel(make_channel: Any) -> Any:
    """A WeChat channel whose pipeline scans with the session's real clamd."""
    return make_channel()


def stored(db_url: str) -> list[Material]:
    with Session(get_engine(db_url)) as session:
        rows = list(session.execute(select(Material)).scalars())
        session.expunge_all()
        return rows


def downloads(db_url: str) -> list[Any]:
    """The WeChat media downloads kept for a retry (core.db.media_downloads), oldest first."""
    from core.db.media_downloads import MediaDownload

    with Session(get_engine(db_url)) as session:
        rows = list(session.execute(select(MediaDownload).order_by(MediaDownload.id))
                    .scalars())
        session.expunge_all()
        return rows


def bind(db_url: str, channel: str, sender_id: str, merchant_id: str) -> None:
    """The sender passed the identity check for ``merchant_id``."""
    with Session(get_engine(db_url)) as session, session.begin():
        session.merge(IdentityBinding(channel=channel, sender_id=sender_id,
                                      merchant_id=merchant_id))


def file_other_appeal(db_url: str) -> str:
    """An open appeal of another merchant (1900000002 has none in the demo data)."""
    with Session(get_engine(db_url)) as session, session.begin():
        session.add(Appeal(id=OTHER_APPEAL, merchant_id=OTHER_MERCHANT, category="异地收款",
                           description="外地客户扫码", contact_phone="13800000002",
                           status=AppealStatus.submitted))
    return OTHER_APPEAL


# --- files ------------------------------------------------------------------------------------
def gps_jpeg(size: tuple[int, int] = (64, 48)) -> bytes:
    """A JPEG with GPS EXIF (a shop's position), a camera model and a comment."""
    image = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[0x0110] = "Merchant Phone X"  # Model
    exif[0x010E] = "secret description"  # ImageDescription
    exif[0x8825] = {  # GPS IFD
        1: "N", 2: (31.0, 13.0, 45.5), 3: "E", 4: (121.0, 28.0, 12.25),
    }
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes(), comment=b"shot at the shop")
    return out.getvalue()


def png(size: tuple[int, int] = (32, 32), text: dict[str, str] | None = None) -> bytes:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    for key, value in (text or {}).items():
        info.add_text(key, value)
    out = io.BytesIO()
    Image.new("RGBA", size, (0, 128, 255, 200)).save(out, "PNG", pnginfo=info)
    return out.getvalue()


def pdf(body: bytes = b"BT /F1 12 Tf 72 712 Td (Business licence) Tj ET",
        extra_objects: bytes = b"", catalog_extra: bytes = b"") -> bytes:
    """A small, well-formed PDF (one page with text)."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R " + catalog_extra + b">>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
        b"<< /Length " + str(len(body)).encode() + b" >>\nstream\n" + body + b"\nendstream",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, content in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + content + b"\nendobj\n")
    out.write(extra_objects)
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\n"
              f"startxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()
