"""The faster action-response validation, proved on Rasa's real call path.

RemoteAction.run (the code the rasa server runs for every custom action) calls the
replacement: a turn through the in-process action endpoint must reach it, a valid
response must pass and an invalid one must be refused with Rasa's own message.
"""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

import addons  # noqa: F401 - installs the validator
from addons import action_result_validation
from tests.conftest import PROJECT_ROOT


class CannedEndpoint(EndpointConfig):
    """An action server that answers with a fixed response body."""

    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__(url="http://canned/webhook")
        self.body = body

    async def request(self, *args: Any, **kwargs: Any) -> Any:
        return self.body


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(PROJECT_ROOT / "domain.yml"))


async def run_remote(domain: Domain, body: dict[str, Any]) -> list[Any]:
    action = RemoteAction("action_answer_faq", CannedEndpoint(body))
    tracker = DialogueStateTracker.from_events("v", [], slots=domain.slots)
    return await action.run(CollectingOutputChannel(), TemplatedNaturalLanguageGenerator(
        domain.responses), tracker, domain)


async def test_remote_action_calls_the_replacement(domain: Domain,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []
    real = action_result_validation.action_response_validator

    class Spy:
        def validate(self, result: dict[str, Any]) -> None:
            calls.append(result)
            real().validate(result)

    monkeypatch.setattr(action_result_validation, "action_response_validator", Spy)
    body = {"events": [{"event": "slot", "name": "urgency", "value": "fast"}],
            "responses": [{"response": "utter_greet"}]}
    events = await run_remote(domain, body)
    assert calls == [body]
    assert any(getattr(e, "key", None) == "urgency" for e in events)


@pytest.mark.parametrize(
    "body",
    [{"events": "not a list"}, {"events": [{"no_event_key": 1}]}, {"responses": [1]}],
)
async def test_invalid_response_is_refused_with_rasas_message(domain: Domain,
                                                             body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as error:
        await run_remote(domain, body)
    assert "Failed to validate Action server response" in error.value.message


def test_without_the_method_the_speed_up_is_switched_off_loudly(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    # Off is safe: the replacement is only faster (addons/rasa_compat.py).
    monkeypatch.delattr(RemoteAction, "_validate_action_result")
    assert action_result_validation.install() is False
    assert not hasattr(RemoteAction, "_validate_action_result")
    assert any(record.levelname == "ERROR" and "no longer applies" in record.getMessage()
               for record in caplog.records)
