"""From bytes a merchant sent to a material of their appeal: the one path for the widget's
upload and WeChat images alike.

1. who: the sender's identity binding names the merchant (verified on this channel), and
   the file goes to that merchant's open appeal only (a given appeal id must be it);
2. limits: size, files per appeal (settings);
3. ``sanitize``: type from the bytes, images re-encoded without metadata, PDFs checked
   for active content, polyglots refused;
4. ``Scanner.scan`` of the bytes as they arrived: infected → refused, nothing kept;
   scanner down → **quarantined**: the bytes as they arrived are kept under
   ``quarantine/``, the row says ``quarantined``, nothing shows it (not the merchant's
   list, not an agent), and ``rescan_quarantined`` decides once the scanner answers
   (clean → sanitized again and released; infected → deleted, the row kept as record).
   Never accepted unscanned, and never lost because the scanner was down;
5. ``Storage.put`` (a failure refuses with "稍后再发", nothing recorded), then the row.

Every refusal carries a reason and the merchant's polite Chinese text (core.materials.errors).
Synchronous (database, clamd, storage): channels call it through ``asyncio.to_thread``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import secrets
import threading
import unicodedata
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from core.db import repository
from core.db.models import Material, MaterialStatus, utcnow
from core.db.session import get_engine
from core.materials.errors import Refused, message_for
from core.materials.sanitize import KINDS, sanitize
from core.materials.scanner import ClamdScanner, Scanner, ScannerUnavailable
from core.materials.settings import MaterialsSettings
from core.materials.storage import Storage, StorageError, storage_from_settings
from core.privacy import mask_personal_data

logger = logging.getLogger(__name__)

ACCEPTED = "accepted"
QUARANTINED = "quarantined"
REFUSED = "refused"
COUNTED = (MaterialStatus.clean, MaterialStatus.quarantined)
# Control characters, path separators and the bidirectional overrides that make
# "\u202egnp.exe" read as "exe.png" (bench/results/pentest_round3.md, L-3).
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\\u200e\u200f\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True)
class Outcome:
    status: str  # accepted / quarantined / refused
    message: str  # what the merchant is told
    reason: str = ""  # why refused (core.materials.errors.MESSAGES)
    material_id: str | None = None
    appeal_id: str | None = None
    count: int = 0  # the appeal's files now (clean and in quarantine)

    @property
    def kept(self) -> bool:
        return self.status in (ACCEPTED, QUARANTINED)


@dataclass(frozen=True)
class MaterialView:
    """What a client may see of a material: never the storage key."""

    id: str
    name: str
    kind: str
    size_bytes: int
    status: str  # clean / quarantined
    created_at: dt.datetime
    source_ref: str = ""  # who sent it (never shown)

    def public(self) -> dict[str, object]:
        return {"id": self.id, "name": mask_personal_data(self.name), "kind": self.kind,
                "size_bytes": self.size_bytes,
                "status": "ok" if self.status == MaterialStatus.clean.value else "checking",
                "created_at": self.created_at.replace(microsecond=0).isoformat() + "Z"}


@dataclass
class Owner:
    merchant_id: str
    appeal_id: str
    materials: list[MaterialView] = field(default_factory=list)


class NotFound(Exception):
    """No such material for this sender (also: someone else's; the same answer)."""


def clean_name(name: str | None, kind: str) -> str:
    """The merchant's file name, safe to show: no path, no control characters, short."""
    name = unicodedata.normalize("NFC", str(name or ""))
    name = _UNSAFE_NAME.sub("", name.replace("\\", "/").rsplit("/", 1)[-1]).strip()
    return (name or f"材料.{KINDS[kind][1]}")[:100]


# How each channel names where a file came from: "<prefix><sender>:<message or upload>".
SOURCE_PREFIXES = {"widget": "upload:", "wechat": "wechat:"}


def source_prefix(channel: str, sender_id: str) -> str:
    return f"{SOURCE_PREFIXES.get(channel, channel + ':')}{sender_id}:"


def source_ref(channel: str, sender_id: str, unique: str) -> str:
    """The ``source_ref`` of a file ``sender_id`` sent on ``channel`` (one per message)."""
    return f"{source_prefix(channel, sender_id)}{unique}"


def _new_key(folder: str, kind: str) -> str:
    return f"{folder}/{secrets.token_urlsafe(24)}.{KINDS[kind][1]}"


class MaterialsPipeline:
    def __init__(self, settings: MaterialsSettings | None = None,
                 scanner: Scanner | None = None, storage: Storage | None = None,
                 db_url: str | None = None) -> None:
        self.settings = settings or MaterialsSettings()
        self.scanner = scanner or ClamdScanner.from_settings(self.settings)
        self.storage = storage or storage_from_settings(self.settings)
        self.db_url = db_url  # None: MERCHANT_DB_URL, as the action server
        # One rescan at a time in this process (each upload may start one).
        self._rescanning = threading.Lock()

    def _session(self) -> Session:
        return Session(get_engine(self.db_url), expire_on_commit=False)

    def refused(self, reason: str, detail: str = "", appeal_id: str | None = None) -> Outcome:
        if detail:
            logger.info("material refused (%s): %s", reason, detail)
        return Outcome(REFUSED, message_for(reason, self.settings.max_file_bytes,
                                            self.settings.max_files_per_appeal),
                       reason=reason, appeal_id=appeal_id)

    # --- who may ------------------------------------------------------------------------
    def owner(self, channel: str, sender_id: str, appeal_id: str | None = None) -> Owner:
        """The verified merchant of this sender and their open appeal (``appeal_id``, when
        given, must be it); raises Refused (not_verified / no_appeal)."""
        with self._session() as session:
            merchant_id = repository.bound_merchant_id(session, channel, sender_id)
            if merchant_id is None:
                raise Refused("not_verified")
            appeal = repository.open_appeal(session, merchant_id)
            if appeal is None or (appeal_id and appeal_id.upper() != appeal.id):
                # Another merchant's appeal and a closed one look the same.
                raise Refused("no_appeal")
            rows = session.execute(
                select(Material).where(Material.appeal_id == appeal.id,
                                       Material.status.in_(COUNTED))
                .order_by(Material.created_at, Material.id)).scalars()
            views = [MaterialView(m.id, m.original_name or "", m.kind, m.size_bytes,
                                  m.status.value, m.created_at, m.source_ref) for m in rows]
            return Owner(merchant_id, appeal.id, views)

    def accept_for_sender(self, channel: str, sender_id: str, data: bytes,
                          filename: str | None, source_ref: str,
                          appeal_id: str | None = None) -> Outcome:
        try:
            owner = self.owner(channel, sender_id, appeal_id)
        except Refused as refusal:
            return self.refused(refusal.reason)
        except SQLAlchemyError as error:
            logger.error("materials: database unavailable (%s)", type(error).__name__)
            return self.refused("unavailable")
        return self.accept(owner.merchant_id, owner.appeal_id, channel, source_ref, data,
                           filename)

    def sent_by(self, owner: Owner, channel: str, sender_id: str) -> list[MaterialView]:
        """The files of the owner's appeal that this very sender sent. Passing the identity
        check on another device shows the account, never the documents sent from the
        first one (licence and ID scans: bench/results/pentest_round3.md, M-1)."""
        prefix = source_prefix(channel, sender_id)
        return [view for view in owner.materials if view.source_ref.startswith(prefix)]

    def read_for_sender(self, channel: str, sender_id: str,
                        material_id: str) -> tuple[Material, bytes]:
        """A clean material this sender sent to their own open appeal, with its bytes."""
        try:
            owner = self.owner(channel, sender_id)
        except Refused:
            raise NotFound(material_id) from None
        with self._session() as session:
            material = session.get(Material, str(material_id))
            if material is None or material.appeal_id != owner.appeal_id \
                    or material.merchant_id != owner.merchant_id \
                    or material.status != MaterialStatus.clean \
                    or not material.source_ref.startswith(source_prefix(channel, sender_id)):
                raise NotFound(material_id)
            session.expunge(material)
        return material, self.storage.get(material.storage_key)

    # --- one file -----------------------------------------------------------------------
    def _count(self, session: Session, appeal_id: str) -> int:
        return session.execute(select(func.count()).select_from(Material).where(
            Material.appeal_id == appeal_id, Material.status.in_(COUNTED))).scalar_one()

    def _existing(self, session: Session, channel: str, source_ref: str) -> Material | None:
        return session.execute(select(Material).where(
            Material.channel == channel, Material.source_ref == source_ref)).scalar_one_or_none()

    def accept(self, merchant_id: str, appeal_id: str, channel: str, source_ref: str,
               data: bytes, filename: str | None = None) -> Outcome:
        """Takes ``data`` into ``appeal_id`` of ``merchant_id`` (already checked to be
        theirs and open), or refuses it."""
        try:
            with self._session() as session:
                earlier = self._existing(session, channel, source_ref)
                if earlier is not None:  # a retry of the same message: the first answer
                    return self._kept(earlier, self._count(session, appeal_id))
                if self._count(session, appeal_id) >= self.settings.max_files_per_appeal:
                    return self.refused("too_many", appeal_id=appeal_id)
        except SQLAlchemyError as error:
            logger.error("materials: database unavailable (%s)", type(error).__name__)
            return self.refused("unavailable", appeal_id=appeal_id)
        try:
            clean = sanitize(data, self.settings)
        except Refused as refusal:
            return self.refused(refusal.reason, refusal.detail, appeal_id)

        try:
            verdict = self.scanner.scan(data)
        except ScannerUnavailable as error:
            logger.error("materials: scanner unavailable, file quarantined: %s", error)
            return self._store(merchant_id, appeal_id, channel, source_ref, filename,
                               clean.kind, data, MaterialStatus.quarantined)
        if not verdict.clean:
            logger.warning("materials: %s file for appeal %s refused by the scanner: %s",
                           clean.kind, appeal_id, verdict.signature)
            return self.refused("infected", appeal_id=appeal_id)
        return self._store(merchant_id, appeal_id, channel, source_ref, filename,
                           clean.kind, clean.data, MaterialStatus.clean)

    def _store(self, merchant_id: str, appeal_id: str, channel: str, source_ref: str,
               filename: str | None, kind: str, data: bytes,
               status: MaterialStatus) -> Outcome:
        folder = "clean" if status == MaterialStatus.clean else "quarantine"
        key = _new_key(folder, kind)
        try:
            self.storage.put(key, data, KINDS[kind][0])
        except StorageError as error:
            logger.error("materials: storage failed, nothing kept: %s", error)
            return self.refused("unavailable", appeal_id=appeal_id)
        material = Material(
            appeal_id=appeal_id, merchant_id=merchant_id, channel=channel,
            source_ref=source_ref, kind=kind, content_type=KINDS[kind][0],
            size_bytes=len(data), sha256=hashlib.sha256(data).hexdigest(),
            original_name=clean_name(filename, kind), storage_key=key, status=status,
            scanned_at=utcnow() if status == MaterialStatus.clean else None)
        try:
            with self._session() as session, session.begin():
                # Counted again inside the write: two uploads at once never pass the limit.
                if self._count(session, appeal_id) >= self.settings.max_files_per_appeal:
                    self._forget_blob(key)
                    return self.refused("too_many", appeal_id=appeal_id)
                session.add(material)
                session.flush()
                count = self._count(session, appeal_id)
                outcome = self._kept(material, count)
        except IntegrityError:
            # The same message processed at the same time elsewhere: its row is the one.
            self._forget_blob(key)
            with self._session() as session:
                earlier = self._existing(session, channel, source_ref)
                if earlier is None:
                    return self.refused("unavailable", appeal_id=appeal_id)
                return self._kept(earlier, self._count(session, appeal_id))
        except SQLAlchemyError as error:
            logger.error("materials: database unavailable, file not kept (%s)",
                         type(error).__name__)
            self._forget_blob(key)
            return self.refused("unavailable", appeal_id=appeal_id)
        logger.info("materials: %s %s for appeal %s (%s, %d bytes)", status.value,
                    material.id, appeal_id, kind, len(data))
        return outcome

    def _kept(self, material: Material, count: int) -> Outcome:
        name = material.original_name or "文件"
        if material.status == MaterialStatus.quarantined:
            return Outcome(QUARANTINED, (
                f"已收到「{name}」。安全检查暂时没能完成，文件先妥善保管着，检查通过后会自动加入"
                f"申诉 {material.appeal_id} 的材料，不用重新发。"),
                material_id=material.id, appeal_id=material.appeal_id, count=count)
        if material.status == MaterialStatus.infected:
            return self.refused("infected", appeal_id=material.appeal_id)
        return Outcome(ACCEPTED, (
            f"已收到「{name}」，已加入申诉 {material.appeal_id} 的材料（现在共 {count} 份），"
            f"审核时会一并查看。"),
            material_id=material.id, appeal_id=material.appeal_id, count=count)

    def _forget_blob(self, key: str) -> None:
        try:
            self.storage.delete(key)
        except StorageError as error:
            logger.error("materials: orphan file %s not deleted: %s", key, error)

    # --- quarantine ---------------------------------------------------------------------
    def rescan_quarantined(self, limit: int = 50) -> dict[str, int]:
        """Scans the files kept while the scanner was down: clean ones are sanitized and
        released, infected ones deleted. Stops at the first scanner failure. A rescan
        already running in this process: returns at once, nothing counted."""
        counts = {"released": 0, "infected": 0, "waiting": 0}
        if not self._rescanning.acquire(blocking=False):
            return counts
        try:
            return self._rescan(limit, counts)
        finally:
            self._rescanning.release()

    def _rescan(self, limit: int, counts: dict[str, int]) -> dict[str, int]:
        with self._session() as session:
            waiting = list(session.execute(
                select(Material.id).where(Material.status == MaterialStatus.quarantined)
                .order_by(Material.created_at).limit(limit)).scalars())
        for material_id in waiting:
            try:
                result = self._rescan_one(material_id)
            except ScannerUnavailable as error:
                logger.warning("materials: quarantine still waits, scanner down: %s", error)
                counts["waiting"] = len(waiting) - counts["released"] - counts["infected"]
                break
            except StorageError as error:
                logger.error("materials: quarantined %s unreadable: %s", material_id, error)
                counts["waiting"] += 1
                continue
            if result:
                counts[result] += 1
        return counts

    def _rescan_one(self, material_id: str) -> str | None:
        with self._session() as session:
            material = session.get(Material, material_id)
            if material is None or material.status != MaterialStatus.quarantined:
                return None
            key, kind = material.storage_key, material.kind
        data = self.storage.get(key)
        verdict = self.scanner.scan(data)
        now = utcnow()
        if not verdict.clean:
            with self._session() as session, session.begin():
                material = session.get(Material, material_id)
                material.status = MaterialStatus.infected
                material.scan_signature = verdict.signature[:200]
                material.scanned_at = now
            self._forget_blob(key)
            logger.warning("materials: quarantined %s infected (%s): deleted", material_id,
                           verdict.signature)
            return "infected"
        try:
            clean = sanitize(data, self.settings)
        except Refused as refusal:  # the settings changed meanwhile: not kept either
            with self._session() as session, session.begin():
                material = session.get(Material, material_id)
                material.status = MaterialStatus.infected
                material.scan_signature = f"refused: {refusal.reason}"
                material.scanned_at = now
            self._forget_blob(key)
            return "infected"
        released = _new_key("clean", kind)
        self.storage.put(released, clean.data, KINDS[kind][0])
        with self._session() as session, session.begin():
            material = session.get(Material, material_id)
            if material is None or material.status != MaterialStatus.quarantined:
                # Released elsewhere meanwhile (another process): its copy is the one.
                self._forget_blob(released)
                return None
            material.status = MaterialStatus.clean
            material.storage_key = released
            material.size_bytes = len(clean.data)
            material.sha256 = hashlib.sha256(clean.data).hexdigest()
            material.scanned_at = now
        self._forget_blob(key)
        logger.info("materials: quarantined %s released after its scan", material_id)
        return "released"

