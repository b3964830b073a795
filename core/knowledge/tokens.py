"""Tokens for the lexical signal: jieba words (with the project's dictionary) plus the
character bigrams of Chinese runs, so that a typo or a different segmentation still
shares most of its tokens with the stored question."""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from pathlib import Path

import jieba

from core.text import normalize

LEXICON = Path(__file__).resolve().parents[2] / "data" / "lexicon" / "jieba"
_CJK_RUN = re.compile(r"[\u3400-\u9fff]+")
_WORD = re.compile(r"[\w]", re.UNICODE)
_loaded = False
_lock = threading.Lock()


def _load_lexicon() -> None:
    global _loaded
    with _lock:
        if _loaded:
            return
        # Inside the rasa server the tokenizer has loaded the same files already; jieba
        # is process-global, so loading them again only repeats the same words.
        for file in sorted(LEXICON.glob("*")):
            if file.is_file():
                jieba.load_userdict(str(file))
        _loaded = True


def tokens(text: str, normalized: bool = False) -> list[str]:
    return list(_tokens(text, normalized))


@lru_cache(maxsize=50_000)
def _tokens(text: str, normalized: bool) -> tuple[str, ...]:
    """Cached: rebuilding the index after an edit tokenizes only the new questions."""
    _load_lexicon()
    plain = text if normalized else normalize(text).text
    plain = plain.lower()
    words = [w for w in jieba.lcut(plain) if _WORD.search(w)]
    bigrams = [run[i:i + 2] for run in _CJK_RUN.findall(plain) for i in range(len(run) - 1)]
    return (*words, *("#" + b for b in bigrams))
