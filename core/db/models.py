"""Tables of the merchant database (SQLAlchemy 1.4, 2.0 style)."""

from __future__ import annotations

import datetime as dt
import enum
import secrets

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import declarative_base, relationship
from sqlalchemy.types import TypeDecorator

from core.privacy import is_sealed, seal, unseal

Base = declarative_base()


class Sealed(TypeDecorator):
    """Text kept sealed at rest (``core.privacy.seal``, the slot-sealing key): written
    sealed, read open. A value that does not open here (another machine's key) is read
    as the sealed token itself, which nothing shows or sends as text."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: object) -> str | None:
        if value is None or is_sealed(value):
            return value
        return seal(value)

    def process_result_value(self, value: str | None, dialect: object) -> str | None:
        if value is None:
            return None
        opened = unseal(value)
        return value if opened is None else opened


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def new_ref() -> str:
    """An opaque, unguessable handoff reference (history links; ids are sequential)."""
    return secrets.token_urlsafe(16)


class AccountStatus(str, enum.Enum):
    normal = "normal"
    restricted = "restricted"
    risk_controlled = "risk_controlled"
    frozen = "frozen"


# Appeals in these states are "open": a merchant may have one at a time.
OPEN_APPEAL_SQL = "status IN ('submitted', 'reviewing')"


class AppealStatus(str, enum.Enum):
    submitted = "submitted"
    reviewing = "reviewing"
    approved = "approved"
    rejected = "rejected"

    @property
    def is_open(self) -> bool:
        return self in (AppealStatus.submitted, AppealStatus.reviewing)


class Merchant(Base):
    __tablename__ = "merchants"

    id = Column(String(10), primary_key=True)
    name = Column(String(100), nullable=False)
    business_type = Column(String(40), nullable=False)
    bound_phone = Column(String(11), nullable=False)
    created_at = Column(DateTime, nullable=False, default=utcnow)

    states = relationship("AccountState", back_populates="merchant", order_by="AccountState.since")
    appeals = relationship("Appeal", back_populates="merchant", order_by="Appeal.created_at")


class AccountState(Base):
    """One row per state change; the newest row is the current state."""

    __tablename__ = "account_states"

    id = Column(Integer, primary_key=True, autoincrement=True)
    merchant_id = Column(String(10), ForeignKey("merchants.id"), nullable=False)
    status = Column(Enum(AccountStatus, name="account_status"), nullable=False)
    reason_code = Column(String(40))
    since = Column(DateTime, nullable=False, default=utcnow)
    can_collect = Column(Boolean, nullable=False, default=True)
    can_withdraw = Column(Boolean, nullable=False, default=True)

    merchant = relationship("Merchant", back_populates="states")

    __table_args__ = (Index("ix_account_states_merchant_since", "merchant_id", "since"),)


class Appeal(Base):
    __tablename__ = "appeals"

    # AP + yyyymmdd + 3-digit daily sequence, e.g. AP20261120001
    id = Column(String(13), primary_key=True)
    merchant_id = Column(String(10), ForeignKey("merchants.id"), nullable=False)
    category = Column(String(40), nullable=False)
    description = Column(Text, nullable=False)
    contact_phone = Column(String(11), nullable=False)
    status = Column(Enum(AppealStatus, name="appeal_status"), nullable=False)
    decision_note = Column(Text)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    updated_at = Column(DateTime, nullable=False, default=utcnow, onupdate=utcnow)

    merchant = relationship("Merchant", back_populates="appeals")

    __table_args__ = (
        Index("ix_appeals_merchant_created", "merchant_id", "created_at"),
        # One open appeal per merchant, also under concurrent filings (migration 0003).
        Index(
            "uq_appeals_one_open_per_merchant",
            "merchant_id",
            unique=True,
            sqlite_where=text(OPEN_APPEAL_SQL),
            postgresql_where=text(OPEN_APPEAL_SQL),
        ),
    )


class IdentityBinding(Base):
    """A channel user (e.g. a WeChat OpenID) verified as the owner of a merchant."""

    __tablename__ = "identity_bindings"

    channel = Column(String(40), primary_key=True)
    sender_id = Column(String(128), primary_key=True)
    merchant_id = Column(String(10), ForeignKey("merchants.id"), nullable=False)
    verified_at = Column(DateTime, nullable=False, default=utcnow)


class VerificationAttempt(Base):
    __tablename__ = "verification_attempts"

    id = Column(Integer, primary_key=True, autoincrement=True)
    channel = Column(String(40), nullable=False)
    sender_id = Column(String(128), nullable=False)
    # The merchant id typed, whether it exists or not (limits guessing across senders).
    merchant_id = Column(String(10))
    success = Column(Boolean, nullable=False)
    attempted_at = Column(DateTime, nullable=False, default=utcnow)

    __table_args__ = (
        Index("ix_verification_attempts_sender", "channel", "sender_id", "attempted_at"),
        Index("ix_verification_attempts_merchant", "merchant_id", "attempted_at"),
    )


# --- human handoff (the agent console's own tables) ------------------------------------


class HandoffStatus(str, enum.Enum):
    """Who owns a conversation: waiting (queued) → agent → closed (back to the bot).
    A ticket is a message left outside working hours; cancelled: the merchant stopped
    waiting."""

    waiting = "waiting"
    agent = "agent"
    ticket = "ticket"
    closed = "closed"
    cancelled = "cancelled"

    @property
    def is_open(self) -> bool:
        return self in (HandoffStatus.waiting, HandoffStatus.agent, HandoffStatus.ticket)


OPEN_HANDOFF_SQL = "status IN ('waiting', 'agent', 'ticket')"


class QueueEnd(str, enum.Enum):
    """Why a waiting handoff left the queue without an agent (the console's watcher lets
    go of a queue nobody serves): a ticket, or closed when a widget visitor who left
    cannot be reached."""

    no_agent = "no_agent"  # nobody online any more
    hours_ended = "hours_ended"  # the service hours ended
    left = "left"  # the widget visitor left (closed the page) and did not come back


class AgentPresence(str, enum.Enum):
    offline = "offline"
    online = "online"
    away = "away"


class DeliveryStatus(str, enum.Enum):
    pending = "pending"
    sent = "sent"
    failed = "failed"


class Agent(Base):
    """A support agent of the console (accounts are created by `make agent`)."""

    __tablename__ = "agents"

    id = Column(Integer, primary_key=True, autoincrement=True)
    username = Column(String(40), nullable=False, unique=True)
    display_name = Column(String(40), nullable=False)
    password_hash = Column(String(255), nullable=False)
    presence = Column(Enum(AgentPresence, name="agent_presence", native_enum=False),
                      nullable=False, default=AgentPresence.offline)
    max_open = Column(Integer, nullable=False, default=3)
    # A supervisor reads every closed conversation (history); agents read their own.
    supervisor = Column(Boolean, nullable=False, default=False, server_default=text("false"))
    failed_logins = Column(Integer, nullable=False, default=0)
    locked_until = Column(DateTime)
    last_seen_at = Column(DateTime)
    created_at = Column(DateTime, nullable=False, default=utcnow)


class AgentSession(Base):
    """A signed-in console session; only a hash of the cookie value is stored."""

    __tablename__ = "agent_sessions"

    token_hash = Column(String(64), primary_key=True)
    agent_id = Column(Integer, ForeignKey("agents.id"), nullable=False)
    csrf_token = Column(String(64), nullable=False)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    expires_at = Column(DateTime, nullable=False)


class Handoff(Base):
    """One handoff of one conversation to a person, from queueing to closing."""

    __tablename__ = "handoffs"

    id = Column(Integer, primary_key=True, autoincrement=True)
    # How history names it: closed handoffs are read by this, never by the sequential id.
    ref = Column(String(32), nullable=False, default=new_ref)
    channel = Column(String(40), nullable=False)
    sender_id = Column(String(128), nullable=False)
    merchant_id = Column(String(10))  # verified merchant, if any
    # merchant_asked / not_understood / locked_out / appeal_help / ...
    reason = Column(String(40), nullable=False)
    problem = Column(Text)  # the merchant's one-line problem, personal data masked
    status = Column(Enum(HandoffStatus, name="handoff_status", native_enum=False),
                    nullable=False)
    agent_id = Column(Integer, ForeignKey("agents.id"))
    # What the assistant knew when queueing (masked JSON): the agent's account panel.
    account_snapshot = Column(Text)
    contact_method = Column(String(20))  # tickets: "chat" or "phone"
    # The call-back number, sealed at rest; whole only for the agent holding the ticket.
    contact_phone = Column(Sealed)
    queued_at = Column(DateTime, nullable=False, default=utcnow)
    claimed_at = Column(DateTime)
    first_reply_at = Column(DateTime)
    closed_at = Column(DateTime)
    resolution = Column(Text)  # personal numbers masked (core.db.handoffs.close)
    satisfaction = Column(Integer)
    # The widget visitor's last socket went away while waiting (NULL: here, or back).
    left_at = Column(DateTime)
    # Let go of by the queue without an agent (core.db.handoffs.let_go): why and when,
    # and when the merchant was told (NULL with queue_end set: still to tell).
    queue_end = Column(Enum(QueueEnd, name="queue_end", native_enum=False,
                            create_constraint=False, length=20))
    queue_ended_at = Column(DateTime)
    queue_notified_at = Column(DateTime)
    # The 会话小结 label the agent chose when closing (console.labels; migration 0012).
    label_id = Column(Integer, ForeignKey("handoff_labels.id"))
    updated_at = Column(DateTime, nullable=False, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        Index("ix_handoffs_status_queued", "status", "queued_at"),
        Index("ix_handoffs_conversation", "channel", "sender_id", "queued_at"),
        UniqueConstraint("ref", name="uq_handoffs_ref"),
        # One open handoff per conversation, also under concurrent requests.
        Index(
            "uq_handoffs_one_open_per_conversation",
            "channel",
            "sender_id",
            unique=True,
            sqlite_where=text(OPEN_HANDOFF_SQL),
            postgresql_where=text(OPEN_HANDOFF_SQL),
        ),
    )


class HandoffNote(Base):
    """An agent's internal note on a handoff (never shown to the merchant); personal
    numbers masked before it is stored, like the handoff's resolution."""

    __tablename__ = "handoff_notes"

    id = Column(Integer, primary_key=True, autoincrement=True)
    handoff_id = Column(Integer, ForeignKey("handoffs.id"), nullable=False, index=True)
    agent_id = Column(Integer, ForeignKey("agents.id"), nullable=False)
    text = Column(Text, nullable=False)
    created_at = Column(DateTime, nullable=False, default=utcnow)


class HandoffRead(Base):
    """Audit: an agent opened a closed conversation (history, transcript, notes)."""

    __tablename__ = "handoff_reads"

    id = Column(Integer, primary_key=True, autoincrement=True)
    handoff_id = Column(Integer, ForeignKey("handoffs.id"), nullable=False, index=True)
    agent_id = Column(Integer, ForeignKey("agents.id"), nullable=False)
    read_at = Column(DateTime, nullable=False, default=utcnow)


class AgentMessage(Base):
    """An agent's reply and whether it reached the merchant (a failure shows a retry)."""

    __tablename__ = "agent_messages"

    id = Column(Integer, primary_key=True, autoincrement=True)
    handoff_id = Column(Integer, ForeignKey("handoffs.id"), nullable=False, index=True)
    agent_id = Column(Integer, ForeignKey("agents.id"), nullable=False)
    text = Column(Text, nullable=False)  # as shown: personal numbers masked
    # What the agent typed, sealed, until it is delivered (a retry sends it again).
    outgoing = Column(Sealed)
    status = Column(Enum(DeliveryStatus, name="delivery_status", native_enum=False),
                    nullable=False, default=DeliveryStatus.pending)
    error = Column(Text)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    sent_at = Column(DateTime)


# ``text`` is a column name below (CannedReply.text): the server default made before.
TRUE = text("true")


# --- team tools: canned replies, 会话小结 labels, who changed them (migration 0012) ------


class CannedReply(Base):
    """A reply the team keeps for agents (console.canned): written in the agent's own
    voice, picked by its title or typed as its shortcut (``/95017``), with variables
    (``{商户号}``) filled from the conversation when it is inserted. Never deleted:
    a supervisor disables it (its shortcut stays taken, so an old habit never sends
    another text)."""

    __tablename__ = "canned_replies"

    id = Column(Integer, primary_key=True, autoincrement=True)
    title = Column(String(40), nullable=False)
    shortcut = Column(String(24), nullable=False)  # "/95017", stored lower-case
    text = Column(Text, nullable=False)
    active = Column(Boolean, nullable=False, default=True, server_default=TRUE)
    position = Column(Integer, nullable=False, default=0)
    # Bumped by every change: an edit made on an older version is refused.
    version = Column(Integer, nullable=False, default=1)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    updated_at = Column(DateTime, nullable=False, default=utcnow)
    updated_by = Column(Integer, ForeignKey("agents.id"))  # NULL: the first-use seed

    __table_args__ = (UniqueConstraint("shortcut", name="uq_canned_replies_shortcut"),)


class HandoffLabel(Base):
    """One label of the 会话小结 taxonomy an agent picks when closing a handoff
    (console.labels). Never deleted: a disabled label stays on the handoffs that had it
    and in the history search."""

    __tablename__ = "handoff_labels"

    id = Column(Integer, primary_key=True, autoincrement=True)
    name = Column(String(20), nullable=False)
    active = Column(Boolean, nullable=False, default=True, server_default=TRUE)
    position = Column(Integer, nullable=False, default=0)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    updated_at = Column(DateTime, nullable=False, default=utcnow)

    __table_args__ = (UniqueConstraint("name", name="uq_handoff_labels_name"),)


class TeamChange(Base):
    """Audit of the team tools: who created, edited, disabled or enabled which canned
    reply or label, and what it was before and after (JSON)."""

    __tablename__ = "team_changes"

    id = Column(Integer, primary_key=True, autoincrement=True)
    kind = Column(String(20), nullable=False)  # "canned_reply" / "handoff_label"
    item_id = Column(Integer, nullable=False)
    action = Column(String(20), nullable=False)  # seeded / created / edited / disabled / enabled
    agent_id = Column(Integer, ForeignKey("agents.id"))  # NULL: the first-use seed
    agent_username = Column(String(40))
    before = Column(Text)
    after = Column(Text)
    changed_at = Column(DateTime, nullable=False, default=utcnow)

    __table_args__ = (Index("ix_team_changes_changed_at", "changed_at"),
                      Index("ix_team_changes_item", "kind", "item_id"))


# --- knowledge base (core.knowledge) ------------------------------------------------


class KnowledgeRevisionStatus(str, enum.Enum):
    draft = "draft"  # saved, not answered yet
    published = "published"  # the entry's current answer
    superseded = "superseded"  # published once; a rollback can bring it back
    retired = "retired"  # the entry is no longer answered


class KnowledgeEntry(Base):
    """One standard question of the knowledge base; its content lives in revisions."""

    __tablename__ = "knowledge_entries"

    id = Column(String(64), primary_key=True)
    # The revision answered now; NULL: not answered (never published, or retired).
    published_revision_id = Column(Integer, ForeignKey("knowledge_revisions.id",
                                                       use_alter=True,
                                                       name="fk_knowledge_entries_published"))
    created_at = Column(DateTime, nullable=False, default=utcnow)
    updated_at = Column(DateTime, nullable=False, default=utcnow)


class KnowledgeRevision(Base):
    """A version of an entry's content (standard and similar questions, answer, variants,
    scope, tags, source) as JSON; revisions are never edited, only added."""

    __tablename__ = "knowledge_revisions"

    id = Column(Integer, primary_key=True, autoincrement=True)
    entry_id = Column(String(64), ForeignKey("knowledge_entries.id"), nullable=False)
    number = Column(Integer, nullable=False)
    content = Column(Text, nullable=False)
    content_hash = Column(String(64), nullable=False)
    status = Column(Enum(KnowledgeRevisionStatus, name="knowledge_revision_status",
                         native_enum=False), nullable=False)
    # "seed" for revisions loaded from data/knowledge; an agent's username otherwise.
    author = Column(String(40), nullable=False)
    note = Column(Text)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    published_at = Column(DateTime)

    __table_args__ = (UniqueConstraint("entry_id", "number", name="uq_knowledge_revision"),)


class KnowledgeVector(Base):
    """The e5 vector of one normalized question text, computed once when an entry that
    uses it is saved (shared by every entry and revision with the same text)."""

    __tablename__ = "knowledge_vectors"

    text_hash = Column(String(64), primary_key=True)
    model = Column(String(40), primary_key=True)
    vector = Column(LargeBinary, nullable=False)


class KnowledgeVersion(Base):
    """One row: bumped by every publish, retirement or rollback, so that each process's
    index knows with one cheap read whether it must reload."""

    __tablename__ = "knowledge_version"

    id = Column(Integer, primary_key=True)
    version = Column(Integer, nullable=False)
    changed_at = Column(DateTime, nullable=False, default=utcnow)


# --- appeal materials (core.materials; migration 0013) ----------------------------------


class MaterialStatus(str, enum.Enum):
    """clean: scanned, shown to the merchant and the agents; quarantined: kept, never
    shown, until a scan decides (the scanner was down); infected: refused by the scan
    after quarantine (the file is deleted, the row stays as the record)."""

    clean = "clean"
    quarantined = "quarantined"
    infected = "infected"


class Material(Base):
    """One file a merchant sent for an appeal (licence, shop photo, proof of trade).

    Clients only ever see ``id`` (random, unguessable); where the file is stored
    (``storage_key``) stays on the server."""

    __tablename__ = "materials"

    id = Column(String(32), primary_key=True, default=new_ref)
    appeal_id = Column(String(13), ForeignKey("appeals.id", ondelete="CASCADE"),
                       nullable=False)
    merchant_id = Column(String(10), ForeignKey("merchants.id"), nullable=False)
    channel = Column(String(40), nullable=False)  # widget / wechat
    # Where it came from, once: "wechat:<MsgId>" (WeChat retries), a widget upload id.
    source_ref = Column(String(128), nullable=False)
    kind = Column(String(10), nullable=False)  # jpeg / png / webp / pdf
    content_type = Column(String(40), nullable=False)
    size_bytes = Column(Integer, nullable=False)
    sha256 = Column(String(64), nullable=False)  # of the stored (sanitized) bytes
    # The name the merchant gave it (sealed at rest: it may name a person).
    original_name = Column(Sealed)
    storage_key = Column(String(128), nullable=False)
    status = Column(Enum(MaterialStatus, name="material_status", native_enum=False,
                         length=20), nullable=False)
    scan_signature = Column(String(200))  # what the scanner found (infected)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    scanned_at = Column(DateTime)

    __table_args__ = (
        Index("ix_materials_appeal_created", "appeal_id", "created_at"),
        Index("ix_materials_status", "status"),
        UniqueConstraint("channel", "source_ref", name="uq_materials_source"),
    )
