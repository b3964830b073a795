"""Every patch of, and private access to, Rasa's internals, in one place, checked at start.

Rasa 3.6.21 is pinned (constraints.txt), and so are the libraries its server is built on
(python-socketio 5.16.3, python-engineio 4.13.3, Sanic-Cors 2.0.1). Where this project
replaces, wraps, overrides or calls something those packages keep private, the code
relies on how the pinned version is written, and a new version can break it silently: a
renamed method is simply no longer called. So each such place is recorded in
``INTERNALS`` below with the versions it was written for and the sha256 of every source
it patches or relies on (the function's or class's lines as ``inspect.getsource`` gives
them, read from the installed file, so a patch already applied never hides Rasa's own
source). ``check(key)`` compares them at start:

- a source that differs, or is gone, is a mismatch. Per internal, either the server
  refuses to start (``IncompatibleRasa``), or the patch is switched off and an error is
  logged; which one, and why, is written next to each entry;
- another version whose sources are all unchanged only logs a warning: the code relied
  on is byte for byte what was reviewed.

After a deliberate upgrade: review each mismatching source, adapt the code that uses it,
then record the new hash (``python -c "from addons import rasa_compat as c;
print(c.source_hash(c.source_of('module:Qual.name')))"``) and the new version.
tests/unit/test_rasa_compat.py (fast lane) fails on any mismatch before a server ever
starts, and proves each patch is installed and reached.

What is recorded (key: what, used by; on a mismatch):

- ``action_result_validation``: ``RemoteAction._validate_action_result`` is replaced by
  one that builds the JSON-schema validator once (addons/action_result_validation.py; a
  speed-up only). Rasa 3.6.21. Off: Rasa's own, slower check stays.
- ``message_hook``: ``MessageProcessor._handle_message_with_tracker`` is wrapped so a
  message passes through a hook (typed choices, addons/typed_choices.py) before the NLU,
  inside the lock, with the turn's tracker; ``log_message`` is the caller it must stay
  reachable from. ``MessageProcessor.handle_message`` is wrapped too, so a hook may
  leave a second message for its own turn right after (``then_handle``: the question
  typed after a choice, "1 不过为啥限我"), inside the same lock. Rasa 3.6.21. Refuses: on WeChat typing a number is the only way to
  answer buttons, and without the hook a stray "1" would start the identity check.
- ``agent_on_app``: the widget reads the tracker store of the agent Rasa's server keeps
  on the Sanic app (``app.ctx.agent.tracker_store``, set by ``load_agent_on_start`` and
  ``Agent.__init__``) for its duplicate detection and the transcript
  (addons/channels/widget.py). Rasa 3.6.21. Refuses: there is no safe way to switch
  either off (a resent message would run twice; a reload would show no history).
- ``sanic_cors_evaluated``: the widget sets Sanic-Cors' private "CORS evaluated" flag on
  the request for the responses whose Access-Control-Allow-Origin engine.io or the
  widget sets itself, so ``rasa run --cors`` does not add a second one
  (addons/channels/widget.py). Sanic-Cors 2.0.1. Off: the flag is no longer set; with
  ``--cors`` a browser on another site then refuses those responses (fails closed, no
  wider access), while REST, WeChat and the same-origin widget keep working; refusing
  would stop them all for a header.
- ``engineio_session_ids``: the widget's ``WidgetServer`` overrides python-socketio's
  private ``_engineio_server_class`` to prefix engine.io session ids with the replica's
  name (``WIDGET_NODE_ID``, for sticky routing; checked only when it is set).
  python-socketio 5.16.3, python-engineio 4.13.3. Refuses: unprefixed ids would send a
  connection's polls to other replicas, and widget connections would fail at random.
- ``policy_base``: ``HandoffPolicy`` uses ``Policy._resource``, ``_default_predictions``
  and ``_prediction`` (addons/policies/handoff.py). Rasa 3.6.21. Refuses: a broken
  handoff policy lets the bot answer a merchant an agent is talking to.
- ``rest_input_hooks``: the REST channel overrides ``RestInput._extract_sender`` and
  ``_extract_input_channel``, which Rasa's ``RestInput.blueprint`` calls
  (addons/channels/rest.py). Rasa 3.6.21. Refuses: the overrides keep REST callers out of
  WeChat and widget conversations; if Rasa stopped calling them, a caller could choose
  the channel and sender id again.
- ``no_fallback_tracker_store``: ``Agent._create_tracker_store`` is replaced and
  ``FailSafeTrackerStore`` subclassed (its private ``_tracker_store``) so a failing
  store refuses the turn instead of falling back to memory
  (addons/stores/tracker_store.py). Rasa 3.6.21. Refuses (what that module does today).
- ``private_sql_tracker_store``: ``PrivateSQLTrackerStore`` replaces
  ``SQLTrackerStore.save`` (``stream_events`` included), calls the private
  ``_additional_events`` and overrides ``_stream_new_events`` to mask personal data
  (addons/stores/tracker_store.py). Rasa 3.6.21. Refuses: a changed save path could
  write or stream unmasked personal data.

The last two are verified by the fast-lane test; addons/stores/tracker_store.py does not
call ``check`` for them at start yet.

No longer private (removed rather than recorded): the widget's output emits through
python-socketio itself instead of ``SocketIOOutput._send_message``, and its blueprint
keeps the socket.io path itself instead of reading Rasa's ``SocketBlueprint.ctx``. The
actions (rasa_sdk), the console (the rasa HTTP API only) and the NLU components use no
private API.
"""

from __future__ import annotations

import ast
import contextvars
import functools
import hashlib
import importlib
import importlib.metadata
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

REFUSE = "refuse"
DISABLE = "disable"

ACTION_RESULT_VALIDATION = "action_result_validation"
MESSAGE_HOOK = "message_hook"
AGENT_ON_APP = "agent_on_app"
SANIC_CORS_FLAG = "sanic_cors_evaluated"
ENGINEIO_SESSION_IDS = "engineio_session_ids"
POLICY_BASE = "policy_base"
REST_INPUT_HOOKS = "rest_input_hooks"
NO_FALLBACK_TRACKER_STORE = "no_fallback_tracker_store"
PRIVATE_SQL_TRACKER_STORE = "private_sql_tracker_store"

RASA = {"rasa": "3.6.21"}


class IncompatibleRasa(RuntimeError):
    """An internal this project relies on changed: the server must not start with it."""


@dataclass(frozen=True)
class Internal:
    key: str
    what: str
    used_by: str
    # Distribution name -> the version the code was written for.
    versions: Mapping[str, str]
    # "module:Qual.name" -> sha256 of its source (see ``source_of``).
    sources: Mapping[str, str]
    on_mismatch: str  # REFUSE or DISABLE
    # What a mismatch means for the merchant or the operator (part of the message).
    consequence: str


INTERNALS: dict[str, Internal] = {internal.key: internal for internal in [
    # Off is safe: the replacement is only faster, Rasa's own check does the same job.
    Internal(
        ACTION_RESULT_VALIDATION,
        "RemoteAction._validate_action_result replaced by a validator built once",
        "addons/action_result_validation.py", RASA,
        {"rasa.core.actions.action:RemoteAction._validate_action_result":
         "f8cdb4be6812396167ced74161b2ccd65c5ea676ad86d7d359d8c322d9d8dc42"},
        DISABLE, "Rasa's own (slower) validation of action responses stays in place."),
    # Refuses: without the hook WeChat buttons cannot be answered at all.
    Internal(
        MESSAGE_HOOK,
        "MessageProcessor._handle_message_with_tracker wrapped (typed choices)",
        "addons/typed_choices.py", RASA,
        {"rasa.core.processor:MessageProcessor._handle_message_with_tracker":
         "f42e1ae303933d9ffed67c0b879a946d68bee26ab9c991676c62d9c0f7e374d2",
         "rasa.core.processor:MessageProcessor.log_message":
         "f2f8ec66a291d83d783b7acda52bbc0cc2a093b27a67625d8b9882e95138fac1",
         "rasa.core.processor:MessageProcessor.handle_message":
         "0c41d4780d2d46769ef2ae2b3f450b88d2602e916590e8be9975aa474db9f7f4"},
        REFUSE, "Typed choices would silently stop: a number typed for a button would "
        "not pick it, and a stray number could start the identity check."),
    # Refuses: duplicate detection and the transcript have no safe off state.
    Internal(
        AGENT_ON_APP,
        "the agent's tracker store read from the Sanic app (app.ctx.agent.tracker_store)",
        "addons/channels/widget.py", RASA,
        {"rasa.core.run:load_agent_on_start":
         "b23e12447febeb64dfe0e78f545c37affae1059858280485b1094707a2704214",
         "rasa.core.agent:Agent.__init__":
         "ccaa168ffee74e4e74b2bf510088b68ebc666679cfe2b4bc7766978bb17305f7"},
        REFUSE, "The widget's duplicate detection would silently stop (a resent message "
        "runs twice) and its history after a reload would be empty."),
    # Off is safe: a browser refuses a response with two Allow-Origin headers (fails
    # closed); only cross-origin widgets under `rasa run --cors` stop working.
    Internal(
        SANIC_CORS_FLAG,
        "Sanic-Cors' private 'CORS evaluated' request flag set by the widget",
        "addons/channels/widget.py", {"Sanic-Cors": "2.0.1"},
        {"sanic_cors.core:SANIC_CORS_EVALUATED":
         "24ea52f7f529546bd7f18897ff8bd226c7f08f2c83379fc9871a78da97ddfa59",
         "sanic_cors.core:set_cors_headers":
         "472d19b23fd864f2d885eca4db460463ad314483f51aff76a726d408b0200edb",
         "sanic_cors.extension:unapplied_cors_response_middleware":
         "7c02d2b0495d8d175e511ab9095ac09a878c6b92a43260e1654a475ba00eeae9"},
        DISABLE, "With `rasa run --cors`, socket.io and transcript responses to other "
        "sites may carry two Access-Control-Allow-Origin headers, which browsers refuse."),
    # Refuses: unmarked session ids break sticky routing between replicas.
    Internal(
        ENGINEIO_SESSION_IDS,
        "python-socketio's _engineio_server_class overridden to prefix session ids",
        "addons/channels/widget.py (WIDGET_NODE_ID)",
        {"python-socketio": "5.16.3", "python-engineio": "4.13.3"},
        {"socketio.base_server:BaseServer.__init__":
         "6b998e091b34a5630d603af2af88d726877fe6a33a77f1772dec825353f42541",
         "socketio.async_server:AsyncServer._engineio_server_class":
         "199c42bf149247e0325bd5fb6c8bcc6c3703c5576704530fa92b383e0f777dd4",
         "engineio.base_server:BaseServer.generate_id":
         "b6a591454237c0bb4e57dfef897c3d1f45477d0582474a4f48df35d12a552c25",
         "engineio.async_server:AsyncServer._handle_connect":
         "5bd7edc1d1ae115ae973b4a39b435d3b243a3c9b1e3218f21bbeb7ef6aa37e93"},
        REFUSE, "Engine.io session ids would not carry WIDGET_NODE_ID: a load balancer "
        "could send a connection's polls to another replica."),
    # Refuses: the bot must never answer a conversation an agent holds.
    Internal(
        POLICY_BASE,
        "Policy._resource, _default_predictions and _prediction used by HandoffPolicy",
        "addons/policies/handoff.py", RASA,
        {"rasa.core.policies.policy:Policy.__init__":
         "29d66132c5aeab2e05efc677dfb1f3b8bcf72d878ced89ef65db4c983359f453",
         "rasa.core.policies.policy:Policy._prediction":
         "3e1fc2406a558615744d19755b3e6f3a548c574efc151bba991efcd24a74429e",
         "rasa.core.policies.policy:Policy._default_predictions":
         "2b22ab7cc6a86e9029558327a3f9dd145a5c11a8d6729fbdae398d1fc15bd0e1"},
        REFUSE, "The handoff policy could fail or mispredict, and the bot would answer "
        "merchants an agent is talking to."),
    # Refuses: the overrides are what keeps REST callers out of other channels.
    Internal(
        REST_INPUT_HOOKS,
        "RestInput._extract_sender / _extract_input_channel overridden",
        "addons/channels/rest.py", RASA,
        {"rasa.core.channels.rest:RestInput.blueprint":
         "886a9338e4c2505a0d2e70242c27887311d1529a18037dbd6d1dbfe77f699d0f",
         "rasa.core.channels.rest:RestInput._extract_sender":
         "1a9567a3062f0ab8b5dd5c670bd21dbd5d67b7bf260345295c562f6aabbd7177",
         "rasa.core.channels.rest:RestInput._extract_input_channel":
         "ca08e7f6dc2980a5013d4cf1aa8fb80e619e9cf1903b0accdb4e20e46f76f06c"},
        REFUSE, "A REST caller could choose the channel and the sender id again and "
        "continue a WeChat or widget conversation."),
    # Refuses, as addons/stores/tracker_store.py does today (not checked there at start).
    Internal(
        NO_FALLBACK_TRACKER_STORE,
        "Agent._create_tracker_store replaced; FailSafeTrackerStore subclassed",
        "addons/stores/tracker_store.py", RASA,
        {"rasa.core.agent:Agent._create_tracker_store":
         "97499b594b45581b2c6d8ff7adb9083af24eba85654995a40350de65633ca574",
         "rasa.core.agent:Agent.__init__":
         "ccaa168ffee74e4e74b2bf510088b68ebc666679cfe2b4bc7766978bb17305f7",
         "rasa.core.tracker_store:FailSafeTrackerStore":
         "84833481b14c227182874efd8cc077b834354f124289234c9ea26c053ec64e29"},
        REFUSE, "A failing tracker store could silently fall back to memory again."),
    # Refuses: a changed save path could write or stream unmasked personal data.
    Internal(
        PRIVATE_SQL_TRACKER_STORE,
        "SQLTrackerStore.save replaced, _additional_events and _stream_new_events used",
        "addons/stores/tracker_store.py", RASA,
        {"rasa.core.tracker_store:SQLTrackerStore.save":
         "57165e46eab3de0866e77f03df0bf7fd5eac2c1de617ed431b934c9a4edfeef6",
         "rasa.core.tracker_store:SQLTrackerStore._additional_events":
         "d22f99eb863acb07afee63d9fe3a04ca8464251e67a43eb7d36c2d65ffc1653f",
         "rasa.core.tracker_store:TrackerStore.stream_events":
         "efd3615f5340218a9edb4f386ed208d38f0d413d197eadc8b386d34fc8e4399c",
         "rasa.core.tracker_store:TrackerStore._stream_new_events":
         "a3990c70850759b80da1ecac9b2e585fa7c6a0ba6f1f741b401410186fd326e8"},
        REFUSE, "Personal data could reach the tracker database or the event broker "
        "unmasked."),
]}


# --- the check -------------------------------------------------------------------------
@functools.cache
def _module_source(module_name: str) -> tuple[list[str], ast.Module]:
    text = inspect.getsource(importlib.import_module(module_name))
    return text.splitlines(keepends=True), ast.parse(text)


def source_of(target: str) -> str:
    """The installed source of ``"module:Qual.name"`` (a function, class or module-level
    assignment), as ``inspect.getsource`` gives it for the unpatched object."""
    module_name, _, qualname = target.partition(":")
    lines, tree = _module_source(module_name)
    node: ast.AST = tree
    for part in qualname.split("."):
        # The last definition wins, as it does when the module runs.
        found = [child for child in ast.iter_child_nodes(node) if _defines(child, part)]
        if not found:
            raise LookupError(f"{target} is not in {module_name}")
        node = found[-1]
    decorators = getattr(node, "decorator_list", [])
    start = min([decorator.lineno for decorator in decorators] + [node.lineno])
    return "".join(lines[start - 1:node.end_lineno])


def _defines(node: ast.AST, name: str) -> bool:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return node.name == name
    return isinstance(node, ast.Assign) and any(
        isinstance(target, ast.Name) and target.id == name for target in node.targets)


def source_hash(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def installed_version(distribution: str) -> str | None:
    if distribution == "rasa":
        import rasa

        return str(rasa.__version__)
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def mismatches(internal: Internal, sources: Mapping[str, str] | None = None) -> list[str]:
    """What no longer matches the recorded sources (empty: all as recorded).
    ``sources`` stands in for installed source texts (a modified copy, in tests)."""
    problems = []
    for target, recorded in internal.sources.items():
        try:
            text = sources[target] if sources and target in sources else source_of(target)
        except (ImportError, LookupError, OSError, SyntaxError, TypeError) as error:
            problems.append(f"{target} not found ({error})")
            continue
        actual = source_hash(text)
        if actual != recorded:
            problems.append(f"{target} changed (sha256 {actual[:12]}, recorded {recorded[:12]})")
    return problems


def _versions(versions: Mapping[str, str | None]) -> str:
    return ", ".join(f"{name} {version}" for name, version in versions.items())


def mismatch(internal: Internal, problems: list[str],
             running: Mapping[str, str | None] | None = None) -> bool:
    """Applies the internal's policy to ``problems``: raises ``IncompatibleRasa``
    (REFUSE) or logs an error and returns False (DISABLE: the caller switches off)."""
    running = running or {name: installed_version(name) for name in internal.versions}
    message = (f"{internal.used_by} no longer applies to {_versions(running)} (written for "
               f"{_versions(internal.versions)}): {internal.what}: {'; '.join(problems)}. "
               f"{internal.consequence}")
    if internal.on_mismatch == REFUSE:
        raise IncompatibleRasa(f"{message} Refusing to start: review addons/rasa_compat.py.")
    logger.error("%s Switched off: review addons/rasa_compat.py.", message)
    return False


def verify(internal: Internal, *, sources: Mapping[str, str] | None = None,
           versions: Mapping[str, str | None] | None = None) -> bool:
    """True when ``internal`` applies to what is installed (``versions`` and ``sources``
    stand in for it in tests); a mismatch follows the internal's policy (``mismatch``)."""
    running = dict(versions or {name: installed_version(name) for name in internal.versions})
    problems = mismatches(internal, sources)
    if problems:
        return mismatch(internal, problems, running)
    if any(running.get(name) != version for name, version in internal.versions.items()):
        logger.warning("%s: %s was written for %s, running %s; the sources it relies on are "
                       "unchanged, so it still applies", internal.used_by, internal.what,
                       _versions(internal.versions), _versions(running))
    return True


_checked: dict[str, bool] = {}


def check(key: str) -> bool:
    """``verify`` of one recorded internal, once per process: True when it applies, False
    when it was switched off; raises ``IncompatibleRasa`` for one that refuses."""
    if key not in _checked:
        _checked[key] = verify(INTERNALS[key])
    return _checked[key]


# --- RemoteAction._validate_action_result (addons/action_result_validation.py) ----------
def replace_action_result_validation(replacement: Callable[[Any, dict[str, Any]], bool]) -> bool:
    """Installs ``replacement`` as ``RemoteAction._validate_action_result``; False (and
    Rasa's own kept, an error logged) when Rasa's changed."""
    from rasa.core.actions.action import RemoteAction

    if not callable(getattr(RemoteAction, "_validate_action_result", None)):
        return mismatch(INTERNALS[ACTION_RESULT_VALIDATION],
                        ["RemoteAction._validate_action_result is gone"])
    if not check(ACTION_RESULT_VALIDATION):
        return False
    RemoteAction._validate_action_result = replacement  # type: ignore[method-assign]
    return True


# --- MessageProcessor._handle_message_with_tracker (addons/typed_choices.py) ------------
# (processor, message, tracker) -> the message to handle instead.
MessageHook = Callable[[Any, Any, Any], Awaitable[Any]]


def installed_hooks() -> list[str]:
    """The names of the hooks before the NLU, the first to run first (hooks wrap each
    other: the last installed runs first)."""
    from rasa.core.processor import MessageProcessor

    names: list[str] = []
    handler = getattr(MessageProcessor, "_handle_message_with_tracker", None)
    while handler is not None:
        names.extend(n for n in getattr(handler, "hook_names", ()))
        handler = getattr(handler, "__wrapped__", None)
    return names


def hook_before_nlu(name: str, hook: MessageHook) -> None:
    """Every user message passes through ``hook`` before the NLU parses it: inside the
    conversation lock, with the tracker the turn works on (``handle_message`` ->
    ``log_message`` -> ``_handle_message_with_tracker`` -> ``parse_message``); the message
    it returns is handled (with its ``parse_data``, if set, instead of the NLU's). A hook
    that raises is logged and the message handled as it came. Installed once per
    ``name``; refuses to start when the method it wraps changed."""
    from rasa.core.processor import MessageProcessor

    original = getattr(MessageProcessor, "_handle_message_with_tracker", None)
    if name in installed_hooks():
        return  # installed already
    problems = []
    if original is None or not inspect.iscoroutinefunction(original) or \
            list(inspect.signature(original).parameters) != ["self", "message", "tracker"]:
        problems.append("MessageProcessor._handle_message_with_tracker(message, tracker) "
                        "is gone or has another signature")
    if not callable(getattr(MessageProcessor, "parse_message", None)):
        problems.append("MessageProcessor.parse_message is gone")
    if problems:
        mismatch(INTERNALS[MESSAGE_HOOK], problems)
    check(MESSAGE_HOOK)

    async def handle_message_with_tracker(self: Any, message: Any, tracker: Any) -> None:
        try:
            message = await hook(self, message, tracker)
        except Exception:  # noqa: BLE001 - the turn goes on with the message as it came
            logger.exception("%s: message passed on as typed", name)
        await original(self, message, tracker)  # type: ignore[misc]

    _install_then_handle()
    setattr(handle_message_with_tracker, name, True)
    handle_message_with_tracker.hook_names = (name,)  # type: ignore[attr-defined]
    handle_message_with_tracker.__wrapped__ = original  # type: ignore[attr-defined]
    MessageProcessor._handle_message_with_tracker = handle_message_with_tracker  # type: ignore[method-assign]


# A message a hook leaves for its own turn after the current one (``then_handle``).
_THEN: contextvars.ContextVar[list[Any] | None] = contextvars.ContextVar("then_handle",
                                                                       default=None)


def then_handle(message: Any) -> bool:
    """Handle ``message`` as its own turn right after the one being handled (same lock,
    same output channel); False outside a turn (nothing would handle it)."""
    pending = _THEN.get()
    if pending is None:
        return False
    pending.append(message)
    return True


def _install_then_handle() -> None:
    from rasa.core.processor import MessageProcessor

    original = MessageProcessor.handle_message
    if getattr(original, "then_handle", False):
        return

    async def handle_message(self: Any, message: Any) -> Any:
        pending: list[Any] = []
        token = _THEN.set(pending)
        try:
            result = await original(self, message)
            while pending:
                # Each its own turn: parsed, predicted and saved as if sent next.
                collected = getattr(message.output_channel, "messages", None)
                before = len(collected) if isinstance(collected, list) else 0
                result = await original(self, pending.pop(0))
                if isinstance(collected, list) and any(
                        m.get("buttons") for m in collected[before:]):
                    # One reply: the later turn's buttons are the ones to answer.
                    for earlier in collected[:before]:
                        earlier.pop("buttons", None)
            return result
        finally:
            _THEN.reset(token)

    handle_message.then_handle = True  # type: ignore[attr-defined]
    handle_message.__wrapped__ = original  # type: ignore[attr-defined]
    MessageProcessor.handle_message = handle_message  # type: ignore[method-assign]


# --- app.ctx.agent (addons/channels/widget.py) ------------------------------------------
def agent_tracker_store(app: Any) -> Any:
    """The tracker store of the agent Rasa's server runs: ``app.ctx.agent`` (set by
    ``rasa.core.run.load_agent_on_start``), ``.tracker_store`` (set by ``Agent.__init__``).
    None while no agent is loaded; an app or agent of another shape raises
    AttributeError (never a silent None: a missing store is not "no such message")."""
    if app is None:
        return None
    agent = getattr(app.ctx, "agent", None)
    if agent is None:
        return None
    return agent.tracker_store


# --- Sanic-Cors' evaluated flag (addons/channels/widget.py) -----------------------------
def _cors_flag() -> str:
    try:
        from sanic_cors.core import SANIC_CORS_EVALUATED as flag
    except ImportError:  # pragma: no cover - sanic-cors comes with rasa
        return "_sanic_cors_e"
    return str(flag)


def mark_cors_answered(request: Any) -> None:
    """Tells Sanic-Cors (``rasa run --cors``) that this request's CORS headers are set:
    it adds no second Access-Control-Allow-Origin. A no-op when switched off."""
    ctx = getattr(request, "ctx", None)
    if ctx is not None and check(SANIC_CORS_FLAG):
        setattr(ctx, _cors_flag(), "1")


# --- python-socketio's engine.io server class (addons/channels/widget.py) ---------------
def check_engineio_session_ids(engineio_server_class: type) -> None:
    """Refuses to start unless ``engineio_server_class`` still names its session ids
    through ``generate_id`` as recorded (``WidgetServer`` prefixes them)."""
    if not callable(getattr(engineio_server_class, "generate_id", None)):
        mismatch(INTERNALS[ENGINEIO_SESSION_IDS],
                 [f"{engineio_server_class.__qualname__}.generate_id is gone"])
    check(ENGINEIO_SESSION_IDS)


# --- Policy's protected helpers (addons/policies/handoff.py) ----------------------------
def policy_resource(policy: Any) -> Any:
    """The resource the graph gave the policy (``Policy.__init__``)."""
    return policy._resource


def default_predictions(policy: Any, domain: Any) -> list[float]:
    """A zero probability for every action of ``domain``."""
    return list(policy._default_predictions(domain))


def policy_prediction(policy: Any, probabilities: list[float],
                      events: list[Any] | None = None) -> Any:
    """The policy's ``PolicyPrediction`` (its name and priority) for ``probabilities``."""
    return policy._prediction(probabilities, events=events)
