"""Text normalizer: the first component of the NLU pipeline.

Merchants paste text in traditional script, with pinyin after characters
(``現(xiàn)代``), full-width digits (``１９００``) and emoji. The tokenizer and the
classifiers are trained on simplified text, so every message is normalized first:

1. full-width ASCII and the ideographic space become half-width;
2. pinyin annotations in parentheses right after a Chinese character are removed
   (``(0003)`` or ``(API)`` stay: only real pinyin syllables are removed);
3. traditional script becomes simplified (OpenCC ``t2s``);
4. emoji, zero-width and control characters are dropped and whitespace is folded.

The normalized text keeps a map back to the original character offsets, so entity
annotations in the training data still point at the right characters.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

import opencc
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, ENTITY_ATTRIBUTE_END, ENTITY_ATTRIBUTE_START, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

_TONE_MARKS = str.maketrans(
    "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜüńňǹḿ",
    "aaaaeeeeiiiioooouuuuvvvvvnnnm",
)
_PINYIN_SYLLABLE = re.compile(
    r"(?:zh|ch|sh|[bpmfdtnlgkhjqxrzcsyw])?"
    r"(?:iang|iong|uang|ang|eng|ing|ong|ian|iao|uai|uan|van|ai|ei|ao|ou|an|en|er"
    r"|in|ia|ie|iu|ua|uo|ui|un|vn|ve|a|o|e|i|u|v|ng|n|m)[1-5]?"
)
# A parenthesised group right after a CJK character; its content is checked below.
_ANNOTATION = re.compile(r"(?<=[\u3400-\u9fff\uf900-\ufaff])\(([^()]{1,40})\)")
_WHITESPACE = re.compile(r"\s+")

_converter = opencc.OpenCC("t2s")
# Same-length fixes for common words OpenCC leaves in a variant form.
_PHRASE_FIXES = {"随著": "随着", "帐户": "账户", "帐号": "账号", "帐单": "账单"}


def _is_pinyin(content: str) -> bool:
    syllables = content.strip().split()
    if not syllables:
        return False
    for syllable in syllables:
        if syllable != syllable.lower():
            return False
        plain = syllable.translate(_TONE_MARKS)
        if not _PINYIN_SYLLABLE.fullmatch(plain):
            return False
    return True


def _to_half_width(char: str) -> str:
    code = ord(char)
    if 0xFF01 <= code <= 0xFF5E:
        return chr(code - 0xFEE0)
    if code == 0x3000:
        return " "
    return char


def _is_dropped(char: str) -> bool:
    """Emoji, pictographs, variation selectors, zero-width and control characters."""
    if char in "\n\t\r":
        return False
    category = unicodedata.category(char)
    if category in ("Cc", "Cf", "Cs", "Co", "Cn"):
        return True
    if category == "So" or (category == "Sk" and ord(char) >= 0x1F000):
        return True
    return 0xFE00 <= ord(char) <= 0xFE0F


@dataclass(frozen=True)
class NormalizedText:
    text: str
    # source[i] is the index in the original text of normalized character i.
    source: tuple[int, ...]

    def original_span(self, start: int, end: int, original_length: int) -> tuple[int, int]:
        """Maps a [start, end) span of the normalized text back to the original text."""
        if start >= len(self.source):
            return original_length, original_length
        original_start = self.source[start]
        original_end = self.source[end - 1] + 1 if end > start else original_start
        return original_start, original_end

    def normalized_span(self, start: int, end: int) -> tuple[int, int]:
        """Maps a [start, end) span of the original text into the normalized text."""
        inside = [i for i, source in enumerate(self.source) if start <= source < end]
        if not inside:
            position = sum(1 for source in self.source if source < start)
            return position, position
        return inside[0], inside[-1] + 1


def normalize(text: str) -> NormalizedText:
    """Normalizes ``text`` and keeps the map to the original offsets."""
    if not text:
        return NormalizedText("", ())

    chars = [_to_half_width(c) for c in text]
    keep = [True] * len(chars)
    half_width = "".join(chars)

    for match in _ANNOTATION.finditer(half_width):
        if _is_pinyin(match.group(1)):
            for i in range(match.start(), match.end()):
                keep[i] = False

    for i, char in enumerate(chars):
        if keep[i] and _is_dropped(char):
            keep[i] = False

    kept_chars = [c for c, k in zip(chars, keep, strict=True) if k]
    kept_source = [i for i, k in enumerate(keep) if k]

    # OpenCC t2s maps one character to one character for the script itself; when a
    # phrase conversion changes the length we fall back to the per-character result.
    kept_text = "".join(kept_chars)
    simplified = _converter.convert(kept_text)
    if len(simplified) != len(kept_text):
        per_char = (_converter.convert(c) for c in kept_chars)
        simplified = "".join(converted if len(converted) == 1 else original
                             for original, converted in zip(kept_chars, per_char, strict=True))

    for variant, standard in _PHRASE_FIXES.items():
        simplified = simplified.replace(variant, standard)

    # Fold whitespace runs into one space and strip both ends.
    out_chars: list[str] = []
    out_source: list[int] = []
    for char, source in zip(simplified, kept_source, strict=True):
        if char.isspace():
            if not out_chars or out_chars[-1] == " ":
                continue
            char = " "
        out_chars.append(char)
        out_source.append(source)
    while out_chars and out_chars[-1] == " ":
        out_chars.pop()
        out_source.pop()

    return NormalizedText("".join(out_chars), tuple(out_source))


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False
)
class TextNormalizer(GraphComponent):
    """Rewrites each message's text into normalized simplified Chinese."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        # Long pastes are classified on their beginning; the tracker keeps the full
        # original text, so nothing the merchant wrote is lost.
        return {"max_chars": 600}

    def __init__(self, config: dict[str, Any]) -> None:
        self._max_chars = int(config["max_chars"])

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> TextNormalizer:
        return cls(config)

    def _normalize_message(self, message: Message) -> None:
        original = message.get(TEXT)
        if not isinstance(original, str) or not original:
            return
        normalized = normalize(original)
        if not normalized.text:
            # Emoji-only or markup-only input: leave it to the fallback classifier.
            message.set(TEXT, original.strip()[: self._max_chars])
            return
        for entity in message.get(ENTITIES) or []:
            start, end = normalized.normalized_span(
                entity[ENTITY_ATTRIBUTE_START], entity[ENTITY_ATTRIBUTE_END]
            )
            entity[ENTITY_ATTRIBUTE_START], entity[ENTITY_ATTRIBUTE_END] = start, end
        message.set(TEXT, normalized.text[: self._max_chars])

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        for example in training_data.training_examples:
            self._normalize_message(example)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            self._normalize_message(message)
        return messages
