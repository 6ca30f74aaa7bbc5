"""What the Channels page shows per channel: when the bot last heard from it, and how delivery through it stands."""

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import Session


@dataclass(frozen=True)
class DeliveryError:
    text: str
    state: str  # "pending" (will be retried) or "failed"
    attempts: int
    at: datetime | None


@dataclass(frozen=True)
class ChannelActivity:
    contacts: int = 0
    last_received_at: datetime | None = None  # the latest open or message from a person on the channel
    pending: int = 0
    failed: int = 0
    last_error: DeliveryError | None = None


def channel_activity(*, session: Session) -> dict[str, ChannelActivity]:
    """Activity by channel name; channels nobody used yet are missing."""
    connection = session.connection()
    contacts = {channel: (count, _when(seen)) for channel, count, seen in connection.execute(sa.text(
        "SELECT channel, count(*), max(last_seen_at) FROM contact GROUP BY channel"))}
    replies = {channel: _last_reply(connection, channel) for channel in contacts}
    counts: dict[str, dict[str, int]] = {}
    for channel, state, count in connection.execute(sa.text(
            "SELECT channel, state, count(*) FROM outbox_message WHERE state IN ('pending', 'failed')"
            " GROUP BY channel, state")):
        counts.setdefault(channel, {})[state] = count
    errors = {}
    for channel, text, state, attempts, at in connection.execute(sa.text(
            "SELECT channel, last_error, state, attempts, last_attempt_at FROM outbox_message WHERE id IN ("
            " SELECT max(id) FROM outbox_message WHERE state IN ('pending', 'failed') AND last_error <> ''"
            " GROUP BY channel)")):
        errors[channel] = DeliveryError(text, state, attempts, _when(at))
    activity = {}
    for channel in set(contacts) | set(counts):
        count, seen = contacts.get(channel, (0, None))
        received = max((moment for moment in (seen, _when(replies.get(channel))) if moment), default=None)
        activity[channel] = ChannelActivity(count, received, counts.get(channel, {}).get("pending", 0),
                                            counts.get(channel, {}).get("failed", 0), errors.get(channel))
    return activity


RECENT_MESSAGES = 50_000  # how far back the last reply is looked for; past that, the last open tells


def _last_reply(connection: sa.Connection, channel: str) -> str | None:
    """The newest message from a person on the channel, read newest first (message first: CROSS JOIN), so a busy
    channel answers at once and a quiet one costs at most RECENT_MESSAGES rows."""
    join = "JOIN" if connection.dialect.name == "postgresql" else "CROSS JOIN"  # SQLite's way of fixing the order
    return connection.execute(sa.text(
        f"SELECT m.created_at FROM message m {join} contact c ON c.id = m.contact_id"
        " WHERE m.id > (SELECT coalesce(max(id), 0) FROM message) - :recent AND m.direction = 'in'"
        " AND c.channel = :channel ORDER BY m.id DESC LIMIT 1"), {"recent": RECENT_MESSAGES, "channel": channel}
    ).scalar()


def _when(value: str | datetime | None) -> datetime | None:
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
