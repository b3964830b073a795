"""Text normalizer: the first component of the NLU pipeline (the rules are in
``core.text``, shared with the knowledge base)."""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, ENTITY_ATTRIBUTE_END, ENTITY_ATTRIBUTE_START, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from core.text import condense, normalize


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False
)
class TextNormalizer(GraphComponent):
    """Rewrites each message's text into normalized simplified Chinese."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        # Repetitions are collapsed first; a text still longer than this keeps its most
        # informative sentences. The tracker keeps the full original text.
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
        normalized = condense(normalize(original), self._max_chars)
        if not normalized.text:
            # Emoji-only or markup-only input: leave it to the fallback classifier.
            message.set(TEXT, original.strip()[: self._max_chars])
            return
        for entity in message.get(ENTITIES) or []:
            start, end = normalized.normalized_span(
                entity[ENTITY_ATTRIBUTE_START], entity[ENTITY_ATTRIBUTE_END]
            )
            entity[ENTITY_ATTRIBUTE_START], entity[ENTITY_ATTRIBUTE_END] = start, end
        message.set(TEXT, normalized.text)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        for example in training_data.training_examples:
            self._normalize_message(example)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            self._normalize_message(message)
        return messages
