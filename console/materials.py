"""Appeal materials in the console (docs/materials.md, "In the console"): the 申诉材料
panel of a conversation and one material for download or preview.

- The panel lists the files of the conversation's verified merchant's appeals (rows of
  ``materials``, written by core.materials): only ``clean`` ones by name, kind, size,
  time and channel; files still in quarantine and those that failed their scan only as
  counts, never by name or link.
- A download is for whoever may read the conversation (``console.history``: the same
  rule as the conversation itself, supervisors included), for a clean material of that
  conversation's merchant only. Anything else (another merchant's file, one in
  quarantine or infected, an unknown id, a conversation the agent may not read) is the
  same 404. Storage keys never leave the server.
- Every download is recorded in ``team_changes`` (kind ``material_viewed``, the
  handoff as item, the material in ``after``).

Every function takes an open Session; the caller owns the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session

from console import history, team
from console.errors import Refused
from console.service import CHANNEL_LABELS, epoch
from console.transcript import mask_text
from core.db.models import Handoff, Material, MaterialStatus

NOT_FOUND = "没有这个材料"
KIND_LABELS = {"jpeg": "JPEG 图片", "png": "PNG 图片", "webp": "WebP 图片", "pdf": "PDF"}
IMAGE_KINDS = frozenset({"jpeg", "png", "webp"})
# What each stored kind is served as (core.materials.sanitize.KINDS holds the same):
# from the kind, never from a stored or client-given Content-Type.
CONTENT_TYPES = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp",
                 "pdf": "application/pdf"}
EXTENSIONS = {"jpeg": "jpg", "png": "png", "webp": "webp", "pdf": "pdf"}
MAX_ID = 64


def _size_label(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def _item(handoff: Handoff, material: Material) -> dict[str, Any]:
    name = mask_text(material.original_name or "") or f"材料.{EXTENSIONS[material.kind]}"
    return {
        "id": material.id,
        "appeal_id": material.appeal_id,
        "name": name,
        "kind": material.kind,
        "kind_label": KIND_LABELS.get(material.kind, material.kind),
        "image": material.kind in IMAGE_KINDS,
        "size_bytes": material.size_bytes,
        "size_label": _size_label(material.size_bytes),
        "created_at": epoch(material.created_at),
        "channel": material.channel,
        "channel_label": CHANNEL_LABELS.get(material.channel, material.channel),
        "url": f"/console/api/handoffs/{handoff.id}/materials/{material.id}",
    }


def panel(session: Session, handoff: Handoff) -> dict[str, Any] | None:
    """The 申诉材料 panel of a conversation the caller may read (None without a
    verified merchant): clean files oldest first, counts of the others."""
    if not handoff.merchant_id:
        return None
    rows = session.execute(
        select(Material).where(Material.merchant_id == handoff.merchant_id)
        .order_by(Material.created_at, Material.id)).scalars().all()
    clean = [m for m in rows if m.status == MaterialStatus.clean
             and m.kind in CONTENT_TYPES]
    checking = sum(1 for m in rows if m.status == MaterialStatus.quarantined)
    failed = sum(1 for m in rows if m.status == MaterialStatus.infected)
    return {
        "items": [_item(handoff, m) for m in clean],
        "checking": checking,
        "checking_label": f"{checking} 个文件正在安全检查" if checking else None,
        "failed": failed,
        "failed_label": f"{failed} 个文件未通过安全检查" if failed else None,
    }


@dataclass(frozen=True)
class Found:
    """A clean material the agent may download: what serving it needs, no more (the
    storage key stays inside the route that reads it)."""

    id: str
    handoff_id: int
    appeal_id: str
    kind: str
    name: str
    storage_key: str
    size_bytes: int

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.kind]

    def disposition(self) -> str:
        """``attachment`` for PDFs (never opened by the console's origin), ``inline`` for
        images (shown in an <img>); the name masked, ASCII fallback plus RFC 5987."""
        mode = "inline" if self.kind in IMAGE_KINDS else "attachment"
        fallback = f"material.{EXTENSIONS[self.kind]}"
        return f"{mode}; filename=\"{fallback}\"; filename*=UTF-8''{quote(self.name, safe='')}"


def find(session: Session, who: history.Reader, handoff_id: int, material_id: str) -> Found:
    """The clean material ``material_id`` of the merchant of handoff ``handoff_id``, if
    ``who`` may read that conversation; every other case is the same 404."""
    try:
        handoff = history.readable(session, who, session.get(Handoff, handoff_id))
    except Refused:
        raise Refused(NOT_FOUND, status=404) from None
    material = session.get(Material, material_id) if 0 < len(material_id) <= MAX_ID else None
    if material is None or not handoff.merchant_id \
            or material.merchant_id != handoff.merchant_id \
            or material.status != MaterialStatus.clean or material.kind not in CONTENT_TYPES:
        raise Refused(NOT_FOUND, status=404)
    name = mask_text(material.original_name or "") or f"材料.{EXTENSIONS[material.kind]}"
    return Found(material.id, handoff.id, material.appeal_id, material.kind, name,
                 material.storage_key, material.size_bytes)


def record_view(session: Session, found: Found, editor: team.Editor) -> None:
    """One row of the audit per download: who, which conversation, which file."""
    team.record(session, team.MATERIAL_VIEWED, found.handoff_id, "viewed", editor, None,
                {"material_id": found.id, "appeal_id": found.appeal_id, "kind": found.kind,
                 "handoff_id": found.handoff_id})
