"""Validate action-server responses with a JSON-schema validator built once.

Rasa 3.6's ``RemoteAction._validate_action_result`` calls ``jsonschema.validate``
for every custom-action call, and that function re-checks the schema itself each
time: about 17 ms per call on this 2-core machine, most of a turn (measured by the
benchmark, see bench/README.md). The checks and the error message stay the same;
only the schema check moves to the first call.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jsonschema import ValidationError
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL

from addons import rasa_compat


@lru_cache(maxsize=1)
def action_response_validator() -> Validator:
    schema = RemoteAction.action_response_format_spec()
    validator_class = validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    try:
        action_response_validator().validate(result)
        return True
    except ValidationError as error:
        error.message += (
            ". Failed to validate Action server response from API, "
            "make sure your response from the Action endpoint is valid. "
            f"For more information about the format visit {DOCS_BASE_URL}/custom-actions"
        )
        raise error


def install() -> bool:
    """Replaces Rasa's per-call schema check. When Rasa's changed, logs an error and keeps
    Rasa's own, returning False (addons/rasa_compat.py: the replacement is only faster)."""
    return rasa_compat.replace_action_result_validation(validate_action_result)
