"""Entries in the merchant database: revisions, publishing, rollback, retirement.

Like ``core.db.repository``, these functions never own the transaction: the caller's
session commits. Every change that alters what is answered bumps the version row, which
the running indexes poll (``core.knowledge.live``): an edit is answered within seconds,
without retraining or a restart."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.db.models import (
    KnowledgeEntry,
    KnowledgeRevision,
    KnowledgeRevisionStatus,
    KnowledgeVector,
    KnowledgeVersion,
    utcnow,
)
from core.knowledge import vectors as vec
from core.knowledge.entries import (
    Entry,
    KnowledgeError,
    duplicates,
    normalized_question,
    parse_entry,
)

SEED_AUTHOR = "seed"
Status = KnowledgeRevisionStatus


@dataclass
class SyncReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    # Edited by the support team since the last seed: the team's version stays.
    kept_edits: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.retired)


def version(session: Session) -> int:
    return session.scalar(select(KnowledgeVersion.version).where(KnowledgeVersion.id == 1)) or 0


def bump(session: Session) -> int:
    row = session.get(KnowledgeVersion, 1, with_for_update=True)
    if row is None:
        row = KnowledgeVersion(id=1, version=0)
        session.add(row)
    row.version += 1
    row.changed_at = utcnow()
    session.flush()
    return row.version


def entry_of(revision: KnowledgeRevision) -> Entry:
    return parse_entry({"id": revision.entry_id, **json.loads(revision.content)})


def _current(session: Session, entry_id: str) -> KnowledgeRevision | None:
    row = session.get(KnowledgeEntry, entry_id)
    if row is None or row.published_revision_id is None:
        return None
    return session.get(KnowledgeRevision, row.published_revision_id)


def _latest(session: Session, entry_id: str) -> KnowledgeRevision | None:
    return session.scalar(select(KnowledgeRevision).where(KnowledgeRevision.entry_id == entry_id)
                          .order_by(KnowledgeRevision.number.desc()).limit(1))


def published(session: Session) -> list[Entry]:
    rows = session.scalars(
        select(KnowledgeRevision).join(
            KnowledgeEntry, KnowledgeEntry.published_revision_id == KnowledgeRevision.id)
        .order_by(KnowledgeRevision.entry_id)).all()
    return [entry_of(row) for row in rows]


def save_draft(session: Session, entry: Entry, author: str, note: str | None = None
               ) -> KnowledgeRevision:
    """A new revision of ``entry`` (creating the entry if needed); nothing is answered
    differently until it is published."""
    row = session.get(KnowledgeEntry, entry.id)
    if row is None:
        row = KnowledgeEntry(id=entry.id)
        session.add(row)
        session.flush()
    latest = _latest(session, entry.id)
    revision = KnowledgeRevision(
        entry_id=entry.id, number=(latest.number + 1) if latest else 1,
        content=json.dumps(entry.content(), ensure_ascii=False, sort_keys=True),
        content_hash=entry.content_hash(), status=Status.draft, author=author[:40], note=note)
    session.add(revision)
    row.updated_at = utcnow()
    session.flush()
    return revision


def conflicts(session: Session, entry: Entry) -> dict[str, list[str]]:
    """Questions of ``entry`` that another published entry already claims."""
    others = [e for e in published(session) if e.id != entry.id]
    mine = {normalized_question(q) for q in entry.questions}
    return {text: [i for i in ids if i != entry.id]
            for text, ids in duplicates([*others, entry]).items() if text in mine}


def ensure_vectors(session: Session, entries: Sequence[Entry], embed: vec.Embed | None = None
                   ) -> int:
    """Stores the vectors of every question of ``entries`` that has none; returns how many
    were added."""
    texts = [vec.prepared(q) for e in entries for q in e.questions]
    hashes = list(dict.fromkeys(vec.text_hash(t) for t in texts))
    known = dict(session.execute(select(KnowledgeVector.text_hash, KnowledgeVector.vector)
                                 .where(KnowledgeVector.model == vec.model_id(),
                                        KnowledgeVector.text_hash.in_(hashes))).all()) \
        if hashes else {}
    _, new = vec.vectors_for(texts, known=known, embed=embed)
    for text_hash, blob in new.items():
        session.add(KnowledgeVector(text_hash=text_hash, model=vec.model_id(), vector=blob))
    session.flush()
    return len(new)


def stored_vectors(session: Session, entries: Sequence[Entry]) -> np.ndarray | None:
    """The vectors of every question of ``entries`` in index order; None if any is missing."""
    texts = [vec.prepared(q) for e in entries for q in e.questions]
    hashes = [vec.text_hash(t) for t in texts]
    found: dict[str, bytes] = {}
    unique = list(dict.fromkeys(hashes))
    for start in range(0, len(unique), 500):
        found.update(session.execute(
            select(KnowledgeVector.text_hash, KnowledgeVector.vector)
            .where(KnowledgeVector.model == vec.model_id(),
                   KnowledgeVector.text_hash.in_(unique[start:start + 500]))).all())
    if any(h not in found for h in hashes):
        return None
    return np.vstack([vec.from_bytes(found[h]) for h in hashes]) if hashes else None


def publish(session: Session, entry_id: str, number: int | None = None, author: str = "",
            embed: vec.Embed | None = None, allow_conflicts: bool = False) -> KnowledgeRevision:
    """Answers with revision ``number`` (default: the latest) of the entry from now on.

    Refused (KnowledgeError) when the content is invalid or one of its questions is
    already another published entry's: the same question cannot have two answers."""
    row = session.get(KnowledgeEntry, entry_id)
    if row is None:
        raise KnowledgeError([f"entry {entry_id} does not exist"])
    query = select(KnowledgeRevision).where(KnowledgeRevision.entry_id == entry_id)
    query = query.where(KnowledgeRevision.number == number) if number else \
        query.order_by(KnowledgeRevision.number.desc()).limit(1)
    revision = session.scalar(query)
    if revision is None:
        raise KnowledgeError([f"entry {entry_id} has no revision {number}"])
    entry = entry_of(revision)
    clashes = conflicts(session, entry)
    if clashes and not allow_conflicts:
        raise KnowledgeError([f"the question {text!r} is already in {', '.join(ids)}"
                              for text, ids in sorted(clashes.items())])
    ensure_vectors(session, [entry], embed=embed)
    current = _current(session, entry_id)
    if current is not None and current.id != revision.id:
        current.status = Status.superseded
    revision.status = Status.published
    revision.published_at = utcnow()
    row.published_revision_id = revision.id
    row.updated_at = utcnow()
    bump(session)
    return revision


def rollback(session: Session, entry_id: str, author: str = "") -> KnowledgeRevision:
    """Answers with the revision that was published before the current one."""
    current = _current(session, entry_id)
    if current is None:
        raise KnowledgeError([f"entry {entry_id} is not published"])
    previous = session.scalar(
        select(KnowledgeRevision).where(KnowledgeRevision.entry_id == entry_id,
                                        KnowledgeRevision.number < current.number,
                                        KnowledgeRevision.status == Status.superseded)
        .order_by(KnowledgeRevision.number.desc()).limit(1))
    if previous is None:
        raise KnowledgeError([f"entry {entry_id} has no earlier published revision"])
    current.status = Status.retired
    previous.status = Status.published
    previous.published_at = utcnow()
    session.get(KnowledgeEntry, entry_id).published_revision_id = previous.id
    bump(session)
    return previous


def retire(session: Session, entry_id: str) -> None:
    """Stops answering the entry (its revisions stay)."""
    current = _current(session, entry_id)
    if current is None:
        raise KnowledgeError([f"entry {entry_id} is not published"])
    current.status = Status.retired
    session.get(KnowledgeEntry, entry_id).published_revision_id = None
    bump(session)


def history(session: Session, entry_id: str) -> list[KnowledgeRevision]:
    return list(session.scalars(select(KnowledgeRevision)
                                .where(KnowledgeRevision.entry_id == entry_id)
                                .order_by(KnowledgeRevision.number)))


def summary(session: Session) -> list[dict[str, object]]:
    """One line per entry: id, standard question, published revision, revisions."""
    counts = dict(session.execute(select(KnowledgeRevision.entry_id, func.count())
                                  .group_by(KnowledgeRevision.entry_id)).all())
    lines = []
    for row in session.scalars(select(KnowledgeEntry).order_by(KnowledgeEntry.id)):
        current = _current(session, row.id)
        latest = _latest(session, row.id)
        lines.append({
            "id": row.id,
            "question": entry_of(current or latest).question if (current or latest) else "",
            "published": current.number if current else None,
            "latest": latest.number if latest else None,
            "revisions": counts.get(row.id, 0),
            "author": (current or latest).author if (current or latest) else None,
            "updated_at": row.updated_at.isoformat(timespec="seconds"),
        })
    return lines


def sync(session: Session, entries: Sequence[Entry], embed: vec.Embed | None = None
         ) -> SyncReport:
    """Loads the reviewed YAML entries: new ones and changed seed ones are published,
    entries the support team edited since are kept as the team left them, seed entries
    no longer in the files are retired."""
    report = SyncReport()
    ids = {e.id for e in entries}
    for entry in entries:
        current = _current(session, entry.id)
        latest = _latest(session, entry.id)
        if current is not None and current.content_hash == entry.content_hash():
            report.unchanged.append(entry.id)
            continue
        if latest is not None and latest.author != SEED_AUTHOR:
            report.kept_edits.append(entry.id)
            continue
        revision = save_draft(session, entry, SEED_AUTHOR)
        (report.updated if current else report.added).append(entry.id)
        publish(session, entry.id, revision.number, SEED_AUTHOR, embed=embed,
                allow_conflicts=True)  # the files were checked as a whole already
    for row in session.scalars(select(KnowledgeEntry).where(
            KnowledgeEntry.published_revision_id.is_not(None))).all():
        current = _current(session, row.id)
        if row.id not in ids and current is not None and current.author == SEED_AUTHOR:
            retire(session, row.id)
            report.retired.append(row.id)
    ensure_vectors(session, entries, embed=embed)
    return report


def published_entries(session: Session, ids: Sequence[str]) -> dict[str, Entry]:
    """The published content of the entries ``ids`` that exist and are answered."""
    if not ids:
        return {}
    rows = session.scalars(
        select(KnowledgeRevision).join(
            KnowledgeEntry, KnowledgeEntry.published_revision_id == KnowledgeRevision.id)
        .where(KnowledgeEntry.id.in_(list(ids)))).all()
    return {row.entry_id: entry_of(row) for row in rows}
