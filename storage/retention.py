"""What the app forgets by itself: rows that only matter for a while and would otherwise grow without end.

- Event ids already taken (`processed_event` for opens, `hook_event` for replies and button presses) are kept so that
  a platform's retry of one changes nothing. Telegram keeps an undelivered update for 24 hours and Meta retries a
  webhook it could not deliver, less and less often, for up to 7 days, so two weeks covers every retry with room to
  spare. An open's row also holds the whole result it gave, so it is the largest of the three.
- Delays that have run (`wake_up` rows marked done) are kept a week, for whoever looks into a flow's recent runs.

Contacts, messages, referrals, the event log (analytics) and the outbox are the workspace's history and stay.
Each batch is its own short write transaction, with a pause after it, so webhooks and web chat turns get in between
on SQLite (without the pause a waiting turn rarely wins the lock back, as bench/retention.py showed); several
instances on one PostgreSQL database may prune at once (a row is deleted once, whoever deletes it).
"""

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlmodel import select

from storage.db import Database
from storage.models import HookEvent, ProcessedEvent, WakeUp

BATCH = 1_000  # rows per transaction: about 15 ms of holding SQLite's write lock
PAUSE = 0.02  # seconds between two batches, so that live turns waiting for the lock get it (bench/retention.py)


@dataclass(frozen=True)
class Retention:
    events: timedelta = timedelta(days=14)  # event ids of opens, replies and button presses
    wake_ups: timedelta = timedelta(days=7)  # delays that have run


@dataclass(frozen=True)
class Pruned:
    processed_events: int
    hook_events: int
    wake_ups: int

    @property
    def total(self) -> int:
        return self.processed_events + self.hook_events + self.wake_ups

    def to_dict(self) -> dict[str, int]:
        return {"processed_events": self.processed_events, "hook_events": self.hook_events,
                "wake_ups": self.wake_ups}


def prune(database: Database, *, now: datetime | None = None, keep: Retention = Retention(),
          batch: int = BATCH, pause: float = PAUSE) -> Pruned:
    """Delete what has outlived `keep` at `now` (the current time unless told); returns how many rows went."""
    now = now or datetime.now(UTC)
    events_before, wake_ups_before = now - keep.events, now - keep.wake_ups  # aware: the columns' type wants it
    return Pruned(
        processed_events=_delete_in_batches(database, ProcessedEvent, ProcessedEvent.created_at < events_before,
                                            batch, pause),
        hook_events=_delete_in_batches(database, HookEvent, HookEvent.received_at < events_before, batch, pause),
        wake_ups=_delete_in_batches(database, WakeUp, sa.and_(WakeUp.done == sa.true(),
                                                              WakeUp.due_at < wake_ups_before), batch, pause),
    )


def _delete_in_batches(database: Database, model: type, condition: sa.ColumnElement[bool], batch: int,
                       pause: float) -> int:
    """Delete `model`'s rows where `condition` holds, `batch` rows (named by their primary key) per transaction."""
    keys = sa.inspect(model).primary_key
    statement = sa.delete(model).where(sa.tuple_(*keys).in_(select(*keys).where(condition).limit(batch)))
    deleted = 0
    while True:
        with database.write_session() as session:
            count = session.execute(statement).rowcount
        deleted += count
        if count < batch:
            return deleted
        time.sleep(pause)  # SQLite's busy handler backs off while it waits: without a pause the next batch wins

