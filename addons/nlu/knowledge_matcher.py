"""Knowledge matcher: the last NLU component. It matches the message against the
published knowledge entries (``core.knowledge``) and decides between the flows and the
knowledge base (``core.knowledge.decision``):

- answer: the intent becomes ``knowledge`` (DIET's own intent moves down the ranking);
- suggest: the intent becomes ``nlu_fallback`` and the fallback offers the likeliest
  entries as "你是想问：" choices;
- keep: the NLU's intent stays.

Every parsed message carries ``knowledge`` (decision, entry, candidates with their
scores, the index version): the actions read it, and it shows why an answer was given.
The index is read from the merchant database at run time and reloaded when an entry is
published, so an edit is answered within seconds without retraining. If the embedding
model cannot be used the matcher goes on with the lexical signal (logged)."""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import (
    ENTITIES,
    ENTITY_ATTRIBUTE_TYPE,
    ENTITY_ATTRIBUTE_VALUE,
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message

from core.knowledge import vectors as vec
from core.knowledge.decision import KNOWLEDGE_INTENT, PLATFORM_ENTRIES, decide, on_topic
from core.knowledge.entries import DEFAULT_DIRECTORY
from core.knowledge.live import LiveKnowledge
from core.parting import is_parting

logger = logging.getLogger(__name__)

KNOWLEDGE_KEY = "knowledge"
FALLBACK_INTENT = "nlu_fallback"
THANK_INTENT = "thank"
_CONTENT = re.compile(r"[\u3400-\u9fff\uf900-\ufaffA-Za-z]")

_live: dict[str, LiveKnowledge] = {}
_live_lock = threading.Lock()


def live_knowledge(directory: str, refresh_s: float) -> LiveKnowledge:
    """One index per process and directory (replicas each keep their own)."""
    with _live_lock:
        if directory not in _live:
            _live[directory] = LiveKnowledge(directory=Path(directory),
                                             refresh_s=refresh_s)
        return _live[directory]


def original_intent(message: Message) -> tuple[str | None, float]:
    """The NLU's own best intent, also when the FallbackClassifier put nlu_fallback first."""
    for item in message.get(INTENT_RANKING_KEY) or []:
        if item.get(INTENT_NAME_KEY) != FALLBACK_INTENT:
            return item.get(INTENT_NAME_KEY), float(item.get(PREDICTED_CONFIDENCE_KEY) or 0.0)
    intent = message.get(INTENT) or {}
    return intent.get(INTENT_NAME_KEY), float(intent.get(PREDICTED_CONFIDENCE_KEY) or 0.0)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class KnowledgeMatcher(GraphComponent):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "directory": str(DEFAULT_DIRECTORY),
            # Seconds between checks of the database's knowledge version.
            "refresh_s": 1.0,
            # Messages with fewer Chinese characters or letters are ids, digits or "好".
            "min_chars": 2,
            "candidates": 8,
        }

    def __init__(self, config: dict[str, Any]) -> None:
        self._config = config
        self._embedding_failed = False
        self.live = live_knowledge(str(config["directory"]), float(config["refresh_s"]))

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> KnowledgeMatcher:
        return cls(config)

    def _query_vector(self, text: str) -> Any:
        if self._embedding_failed:
            return None
        try:
            from core.embeddings import embed_queries

            return embed_queries([vec.prepared(text, normalized=True)])[0]
        except Exception as error:  # noqa: BLE001 - any failure of the native engine
            self._embedding_failed = True
            logger.error("knowledge matcher: embeddings unavailable (%s); lexical only", error)
            return None

    def process_one(self, message: Message) -> None:
        text = message.get(TEXT)
        if isinstance(text, str) and is_parting(text):
            # "行 我打95017催一下 谢谢": thanks for now, not the topic in its middle.
            self._rank_first(message, THANK_INTENT, 1.0)
            return
        chars = len(_CONTENT.findall(text)) if isinstance(text, str) else 0
        if chars < self._config["min_chars"]:
            return
        index = self.live.index()
        if index is None or not len(index):
            return
        intent, confidence = original_intent(message)
        candidates = index.search(text, self._query_vector(text),
                                  limit=int(self._config["candidates"]), normalized=True)
        platform = next((str(e.get(ENTITY_ATTRIBUTE_VALUE)) for e in message.get(ENTITIES) or []
                         if e.get(ENTITY_ATTRIBUTE_TYPE) == "other_platform"), "")
        decision = decide(intent, confidence, candidates, index.entries, chars=chars,
                          topical=on_topic(text), platform_entry=PLATFORM_ENTRIES.get(platform))
        message.set(KNOWLEDGE_KEY, {
            **decision.as_dict(),
            "intent": intent,
            "candidates": [{"id": c.entry_id, "score": c.score, "dense": c.dense,
                            "lexical": c.lexical} for c in candidates],
            "version": index.version,
            "source": index.source,
        }, add_to_output=True)
        if decision.kind == "answer":
            score = next((c.score for c in candidates if c.entry_id == decision.entry_id), 1.0)
            self._rank_first(message, KNOWLEDGE_INTENT, max(score, confidence))
        elif decision.kind == "suggest":
            self._rank_first(message, FALLBACK_INTENT, confidence)

    @staticmethod
    def _rank_first(message: Message, name: str, confidence: float) -> None:
        first = {INTENT_NAME_KEY: name, PREDICTED_CONFIDENCE_KEY: float(confidence)}
        ranking = [item for item in message.get(INTENT_RANKING_KEY) or []
                   if item.get(INTENT_NAME_KEY) != name]
        message.set(INTENT, first, add_to_output=True)
        message.set(INTENT_RANKING_KEY, [first, *ranking], add_to_output=True)

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            self.process_one(message)
        return messages
