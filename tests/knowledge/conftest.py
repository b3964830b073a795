"""A small knowledge base and a fake embedding (deterministic, no model): the store,
live-index and CLI tests are about bookkeeping, not about meaning."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import yaml

from core.knowledge.entries import Entry, parse_entry


def fake_embed(texts: list[str]) -> np.ndarray:
    """Bag-of-characters vectors: similar strings get similar vectors."""
    rows = []
    for text in texts:
        vector = np.zeros(384, dtype=np.float32)
        for char in text:
            vector[int(hashlib.md5(char.encode()).hexdigest(), 16) % 384] += 1
        rows.append(vector / (np.linalg.norm(vector) or 1))
    return np.vstack(rows)


def make_entry(entry_id: str, question: str, answer: str, *similar: str, **extra: object) -> Entry:
    others = list(similar) or [f"{question}{i}" for i in range(5)]
    return parse_entry({"id": entry_id, "question": question, "answer": answer,
                        "similar": others, **extra})


@pytest.fixture()
def small_entries() -> list[Entry]:
    return [
        make_entry("fee_rate", "费率是多少", "一般0.6%左右。",
                   "手续费多少", "扣几个点", "费率怎么算", "收款手续费", "费率高不高"),
        make_entry("contact_support", "客服电话是多少", "打95017。",
                   "客服号码", "人工电话", "怎么联系客服", "95017是客服吗", "客服热线"),
        make_entry("appeal_process", "怎么申诉", "在商家助手里申诉。",
                   "申诉入口在哪", "如何提交申诉", "申诉流程", "怎样申诉解封", "申诉怎么弄"),
    ]


@pytest.fixture()
def knowledge_dir(tmp_path: Path, small_entries: list[Entry]) -> Path:
    directory = tmp_path / "knowledge"
    directory.mkdir()
    document = {"version": 1, "entries": [{"id": e.id, **e.content()} for e in small_entries]}
    (directory / "entries.yml").write_text(yaml.safe_dump(document, allow_unicode=True),
                                           encoding="utf-8")
    return directory


@pytest.fixture(autouse=True)
def private_vector_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("core.knowledge.vectors.CACHE_FILE", tmp_path / "cache" / "v.sqlite")
    monkeypatch.setattr("core.knowledge.vectors.default_embed", fake_embed)
