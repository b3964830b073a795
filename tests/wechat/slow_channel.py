"""The WeChat channel under a second name, so one rasa server in the end-to-end tests can
run it with a tiny ``reply_timeout_s`` next to the normal one (one credentials section per
class path)."""

from __future__ import annotations

from addons.channels.wechat import WeChatInput


class SlowWeChatInput(WeChatInput):
    @classmethod
    def name(cls) -> str:
        return "wechat_slow"
