"""The process's current knowledge index, kept in step with the database.

``LiveKnowledge.index()`` never waits for the database after the first load: at most
every ``refresh_s`` it starts a background check of the version row, and a changed
version reloads the published entries and their stored vectors, then swaps the index in
one assignment. With the database down, unmigrated or empty, the reviewed YAML entries
are answered instead (logged once), so the assistant keeps answering."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from core.db.session import get_engine
from core.knowledge import store
from core.knowledge import vectors as vec
from core.knowledge.entries import DEFAULT_DIRECTORY, KnowledgeError, load_directory
from core.knowledge.matching import KnowledgeIndex

logger = logging.getLogger(__name__)


def build_index(entries: list, vectors, version: int, source: str) -> KnowledgeIndex:
    return KnowledgeIndex(entries, vectors, version=version, source=source)


class LiveKnowledge:
    def __init__(self, directory: Path = DEFAULT_DIRECTORY, refresh_s: float = 1.0,
                 url: str | None = None, embed: vec.Embed | None = None,
                 use_vectors: bool = True) -> None:
        self.directory = directory
        self.refresh_s = refresh_s
        self.url = url
        self.embed = embed
        self.use_vectors = use_vectors
        self._index: KnowledgeIndex | None = None
        self._checked = 0.0
        self._refreshing = threading.Lock()
        self._fallback_logged = False

    # -- reading ---------------------------------------------------------------------

    def index(self) -> KnowledgeIndex | None:
        if self._index is None:
            self.refresh()
        elif time.monotonic() - self._checked >= self.refresh_s:
            self._checked = time.monotonic()
            if self._refreshing.acquire(blocking=False):
                self._refreshing.release()
                threading.Thread(target=self.refresh, name="knowledge-refresh",
                                 daemon=True).start()
        return self._index

    # -- loading ---------------------------------------------------------------------

    def refresh(self) -> None:
        with self._refreshing:
            self._checked = time.monotonic()
            try:
                self._refresh_from_database()
            except (SQLAlchemyError, KnowledgeError, ValueError) as error:
                self._fall_back(f"{type(error).__name__}: {error}")

    def _refresh_from_database(self) -> None:
        with Session(get_engine(self.url)) as session:
            current = store.version(session)
            if self._index is not None and self._index.source == "database" \
                    and self._index.version == current:
                return
            entries = store.published(session)
            if not entries:
                self._fall_back("no published entries in the database")
                return
            vectors = store.stored_vectors(session, entries) if self.use_vectors else None
        if vectors is None and self.use_vectors:
            vectors, _ = vec.vectors_for([vec.prepared(q) for e in entries for q in e.questions],
                                         embed=self.embed)
        self._index = build_index(entries, vectors, current, "database")
        logger.info("knowledge index: %d entries, version %d", len(entries), current)

    def _fall_back(self, why: str) -> None:
        if self._index is not None and self._index.source == "files":
            return
        if not self._fallback_logged:
            logger.warning("knowledge base: answering from %s (%s)", self.directory, why)
            self._fallback_logged = True
        entries = load_directory(self.directory)
        vectors = None
        if self.use_vectors:
            try:
                vectors, _ = vec.vectors_for(
                    [vec.prepared(q) for e in entries for q in e.questions], embed=self.embed)
            except Exception as error:  # noqa: BLE001 - the model may fail to load
                logger.error("knowledge base: no embeddings (%s); lexical matching only", error)
        self._index = build_index(entries, vectors, -1, "files")
