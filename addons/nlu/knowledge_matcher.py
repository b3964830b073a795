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
from core.knowledge.asks import asks
from core.knowledge.decision import (
    FOLLOW_MAX_CHARS,
    INTENT_ENTRIES,
    KNOWLEDGE_INTENT,
    OUT_OF_SCOPE,
    PLATFORM_ENTRIES,
    TASK_ENTRIES,
    TASK_INTENTS,
    TASK_SURE,
    Decision,
    allowed,
    closed_entries,
    decide,
    follow_up,
    on_topic,
)
from core.knowledge.entries import DEFAULT_DIRECTORY
from core.knowledge.live import LiveKnowledge
from core.knowledge.matching import Candidate
from core.parting import parting_kind
from core.refile import is_refile_request
from core.voice import is_payer, tells_of_scam, without_disowned

logger = logging.getLogger(__name__)

KNOWLEDGE_KEY = "knowledge"
FALLBACK_INTENT = "nlu_fallback"
_CONTENT = re.compile(r"[\u3400-\u9fff\uf900-\ufaffA-Za-z]")
# Another ask of the message is answered too when its best entry scores this, this far
# ahead of the next (measured on the development set's two-ask questions).
ALSO_MIN = 0.4
ALSO_MARGIN = 0.05
# ... or this, well ahead ("我账上那点钱还能提出来吗": 0.38 against 0.24).
ALSO_FAIR = 0.3
ALSO_FAIR_MARGIN = 0.1
# ... and then sharing words with the entry: "所以到底是哪个原因" (0.32, lexical 0.15) is a
# reference back, not a second question about rejected appeals.
ALSO_FAIR_LEXICAL = 0.2

_live: dict[str, LiveKnowledge] = {}
_live_lock = threading.Lock()


def live_knowledge(directory: str, refresh_s: float) -> LiveKnowledge:
    """One index per process and directory (replicas each keep their own)."""
    with _live_lock:
        if directory not in _live:
            _live[directory] = LiveKnowledge(directory=Path(directory),
                                             refresh_s=refresh_s)
        return _live[directory]


# A web address: "pay.weixin.qq.com" names no QQ wallet.
_URL = re.compile(r"(?:https?://)?[a-z0-9-]+(?:\.[a-z0-9-]+)+(?:/\S*)?", re.IGNORECASE)
# WeChat Pay named as well: "能收微信也能收支付宝的聚合码" is our merchant's question.
OURS_NAMED = re.compile(r"微信|weixin|wechat|财付通|商家助手|商户平台", re.IGNORECASE)
# The bank card our settlement goes to: "结算款一直没到银行卡上" is about our settlement.
OUR_SETTLEMENT = re.compile(r"结算|提现|货款|营业款")


def _content_len(text: str) -> int:
    return len(_CONTENT.findall(text))


def named_platform(text: str, entities: list[dict[str, Any]]) -> str:
    """The other platform the message names (the first ``other_platform`` entity that is
    not part of a web address), or ""."""
    urls = [m.span() for m in _URL.finditer(text) if "." in m.group()]
    for entity in entities:
        if entity.get(ENTITY_ATTRIBUTE_TYPE) != "other_platform":
            continue
        start, end = int(entity.get("start") or 0), int(entity.get("end") or 0)
        if any(a <= start and end <= b for a, b in urls):
            continue
        return str(entity.get(ENTITY_ATTRIBUTE_VALUE))
    return ""


def original_intent(message: Message) -> tuple[str | None, float]:
    """The NLU's own best intent, also when the FallbackClassifier put nlu_fallback first."""
    for item in message.get(INTENT_RANKING_KEY) or []:
        if item.get(INTENT_NAME_KEY) != FALLBACK_INTENT:
            return item.get(INTENT_NAME_KEY), float(item.get(PREDICTED_CONFIDENCE_KEY) or 0.0)
    intent = message.get(INTENT) or {}
    return intent.get(INTENT_NAME_KEY), float(intent.get(PREDICTED_CONFIDENCE_KEY) or 0.0)


YES_NO_INTENTS = frozenset({"affirm", "deny"})
# "你能帮我做什么", "机器人吗": the message speaks to the assistant itself.
BOT_ADDRESSED = re.compile(r"你|您|机器人|智能|助手|人工智能|ai|AI")
# The entries that say how to appeal: filing one answers them.
HOW_TO_APPEAL = frozenset({"appeal_process", "appeal_merchant_assistant",
                           "appeal_merchant_platform", "appeal_personal_account"})
# "我要申诉", "帮我提交申诉" said outright (not "我要申诉吗").
EXPLICIT_APPEAL = re.compile(r"(?<!不)(我要|我想|帮我)(提交|提|发起|再)?(个)?申诉(?![吗么嘛]|[^，。,.!！]{0,6}[吗么嘛?？])")
# An A-not-A question with what it asks about after it; "不要不要" is a no.
A_NOT_A = re.compile(r"(?<!不)(要不要|需不需要|需要不需要|用不用|该不该|得不得|能不能|可不可以|会不会)"
                     r"[\u4e00-\u9fff]{2,}")


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
            from core.embeddings import embed_query

            return embed_query(vec.prepared(text, normalized=True))
        except Exception as error:  # noqa: BLE001 - any failure of the native engine
            self._embedding_failed = True
            logger.error("knowledge matcher: embeddings unavailable (%s); lexical only", error)
            return None

    def process_one(self, message: Message) -> None:
        text = message.get(TEXT)
        parting = parting_kind(text) if isinstance(text, str) else None
        if parting:
            # "行 我打95017催一下 谢谢": thanks for now, not the topic in its middle;
            # "好的 拜拜": goodbye.
            self._rank_first(message, parting, 1.0)
            return
        if isinstance(text, str) and is_refile_request(text):
            # "行 那你帮我重新提一个" after a rejection: the request to file, not a goodbye.
            self._rank_first(message, "submit_appeal", 1.0)
            return
        if isinstance(text, str):
            text = without_disowned(text)  # "谁问你是不是官方了": not a question to match
        chars = len(_CONTENT.findall(text)) if isinstance(text, str) else 0
        if chars < self._config["min_chars"]:
            return
        index = self.live.index()
        if index is None or not len(index):
            return
        intent, confidence = original_intent(message)
        # "弄小程序也收不了吧？是不是得先申诉。我要申诉": the request said outright is done,
        # however unsure the other asks make the model (below).
        explicit_appeal = bool(EXPLICIT_APPEAL.search(text)) and intent not in (
            "request_human", "stop_waiting", "deny", "handoff_closed")
        questioned = intent in YES_NO_INTENTS and bool(A_NOT_A.search(text))
        if questioned:
            # "要不要报警", "需不需要营业执照": a question, not the yes or no it sounds like.
            intent, confidence = None, 0.0
        candidates = index.search(text, self._query_vector(text),
                                  limit=int(self._config["candidates"]), normalized=True)
        platform = named_platform(text, message.get(ENTITIES) or [])
        payer = is_payer(text) or (message.get("metadata") or {}).get("speaker") == "payer"
        scam_told = tells_of_scam(text)
        closed = closed_entries(text)
        decision = decide(intent, confidence, candidates, index.entries, chars=chars,
                          topical=on_topic(text), platform_entry=PLATFORM_ENTRIES.get(platform),
                          ours_named=bool(OURS_NAMED.search(text)) or (
                              platform == "bank" and bool(OUR_SETTLEMENT.search(text))),
                          payer=payer, scam_told=scam_told, closed=closed)
        ranked = self._asks_ranked(text, index, PLATFORM_ENTRIES.get(platform), payer,
                                   scam_told, closed,
                                   task=intent in TASK_INTENTS and confidence >= TASK_SURE)
        clear = self._clear(ranked)
        picked = self._picked_from(ranked, decision.suggestions) \
            if decision.kind == "suggest" else []
        if len(picked) >= 2 or (decision.kind == "suggest" and len(clear) >= 2):
            # Unsure of the whole because it asks two things, each ask sure of its
            # entry: answer each.
            clear = picked if len(picked) >= 2 else clear
            decision = Decision("answer", clear[0], why="each ask")
        elif clear and decision.kind == "keep" and (
                intent == OUT_OF_SCOPE
                or (message.get(INTENT) or {}).get(INTENT_NAME_KEY) == FALLBACK_INTENT):
            # "民宿哪来的快递单号 还有重新交以后多久出结果": the whole reads as no question
            # of ours, yet an ask of it clearly is one; answer the asks, not a refusal.
            decision = Decision("answer", clear[0], why="an ask")
        decision, contextual = self._follow_up(message, text, chars, intent, confidence,
                                               decision, candidates, index,
                                               PLATFORM_ENTRIES.get(platform), payer,
                                               scam_told, closed)
        if decision.why == "follow-up":
            clear = []  # one ask, read with the topic
        main = decision.entry_id if decision.kind == "answer" else INTENT_ENTRIES.get(intent or "")
        # Not the task's own overview: the task says it ("帮我查下状态" needs no
        # "收款被限制了怎么办" before the check).
        # Nor another platform's redirect beside a scam warning: "抖音上有人说交1500能解封"
        # names where the scammer was, not a question for 抖音.
        also = [entry_id for entry_id in clear if entry_id != main
                and entry_id not in TASK_ENTRIES.get(intent or "", ())
                and not (scam_told and index.entries[entry_id].scope == "redirect")
                # What the assistant can do, only when the message speaks to it.
                and not ("bot" in index.entries[entry_id].tags and not BOT_ADDRESSED.search(text))][:1]
        message.set(KNOWLEDGE_KEY, {
            **decision.as_dict(),
            "also": also,
            "intent": intent,
            "candidates": [{"id": c.entry_id, "score": c.score, "dense": c.dense,
                            "lexical": c.lexical} for c in candidates],
            # The best entries of the message read with the entry just said (follow-ups).
            "contextual": [{"id": c.entry_id, "score": c.score} for c in contextual[:3]],
            "version": index.version,
            "source": index.source,
        }, add_to_output=True)
        if explicit_appeal and (decision.kind != "answer" or decision.entry_id in HOW_TO_APPEAL):
            # How to appeal is what filing one does; another question's answer ("要准备咩
            # 文件") is said first and the appeal follows (action_answer_knowledge).
            self._rank_first(message, "submit_appeal", 1.0)
        elif decision.kind == "answer":
            score = next((c.score for c in candidates if c.entry_id == decision.entry_id), 1.0)
            self._rank_first(message, KNOWLEDGE_INTENT, max(score, confidence))
        elif decision.kind == "suggest" or questioned:
            self._rank_first(message, FALLBACK_INTENT, confidence)
        elif decision.why == "task" and intent in TASK_INTENTS and (
                message.get(INTENT) or {}).get(INTENT_NAME_KEY) == FALLBACK_INTENT:
            # "我商户号被冻结了申诉交上去快两个星期了……要不要重新交？？": two tasks close
            # (status, appeal) made it ambiguous, yet no entry fits better than doing the
            # likelier one; it is done, not "我没太看懂".
            self._rank_first(message, intent, confidence)

    def _follow_up(self, message: Message, text: str, chars: int, intent: str | None,
                   confidence: float, decision: Decision, candidates: list[Candidate],
                   index: Any, platform_entry: str | None, payer: bool, scam_told: bool,
                   closed: frozenset[str]
                   ) -> tuple[Decision, list[Candidate]]:
        """The decision for a short message read together with the entry the bot just
        said (the message's ``topic`` metadata, addons/topic_context.py), and the
        candidates of that reading ([] when the message is not read so)."""
        topic = (message.get("metadata") or {}).get("topic")
        if not isinstance(topic, dict):
            return decision, []
        last = [str(i) for i in topic.get("last") or [] if str(i) in index.entries]
        answered = [str(i) for i in topic.get("answered") or []]
        if not last or chars > FOLLOW_MAX_CHARS:
            return decision, []
        said = index.entries[last[0]]
        query = f"{said.question}，{text}"
        contextual = allowed(index.search(query, self._query_vector(query),
                                          limit=int(self._config["candidates"]),
                                          normalized=True),
                             platform_entry, payer, scam_told, closed)
        return follow_up(decision, intent, confidence, candidates, contextual, index.entries,
                         last, answered, chars,
                         platform_named=platform_entry is not None), contextual

    def _asks_ranked(self, text: str, index: Any, platform_entry: str | None,
                     payer: bool, scam_told: bool, closed: frozenset[str],
                     task: bool = False) -> list[list[Candidate]]:
        """Each ask of a several-ask message matched alone ("钱什么时候能提？申诉又要多久"),
        with the candidates the whole message may get; [] for a message with one ask."""
        pieces = asks(text)
        if len(pieces) < 2 and not (task and pieces and _content_len(pieces[0]) < _content_len(text)):
            # One ask is the whole message's; but beside a task's request ("帮我查下状态，
            # 另外冻结的钱会不会被没收") the one ask is the other one.
            return []
        return [allowed(index.search(piece, self._query_vector(piece), limit=3, normalized=True),
                        platform_entry, payer, scam_told, closed)
                for piece in pieces]

    @staticmethod
    def _clear(ranked: list[list[Candidate]]) -> list[str]:
        """The entry each ask fits clearly, in order."""
        found: list[str] = []
        for candidates in ranked:
            if not candidates:
                continue
            best = candidates[0]
            runner_up = candidates[1].score if len(candidates) > 1 else 0.0
            lead = best.score - runner_up
            if best.entry_id not in found and (
                    (best.score >= ALSO_MIN and lead >= ALSO_MARGIN)
                    or (best.score >= ALSO_FAIR and lead >= ALSO_FAIR_MARGIN
                        and best.lexical >= ALSO_FAIR_LEXICAL)):
                found.append(best.entry_id)
        return found

    @staticmethod
    def _picked_from(ranked: list[list[Candidate]], suggestions: list[str]) -> list[str]:
        """For an unsure message, the suggestion each ask likes best, in order."""
        picked: list[str] = []
        for candidates in ranked:
            choice = next((c.entry_id for c in candidates if c.entry_id in suggestions), None)
            if choice and choice not in picked:
                picked.append(choice)
        return picked

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
