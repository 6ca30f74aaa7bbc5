"""Connected channel bots and the webhook events already taken.

Secrets are sealed with the workspace's key (storage/secrets.py) before they reach the table and opened only here, for
the adapters; what pages and the command line show is `BotConnection.masked()`. Nothing here is in workspace exports
(storage/workspace_io.py exports definitions only).
"""

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from storage.db import Database
from storage.outbox import stamp
from storage.secrets import SecretBox, mask

MAX_ERROR = 1000  # characters of a platform's error text kept on the connection


@dataclass(frozen=True)
class BotConnection:
    """One connected bot, its secrets opened. Never log or show `secrets`, `verify_token` or `webhook_secret`."""

    channel: str
    bot_id: str
    settings: dict[str, Any]
    secrets: dict[str, str] = field(repr=False)
    verify_token: str = field(default="", repr=False)
    webhook_secret: str = field(default="", repr=False)
    connected_at: datetime | None = None
    last_event_at: datetime | None = None
    last_error: str = ""
    last_error_at: datetime | None = None

    def masked(self) -> dict[str, str]:
        """Every secret as the admin may see it after saving: `••••1234`."""
        shown = {name: mask(value) for name, value in self.secrets.items()}
        if self.verify_token:
            shown["verify_token"] = mask(self.verify_token)
        if self.webhook_secret:
            shown["webhook_secret"] = mask(self.webhook_secret)
        return shown


def save_connection(*, database: Database, box: SecretBox, channel: str, bot_id: str, settings: dict[str, Any],
                    secrets: dict[str, str], verify_token: str = "", webhook_secret: str = "") -> BotConnection:
    """Connect `bot_id` on `channel`, replacing the channel's earlier connection (a workspace is one bot, with one
    identity per channel)."""
    now = stamp(datetime.now(UTC))
    sealed = (box.seal(json.dumps(secrets)), box.seal(verify_token) if verify_token else "",
              box.seal(webhook_secret) if webhook_secret else "")
    with _immediate(database) as connection:
        connection.execute("DELETE FROM channel_connection WHERE channel = ?", (channel,))
        connection.execute(
            "INSERT INTO channel_connection (channel, bot_id, settings, secrets, verify_token, webhook_secret,"
            " connected_at, last_error) VALUES (?, ?, ?, ?, ?, ?, ?, '')",
            (channel, bot_id, json.dumps(settings, ensure_ascii=False), *sealed, now))
    found = get_connection(database=database, box=box, channel=channel, bot_id=bot_id)
    assert found is not None
    return found


def list_connections(*, database: Database, box: SecretBox, channel: str | None = None) -> list[BotConnection]:
    query = ("SELECT channel, bot_id, settings, secrets, verify_token, webhook_secret, connected_at, last_event_at,"
             " last_error, last_error_at FROM channel_connection")
    with database.raw_connection() as connection:
        rows = (connection.execute(query + " WHERE channel = ? ORDER BY id", (channel,)) if channel
                else connection.execute(query + " ORDER BY channel, id")).fetchall()
    return [_connection(row, box) for row in rows]


def get_connection(*, database: Database, box: SecretBox, channel: str,
                   bot_id: str | None = None) -> BotConnection | None:
    """The channel's connection (the one for `bot_id`, when given), or None."""
    found = [c for c in list_connections(database=database, box=box, channel=channel)
             if bot_id is None or c.bot_id == bot_id]
    return found[0] if found else None


def delete_connections(*, database: Database, channel: str) -> int:
    """Disconnect the channel; returns how many bots were disconnected. Contacts and their history stay."""
    with _immediate(database) as connection:
        return connection.execute("DELETE FROM channel_connection WHERE channel = ?", (channel,)).rowcount


def record_event(*, database: Database, channel: str, bot_id: str, at: datetime | None = None) -> None:
    """The bot heard from its platform (a verified webhook delivery)."""
    with _immediate(database) as connection:
        connection.execute("UPDATE channel_connection SET last_event_at = ? WHERE channel = ? AND bot_id = ?",
                           (stamp(at or datetime.now(UTC)), channel, bot_id))


def record_error(*, database: Database, channel: str, bot_id: str, error: str) -> None:
    """The platform refused a call of the bot's (its own words, shown on the Channels page); "" clears it."""
    with _immediate(database) as connection:
        connection.execute(
            "UPDATE channel_connection SET last_error = ?, last_error_at = ? WHERE channel = ? AND bot_id = ?",
            (error[:MAX_ERROR], stamp(datetime.now(UTC)) if error else None, channel, bot_id))


def claim_hook_event(*, database: Database, channel: str, bot: str, event_id: str) -> bool:
    """True the first time an event is seen on this channel and bot; False for a platform's redelivery."""
    with _immediate(database) as connection:
        return connection.execute(
            "INSERT INTO hook_event (channel, bot, event_id, received_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (channel, bot, event_id, stamp(datetime.now(UTC)))).rowcount == 1


def release_hook_event(*, database: Database, channel: str, bot: str, event_id: str) -> None:
    """Forget an event whose processing failed, so that the platform's retry is processed."""
    with _immediate(database) as connection:
        connection.execute("DELETE FROM hook_event WHERE channel = ? AND bot = ? AND event_id = ?",
                           (channel, bot, event_id))


def _connection(row: tuple, box: SecretBox) -> BotConnection:
    channel, bot_id, settings, secrets, verify_token, webhook_secret, connected, event, error, error_at = row
    return BotConnection(channel, bot_id, json.loads(settings or "{}"), json.loads(box.open(secrets) or "{}"),
                         box.open(verify_token), box.open(webhook_secret), _when(connected), _when(event), error,
                         _when(error_at))


def _when(value: str | None) -> datetime | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


@contextmanager
def _immediate(database: Database) -> Iterator[sqlite3.Connection]:
    """A write transaction: SQLite's one write lock from the start; on PostgreSQL an ordinary one (these statements
    are single-row upserts and updates, which its row locks keep correct)."""
    with database.raw_connection() as connection:
        connection.execute("BEGIN" if database.is_postgres else "BEGIN IMMEDIATE")
        try:
            yield connection
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")


def take_for_response(*, database: Database, contact_id: int) -> dict[str, Any] | None:
    """The contact's oldest pending message that no worker has claimed, marked sent and returned (its body): for a
    platform that takes a message as the webhook's HTTP answer (Viber's welcome message). None when a worker was
    quicker: it sends the message itself, so either way it goes once."""
    now = stamp(datetime.now(UTC))
    with _immediate(database) as connection:
        row = connection.execute(
            "SELECT id, body FROM outbox_message WHERE contact_id = ? AND state = 'pending' AND attempts = 0"
            " AND (claimed_until IS NULL OR claimed_until < ?) ORDER BY id LIMIT 1", (contact_id, now)).fetchone()
        if row is None:
            return None
        taken = connection.execute(  # conditional: on PostgreSQL another instance may have read the same row
            "UPDATE outbox_message SET state = 'sent', sent_at = ?, last_attempt_at = ?, attempts = 1,"
            " claimed_by = NULL, claimed_until = NULL WHERE id = ? AND state = 'pending' AND attempts = 0"
            " AND (claimed_until IS NULL OR claimed_until < ?)", (now, now, row[0], now)).rowcount
    return json.loads(row[1]) if taken else None
