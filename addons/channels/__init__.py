"""Input and output channels that run inside the rasa server.

- ``addons.channels.wechat.WeChatInput``: WeChat official account (公众号) webhook,
  mounted at ``/webhooks/wechat/webhook``; see ``docs/wechat.md``.
"""
