"""While an agent holds a conversation, the bot never answers it.

The ownership lives in the merchant database (``handoffs``), not in Rasa's paused flag:
a new Rasa session resets that flag, another replica never saw it, and a paused tracker
still runs slot extraction. So every prediction that follows a merchant message asks
the database who owns the conversation; when it is an agent, this policy predicts
``action_listen`` with full confidence and a priority above the RulePolicy, so no form,
rule or model can answer. The message itself is stored in the tracker as always, and
reaches the agent through the event broker.

While the conversation is queued or a message (留言) was left, a message about that
request itself ("取消留言", "客服也别打给我了", "记到留言里了没有", "还要等多久",
"我的问题是…，麻烦跟客服说"; ``core.handoff_followup``) goes to the handoff's own action
(``action_stop_waiting``, ``actions.handoff``) instead of the knowledge base, which would
answer it with data retention or the fake-support-call warning.

If the database cannot be asked, the bot answers (and the failure is logged); checks
pause for a few seconds after a failure so a dead database cannot stall every turn.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any

from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_LISTEN_NAME, REQUESTED_SLOT
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActiveLoop, BotUttered, SlotSet, UserUttered
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from addons import rasa_compat
from core.db.models import Handoff, HandoffStatus, utcnow
from core.db.session import get_engine
from core.handoff_followup import About, about_handoff, is_handoff_message

logger = logging.getLogger(__name__)

# Above the RulePolicy (6): on equal confidence the higher priority wins.
PRIORITY = 7
BACK_OFF_S = 5.0
# The handoff's own action: it also answers what a merchant says about an open request.
FOLLOWUP_ACTION = "action_stop_waiting"
# "取消留言" shortly after a message was withdrawn: "已经撤回了", not the knowledge base.
RECENTLY = dt.timedelta(hours=2)


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True
)
class HandoffPolicy(Policy):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"priority": PRIORITY}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Refuses to load (train or run) when Policy's helpers used here changed.
        rasa_compat.check(rasa_compat.POLICY_BASE)
        super().__init__(*args, **kwargs)
        self._failed_at = float("-inf")

    def train(self, training_trackers: list[TrackerWithCachedStates], domain: Domain,
              **kwargs: Any) -> Resource:
        return rasa_compat.policy_resource(self)  # nothing to learn: the database decides

    def latest_handoff(self, channel: str, sender_id: str) -> tuple[HandoffStatus, bool] | None:
        """The conversation's latest request for a person: its status and whether it was
        a message (留言); a closed or long-cancelled one counts as none."""
        if time.monotonic() - self._failed_at < BACK_OFF_S:
            return None
        try:
            with Session(get_engine()) as session:
                row = session.execute(
                    select(Handoff.status, Handoff.contact_method, Handoff.closed_at)
                    .where(Handoff.channel == channel, Handoff.sender_id == sender_id)
                    .order_by(Handoff.id.desc()).limit(1)
                ).first()
        except SQLAlchemyError as error:
            self._failed_at = time.monotonic()
            logger.error("handoff owner unknown (%s): the bot answers",
                         type(error).__name__)
            return None
        if row is None:
            return None
        status, contact_method, closed_at = row
        if status == HandoffStatus.cancelled and closed_at is not None \
                and utcnow() - closed_at < RECENTLY:
            return status, contact_method is not None
        if status in (HandoffStatus.waiting, HandoffStatus.agent, HandoffStatus.ticket):
            return status, contact_method is not None
        return None

    def held_by_agent(self, channel: str, sender_id: str) -> bool:
        latest = self.latest_handoff(channel, sender_id)
        return latest is not None and latest[0] == HandoffStatus.agent

    @staticmethod
    def about_request(tracker: DialogueStateTracker, status: HandoffStatus,
                      was_ticket: bool) -> About | None:
        """What the latest message says about the open (or just withdrawn) request."""
        if tracker.active_loop_name:
            return None  # the form reads it (the handoff's own form, or another one)
        text = (tracker.latest_message.text if tracker.latest_message else None) or ""
        about = about_handoff(text, after_handoff=after_handoff_message(tracker))
        if status == HandoffStatus.cancelled:
            # Just called off: "取消留言" again is told so; a withdrawn message's content
            # is talked about ("记到留言里了没有": it was withdrawn).
            return about if about is About.CANCEL or (
                was_ticket and about is About.RECORDED) else None
        return about

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        result = rasa_compat.default_predictions(self, domain)
        if tracker.latest_action_name == FOLLOWUP_ACTION:
            # The handoff's action answered a message about the request: listen.
            result[domain.index_for_action(ACTION_LISTEN_NAME)] = 1.0
            return rasa_compat.policy_prediction(self, result)
        if tracker.latest_action_name == ACTION_LISTEN_NAME and tracker.latest_message:
            channel = tracker.get_latest_input_channel() or "rest"
            latest = self.latest_handoff(channel, tracker.sender_id)
            if latest is not None and latest[0] == HandoffStatus.agent:
                result[domain.index_for_action(ACTION_LISTEN_NAME)] = 1.0
                # A form left open when the agent took over must not answer later.
                events = [ActiveLoop(None), SlotSet(REQUESTED_SLOT, None)] \
                    if tracker.active_loop_name else []
                return rasa_compat.policy_prediction(self, result, events)
            if latest is not None and self.about_request(tracker, *latest) is not None \
                    and FOLLOWUP_ACTION in domain.action_names_or_texts:
                result[domain.index_for_action(FOLLOWUP_ACTION)] = 1.0
                return rasa_compat.policy_prediction(self, result)
        return rasa_compat.policy_prediction(self, result)


def after_handoff_message(tracker: DialogueStateTracker) -> bool:
    """The bot's messages before the latest user message were about the request."""
    seen_user = False
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            if seen_user:
                return False
            seen_user = True
        elif seen_user and isinstance(event, BotUttered):
            return is_handoff_message(event.metadata)
    return False
