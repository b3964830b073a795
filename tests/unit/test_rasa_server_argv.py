"""scripts/rasa_server.py hands the token to Rasa's own argument parser intact."""

from __future__ import annotations

import importlib.util

import pytest

from tests.conftest import PROJECT_ROOT


def _load():
    spec = importlib.util.spec_from_file_location(
        "rasa_server_script", PROJECT_ROOT / "scripts" / "rasa_server.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("token", ["-lZ3k9_abc", "--looks-like-an-option", "plain_Token-1"])
def test_rasa_reads_any_generated_token(token: str) -> None:
    # token_urlsafe can start with "-": a separate argument would be read as an option.
    from rasa.__main__ import create_argument_parser

    argv = _load().rasa_argv(["run", "--enable-api"], token)
    arguments = create_argument_parser().parse_args(argv[1:])
    assert arguments.auth_token == token


def test_a_token_on_the_command_line_is_refused() -> None:
    with pytest.raises(SystemExit):
        _load().rasa_argv(["run", "--auth-token=x"], "y")
