"""The WeChat channel under a second name with a slow bot, for the end-to-end tests.

One credentials section per class path: this subclass lets one rasa server run the
channel twice, here with ``reply_timeout_s: 0.05``. A warm bot often answers within 50 ms,
so the turn is made slow on purpose (``BOT_DELAY_S``) to hit the deadline every time.
"""

from __future__ import annotations

import asyncio
from typing import Any

from addons.channels.wechat import WeChatInput

BOT_DELAY_S = 0.5


class SlowWeChatInput(WeChatInput):
    @classmethod
    def name(cls) -> str:
        return "wechat_slow"

    async def _ask_bot(self, *args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(BOT_DELAY_S)
        return await super()._ask_bot(*args, **kwargs)
