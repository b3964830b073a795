"""What the assistant does with a message, given the NLU's intent and the knowledge matches.

The contract intents keep driving the flows (identity check, account state, appeals,
advisor, handoff, deletion, form answers); informational questions are answered from the
knowledge base. In order:

1. a flow or form-answer intent the model is sure of stays, unless an entry matches
   almost word for word (``OVERRIDE``);
2. an entry scoring at least ``ANSWER`` (and clearly ahead of the next one) is answered;
3. an informational intent the model is sure of is answered with its own entry, or with a
   more specific entry of the same topic that also matches well;
4. entries scoring at least ``SUGGEST`` are offered as "你是想问：" choices;
5. otherwise the intent stays (the staged fallback for ``nlu_fallback``).

The thresholds were measured on ``tests/nlu/knowledge_dev.yml`` (bench/results/knowledge.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from core.knowledge.entries import Entry
from core.knowledge.matching import Candidate

ANSWER = 0.62
SUGGEST = 0.45
MARGIN = 0.02
OVERRIDE = 0.85
OVERRIDE_MIN_CHARS = 6
FLOW_SURE = 0.8
FAQ_SURE = 0.6
SUGGESTIONS = 3

KNOWLEDGE_INTENT = "knowledge"
# Intents that start or answer a flow: the knowledge base does not take them over.
FLOW_INTENTS = frozenset({
    "check_account_status", "report_account_abnormal", "submit_appeal",
    "check_appeal_status", "request_human", "stop_waiting", "delete_my_data",
    "ask_remote_collection", "inform", "affirm", "deny", "greet", "thank", "goodbye",
    "handoff_closed",
})
# Informational intents and the entry that answers each.
INTENT_ENTRIES: Mapping[str, str] = {
    "ask_abnormal_reason": "abnormal_reason",
    "contact_support": "contact_support",
    "ask_appeal_process": "appeal_process",
    "ask_unfreeze_time": "appeal_review_time",
    "ask_frozen_funds": "frozen_funds",
    "ask_risk_prevention": "risk_prevention",
    "ask_website_payment": "website_payment",
    "ask_miniprogram_payment": "miniprogram_payment",
    "ask_fee_rate": "fee_rate",
    "bot_challenge": "bot_official",
}


@dataclass(frozen=True)
class Decision:
    kind: str  # "answer", "suggest" or "keep"
    entry_id: str | None = None
    suggestions: list[str] = field(default_factory=list)
    why: str = ""

    def as_dict(self) -> dict[str, object]:
        return {"decision": self.kind, "entry_id": self.entry_id,
                "suggestions": self.suggestions, "why": self.why}


def _same_topic(entry: Entry | None, other: Entry | None) -> bool:
    if entry is None or other is None:
        return False
    return bool(set(entry.tags) & set(other.tags)) or other.id in entry.follow_ups


def decide(intent: str | None, confidence: float, candidates: Sequence[Candidate],
           entries: Mapping[str, Entry], chars: int = 100) -> Decision:
    """``chars``: the message's Chinese characters and letters (a reply as short as "好的"
    never overrides a flow)."""
    top = candidates[0] if candidates else None
    second = candidates[1].score if len(candidates) > 1 else 0.0
    if intent in FLOW_INTENTS and confidence >= FLOW_SURE:
        if top is not None and top.score >= OVERRIDE and chars >= OVERRIDE_MIN_CHARS:
            return Decision("answer", top.entry_id, why="override")
        return Decision("keep", why="flow")
    if top is not None and top.score >= ANSWER and top.score - second >= MARGIN:
        return Decision("answer", top.entry_id, why="match")
    own = INTENT_ENTRIES.get(intent or "")
    if own in entries and confidence >= FAQ_SURE:
        for candidate in candidates[:SUGGESTIONS]:
            if (candidate.score >= SUGGEST and candidate.entry_id != own
                    and _same_topic(entries.get(own), entries.get(candidate.entry_id))):
                return Decision("answer", candidate.entry_id, why="intent+specific")
        return Decision("answer", own, why="intent")
    suggestions = [c.entry_id for c in candidates[:SUGGESTIONS] if c.score >= SUGGEST]
    if top is not None and top.score >= ANSWER:
        # Two entries just as likely: let the merchant choose.
        return Decision("suggest", suggestions=suggestions or [top.entry_id], why="close")
    if suggestions:
        return Decision("suggest", suggestions=suggestions, why="unsure")
    return Decision("keep", why="no match")
