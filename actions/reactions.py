"""Reactions, not questions: "这么久啊？？" after a wait, "还是传不上去" after advice.

The model reads such a line as out of scope or does not understand it, and the merchant
got "帮不上忙" at the moment they were most annoyed. What they need is a way forward that
is more than the advice they already tried: a person, or 95017 with their own appeal id.
"""

from __future__ import annotations

import re

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.common import about_bound_merchant, latest_text
from core.db import repository

# Longer messages say more than a reaction; the model and the matcher read those.
MAX_CHARS = 20
IMPATIENT = re.compile(
    r"(这么|那么|太|好|也太|咋这么|怎么这么)(久|慢)|等(了)?(这么|好|很|太|那么)久"
    r"|怎么还(没|不)(好|结果|处理|审|通过|到|解)|等不(了|起|下去)|拖(了)?(这么|那么)久|磨磨蹭蹭")
# "要等很久吗": asking how long, not complaining of the wait.
ASKING_HOW_LONG = re.compile(r"等(很|好|多|那么)?久(吗|么|嘛|不)")
STILL_FAILING = re.compile(
    r"还是(不行|没用|失败|报错|不能|传不|上传不|打不通|进不去|提示|一样|没反应|弄不了)"
    r"|又(失败|报错|卡住)了|试了(好几|几|很多|多)次(了)?(都|还是)")


def reaction_of(text: str) -> str | None:
    """"impatient", "still_failing" or None (also for anything longer than a reaction)."""
    compact = re.sub(r"\s+", "", text)
    if not compact or len(compact) > MAX_CHARS:
        return None
    if STILL_FAILING.search(compact):
        return "still_failing"
    if IMPATIENT.search(compact) and not ASKING_HOW_LONG.search(compact):
        return "impatient"
    return None


async def open_appeal_id(tracker: Tracker) -> str | None:
    """The open appeal of the merchant this sender is verified for, if any."""

    def appeal_id(session: Session, merchant_id: str) -> str | None:
        appeal = repository.open_appeal(session, merchant_id)
        return appeal.id if appeal else None

    return await about_bound_merchant(tracker, appeal_id)


async def answer_reaction(dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
    """A way forward for a reaction; False when the message is not one."""
    reaction = reaction_of(latest_text(tracker))
    if reaction is None:
        return False
    if reaction == "still_failing":
        dispatcher.utter_message(response="utter_reaction_still_failing")
        return True
    appeal_id = await open_appeal_id(tracker)
    if appeal_id:
        dispatcher.utter_message(response="utter_reaction_impatient_appeal", appeal_id=appeal_id)
    else:
        dispatcher.utter_message(response="utter_reaction_impatient")
    return True
