"""The engine store: every statement the runtime runs, one function each, written once for SQLite and PostgreSQL.

Each function takes the turn's `db` (storage/connection.py: the sqlite3 connection itself, or the psycopg adapter)
inside a transaction the caller began. The SQL is the common ground of both: upserts with a named `ON CONFLICT`
target, `RETURNING` (or `inserted_id`, which uses sqlite3's cheaper `lastrowid` there), increments as one statement,
`TRUE`/`FALSE` for boolean columns, `IS DISTINCT FROM`, no numbered placeholders and no `LIMIT -1`.

## Concurrency: the promises BEGIN IMMEDIATE keeps, and how PostgreSQL keeps them

On SQLite a write turn holds the database's only write lock from its first statement to COMMIT, so it runs as if
alone. On PostgreSQL several turns run at once (several processes, several instances) under READ COMMITTED, and the
same promises rest on these rules instead:

- **Once-only events.** `claim_event` inserts the (channel, bot, event id) row `ON CONFLICT DO NOTHING`. A second turn
  with the same key waits on the unique index until the first commits (then does nothing and reads its result) or
  rolls back (then claims it itself). A process killed mid-turn rolls back with its connection: nothing half-done.
- **One contact per channel user.** `update_known_contact` (an UPDATE ... RETURNING) finds and row-locks a known
  person; a newcomer is inserted `ON CONFLICT (channel, channel_user_id) DO NOTHING` and, when another turn created
  them meanwhile, found again with the UPDATE (which then waits for that turn's commit).
- **No lost or double-counted referral.** The counted referral is inserted `ON CONFLICT ... WHERE status = 'counted'
  DO NOTHING` on the partial unique index: exactly one turn counts a referee for an entry point, the others record a
  duplicate or repeat.
- **Atomic points.** `add_to_number_field` is one upsert adding to the stored value (`value + amount`): concurrent
  increments queue on the row lock and none is lost; `count_trigger_run` likewise.
- **One turn per contact at a time.** Everything a turn reads and then writes about a contact (their flow position,
  fields read by conditions, a reward given once) is serialised by row locks on the contact: the opener's contact row
  is locked by the UPDATE or INSERT above; an open naming a referrer first locks the referrer and the opener together,
  in id order, with `lock_contact` (SELECT ... FOR NO KEY UPDATE, the lock an UPDATE takes, which does not conflict
  with the key-share locks of other turns' foreign keys to the contact); a contact who replies or wakes up likewise.
  Locks are released at COMMIT or ROLLBACK.
- **Deadlocks.** Locking two people in id order means A opening B's link while B opens A's queue up instead of
  deadlocking. Should another pattern still deadlock, PostgreSQL aborts one turn, and `Runtime` rolls it back and runs
  it again from the start (runtime/service.py), so the caller sees one ordinary result.
"""

from collections.abc import Iterable, Sequence
from typing import Any

from runtime.vocabulary import IDENTITY_FIELDS
from storage.connection import Executor, inserted_id

# --- definitions (runtime/definitions.py) ---------------------------------------------------------------------


def read_definitions_version(db: Executor) -> int:
    return db.execute("SELECT version FROM definitions_version WHERE id = 1").fetchone()[0]


def read_settings(db: Executor) -> tuple | None:
    return db.execute(
        f"SELECT bot_name, default_reply, {', '.join(IDENTITY_FIELDS)},"
        " COALESCE(NULLIF(public_url, ''), served_url), webchat_own_account"
        " FROM workspace_settings WHERE id = 1"
    ).fetchone()


def read_fields(db: Executor) -> list[tuple]:
    return db.execute("SELECT id, name, type, links_may_set FROM custom_field").fetchall()


def read_entry_points(db: Executor) -> list[tuple]:
    return db.execute(
        "SELECT id, name, ref, active, response_type, response_message, response_flow_id, default_field_id,"
        " payload_mapping, json_mapping, segment_tag_id, referrals_enabled, referral_policy, whatsapp_pattern,"
        " referrer_match, second_level_credit FROM entry_point"
    ).fetchall()


def read_flows(db: Executor) -> list[tuple]:
    return db.execute("SELECT id, name, draft, published FROM flow").fetchall()


def read_enabled_triggers(db: Executor) -> list[tuple]:
    return db.execute(
        "SELECT id, name, event, entry_point_id, field_id, tag_id, conditions, actions, once_per_contact FROM trigger"
        " WHERE enabled ORDER BY position, id"
    ).fetchall()


def read_tags(db: Executor) -> list[tuple]:
    return db.execute("SELECT id, name FROM tag").fetchall()


# --- events (runtime/opening.py, runtime/turn.py) -------------------------------------------------------------


def claim_event(db: Executor, channel: str, bot: str, event_id: str, channel_user_id: str, stamp: str) -> bool:
    """True when this turn is the first with the event id (and now owns it)."""
    return db.execute(
        "INSERT INTO processed_event (channel, bot, event_id, channel_user_id, result, created_at)"
        " VALUES (?, ?, ?, ?, '{}', ?) ON CONFLICT DO NOTHING",
        (channel, bot, event_id, channel_user_id, stamp),
    ).rowcount > 0


def read_processed_event(db: Executor, channel: str, bot: str, event_id: str) -> tuple[str, str]:
    return db.execute("SELECT channel_user_id, result FROM processed_event"
                      " WHERE channel = ? AND bot = ? AND event_id = ?", (channel, bot, event_id)).fetchone()


def store_event_result(db: Executor, channel: str, bot: str, event_id: str, result: str) -> None:
    db.execute("UPDATE processed_event SET result = ? WHERE channel = ? AND bot = ? AND event_id = ?",
               (result, channel, bot, event_id))


def insert_events(db: Executor, rows: Iterable[Sequence[Any]]) -> None:
    """Rows of (type, contact_id, other_contact_id, entry_point_id, field_id, tag_id, data, depth, created_at)."""
    db.executemany(
        "INSERT INTO event_log (type, contact_id, other_contact_id, entry_point_id, field_id, tag_id, data, depth,"
        " handled, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, TRUE, ?)", rows)


# --- contacts ---------------------------------------------------------------------------------------------------


def find_contact_by_channel_user(db: Executor, channel: str, channel_user_id: str) -> int | None:
    row = db.execute("SELECT id FROM contact WHERE channel = ? AND channel_user_id = ?",
                     (channel, channel_user_id)).fetchone()
    return row[0] if row else None


def find_contact_by_id(db: Executor, contact_id: int) -> int | None:
    row = db.execute("SELECT id FROM contact WHERE id = ?", (contact_id,)).fetchone()
    return row[0] if row else None


def find_contact_by_phone(db: Executor, digits: str) -> int | None:
    row = db.execute("SELECT id FROM contact WHERE phone = ? OR (channel = 'whatsapp' AND channel_user_id = ?)"
                     " ORDER BY id LIMIT 1", (digits, digits)).fetchone()
    return row[0] if row else None


def update_known_contact(db: Executor, channel: str, channel_user_id: str, ref: str, stamp: str, first_name: str,
                         last_name: str, phone: str) -> int | None:
    """Refresh what the channel tells about a known person, keeping names and phone the admin may have edited; their
    id, or None for a newcomer. On PostgreSQL the updated row stays locked until the turn ends."""
    row = db.execute(
        "UPDATE contact SET last_ref = ?, last_seen_at = ?,"
        " first_name = CASE WHEN first_name = '' THEN ? ELSE first_name END,"
        " last_name = CASE WHEN last_name = '' THEN ? ELSE last_name END,"
        " phone = CASE WHEN phone = '' THEN ? ELSE phone END"
        " WHERE channel = ? AND channel_user_id = ? RETURNING id",
        (ref, stamp, first_name, last_name, phone, channel, channel_user_id),
    ).fetchone()
    return row[0] if row else None


def insert_contact(db: Executor, channel: str, channel_user_id: str, first_name: str, last_name: str, phone: str,
                   referred_by: int | None, ref: str, stamp: str) -> int | None:
    """The new contact's id; None when another turn created the same channel user meanwhile (PostgreSQL only)."""
    row = db.execute(
        "INSERT INTO contact (channel, channel_user_id, first_name, last_name, phone, referred_by_id, first_ref,"
        " last_ref, created_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (channel, channel_user_id) DO NOTHING RETURNING id",
        (channel, channel_user_id, first_name, last_name, phone, referred_by, ref, ref, stamp, stamp),
    ).fetchone()
    return row[0] if row else None


def set_referrer_once(db: Executor, contact_id: int, referrer_id: int) -> bool:
    return db.execute("UPDATE contact SET referred_by_id = ? WHERE id = ? AND referred_by_id IS NULL",
                      (referrer_id, contact_id)).rowcount > 0


def read_contact_rows(db: Executor, contact_id: int) -> list[tuple]:
    """The contact row (kind 0), its field values (1) and its tags (2), in one query."""
    return db.execute(
        "SELECT 0, id, channel, channel_user_id, first_name, last_name, phone, referred_by_id, created_at"
        " FROM contact WHERE id = ?"
        " UNION ALL SELECT 1, field_id, value, NULL, NULL, NULL, NULL, NULL, NULL FROM field_value"
        " WHERE contact_id = ?"
        " UNION ALL SELECT 2, tag_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM contact_tag"
        " WHERE contact_id = ? ORDER BY 1", (contact_id, contact_id, contact_id)).fetchall()


# --- opens and referrals ----------------------------------------------------------------------------------------


def insert_link_open(db: Executor, entry_point_id: int | None, contact_id: int, channel: str, ref: str,
                     is_new: bool, event_id: str | None, stamp: str) -> None:
    db.execute(
        "INSERT INTO link_open (entry_point_id, contact_id, channel, ref, is_new_contact, event_id, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)", (entry_point_id, contact_id, channel, ref, is_new, event_id, stamp))


def insert_counted_referral(db: Executor, row: tuple, stamp: str) -> bool:
    """`row` is (entry_point_id, referrer_id, referrer_ref, referee_id, kind). False when the referee was counted for
    the entry point already: the partial unique index is the arbiter, also between concurrent turns."""
    return db.execute(
        "INSERT INTO referral (entry_point_id, referrer_id, referrer_ref, referee_id, kind, status, created_at)"
        " VALUES (?, ?, ?, ?, ?, 'counted', ?)"
        " ON CONFLICT (entry_point_id, referee_id) WHERE status = 'counted' DO NOTHING", (*row, stamp)).rowcount > 0


def insert_referral(db: Executor, row: tuple, status: str, stamp: str) -> None:
    db.execute(
        "INSERT INTO referral (entry_point_id, referrer_id, referrer_ref, referee_id, kind, status, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)", (*row, status, stamp))


# --- fields and tags ------------------------------------------------------------------------------------------


def set_field_value(db: Executor, contact_id: int, field_id: int, stored: str, stamp: str) -> bool:
    """True when the stored value changed."""
    return db.execute(
        "INSERT INTO field_value (contact_id, field_id, value, updated_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (contact_id, field_id) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at"
        " WHERE field_value.value IS DISTINCT FROM excluded.value",
        (contact_id, field_id, stored, stamp),
    ).rowcount > 0


def add_to_number_field(db: Executor, contact_id: int, field_id: int, initial: str, amount: float,
                        stamp: str) -> str:
    """One atomic statement: the stored value plus `amount` (or `initial` for a contact without one); the new
    stored text."""
    return db.execute(
        "INSERT INTO field_value (contact_id, field_id, value, updated_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (contact_id, field_id) DO UPDATE"
        " SET value = CAST(CAST(field_value.value AS NUMERIC) + ? AS TEXT), updated_at = excluded.updated_at"
        " RETURNING value",
        (contact_id, field_id, initial, stamp, amount),
    ).fetchone()[0]


def delete_field_value(db: Executor, contact_id: int, field_id: int) -> bool:
    return db.execute("DELETE FROM field_value WHERE contact_id = ? AND field_id = ?",
                      (contact_id, field_id)).rowcount > 0


def add_tag(db: Executor, contact_id: int, tag_id: int, stamp: str) -> bool:
    return db.execute("INSERT INTO contact_tag (contact_id, tag_id, created_at) VALUES (?, ?, ?)"
                      " ON CONFLICT DO NOTHING", (contact_id, tag_id, stamp)).rowcount > 0


def remove_tag(db: Executor, contact_id: int, tag_id: int) -> bool:
    return db.execute("DELETE FROM contact_tag WHERE contact_id = ? AND tag_id = ?",
                      (contact_id, tag_id)).rowcount > 0


# --- messages ---------------------------------------------------------------------------------------------------


def insert_sent_message(db: Executor, contact_id: int, text: str, buttons: str, flow_id: int | None,
                        node_id: str | None, stamp: str) -> int:
    return inserted_id(
        db, "INSERT INTO message (contact_id, direction, text, buttons, flow_id, node_id, created_at)"
            " VALUES (?, 'out', ?, ?, ?, ?, ?)", (contact_id, text, buttons, flow_id, node_id, stamp))


def insert_received_message(db: Executor, contact_id: int, text: str, stamp: str) -> None:
    db.execute("INSERT INTO message (contact_id, direction, text, buttons, created_at) VALUES (?, 'in', ?, '[]', ?)",
               (contact_id, text, stamp))


# --- triggers ---------------------------------------------------------------------------------------------------


def count_trigger_run(db: Executor, trigger_id: int, contact_id: int, stamp: str, once_per_contact: bool) -> bool:
    """Record a run; False (and nothing recorded) when a once-per-contact trigger already ran for the contact."""
    return db.execute(
        "INSERT INTO trigger_run (trigger_id, contact_id, runs, last_run_at) VALUES (?, ?, 1, ?)"
        " ON CONFLICT (trigger_id, contact_id) DO UPDATE SET runs = trigger_run.runs + 1,"
        " last_run_at = excluded.last_run_at WHERE NOT ? RETURNING runs",
        (trigger_id, contact_id, stamp, once_per_contact),
    ).fetchone() is not None


# --- flows ------------------------------------------------------------------------------------------------------


def read_flow_position(db: Executor, contact_id: int) -> tuple | None:
    """(flow_id, node_id, waiting_for, use_draft, retries) where the contact waits, if anywhere."""
    return db.execute(
        "SELECT flow_id, node_id, waiting_for, use_draft, retries FROM flow_position WHERE contact_id = ?",
        (contact_id,)).fetchone()


def store_flow_position(db: Executor, contact_id: int, flow_id: int, node_id: str, waiting_for: str,
                        use_draft: bool, retries: int, stamp: str) -> None:
    db.execute(
        "INSERT INTO flow_position (contact_id, flow_id, node_id, waiting_for, use_draft, retries, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (contact_id) DO UPDATE SET flow_id = excluded.flow_id,"
        " node_id = excluded.node_id, waiting_for = excluded.waiting_for, use_draft = excluded.use_draft,"
        " retries = excluded.retries, updated_at = excluded.updated_at",
        (contact_id, flow_id, node_id, waiting_for, use_draft, retries, stamp))


def clear_flow_position(db: Executor, contact_id: int) -> None:
    db.execute("DELETE FROM flow_position WHERE contact_id = ?", (contact_id,))


def insert_wake_up(db: Executor, contact_id: int, flow_id: int, node_id: str, due_at: str) -> None:
    db.execute("INSERT INTO wake_up (contact_id, flow_id, node_id, due_at, done) VALUES (?, ?, ?, ?, FALSE)",
               (contact_id, flow_id, node_id, due_at))


def read_due_wake_ups(db: Executor, stamp: str, limit: int = -1) -> list[tuple]:
    """(id, contact_id, flow_id, node_id) of delays due by `stamp`, oldest first; all of them when `limit` < 0."""
    if limit < 0:
        return db.execute("SELECT id, contact_id, flow_id, node_id FROM wake_up WHERE done = FALSE AND due_at <= ?"
                          " ORDER BY due_at, id", (stamp,)).fetchall()
    return db.execute("SELECT id, contact_id, flow_id, node_id FROM wake_up WHERE done = FALSE AND due_at <= ?"
                      " ORDER BY due_at, id LIMIT ?", (stamp, limit)).fetchall()


def mark_wake_up_done(db: Executor, wake_id: int) -> bool:
    """False when another turn woke it already (the UPDATE waits for that turn on PostgreSQL, then finds it done)."""
    return db.execute("UPDATE wake_up SET done = TRUE WHERE id = ? AND done = FALSE", (wake_id,)).rowcount > 0


def read_delay_position(db: Executor, contact_id: int, flow_id: int, node_id: str) -> tuple | None:
    return db.execute(
        "SELECT use_draft FROM flow_position WHERE contact_id = ? AND flow_id = ? AND node_id = ?"
        " AND waiting_for = 'delay'", (contact_id, flow_id, node_id)).fetchone()


def any_wake_up_due(db: Executor, stamp: str) -> bool:
    return db.execute("SELECT 1 FROM wake_up WHERE done = FALSE AND due_at <= ? LIMIT 1",
                      (stamp,)).fetchone() is not None
