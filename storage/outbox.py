"""The outbox: messages to live contacts, stored by the turn that sent them and handed to the delivery worker.

Every function takes the runtime's kind of connection in autocommit mode (sqlite3 itself, or on PostgreSQL the
psycopg executor of storage/connection.py, which takes the same `?` statements) and runs its own short transaction:
BEGIN IMMEDIATE on SQLite, so a claim is one atomic step that two processes can never both win; on PostgreSQL the
claim first holds the contacts of the next due messages that no other claim holds (a transaction-level advisory lock
per contact, tried, never waited for), then its inner SELECT takes their messages with `FOR UPDATE OF o SKIP LOCKED`:
instances claiming at the same moment take different people's messages instead of waiting for each other, one
person's messages stay in order, and a row another instance just claimed is checked again against its new lease
before it is taken. The statements are otherwise the same.
"""

import json
import sqlite3
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

_JSON = json.JSONEncoder(ensure_ascii=False).encode
CLAIM_LOCKS = 0x0B0C  # the advisory lock space of outbox claims on PostgreSQL: (CLAIM_LOCKS, contact id)


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
    sqlite = _is_sqlite(connection)
    with _immediate(connection):
        # one channel at a time: the due index gives its order, no sort
        for reach, params in _reaches(channels, sqlite=sqlite):
            if len(ids) >= limit:
                break
            mine, lock, held = "", "", []
            if not sqlite:
                held = _hold_contacts(connection, reach, params, at, limit - len(ids))
                if not held:
                    continue
                mine, lock = " AND o.contact_id = ANY(CAST(? AS integer[]))", " FOR UPDATE OF o SKIP LOCKED"
            ids += [row[0] for row in connection.execute(
                "UPDATE outbox_message SET claimed_by = ?, claimed_until = ? WHERE id IN ("
                f" SELECT o.id FROM outbox_message o WHERE {reach}{mine} AND o.state = 'pending'"
                " AND o.next_attempt_at <= ? AND (o.claimed_until IS NULL OR o.claimed_until < ?)"
                " AND NOT EXISTS (SELECT 1 FROM outbox_message e WHERE e.contact_id = o.contact_id"
                "   AND e.state = 'pending' AND e.id < o.id"
                "   AND (e.next_attempt_at > o.next_attempt_at OR e.claimed_until >= ?))"
                f" ORDER BY o.next_attempt_at, o.id LIMIT ?{lock}) RETURNING id",
                (worker, until, *params, *([held] if held else []), at, at, at, limit - len(ids)))]
        if not ids:
            return []
        rows = connection.execute(
            "SELECT o.id, o.contact_id, o.channel, c.channel_user_id, o.body, o.attempts, o.message_id, o.created_at"
            f" FROM outbox_message o JOIN contact c ON c.id = o.contact_id WHERE o.id IN ({', '.join('?' * len(ids))})"
            " ORDER BY o.id", ids).fetchall()
    return [OutboxItem(row[0], row[1], row[2], row[3], _document(row[4]), row[5], row[6], _moment(row[7]))
            for row in rows]


def _document(stored: str | dict) -> dict:
    return stored if isinstance(stored, dict) else json.loads(stored)


def _moment(stored: str | datetime) -> datetime:
    moment = stored if isinstance(stored, datetime) else datetime.fromisoformat(stored)
    return moment.replace(tzinfo=UTC) if moment.utcoffset() is None else moment.astimezone(UTC)


def _hold_contacts(connection: Any, reach: str, params: list[Any], at: str, limit: int) -> list[int]:
    """PostgreSQL: the contacts of the next due messages that no other instance is claiming at this moment, each held
    (a transaction-level advisory lock, tried, never waited for) until this claim commits. Two claims never work on
    one person at once, so the claim after this one sees its leases and keeps that person's messages in order."""
    candidates = [row[0] for row in connection.execute(
        f"SELECT DISTINCT o.contact_id FROM (SELECT o.contact_id FROM outbox_message o WHERE {reach}"
        " AND o.state = 'pending' AND o.next_attempt_at <= ? AND (o.claimed_until IS NULL OR o.claimed_until < ?)"
        " ORDER BY o.next_attempt_at, o.id LIMIT ?) o", (*params, at, at, limit)).fetchall()]
    if not candidates:
        return []
    return [row[0] for row in connection.execute(
        f"SELECT c FROM unnest(CAST(? AS integer[])) c WHERE pg_try_advisory_xact_lock({CLAIM_LOCKS}, c)",
        (candidates,)).fetchall()]


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
                " next_attempt_at = COALESCE(?, next_attempt_at), sent_at = ?,"
                " claimed_by = NULL, claimed_until = NULL"
                " WHERE id = ? AND claimed_by = ? AND state = 'pending' RETURNING contact_id",
                (outcome.state, outcome.error, at, stamp(outcome.retry_at) if outcome.retry_at else None,
                 at if outcome.state == "sent" else None, outcome.item_id, worker)).fetchone()
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
        for reach, params in _reaches(channels, sqlite=_is_sqlite(connection)))


def _reaches(channels: Reach, *, sqlite: bool = True) -> Iterator[tuple[str, list[Any]]]:
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
            # (PostgreSQL has no unary + on text, and its planner picks ix_outbox_contact from the statistics)
            plus = "+" if sqlite else ""
            marks = ", ".join("?" * len(contacts))
            yield f"o.contact_id IN ({marks}) AND {plus}o.channel = ? AND {plus}o.state <> ''", [*contacts, channel]


def _is_sqlite(connection: object) -> bool:
    return isinstance(connection, sqlite3.Connection)


@contextmanager
def _immediate(connection: sqlite3.Connection) -> Iterator[None]:
    connection.execute("BEGIN IMMEDIATE" if _is_sqlite(connection) else "BEGIN")
    try:
        yield
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")
