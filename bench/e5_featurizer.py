"""Measurement only: e5 sentence embeddings as dense DIET features for every message.

The alternative to the gated classifier (addons/nlu/embedding_intent_classifier.py):
DIET sees a 384-dimensional sentence feature next to its sparse n-grams, so every
message pays for one embedding. bench/results/nlu-alternatives.md has the comparison (accuracy and parse latency);
the shipped pipeline does not use it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from addons.nlu.embedding_intent_classifier import BATCH, embedding_text
from core.embeddings import encoder, set_openmp_threads


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False
)
class E5SentenceFeaturizer(DenseFeaturizer, GraphComponent):
    """Adds the e5 embedding of the message as a sentence-level dense feature."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**DenseFeaturizer.get_default_config(), "max_chars": 64}

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> E5SentenceFeaturizer:
        return cls(execution_context.node_name, config)

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        pass

    def _embed(self, texts: list[str]) -> np.ndarray:
        set_openmp_threads(1)
        prepared = [embedding_text(t, int(self._config["max_chars"])) or t for t in texts]
        model = encoder()
        return np.vstack([np.asarray(model.query(prepared[i:i + BATCH]), dtype=np.float32)
                          .reshape(-1, model.dim) for i in range(0, len(prepared), BATCH)])

    def _featurize(self, messages: list[Message]) -> None:
        todo = [m for m in messages if m.get(TEXT)]
        if not todo:
            return
        vectors = self._embed([str(m.get(TEXT)) for m in todo])
        for message, vector in zip(todo, vectors, strict=True):
            # The sentence feature is what DIET's intent classification reads.
            self.add_features_to_message(None, vector[None, :], TEXT, message)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self._featurize(training_data.training_examples)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        self._featurize(messages)
        return messages
