"""Rasa compatibility (addons/rasa_compat.py): every recorded internal still matches what
is installed, a changed source is caught, and each patch is installed and reached through
Rasa's own code (no rasa server, no model).
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import re
import uuid
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any
from unittest.mock import AsyncMock

import pytest
from multidict import CIMultiDict
from rasa.core import agent as rasa_agent
from rasa.core import run as rasa_run
from rasa.core.actions.action import RemoteAction
from rasa.core.agent import Agent
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.policies.policy import Policy
from rasa.core.processor import MessageProcessor
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sanic import Sanic, response
from sanic_cors.core import DEFAULT_OPTIONS, parse_resources, serialize_options
from sanic_cors.extension import unapplied_cors_response_middleware

import addons  # noqa: F401 - installs the patches, as the rasa server does
from addons import action_result_validation, rasa_compat, typed_choices
from addons.channels.rest import RestInput
from addons.channels.wechat_store import MemoryStore
from addons.channels.widget import (
    WidgetConfig,
    WidgetInput,
    WidgetOutput,
    WidgetServer,
    session_id_for,
)
from addons.policies.handoff import HandoffPolicy
from addons.rasa_compat import INTERNALS, IncompatibleRasa
from tests.conftest import PROJECT_ROOT

SECRET = "compat-" + "s" * 40
CHANGED = "    pass  # a line Rasa added\n"


@pytest.fixture
def changed(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """``changed(key)``: the installed sources of that internal differ from the recorded."""

    def change(key: str) -> None:
        targets = set(INTERNALS[key].sources)
        real = rasa_compat.source_of
        monkeypatch.setattr(rasa_compat, "source_of",
                            lambda target: real(target) + (CHANGED if target in targets else ""))
        monkeypatch.setattr(rasa_compat, "_checked", {})

    return change


def pins() -> dict[str, str]:
    lines = (PROJECT_ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines()
    found = (re.match(r"^([A-Za-z0-9_.-]+)==([^\s;#]+)", line) for line in lines)
    return {m.group(1).lower(): m.group(2) for m in found if m}


# --- the records --------------------------------------------------------------------------
@pytest.mark.parametrize("key", sorted(INTERNALS))
def test_every_recorded_source_is_the_installed_one(key: str) -> None:
    assert rasa_compat.mismatches(INTERNALS[key]) == []


@pytest.mark.parametrize("key", sorted(INTERNALS))
def test_recorded_versions_are_the_pinned_and_installed_ones(key: str) -> None:
    for name, version in INTERNALS[key].versions.items():
        assert pins()[name.lower()] == version, f"{name}: constraints.txt pins another"
        assert rasa_compat.installed_version(name) == version


def test_rasas_version_is_read_from_rasa_itself() -> None:
    import rasa

    assert rasa_compat.installed_version("rasa") == rasa.__version__ == "3.6.21"


def test_every_internal_is_listed_in_the_module_docstring() -> None:
    doc = rasa_compat.__doc__ or ""
    for key, internal in INTERNALS.items():
        assert f"``{key}``" in doc
        assert internal.used_by.split(" ")[0] in doc
        assert internal.on_mismatch in (rasa_compat.REFUSE, rasa_compat.DISABLE)


def _live(target: str) -> Any:
    module, _, qualname = target.partition(":")
    value: Any = __import__(module, fromlist=["_"])
    for part in qualname.split("."):
        value = getattr(value, part)
    return value


@pytest.mark.parametrize("target", sorted({t for i in INTERNALS.values() for t in i.sources}))
def test_a_source_is_read_as_inspect_getsource_reads_the_unpatched_object(target: str) -> None:
    value = _live(target)
    if not (inspect.isfunction(value) or inspect.isclass(value)):
        assert value == "_sanic_cors_e" and "SANIC_CORS_EVALUATED" in rasa_compat.source_of(target)
        return
    if inspect.unwrap(value).__module__.startswith("addons."):
        # Replaced outright here (action validation, the tracker store factory): the
        # installed file still holds Rasa's, which is what is recorded.
        assert "addons" not in rasa_compat.source_of(target)
        return
    assert rasa_compat.source_of(target) == inspect.getsource(value)


# --- a changed source -----------------------------------------------------------------------
def test_a_modified_copy_of_a_refusing_internals_source_refuses_to_start() -> None:
    internal = INTERNALS[rasa_compat.MESSAGE_HOOK]
    target = "rasa.core.processor:MessageProcessor._handle_message_with_tracker"
    original = rasa_compat.source_of(target)
    modified = original.replace("if message.parse_data:", "if False:")
    assert modified != original
    with pytest.raises(IncompatibleRasa) as refused:
        rasa_compat.verify(internal, sources={target: modified})
    text = str(refused.value)
    assert target in text and "addons/typed_choices.py" in text and "3.6.21" in text
    assert rasa_compat.verify(internal, sources={target: original}) is True


def test_a_modified_copy_of_a_disabling_internals_source_switches_it_off(
    caplog: pytest.LogCaptureFixture,
) -> None:
    internal = INTERNALS[rasa_compat.ACTION_RESULT_VALIDATION]
    target, = internal.sources
    modified = rasa_compat.source_of(target).replace("jsonschema", "fastjsonschema")
    with caplog.at_level(logging.ERROR, logger="addons.rasa_compat"):
        assert rasa_compat.verify(internal, sources={target: modified}) is False
    assert any(target in r.getMessage() and "Switched off" in r.getMessage()
               for r in caplog.records)


def test_a_source_that_is_gone_is_a_mismatch() -> None:
    internal = INTERNALS[rasa_compat.POLICY_BASE]
    gone = {**internal.sources, "rasa.core.policies.policy:Policy._no_such_helper": "0" * 64}
    problems = rasa_compat.mismatches(dataclasses.replace(internal, sources=gone))
    assert problems == ["rasa.core.policies.policy:Policy._no_such_helper not found "
                        "(rasa.core.policies.policy:Policy._no_such_helper is not in "
                        "rasa.core.policies.policy)"]


def test_another_version_with_the_same_sources_still_applies_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="addons.rasa_compat"):
        assert rasa_compat.verify(INTERNALS[rasa_compat.MESSAGE_HOOK],
                                  versions={"rasa": "3.6.22"}) is True
    assert any("3.6.22" in r.getMessage() and "unchanged" in r.getMessage()
               for r in caplog.records)


# --- action-response validation ------------------------------------------------------------
def test_the_validation_speed_up_is_installed() -> None:
    assert RemoteAction._validate_action_result is action_result_validation.validate_action_result


def test_a_changed_validation_keeps_rasas_own(
    monkeypatch: pytest.MonkeyPatch, changed: Callable[[str], None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    def rasas_own(self: Any, result: Any) -> bool:
        return True

    monkeypatch.setattr(RemoteAction, "_validate_action_result", rasas_own)
    changed(rasa_compat.ACTION_RESULT_VALIDATION)
    assert action_result_validation.install() is False
    assert RemoteAction._validate_action_result is rasas_own
    assert any(r.levelname == "ERROR" and "Rasa's own" in r.getMessage()
               for r in caplog.records)


# --- the hook before the NLU (typed choices) -----------------------------------------------
def _processor(tracker: DialogueStateTracker) -> MessageProcessor:
    """A processor without a model: Rasa's own log_message and
    _handle_message_with_tracker run; fetching, parsing and saving are stand-ins."""
    processor = MessageProcessor.__new__(MessageProcessor)
    processor.domain = Domain.empty()
    processor.fetch_tracker_and_update_session = AsyncMock(return_value=tracker)  # type: ignore[method-assign]
    processor.save_tracker = AsyncMock()  # type: ignore[method-assign]

    async def parse_message(message: UserMessage, tracker: Any = None) -> dict[str, Any]:
        return {"text": message.text, "intent": {"name": "affirm", "confidence": 1.0},
                "entities": []}

    processor.parse_message = parse_message  # type: ignore[method-assign]
    return processor


async def test_the_typed_choice_hook_runs_inside_rasas_own_log_message() -> None:
    handler = MessageProcessor._handle_message_with_tracker
    assert rasa_compat.installed_hooks() == ["topic_context", "typed_choices"]
    assert rasa_compat.source_hash(inspect.getsource(handler)) == INTERNALS[
        rasa_compat.MESSAGE_HOOK].sources[
            "rasa.core.processor:MessageProcessor._handle_message_with_tracker"]
    tracker = DialogueStateTracker.from_events("u1", [
        ActionExecuted("action_listen"), UserUttered("外地客户怎么付款"),
        BotUttered("要我帮你挑一个吗？", {"buttons": [
            {"title": "1 帮我挑一个", "payload": "/affirm"},
            {"title": "2 不用了", "payload": "/deny"}]})])
    message = UserMessage("2", CollectingOutputChannel(), "u1", input_channel="rest")

    logged = await MessageProcessor.log_message(_processor(tracker), message)

    latest = logged.latest_message
    assert latest is not None and latest.text == "/deny"
    assert latest.metadata["choice"]["typed"] == "2"


async def test_a_changed_message_processor_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch, changed: Callable[[str], None],
) -> None:
    unwrapped = inspect.unwrap(MessageProcessor._handle_message_with_tracker)
    monkeypatch.setattr(MessageProcessor, "_handle_message_with_tracker", unwrapped)
    changed(rasa_compat.MESSAGE_HOOK)
    with pytest.raises(IncompatibleRasa, match="typed_choices"):
        typed_choices.install()
    assert MessageProcessor._handle_message_with_tracker is unwrapped


async def test_a_method_with_another_signature_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def other(self: Any, message: Any, tracker: Any, extra: Any) -> None:
        return None

    monkeypatch.setattr(MessageProcessor, "_handle_message_with_tracker", other)
    with pytest.raises(IncompatibleRasa, match="another signature"):
        typed_choices.install()


# --- the widget: Rasa's agent on the Sanic app ---------------------------------------------
@pytest.fixture
def rasa_app(monkeypatch: pytest.MonkeyPatch) -> tuple[Sanic, WidgetInput]:
    """The app `rasa run` builds, with the widget channel registered by Rasa itself."""
    monkeypatch.setattr(Sanic, "test_mode", True)
    channel = WidgetInput(WidgetConfig(), claims=MemoryStore())
    app = rasa_run.configure_app([channel], cors="*", enable_api=False)
    return app, channel


async def _load_agent(app: Sanic, monkeypatch: pytest.MonkeyPatch) -> Agent:
    """Rasa's own load_agent_on_start, with an agent that needs no model; wherever Rasa
    keeps it is Rasa's business (the test does not assume app.ctx.agent)."""
    loaded = Agent(domain=Domain.empty(), tracker_store=InMemoryTrackerStore(Domain.empty()))

    async def load_agent(**_: Any) -> Agent:
        return loaded

    monkeypatch.setattr(rasa_agent, "load_agent", load_agent)
    await rasa_run.load_agent_on_start("model.tar.gz", None, None, app, None)  # type: ignore[arg-type]
    return loaded


async def test_widget_duplicate_detection_reaches_the_store_of_rasas_agent(
    rasa_app: tuple[Sanic, WidgetInput], monkeypatch: pytest.MonkeyPatch,
) -> None:
    app, channel = rasa_app
    agent = await _load_agent(app, monkeypatch)
    channel._app = app  # what its before_server_start listener does
    session_id = session_id_for(SECRET)
    store = agent.tracker_store
    await store.save(DialogueStateTracker.from_events(session_id, [
        UserUttered("你好", metadata={"widget": {"message_id": "msg-00001"}})]))

    assert await channel.already_processed(session_id, "msg-00001") is True
    assert await channel.already_processed(session_id, "msg-00002") is False
    status, body = await channel.transcript_for(
        f'{{"secret": "{SECRET}", "session_id": "{session_id}"}}'.encode(), app)
    assert status == 200 and [m["text"] for m in body["messages"]] == ["你好"]


async def test_before_the_agent_is_loaded_nothing_is_a_duplicate(
    rasa_app: tuple[Sanic, WidgetInput],
) -> None:
    app, channel = rasa_app
    channel._app = app
    assert rasa_compat.agent_tracker_store(app) is None
    assert await channel.already_processed(session_id_for(SECRET), "msg-00001") is False


async def test_an_agent_without_a_tracker_store_is_an_error_not_a_new_message() -> None:
    # The old getattr chain read this as "no tracker": duplicate detection silently off.
    channel = WidgetInput(WidgetConfig(), claims=MemoryStore())
    channel._app = SimpleNamespace(ctx=SimpleNamespace(agent=SimpleNamespace()))
    with pytest.raises(AttributeError, match="tracker_store"):
        await channel.already_processed(session_id_for(SECRET), "msg-00001")


def test_a_changed_agent_loading_refuses_to_start_the_widget(
    changed: Callable[[str], None],
) -> None:
    changed(rasa_compat.AGENT_ON_APP)
    channel = WidgetInput(WidgetConfig(), claims=MemoryStore())
    with pytest.raises(IncompatibleRasa, match="duplicate detection"):
        channel.blueprint(AsyncMock())


async def test_widget_output_emits_what_rasas_send_message_emitted() -> None:
    sio = SimpleNamespace(emit=AsyncMock())
    output = WidgetOutput(sio, "bot_uttered")  # type: ignore[arg-type]
    await output.send_response("room-1", {"text": "选一个 ", "buttons": [
        {"title": "好", "payload": "/affirm"}]})
    sio.emit.assert_awaited_once_with(
        "bot_uttered", {"text": "选一个", "buttons": [{"title": "好", "payload": "/affirm"}]},
        room="room-1")


# --- the widget: Sanic-Cors' flag ----------------------------------------------------------
async def _allow_origin_headers(mark: bool) -> list[str]:
    """The Access-Control-Allow-Origin headers of a response the widget answered itself,
    after Sanic-Cors' response middleware (what `rasa run --cors "*"` installs) ran."""
    resources = [(pattern, serialize_options({**DEFAULT_OPTIONS, **options}))
                 for pattern, options in parse_resources({r"/*": {"origins": "*"}})]
    context = SimpleNamespace(resources=resources, log=lambda *_, **__: None)
    request = SimpleNamespace(ctx=SimpleNamespace(), path="/widget/transcript",
                              method="POST",
                              headers=CIMultiDict({"Origin": "https://shop.example"}))
    answer = response.json({}, headers={"Access-Control-Allow-Origin": "https://shop.example"})
    if mark:
        rasa_compat.mark_cors_answered(request)
    await unapplied_cors_response_middleware(request, answer, context=context)
    return list(answer.headers.getall("Access-Control-Allow-Origin"))


async def test_the_cors_mark_is_the_flag_sanic_cors_reads() -> None:
    assert await _allow_origin_headers(mark=False) == ["https://shop.example"] * 2
    assert await _allow_origin_headers(mark=True) == ["https://shop.example"]


async def test_a_changed_sanic_cors_switches_the_mark_off_loudly(
    changed: Callable[[str], None], caplog: pytest.LogCaptureFixture,
) -> None:
    changed(rasa_compat.SANIC_CORS_FLAG)
    channel = WidgetInput(WidgetConfig(), claims=MemoryStore())
    channel.blueprint(AsyncMock())  # starts: only cross-origin CORS is affected
    assert any(r.levelname == "ERROR" and "Access-Control-Allow-Origin" in r.getMessage()
               for r in caplog.records)
    assert await _allow_origin_headers(mark=True) == ["https://shop.example"] * 2


# --- the widget: engine.io session ids -----------------------------------------------------
def test_session_ids_carry_the_replica_name() -> None:
    server = WidgetServer(node_id="node-7", async_mode="asgi")
    assert server.eio.generate_id().startswith("node-7.")
    assert not WidgetServer(async_mode="asgi").eio.generate_id().startswith("node-7.")


def test_a_changed_engineio_refuses_to_name_session_ids(
    changed: Callable[[str], None],
) -> None:
    changed(rasa_compat.ENGINEIO_SESSION_IDS)
    WidgetServer(async_mode="asgi")  # no replica name: nothing to check
    with pytest.raises(IncompatibleRasa, match="WIDGET_NODE_ID"):
        WidgetServer(node_id="node-7", async_mode="asgi")


# --- the handoff policy ----------------------------------------------------------------------
def _policy(tmp_path: Any, cls: type[Policy]) -> Any:
    return cls({**cls.get_default_config()}, LocalModelStorage(tmp_path), Resource("policy"),
               ExecutionContext(GraphSchema({}), uuid.uuid4().hex))


class ProbePolicy(Policy):
    """The smallest policy: exactly what HandoffPolicy asks of its base class."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"priority": 7}

    def train(self, *args: Any, **kwargs: Any) -> Resource:
        return rasa_compat.policy_resource(self)

    def predict_action_probabilities(self, tracker: Any, domain: Any, *args: Any,
                                     **kwargs: Any) -> Any:
        result = rasa_compat.default_predictions(self, domain)
        result[domain.index_for_action("action_listen")] = 1.0
        return rasa_compat.policy_prediction(self, result, [ActiveLoop(None)])


def test_the_policy_helpers_give_what_the_handoff_policy_needs(tmp_path: Any) -> None:
    policy = _policy(tmp_path, ProbePolicy)
    domain = Domain.empty()
    assert policy.train([], domain) == Resource("policy")
    prediction = policy.predict_action_probabilities(
        DialogueStateTracker.from_events("u1", []), domain)
    assert prediction.probabilities == [1.0 if name == "action_listen" else 0.0
                                        for name in domain.action_names_or_texts]
    assert (prediction.policy_name, prediction.policy_priority) == ("ProbePolicy", 7)
    assert prediction.events == [ActiveLoop(None)]


def test_the_handoff_policy_loads_and_refuses_a_changed_policy_base(
    tmp_path: Any, changed: Callable[[str], None],
) -> None:
    policy = _policy(tmp_path, HandoffPolicy)
    assert policy.train([], Domain.empty()) == Resource("policy")
    changed(rasa_compat.POLICY_BASE)
    with pytest.raises(IncompatibleRasa, match="agent is talking to"):
        _policy(tmp_path, HandoffPolicy)


# --- the REST channel ------------------------------------------------------------------------
def test_the_rest_channel_refuses_a_changed_rest_input(changed: Callable[[str], None]) -> None:
    RestInput().blueprint(AsyncMock())
    changed(rasa_compat.REST_INPUT_HOOKS)
    with pytest.raises(IncompatibleRasa, match="channel and the sender id"):
        RestInput().blueprint(AsyncMock())
