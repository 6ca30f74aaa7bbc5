"""The delivery worker: takes due messages from the outbox, sends each through its channel's sender, and records
what happened (sent; pending again after a temporary failure, with exponential backoff; failed with the platform's
words and the attempts made).

A sender is `async def deliver(item: OutboxItem) -> None`, registered per channel; it raises `TemporaryFailure` (the
worker retries later) or `PermanentFailure` (the message is marked failed). Claims are leases stored in the database,
so two app processes never deliver one message twice, and a worker that dies gives its messages back when the lease
expires. The worker runs in the app's event loop; database work goes to a thread.
"""

import asyncio
import contextlib
import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import groupby
from typing import Any, TypeVar

from storage import outbox
from storage.connection import connect_engine
from storage.db import Database
from storage.outbox import OutboxItem, Outcome

__all__ = ["DeliveryWorker", "OutboxItem", "PermanentFailure", "RetryPolicy", "Sender", "TemporaryFailure"]

log = logging.getLogger(__name__)

T = TypeVar("T")
Sender = Callable[[OutboxItem], Awaitable[None]]
MAX_ERROR = 1000  # characters of a platform's error text kept on the message
RECORD_TRIES = 5  # a busy database (each try already waits up to the 5 s busy timeout)


class TemporaryFailure(Exception):
    """The channel could not take the message now (a timeout, a 5xx, a rate limit); it is tried again later.
    `retry_after` (seconds) is the platform's own wait, when it says one."""

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class PermanentFailure(Exception):
    """The channel refused the message for good (blocked bot, unknown chat, invalid text): it is marked failed with
    these words, which the admin reads on the contact's transcript and the Channels page."""


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    base_delay: float = 2.0  # seconds before the second attempt; doubled for each further one
    max_delay: float = 600.0

    def delay(self, attempts: int) -> float:
        """Seconds to wait after `attempts` failed attempts."""
        return min(self.base_delay * 2 ** (attempts - 1), self.max_delay)


def utcnow() -> datetime:
    return datetime.now(UTC)


class DeliveryWorker:
    """Delivers the outbox. `wake()` (thread-safe) makes it look at once; otherwise it polls every `poll_interval`
    seconds for messages that other processes stored or whose backoff has passed."""

    def __init__(self, database: Database, *, poll_interval: float = 1.0, lease: float = 60.0,
                 send_timeout: float = 20.0, batch: int = 100, concurrency: int = 16,
                 clock: Callable[[], datetime] = utcnow, name: str | None = None) -> None:
        if send_timeout >= lease:
            raise ValueError("The send timeout must be shorter than the lease, or a slow send could be taken over.")
        self.database = database
        self.poll_interval = poll_interval
        self.lease = timedelta(seconds=lease)
        self.send_timeout = send_timeout
        self.batch = batch
        self.clock = clock
        self.name = name or f"worker-{uuid.uuid4().hex[:12]}"
        self._senders: dict[str, tuple[Sender, RetryPolicy]] = {}
        self._reachable: dict[str, Callable[[], Collection[int]]] = {}
        self.concurrency = concurrency
        self._slots = asyncio.Semaphore(concurrency)
        self._db_lock = threading.Lock()  # the worker's one connection is used by one thread at a time
        self._connection = None
        self._pooled = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._woken: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self._in_flight: set[asyncio.Task] = set()
        self._stopping = False

    # --- set-up ------------------------------------------------------------------------------------------------

    def register_sender(self, channel: str, sender: Sender, policy: RetryPolicy | None = None, *,
                        reachable: Callable[[], Collection[int]] | None = None) -> None:
        """Deliver `channel`'s messages through `sender`. With `reachable`, only messages to the contacts it names
        (say, the visitors with a chat open on this process) are claimed here: the rest wait, with no attempt
        counted, for the process they are connected to, or for their next visit."""
        self._senders[channel] = (sender, policy or RetryPolicy())
        if reachable is None:
            self._reachable.pop(channel, None)
        else:
            self._reachable[channel] = reachable
        self.wake()

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(sorted(self._senders))

    def _reach(self) -> dict[str, Collection[int] | None]:
        return {channel: (self._reachable[channel]() if channel in self._reachable else None)
                for channel in self._senders}

    async def start(self) -> None:
        self._bind_loop()
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"delivery {self.name}")

    async def stop(self) -> None:
        """Stop claiming; wait for deliveries under way to finish and be recorded."""
        if self._task is not None:
            self._stopping = True  # the loop ends at its next turn: a claim under way is dispatched, not dropped
            self.wake()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
            self._stopping = False
        await asyncio.gather(*self._in_flight, return_exceptions=True)
        with self._db_lock:
            if self._pooled is not None:
                self._pooled.close()
                self._pooled = self._connection = None

    def wake(self) -> None:
        """Look at the outbox now (callable from any thread, e.g. right after a turn's COMMIT)."""
        loop, woken = self._loop, self._woken
        if loop is None or woken is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop is shutting down
            loop.call_soon_threadsafe(woken.set)

    async def retry_now(self, contact_id: int) -> int:
        """Make the contact's pending messages due now and deliver them (the web chat calls this on connect)."""
        count = await asyncio.to_thread(self._with_connection, outbox.retry_now, contact_id=contact_id,
                                        now=self.clock())
        self.wake()
        return count

    async def run_once(self) -> int:
        """Claim one batch, deliver it and wait until every outcome is recorded; returns how many were claimed."""
        self._bind_loop()
        claimed, tasks = await self._claim_and_dispatch()
        await asyncio.gather(*tasks, return_exceptions=True)
        return claimed

    # --- the loop --------------------------------------------------------------------------------------------

    def _bind_loop(self) -> None:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
            self._woken = asyncio.Event()

    async def _run(self) -> None:
        assert self._woken is not None
        while not self._stopping:
            try:
                await self._one_round()
            except Exception:  # a locked or broken database must not kill delivery: log and poll again
                log.exception("The delivery worker could not read the outbox; it tries again in %.0f s",
                              self.poll_interval)

    async def _one_round(self) -> None:
        assert self._woken is not None
        try:
            await asyncio.wait_for(self._woken.wait(), timeout=self.poll_interval)
        except TimeoutError:
            if not await asyncio.to_thread(self._with_connection, outbox.has_due, channels=self._reach(),
                                           now=self.clock()):
                return
        self._woken.clear()
        while not self._stopping and (await self._claim_and_dispatch())[0] == self.batch:
            await self._room()  # a full batch: more may be due, claimed once there are free hands

    async def _room(self) -> None:
        """Wait until fewer contacts than `concurrency` are being served before claiming more, so that a busy
        process leaves the rest of the outbox to other processes."""
        while len(self._in_flight) >= self.concurrency:
            await asyncio.wait(set(self._in_flight), return_when=asyncio.FIRST_COMPLETED)

    async def _claim_and_dispatch(self) -> tuple[int, list[asyncio.Task]]:
        if not self._senders:
            return 0, []
        now = self.clock()
        items = await asyncio.to_thread(self._with_connection, outbox.claim_due, worker=self.name,
                                        channels=self._reach(), now=now, lease=self.lease, limit=self.batch)
        tasks = []
        for _contact, group in groupby(sorted(items, key=lambda item: (item.contact_id, item.id)),
                                       key=lambda item: item.contact_id):
            queue = list(group)
            task = asyncio.create_task(self._deliver_in_order(queue, now + self.lease),
                                       name=",".join(str(i.id) for i in queue))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)
            tasks.append(task)
        return len(items), tasks

    async def _deliver_in_order(self, queue: list[OutboxItem], held_until: datetime) -> None:
        """One contact's messages, oldest first; after a temporary failure the rest wait with it. Before a send that
        could outlast the lease (a long queue, a wait for a free slot), what is done so far is recorded and the lease
        on the rest is renewed, so no other process can take them meanwhile."""
        outcomes: list[Outcome] = []
        async with self._slots:
            for index, item in enumerate(queue):
                if self.clock() + timedelta(seconds=self.send_timeout) >= held_until:
                    rest = [later.id for later in queue[index:]]
                    kept, held_until = await asyncio.to_thread(self._renew, outcomes, rest)
                    outcomes = []
                    if kept != set(rest):
                        log.warning("The lease on outbox messages %s ran out; another worker delivers them",
                                    sorted(set(rest) - kept))
                        return
                outcome = await self._attempt(item)
                outcomes.append(outcome)
                if outcome.state == "pending":
                    held = [later.id for later in queue[index + 1:]]
                    await asyncio.to_thread(self._record, outcomes, held, outcome.retry_at)
                    return
        await asyncio.to_thread(self._record, outcomes, [], None)

    async def _attempt(self, item: OutboxItem) -> Outcome:
        sender, policy = self._senders[item.channel]
        attempt = item.attempts + 1
        try:
            await asyncio.wait_for(sender(item), timeout=self.send_timeout)
        except PermanentFailure as failure:
            return Outcome(item.id, "failed", _words(failure))
        except TemporaryFailure as failure:
            return self._retry(item, policy, attempt, _words(failure), failure.retry_after)
        except TimeoutError:
            return self._retry(item, policy, attempt, f"No answer from {item.channel} within {self.send_timeout:g} s",
                               None)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # a sender's bug: kept on the message so the admin sees it, retried like a timeout
            log.exception("The %s sender failed on outbox message %s", item.channel, item.id)
            return self._retry(item, policy, attempt, f"Unexpected error in the {item.channel} sender: "
                                                      f"{type(error).__name__}: {error}", None)
        return Outcome(item.id, "sent")

    def _retry(self, item: OutboxItem, policy: RetryPolicy, attempt: int, reason: str,
               retry_after: float | None) -> Outcome:
        if attempt >= policy.max_attempts:
            return Outcome(item.id, "failed", f"{reason} (gave up after {attempt} attempts)")
        wait = max(policy.delay(attempt), retry_after or 0.0)
        return Outcome(item.id, "pending", reason, self.clock() + timedelta(seconds=wait))

    def _record(self, outcomes: list[Outcome], held: list[int], retry_at: datetime | None) -> None:
        waiting = self._persist(outbox.record_outcomes, outcomes=outcomes, now=self.clock())
        if held and retry_at is not None:
            self._persist(outbox.release, item_ids=held, retry_at=retry_at)
        if waiting:
            self.wake()  # the contact got a message while this one was in flight

    def _renew(self, outcomes: list[Outcome], item_ids: list[int]) -> tuple[set[int], datetime]:
        if outcomes:
            self._record(outcomes, [], None)
        until = self.clock() + self.lease
        return self._persist(outbox.extend_lease, item_ids=item_ids, until=until), until

    def _persist(self, function: Callable[..., T], **arguments: Any) -> T:
        """Record what was delivered, trying again while the database is busy: an outcome that is not recorded would
        send the message again once its lease expires."""
        for attempt in range(RECORD_TRIES):
            try:
                return self._with_connection(function, worker=self.name, **arguments)
            except sqlite3.OperationalError:
                if attempt == RECORD_TRIES - 1:
                    raise
                log.warning("The outbox is busy; recording delivery outcomes again in %.1f s", 0.5 * (attempt + 1))
                time.sleep(0.5 * (attempt + 1))
        raise AssertionError("unreachable")

    def _with_connection(self, function: Callable[..., T], **arguments: Any) -> T:
        with self._db_lock:
            if self._connection is None:  # sqlite3 itself on SQLite; psycopg with the runtime's `?` on PostgreSQL
                self._pooled = connect_engine(self.database)
                self._connection = self._pooled.db
            return function(connection=self._connection, **arguments)

def _words(failure: Exception) -> str:
    text = str(failure).strip() or type(failure).__name__
    return text if len(text) <= MAX_ERROR else text[:MAX_ERROR - 1] + "…"
