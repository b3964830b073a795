"""Rule entities (collection channels, account states, business types) with spaCy.

No Chinese spaCy model can be downloaded here, so the component builds a blank
``zh`` pipeline with the jieba segmenter and an EntityRuler from the project's own
patterns (``data/lexicon/entity_patterns.jsonl``). The patterns are copied into the
trained model, so the model is self-contained, and their hash is part of the
fingerprint, so editing them retrains the component.

jieba is process-global: the domain dictionary loaded by the tokenizer also shapes
spaCy's segmentation, which keeps pattern words whole.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import spacy
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import (
    ENTITIES,
    ENTITY_ATTRIBUTE_END,
    ENTITY_ATTRIBUTE_START,
    ENTITY_ATTRIBUTE_TYPE,
    ENTITY_ATTRIBUTE_VALUE,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

PATTERNS_FILE = "entity_patterns.jsonl"


def read_patterns(path: str | Path) -> list[dict[str, Any]]:
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def build_pipeline(patterns: list[dict[str, Any]]) -> spacy.language.Language:
    """A blank Chinese pipeline (jieba segmenter) with an entity ruler."""
    nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "jieba"}}})
    ruler = nlp.add_pipe("entity_ruler", config={"overwrite_ents": True})
    ruler.add_patterns(patterns)
    return nlp


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True
)
class SpacyEntityRuler(GraphComponent, EntityExtractorMixin):
    """Extracts rule entities; the pattern ``id`` becomes the canonical value."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"patterns_path": "data/lexicon/entity_patterns.jsonl"}

    @staticmethod
    def required_packages() -> list[str]:
        return ["spacy", "jieba"]

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str | None:
        # The config given here may lack the defaults: fall back to them.
        defaults = SpacyEntityRuler.get_default_config()
        path = Path(config.get("patterns_path", defaults["patterns_path"]))
        return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        patterns: list[dict[str, Any]] | None = None,
    ) -> None:
        self._config = config
        self._model_storage = model_storage
        self._resource = resource
        self._patterns = patterns or []
        self._nlp = build_pipeline(self._patterns) if self._patterns else None

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SpacyEntityRuler:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        patterns = read_patterns(self._config["patterns_path"])
        with self._model_storage.write_to(self._resource) as directory:
            (directory / PATTERNS_FILE).write_text(
                "\n".join(json.dumps(p, ensure_ascii=False) for p in patterns),
                encoding="utf-8",
            )
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> SpacyEntityRuler:
        with model_storage.read_from(resource) as directory:
            patterns = read_patterns(directory / PATTERNS_FILE)
        return cls(config, model_storage, resource, patterns)

    def extract(self, text: str) -> list[dict[str, Any]]:
        if self._nlp is None or not text:
            return []
        doc = self._nlp(text)
        return [
            {
                ENTITY_ATTRIBUTE_TYPE: ent.label_,
                ENTITY_ATTRIBUTE_VALUE: ent.ent_id_ or ent.text,
                ENTITY_ATTRIBUTE_START: ent.start_char,
                ENTITY_ATTRIBUTE_END: ent.end_char,
                "text": ent.text,
            }
            for ent in doc.ents
        ]

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            found = self.add_extractor_name(self.extract(message.get(TEXT) or ""))
            message.set(ENTITIES, message.get(ENTITIES, []) + found, add_to_output=True)
        return messages
