"""While an agent holds a conversation, the bot never answers it.

The ownership lives in the merchant database (``handoffs``), not in Rasa's paused flag:
a new Rasa session resets that flag, another replica never saw it, and a paused tracker
still runs slot extraction. So every prediction that follows a merchant message asks
the database who owns the conversation; when it is an agent, this policy predicts
``action_listen`` with full confidence and a priority above the RulePolicy, so no form,
rule or model can answer. The message itself is stored in the tracker as always, and
reaches the agent through the event broker.

If the database cannot be asked, the bot answers (and the failure is logged); checks
pause for a few seconds after a failure so a dead database cannot stall every turn.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_LISTEN_NAME, REQUESTED_SLOT
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActiveLoop, SlotSet
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from core.db import handoffs
from core.db.models import HandoffStatus
from core.db.session import get_engine

logger = logging.getLogger(__name__)

# Above the RulePolicy (6): on equal confidence the higher priority wins.
PRIORITY = 7
BACK_OFF_S = 5.0


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True
)
class HandoffPolicy(Policy):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"priority": PRIORITY}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._failed_at = float("-inf")

    def train(self, training_trackers: list[TrackerWithCachedStates], domain: Domain,
              **kwargs: Any) -> Resource:
        return self._resource  # nothing to learn: the database decides

    def held_by_agent(self, channel: str, sender_id: str) -> bool:
        if time.monotonic() - self._failed_at < BACK_OFF_S:
            return False
        try:
            with Session(get_engine()) as session:
                return handoffs.owner(session, channel, sender_id) == HandoffStatus.agent
        except SQLAlchemyError as error:
            self._failed_at = time.monotonic()
            logger.error("handoff owner unknown (%s): the bot answers",
                         type(error).__name__)
            return False

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        result = self._default_predictions(domain)
        if tracker.latest_action_name == ACTION_LISTEN_NAME and tracker.latest_message:
            channel = tracker.get_latest_input_channel() or "rest"
            if self.held_by_agent(channel, tracker.sender_id):
                result[domain.index_for_action(ACTION_LISTEN_NAME)] = 1.0
                # A form left open when the agent took over must not answer later.
                events = [ActiveLoop(None), SlotSet(REQUESTED_SLOT, None)] \
                    if tracker.active_loop_name else []
                return self._prediction(result, events=events)
        return self._prediction(result)
