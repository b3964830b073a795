from __future__ import annotations

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction

import addons  # noqa: F401 - installs the validator
from addons.action_result_validation import validate_action_result


def test_installed_on_remote_action() -> None:
    assert RemoteAction._validate_action_result is validate_action_result


def test_valid_response_passes() -> None:
    action = RemoteAction("action_answer_faq", None)
    result = {"events": [{"event": "slot", "name": "x", "value": 1}],
              "responses": [{"response": "utter_greet"}]}
    assert action._validate_action_result(result)


@pytest.mark.parametrize(
    "result",
    [{"events": "not a list"}, {"events": [{"no_event_key": 1}]}, {"responses": [1]}],
)
def test_invalid_response_is_rejected_with_rasa_message(result: dict) -> None:
    with pytest.raises(ValidationError) as error:
        RemoteAction("action_answer_faq", None)._validate_action_result(result)
    assert "Failed to validate Action server response" in error.value.message
