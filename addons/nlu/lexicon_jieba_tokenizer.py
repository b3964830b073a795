"""JiebaTokenizer whose model fingerprint follows the domain dictionary.

Rasa's JiebaTokenizer copies ``dictionary_path`` into the model, but its fingerprint
only covers the config, so editing a dictionary file would silently reuse the old
cached model. Hashing the directory content fixes that.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.tokenizers.jieba_tokenizer import JiebaTokenizer


def hash_directory(path: str | Path) -> str:
    """A stable hash of every file name and content below ``path``."""
    digest = hashlib.sha256()
    root = Path(path)
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(file.relative_to(root)).encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=True
)
class LexiconJiebaTokenizer(JiebaTokenizer):
    """JiebaTokenizer that retrains when the lexicon directory changes."""

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str | None:
        dictionary_path = config.get("dictionary_path")
        if not dictionary_path or not Path(dictionary_path).is_dir():
            return None
        return hash_directory(dictionary_path)
