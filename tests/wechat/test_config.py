"""Channel settings: credentials.yml section, else WECHAT_* environment variables, else
defaults (docs/wechat.md, §1)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from addons.channels.wechat import DEFAULT_MENU, WeChatConfig, WeChatInput
from core.local_secrets import secret_file
from tests.wechat.client import AES_KEY, APP_ID

ENVIRONMENT = {
    "WECHAT_TOKEN": "env-token",
    "WECHAT_APP_ID": "wx-env",
    "WECHAT_APP_SECRET": "env-secret",
    "WECHAT_AES_KEY": AES_KEY,
    "WECHAT_MODE": "compatible",
    "WECHAT_API_BASE": "http://127.0.0.1:9999",
    "WECHAT_REDIS_URL": "redis://127.0.0.1:6379/5",
    "WECHAT_REPLY_TIMEOUT_S": "2.5",
}


@pytest.fixture()
def environment(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Sets WECHAT_* variables for the test (conftest removes the machine's own)."""

    def set_variables(**variables: str) -> None:
        for name, value in variables.items():
            monkeypatch.setenv(name, value)

    return set_variables


def test_nothing_set_gives_the_documented_defaults(environment: Any) -> None:
    config = WeChatConfig.from_credentials(None)
    # No known token: one generated for this machine (var/secrets/wechat_token, 0600).
    assert config.token == secret_file("wechat_token").read_text().strip()
    assert len(config.token) >= 32
    assert (config.app_id, config.app_secret, config.encoding_aes_key) == ("", "", "")
    assert (config.mode, config.api_base, config.redis_url) == (
        "plaintext", "https://api.weixin.qq.com", "")
    assert config.reply_timeout_s == 4.0
    assert config.menu == DEFAULT_MENU


def test_environment_only(environment: Any) -> None:
    environment(**ENVIRONMENT)
    config = WeChatConfig.from_credentials({})
    assert (config.token, config.app_id, config.app_secret) == ("env-token", "wx-env",
                                                                "env-secret")
    assert config.encoding_aes_key == AES_KEY
    assert config.mode == "compatible"
    assert config.api_base == "http://127.0.0.1:9999"
    assert config.redis_url == "redis://127.0.0.1:6379/5"
    assert config.reply_timeout_s == 2.5 and isinstance(config.reply_timeout_s, float)


def test_credentials_override_the_environment(environment: Any) -> None:
    environment(**ENVIRONMENT)
    config = WeChatConfig.from_credentials({
        "token": "cred-token", "app_id": APP_ID, "mode": "safe", "reply_timeout_s": 3,
        "redis_url": "", "api_base": None,  # empty in the file: the environment applies
        "menu": {"FEES": "/ask_fee_rate"},
    })
    assert (config.token, config.app_id, config.mode) == ("cred-token", APP_ID, "safe")
    assert config.reply_timeout_s == 3.0
    assert config.redis_url == "redis://127.0.0.1:6379/5"
    assert config.api_base == "http://127.0.0.1:9999"
    assert config.app_secret == "env-secret"
    assert config.menu == {**DEFAULT_MENU, "FEES": "/ask_fee_rate"}


def test_values_are_converted_and_trimmed(environment: Any) -> None:
    environment(WECHAT_MODE=" SAFE ", WECHAT_AES_KEY=f" {AES_KEY}\n", WECHAT_APP_ID="wx1",
                WECHAT_REPLY_TIMEOUT_S="", WECHAT_TOKEN="")  # empty variables count as unset
    config = WeChatConfig.from_credentials({"max_reply_bytes": "1500", "dedup_ttl_s": "60"})
    assert (config.mode, config.encoding_aes_key) == ("safe", AES_KEY)
    assert config.reply_timeout_s == 4.0
    assert config.token == secret_file("wechat_token").read_text().strip()
    assert (config.max_reply_bytes, config.dedup_ttl_s) == (1500, 60.0)


def test_a_key_without_a_mode_means_safe_mode(environment: Any) -> None:
    environment(WECHAT_AES_KEY=AES_KEY, WECHAT_APP_ID=APP_ID)
    assert WeChatConfig.from_credentials(None).mode == "safe"
    assert WeChatConfig.from_credentials({"mode": "plaintext"}).mode == "plaintext"


def test_tuning_settings_come_from_credentials_only(environment: Any) -> None:
    # Documented without a variable: a stray WECHAT_DEDUP_TTL_S changes nothing.
    environment(WECHAT_DEDUP_TTL_S="1", WECHAT_MAX_REPLY_BYTES="10", WECHAT_MENU="{}")
    config = WeChatConfig.from_credentials(None)
    assert (config.dedup_ttl_s, config.max_reply_bytes) == (300.0, 2000)
    assert config.menu == DEFAULT_MENU


@pytest.mark.parametrize(
    ("credentials", "variables", "names"),
    [
        ({"mode": "secret"}, {}, ["mode", "WECHAT_MODE", "plaintext, compatible, safe"]),
        ({}, {"WECHAT_MODE": "encrypted"}, ["mode", "WECHAT_MODE", "'encrypted'"]),
        ({"reply_timeout_s": 6}, {}, ["reply_timeout_s", "WECHAT_REPLY_TIMEOUT_S", "4.5"]),
        ({}, {"WECHAT_REPLY_TIMEOUT_S": "0"}, ["reply_timeout_s", "WECHAT_REPLY_TIMEOUT_S"]),
        ({}, {"WECHAT_REPLY_TIMEOUT_S": "-1"}, ["reply_timeout_s", "WECHAT_REPLY_TIMEOUT_S"]),
        ({}, {"WECHAT_REPLY_TIMEOUT_S": "fast"}, ["reply_timeout_s", "not a valid float"]),
    ],
)
def test_bad_mode_or_timeout_fails_at_startup_naming_the_setting(
    environment: Any, credentials: dict[str, Any], variables: dict[str, str], names: list[str]
) -> None:
    environment(**variables)
    with pytest.raises(ValueError) as raised:
        WeChatInput.from_credentials(credentials)
    for name in names:
        assert name in str(raised.value)


def test_unknown_credentials_keys_are_reported(
    environment: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="addons.channels.wechat"):
        config = WeChatConfig.from_credentials({"reply_timeout": 3})
    assert config.reply_timeout_s == 4.0
    assert "reply_timeout" in caplog.text


def test_the_published_example_token_is_refused(environment: Any) -> None:
    environment(WECHAT_TOKEN="dev-wechat-token")
    with pytest.raises(ValueError, match="published example token"):
        WeChatConfig.from_credentials(None)
