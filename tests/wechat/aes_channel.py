"""The WeChat channel under a second name in compatible (AES) mode, for the end-to-end tests.

Compatible mode takes encrypted pushes only (no plaintext fallback: the clear fields are
not signed), so the stack runs the main ``wechat`` channel in plaintext mode and this one,
``wechat_aes``, with the test EncodingAESKey.
"""

from __future__ import annotations

from addons.channels.wechat import WeChatInput


class AesWeChatInput(WeChatInput):
    @classmethod
    def name(cls) -> str:
        return "wechat_aes"
