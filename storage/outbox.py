"""The outbox: messages to live contacts, stored by the turn that sent them and handed to the delivery worker.

Every function takes a plain sqlite3 connection in autocommit mode (like the runtime's) and runs its own short
BEGIN IMMEDIATE transaction, so a claim is one atomic step that two processes can never both win. On PostgreSQL the
claim's inner SELECT becomes `... ORDER BY id LIMIT n FOR UPDATE SKIP LOCKED`; the statements are otherwise the same.
"""

import json
import sqlite3
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

_JSON = json.JSONEncoder(ensure_ascii=False).encode


@dataclass(frozen=True)
class OutboxItem:
    """One message claimed for delivery: what a channel's sender needs to send it."""

    id: int
    contact_id: int
    channel: str
    channel_user_id: str
    body: dict[str, Any]
    attempts: int  # attempts made before this one
    message_id: int | None
    created_at: datetime

    @property
    def text(self) -> str:
        return self.body.get("text", "")

    @property
    def buttons(self) -> list[dict[str, Any]]:
        return self.body.get("buttons", [])


@dataclass(frozen=True)
class Outcome:
    """What one delivery attempt gave: sent, a temporary failure to retry at `retry_at`, or failed for good."""

    item_id: int
    state: str  # "sent" | "pending" | "failed"
    error: str = ""
    retry_at: datetime | None = None


def stamp(moment: datetime) -> str:
    """The DATETIME text SQLAlchemy stores (naive UTC), so ORM reads and plain SQL agree."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(" ", "microseconds")


def store_message(*, connection: sqlite3.Connection, contact_id: int, channel: str, message_id: int,
                  body: dict[str, Any], now: str) -> None:
    """Inside the caller's transaction (the turn's): a new pending message, due now."""
    connection.execute(
        "INSERT INTO outbox_message (contact_id, message_id, channel, body, state, attempts, last_error,"
        " next_attempt_at, created_at) VALUES (?, ?, ?, ?, 'pending', 0, '', ?, ?)",
        (contact_id, message_id, channel, _JSON(body), now, now))


Reach = Mapping[str, Collection[int] | None] | Sequence[str]
"""Which messages a worker can deliver: channel names (every contact), or channel -> the contacts reachable from this
process (None: every contact), for a channel like the web chat whose recipients are connected to one process."""


def claim_due(*, connection: sqlite3.Connection, worker: str, channels: Reach, now: datetime,
              lease: timedelta, limit: int = 100) -> list[OutboxItem]:
    """Lease up to `limit` due pending messages of these channels to `worker`, longest waiting first. A contact's
    message is not claimed while an earlier one of theirs is leased, backing off, or after it in the claim order, so
    each person gets them in order. Expired leases (a worker that died) count as free."""
    at, until = stamp(now), stamp(now + lease)
    ids: list[int] = []
    with _immediate(connection):
        for reach, params in _reaches(channels):  # one channel at a time: the due index gives its order, no sort
            if len(ids) >= limit:
                break
            ids += [row[0] for row in connection.execute(
                "UPDATE outbox_message SET claimed_by = ?, claimed_until = ? WHERE id IN ("
                f" SELECT o.id FROM outbox_message o WHERE {reach} AND o.state = 'pending'"
                " AND o.next_attempt_at <= ? AND (o.claimed_until IS NULL OR o.claimed_until < ?)"
                " AND NOT EXISTS (SELECT 1 FROM outbox_message e WHERE e.contact_id = o.contact_id"
                "   AND e.state = 'pending' AND e.id < o.id"
                "   AND (e.next_attempt_at > o.next_attempt_at OR e.claimed_until >= ?))"
                " ORDER BY o.next_attempt_at, o.id LIMIT ?) RETURNING id",
                (worker, until, *params, at, at, at, limit - len(ids)))]
        if not ids:
            return []
        rows = connection.execute(
            "SELECT o.id, o.contact_id, o.channel, c.channel_user_id, o.body, o.attempts, o.message_id, o.created_at"
            f" FROM outbox_message o JOIN contact c ON c.id = o.contact_id WHERE o.id IN ({', '.join('?' * len(ids))})"
            " ORDER BY o.id", ids).fetchall()
    return [OutboxItem(row[0], row[1], row[2], row[3], json.loads(row[4]), row[5], row[6],
                       datetime.fromisoformat(row[7]).replace(tzinfo=UTC)) for row in rows]


def record_outcomes(*, connection: sqlite3.Connection, worker: str, outcomes: Sequence[Outcome],
                    now: datetime) -> list[int]:
    """Store what the attempts gave, each counted as one attempt. Only the worker holding the lease may record (a
    worker whose lease expired and was taken over changes nothing). Returns the contacts that still have pending
    messages waiting for no one, so the worker can claim them at once."""
    at = stamp(now)
    waiting: set[int] = set()
    with _immediate(connection):
        for outcome in outcomes:
            row = connection.execute(
                "UPDATE outbox_message SET state = ?, attempts = attempts + 1, last_error = ?, last_attempt_at = ?,"
                " next_attempt_at = COALESCE(?, next_attempt_at), sent_at = CASE WHEN ? = 'sent' THEN ? END,"
                " claimed_by = NULL, claimed_until = NULL"
                " WHERE id = ? AND claimed_by = ? AND state = 'pending' RETURNING contact_id",
                (outcome.state, outcome.error, at, stamp(outcome.retry_at) if outcome.retry_at else None,
                 outcome.state, at, outcome.item_id, worker)).fetchone()
            if row is not None:
                waiting.add(row[0])
        return [contact_id for contact_id in sorted(waiting) if connection.execute(
            "SELECT 1 FROM outbox_message WHERE contact_id = ? AND state = 'pending' AND claimed_by IS NULL"
            " AND next_attempt_at <= ? LIMIT 1", (contact_id, at)).fetchone()]


def release(*, connection: sqlite3.Connection, worker: str, item_ids: Sequence[int], retry_at: datetime) -> None:
    """Give back leased messages that were not attempted (an earlier message of the same contact failed), due at
    `retry_at`, without counting an attempt."""
    if not item_ids:
        return
    with _immediate(connection):
        connection.execute(
            "UPDATE outbox_message SET claimed_by = NULL, claimed_until = NULL, next_attempt_at = ?"
            f" WHERE claimed_by = ? AND state = 'pending' AND id IN ({', '.join('?' * len(item_ids))})",
            (stamp(retry_at), worker, *item_ids))


def extend_lease(*, connection: sqlite3.Connection, worker: str, item_ids: Sequence[int],
                 until: datetime) -> set[int]:
    """Keep holding these messages until `until`; returns those still held (a lease that ran out and was taken by
    another worker is not taken back)."""
    if not item_ids:
        return set()
    with _immediate(connection):
        return {row[0] for row in connection.execute(
            "UPDATE outbox_message SET claimed_until = ?"
            f" WHERE claimed_by = ? AND state = 'pending' AND id IN ({', '.join('?' * len(item_ids))}) RETURNING id",
            (stamp(until), worker, *item_ids))}


def retry_now(*, connection: sqlite3.Connection, contact_id: int, now: datetime) -> int:
    """Make every pending message of the contact due now (the web chat calls this when the visitor connects);
    returns how many there are. Leased messages keep their lease."""
    with _immediate(connection):
        return connection.execute(
            "UPDATE outbox_message SET next_attempt_at = ? WHERE contact_id = ? AND state = 'pending'"
            " AND next_attempt_at > ?", (stamp(now), contact_id, stamp(now))).rowcount


def has_due(*, connection: sqlite3.Connection, channels: Reach, now: datetime) -> bool:
    """A cheap read (no write lock): is any message of these channels due? The worker polls with it."""
    at = stamp(now)
    return any(connection.execute(
        f"SELECT 1 FROM outbox_message o WHERE {reach} AND o.state = 'pending' AND o.next_attempt_at <= ?"
        " AND (o.claimed_until IS NULL OR o.claimed_until < ?) LIMIT 1", (*params, at, at)).fetchone()
        for reach, params in _reaches(channels))


def _reaches(channels: Reach) -> Iterator[tuple[str, list[Any]]]:
    """Per channel, the SQL condition on `o` (and its parameters) for the messages a worker can deliver. A channel
    with reachable contacts is read through those contacts (ix_outbox_contact), so messages waiting for people who are
    not connected cost nothing; one with none reachable is left out."""
    if not isinstance(channels, Mapping):
        channels = dict.fromkeys(channels)
    for channel, contacts in channels.items():
        if contacts is None:
            yield "o.channel = ?", [channel]
        elif contacts:
            # unary + keeps SQLite off ix_outbox_due, which would walk every waiting message of the channel
            yield f"o.contact_id IN ({', '.join('?' * len(contacts))}) AND +o.channel = ? AND +o.state <> ''", \
                [*contacts, channel]


@contextmanager
def _immediate(connection: sqlite3.Connection) -> Iterator[None]:
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")
