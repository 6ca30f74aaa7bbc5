"""The tables of one workspace (one bot). DOMAIN §1–6.

JSON documents (flows, trigger actions, mappings) are stored as JSON text; custom field values are stored as JSON text
too, so that one column holds every field type and numbers can still be increased atomically in SQL. Every table
is here, one class each, so that the schema reads in one place (Alembic compares against it).
"""

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import JSON, Column, Field, SQLModel

from runtime.vocabulary import CHANNELS, REFERRAL_STATUSES, TRIGGER_EVENTS

FIELD_TYPES = ("text", "number", "boolean", "date", "datetime", "json")
REFERRAL_POLICIES = ("first_only", "every_open")
OUTBOX_STATES = ("pending", "sent", "failed")


def utcnow() -> datetime:
    return datetime.now(UTC)


def sql_list(values: tuple[str, ...]) -> str:
    """Words of the vocabulary as an SQL list, for `status IN ('counted', 'repeat')`."""
    return f"({', '.join(repr(value) for value in values)})"


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN {sql_list(values)}"


class WorkspaceSettings(SQLModel, table=True):
    """The single settings row (id 1): the bot's name and its identity on each channel."""

    __tablename__ = "workspace_settings"
    __table_args__ = (sa.CheckConstraint("id = 1", name="single_row"),)

    id: int = Field(default=1, primary_key=True)
    bot_name: str = "My bot"
    page_id: str = ""
    instagram_username: str = ""
    whatsapp_number: str = ""
    telegram_bot: str = ""
    viber_uri: str = ""
    webchat_base_url: str = ""
    webchat_account_id: str = ""
    public_url: str = ""  # "" = REFERFLOW_PUBLIC_URL, else http://HOST:PORT (the served address the app records)
    served_url: str = ""  # where the app last started serving; written at start-up, never by the admin
    webchat_own_account: str = ""  # generated once: the p= value Referflow's own web chat answers to
    default_reply: str = "Hi {{first_name}}! How can I help?"
    updated_at: datetime = Field(default_factory=utcnow)


class CustomField(SQLModel, table=True):
    __tablename__ = "custom_field"
    # AUTOINCREMENT: a deleted field's ID is never handed out again, so links that carry IDs stay unambiguous.
    __table_args__ = (sa.CheckConstraint(_in("type", FIELD_TYPES), name="known_type"), {"sqlite_autoincrement": True})

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(sa.String, nullable=False, unique=True))
    type: str = "text"
    description: str = ""
    # Whether a link's payload may write this field by its ID or name (entry point mappings always may).
    links_may_set: bool = Field(default=True, sa_column=Column(sa.Boolean, nullable=False, server_default=sa.true()))
    created_at: datetime = Field(default_factory=utcnow)


class Tag(SQLModel, table=True):
    __tablename__ = "tag"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(sa.String, nullable=False, unique=True))
    description: str = ""
    created_at: datetime = Field(default_factory=utcnow)


class Flow(SQLModel, table=True):
    __tablename__ = "flow"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(sa.String, nullable=False, unique=True))
    draft: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    published: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    version: int = 1
    published_version: int | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    published_at: datetime | None = None


class EntryPoint(SQLModel, table=True):
    __tablename__ = "entry_point"
    __table_args__ = (
        sa.CheckConstraint(_in("response_type", ("message", "flow")), name="known_response"),
        sa.CheckConstraint(_in("referral_policy", REFERRAL_POLICIES), name="known_policy"),
        sa.CheckConstraint(_in("referrer_match", ("id", "phone", "id_or_phone")), name="known_match"),
        sa.CheckConstraint("ref <> '' AND instr(ref, '--') = 0", name="ref_grammar"),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str
    ref: str = Field(sa_column=Column(sa.String, nullable=False, unique=True))
    active: bool = True
    response_type: str = "message"
    response_message: str = ""
    response_flow_id: int | None = Field(default=None, foreign_key="flow.id", ondelete="SET NULL")
    default_field_id: int | None = Field(default=None, foreign_key="custom_field.id", ondelete="SET NULL")
    # [{"key": "738", "field_id": 3}] — a payload key in the link that lands in another field
    payload_mapping: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # [{"path": "order.items[0].sku", "field_id": 5}]
    json_mapping: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    segment_tag_id: int | None = Field(default=None, foreign_key="tag.id", ondelete="SET NULL")
    referrals_enabled: bool = True
    referral_policy: str = "first_only"
    whatsapp_pattern: str = ""
    referrer_match: str = "id"
    second_level_credit: bool = False  # also fire referred_second_level for the referrer's own referrer
    created_at: datetime = Field(default_factory=utcnow)


class Trigger(SQLModel, table=True):
    __tablename__ = "trigger"
    __table_args__ = (sa.CheckConstraint(_in("event", TRIGGER_EVENTS), name="known_event"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str
    event: str
    entry_point_id: int | None = Field(default=None, foreign_key="entry_point.id", ondelete="CASCADE")
    field_id: int | None = Field(default=None, foreign_key="custom_field.id", ondelete="CASCADE")
    tag_id: int | None = Field(default=None, foreign_key="tag.id", ondelete="CASCADE")
    # {"match": "all"|"any", "rules": [{"field_id": 1, "op": ">=", "value": 3}]}
    conditions: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # [{"type": "set_field", "field_id": 1, "op": "increase", "value": 1}, ...]
    actions: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    once_per_contact: bool = False
    enabled: bool = True
    position: int = 0
    created_at: datetime = Field(default_factory=utcnow)


class TriggerRun(SQLModel, table=True):
    """How often a trigger ran for a contact (kept apart from `trigger` so running one is not an edit of it)."""

    __tablename__ = "trigger_run"

    trigger_id: int = Field(foreign_key="trigger.id", primary_key=True, ondelete="CASCADE")
    contact_id: int = Field(foreign_key="contact.id", primary_key=True, ondelete="CASCADE", index=True)
    runs: int = 0
    last_run_at: datetime = Field(default_factory=utcnow)


class Contact(SQLModel, table=True):
    __tablename__ = "contact"
    __table_args__ = (
        sa.UniqueConstraint("channel", "channel_user_id", name="one_contact_per_channel_user"),
        sa.CheckConstraint(_in("channel", CHANNELS), name="known_channel"),
        sa.Index("ix_contact_phone", "phone"),
        sa.Index("ix_contact_referred_by", "referred_by_id"),
        sa.Index("ix_contact_created_at", "created_at"),
        {"sqlite_autoincrement": True},  # {{user_id}} values in shared links must never point at a new person
    )

    id: int | None = Field(default=None, primary_key=True)
    channel: str
    channel_user_id: str
    first_name: str = ""
    last_name: str = ""
    phone: str = ""
    referred_by_id: int | None = Field(default=None, foreign_key="contact.id", ondelete="SET NULL")
    first_ref: str = ""
    last_ref: str = ""
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)


class FieldValue(SQLModel, table=True):
    __tablename__ = "field_value"

    contact_id: int = Field(foreign_key="contact.id", primary_key=True, ondelete="CASCADE")
    field_id: int = Field(foreign_key="custom_field.id", primary_key=True, ondelete="CASCADE", index=True)
    value: str  # JSON text: 3, 2.5, "gold", true, "2026-11-22"
    updated_at: datetime = Field(default_factory=utcnow)


class ContactTag(SQLModel, table=True):
    __tablename__ = "contact_tag"

    contact_id: int = Field(foreign_key="contact.id", primary_key=True, ondelete="CASCADE")
    tag_id: int = Field(foreign_key="tag.id", primary_key=True, ondelete="CASCADE", index=True)
    created_at: datetime = Field(default_factory=utcnow)


class Referral(SQLModel, table=True):
    """One referral attempt. Only `counted` rows are unique per (entry point, referee); `repeat` rows are extra counts
    under the "count every open" policy; the other statuses are blocked attempts kept for analytics."""

    __tablename__ = "referral"
    __table_args__ = (
        sa.CheckConstraint(_in("status", REFERRAL_STATUSES), name="known_status"),
        sa.CheckConstraint(_in("kind", ("new", "existing")), name="known_kind"),
        sa.Index(
            "ux_referral_counted_once",
            "entry_point_id",
            "referee_id",
            unique=True,
            sqlite_where=sa.text("status = 'counted'"),
            postgresql_where=sa.text("status = 'counted'"),
        ),
        sa.Index("ix_referral_referrer", "referrer_id", "status"),
        sa.Index("ix_referral_entry_time", "entry_point_id", "created_at"),
        sa.Index("ix_referral_entry_status", "entry_point_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    entry_point_id: int = Field(foreign_key="entry_point.id", ondelete="CASCADE")
    referrer_id: int | None = Field(default=None, foreign_key="contact.id", ondelete="SET NULL")
    referrer_ref: str = ""  # the referrer as written in the link (id digits or a phone)
    referee_id: int = Field(foreign_key="contact.id", ondelete="CASCADE", index=True)
    kind: str
    status: str
    created_at: datetime = Field(default_factory=utcnow)


class ReferralScore(SQLModel, table=True):
    """A referrer's counted referrals on one leaderboard: an entry point (0: every entry point) and a period ('all',
    'week:2026-11-30', 'month:2026-12'). Kept by runtime/referral_stats.py so a rank is one index range count."""

    __tablename__ = "referral_score"
    __table_args__ = (sa.Index("ix_referral_score_board", "entry_point_id", "period", "referrals"),)

    entry_point_id: int = Field(primary_key=True)
    period: str = Field(primary_key=True)
    contact_id: int = Field(foreign_key="contact.id", primary_key=True, ondelete="CASCADE", index=True)
    referrals: int = 0
    reached_at: datetime = Field(default_factory=utcnow)


class LinkOpen(SQLModel, table=True):
    __tablename__ = "link_open"
    __table_args__ = (
        sa.Index("ix_link_open_entry_time", "entry_point_id", "created_at"),
        sa.Index("ix_link_open_entry_new", "entry_point_id", "is_new_contact"),
    )

    id: int | None = Field(default=None, primary_key=True)
    entry_point_id: int | None = Field(default=None, foreign_key="entry_point.id", ondelete="SET NULL")
    contact_id: int = Field(foreign_key="contact.id", ondelete="CASCADE", index=True)
    channel: str
    ref: str
    is_new_contact: bool
    event_id: str | None = None
    created_at: datetime = Field(default_factory=utcnow)


class CouponPool(SQLModel, table=True):
    """Single-use codes an admin pasted or uploaded; flows and triggers give each one out once (runtime/coupons.py).
    `misses` counts the times someone was to get a code while none was left, the last at `last_miss_at`."""

    __tablename__ = "coupon_pool"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(sa.String, nullable=False, unique=True))
    misses: int = 0
    last_miss_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class CouponCode(SQLModel, table=True):
    __tablename__ = "coupon_code"
    __table_args__ = (
        sa.UniqueConstraint("pool_id", "code", name="one_code_per_pool"),
        sa.Index("ix_coupon_code_free", "pool_id", "claimed_at", "id"),  # the claim takes the oldest free code
    )

    id: int | None = Field(default=None, primary_key=True)
    pool_id: int = Field(foreign_key="coupon_pool.id", ondelete="CASCADE")
    code: str
    contact_id: int | None = Field(default=None, foreign_key="contact.id", ondelete="SET NULL")
    claimed_at: datetime | None = None  # set once, never cleared: a given code is never given again
    created_at: datetime = Field(default_factory=utcnow)


class EventLog(SQLModel, table=True):
    """Every domain event, in order. `contact_id` is the context contact (the referrer for referral events);
    `other_contact_id` the second person involved (the joiner for referral events)."""

    __tablename__ = "event_log"
    __table_args__ = (
        sa.CheckConstraint(_in("type", TRIGGER_EVENTS), name="known_type"),
        sa.Index("ix_event_log_pending", "handled", "id"),
        sa.Index("ix_event_log_contact", "contact_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    type: str
    contact_id: int = Field(foreign_key="contact.id", ondelete="CASCADE")
    other_contact_id: int | None = Field(default=None, foreign_key="contact.id", ondelete="SET NULL")
    entry_point_id: int | None = Field(default=None, foreign_key="entry_point.id", ondelete="SET NULL")
    field_id: int | None = Field(default=None, foreign_key="custom_field.id", ondelete="SET NULL")
    tag_id: int | None = Field(default=None, foreign_key="tag.id", ondelete="SET NULL")
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    depth: int = 0
    handled: bool = False
    created_at: datetime = Field(default_factory=utcnow)


class Message(SQLModel, table=True):
    """The transcript: what the bot sent (`out`) and what the contact answered (`in`)."""

    __tablename__ = "message"
    __table_args__ = (
        sa.CheckConstraint(_in("direction", ("in", "out")), name="known_direction"),
        sa.Index("ix_message_contact", "contact_id", "id"),
        sa.Index("ix_message_direction_time", "direction", "created_at"),  # analytics: who wrote in a period
    )

    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = Field(foreign_key="contact.id", ondelete="CASCADE")
    direction: str = "out"
    text: str = ""
    buttons: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    flow_id: int | None = Field(default=None, foreign_key="flow.id", ondelete="SET NULL")
    node_id: str | None = None
    created_at: datetime = Field(default_factory=utcnow)


class OutboxMessage(SQLModel, table=True):
    """A message to a live contact, stored in the turn that sent it and delivered by the worker (channels/delivery).
    `claimed_by`/`claimed_until` are a lease: a worker that dies mid-delivery gives the message back when it expires."""

    __tablename__ = "outbox_message"
    __table_args__ = (
        sa.CheckConstraint(_in("state", OUTBOX_STATES), name="known_state"),
        sa.Index("ix_outbox_due", "state", "channel", "next_attempt_at"),  # claims walk it in order, per channel
        sa.Index("ix_outbox_contact", "contact_id", "state", "id"),
        sa.Index("ix_outbox_message", "message_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = Field(foreign_key="contact.id", ondelete="CASCADE")
    message_id: int | None = Field(default=None, foreign_key="message.id", ondelete="SET NULL")
    channel: str
    body: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    state: str = "pending"
    attempts: int = 0
    last_error: str = ""
    next_attempt_at: datetime = Field(default_factory=utcnow)
    last_attempt_at: datetime | None = None
    claimed_by: str | None = None
    claimed_until: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None


class FlowPosition(SQLModel, table=True):
    """Where a contact waits in a flow, so that the next message resumes it."""

    __tablename__ = "flow_position"

    contact_id: int = Field(foreign_key="contact.id", primary_key=True, ondelete="CASCADE")
    flow_id: int = Field(foreign_key="flow.id", ondelete="CASCADE")
    node_id: str
    waiting_for: str  # "reply" (ask), "button", "delay"
    use_draft: bool = False
    retries: int = 0
    updated_at: datetime = Field(default_factory=utcnow)


class WakeUp(SQLModel, table=True):
    __tablename__ = "wake_up"
    __table_args__ = (sa.Index("ix_wake_up_due", "done", "due_at"),)

    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = Field(foreign_key="contact.id", ondelete="CASCADE")
    flow_id: int = Field(foreign_key="flow.id", ondelete="CASCADE")
    node_id: str
    due_at: datetime
    done: bool = False


class ProcessedEvent(SQLModel, table=True):
    """Inbound events already processed, with who sent each and the result given then (webhook retries change
    nothing). A platform's event ids are unique only on its channel and bot, so those are part of the key; `bot` is
    "" until channels connect bots."""

    __tablename__ = "processed_event"
    __table_args__ = (sa.Index("ix_processed_event_created", "created_at"),)  # pruning (storage/retention.py)

    channel: str = Field(primary_key=True)
    bot: str = Field(default="", primary_key=True)
    event_id: str = Field(primary_key=True)
    channel_user_id: str = ""
    result: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class ChannelConnection(SQLModel, table=True):
    """A connected channel bot (a Telegram bot, a Facebook page, a WhatsApp number, a Viber bot): its public settings
    and its secrets, which are stored only encrypted (storage/secrets.py; storage/channel_connections.py reads them)."""

    __tablename__ = "channel_connection"
    __table_args__ = (sa.UniqueConstraint("channel", "bot_id", name="one_connection_per_bot"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str
    bot_id: str  # the platform's id: Telegram bot id, page id, Instagram account id, phone-number id, Viber bot id
    settings: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))  # public
    secrets: str = ""  # sealed JSON object: access token, bot token, app secret...
    verify_token: str = ""  # sealed: the token Meta's webhook handshake echoes
    webhook_secret: str = ""  # sealed: Telegram's secret_token
    connected_at: datetime = Field(default_factory=utcnow)
    last_event_at: datetime | None = None
    last_error: str = ""
    last_error_at: datetime | None = None


class HookEvent(SQLModel, table=True):
    """Webhook events already taken (replies, button presses): a platform's retry of one changes nothing. Opens are
    deduplicated by the runtime itself (processed_event), in the open's own transaction."""

    __tablename__ = "hook_event"
    __table_args__ = (sa.Index("ix_hook_event_received", "received_at"),)  # pruning (storage/retention.py)

    channel: str = Field(primary_key=True)
    bot: str = Field(primary_key=True)
    event_id: str = Field(primary_key=True)
    received_at: datetime = Field(default_factory=utcnow)


class AdminAccount(SQLModel, table=True):
    __tablename__ = "admin_account"
    __table_args__ = (sa.CheckConstraint("id = 1", name="single_admin"),)

    id: int = Field(default=1, primary_key=True)
    password_hash: str | None = None  # None until the admin has chosen a password
    storage_secret: str
    created_at: datetime = Field(default_factory=utcnow)


class LoginAttempt(SQLModel, table=True):
    __tablename__ = "login_attempt"
    __table_args__ = (
        sa.Index("ix_login_attempt_client_time", "client", "created_at"),
        sa.Index("ix_login_attempt_time", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    client: str
    success: bool
    created_at: datetime = Field(default_factory=utcnow)
    device: str | None = None  # the SHA-256 of the known-browser token the attempt came with, if any


class AdminSession(SQLModel, table=True):
    """A server-side credential of the admin: a signed-in browser session; a one-time login ticket that the login
    page hands to the browser to trade for a new session cookie; or a known browser (one that signed in before,
    exempt from the account-wide pause after many wrong passwords). Only the SHA-256 of the token is stored."""

    __tablename__ = "admin_session"
    __table_args__ = (
        sa.CheckConstraint("kind IN ('session', 'ticket', 'device')", name="session_kind"),
        sa.Index("ix_admin_session_expires", "expires_at"),
    )

    token_hash: str = Field(primary_key=True)
    kind: str = "session"
    browser_id: str | None = None  # tickets: the browser (NiceGUI session id) that may redeem it
    redirect_to: str | None = None  # tickets: the same-site page to land on
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime


class DefinitionsVersion(SQLModel, table=True):
    """Bumped by SQL triggers whenever a definition (settings, fields, tags, entry points, flows, triggers) changes,
    so the runtime can cache definitions and notice edits made by any process with one cheap read."""

    __tablename__ = "definitions_version"
    __table_args__ = (sa.CheckConstraint("id = 1", name="single_row"),)

    id: int = Field(default=1, primary_key=True)
    version: int = 0


class Scenario(SQLModel, table=True):
    """A simulator scenario saved from the builder (docs/scenario-format.md); the document is the same format as a
    scenario file."""

    __tablename__ = "scenario"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(sa.String, nullable=False, unique=True))
    document: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
