"""The runtime's public entry points: live processing and the simulator both go through `Runtime`."""

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from runtime import store
from runtime.coupons import count_codes_left
from runtime.definitions import DefinitionCache, Definitions
from runtime.flows import resume_with_reply, run_due_wakeups, start_flow
from runtime.inbound import ParseCache, clean_inbound, read_inbound, storable_text
from runtime.link_reading import count_repeats
from runtime.opening import (
    Inbound,
    Opened,
    OpenResult,
    claim_event,
    process_open,
    read_contact_data,
    remember_event,
    summarise_open,
)
from runtime.referral_stats import Scope, referral_value
from runtime.triggers import dispatch_events
from runtime.turn import SentMessage, Turn
from storage.connection import RETRIES, EngineConnection, connect_engine
from storage.db import Database

T = TypeVar("T")


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class TurnResult:
    """What a reply or a clock tick did."""

    contact_id: int | None
    handled: bool
    messages: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    trace: list[dict[str, Any]] = field(default_factory=list)
    woken: int = 0

    def to_dict(self) -> dict[str, Any]:
        common = {"messages": self.messages, "events": self.events, "warnings": self.warnings}
        if self.contact_id is None:
            return {"woken": self.woken} | common
        return {"contact": {"id": self.contact_id, "fields": self.fields, "tags": self.tags},
                "handled": self.handled} | common


@dataclass(frozen=True)
class RunOptions:
    """How one call runs, chosen by its caller rather than kept on the shared `Runtime`, so that two admins simulating
    on one sandbox each get their own: the draft or the published flows, and the seed of the random draws (a seeded
    scenario replays the same randomizer branches; None is truly random, as live)."""

    use_draft: bool = False
    seed: int | str | None = None
    dry_run: bool = False  # do everything, then roll back: the link preview reports what an open would do


LIVE = RunOptions()  # what live processing runs: the published flows, truly at random


class Runtime:
    """One database connection, a definition cache and a clock. Safe to share between threads (calls are
    serialised); use one per process, or one per sandbox in the simulator. Each call that runs flows takes its
    RunOptions (draft or published, seed); the runtime itself holds none. With `trace`,
    results carry every step taken (flows started, nodes visited, triggers run or skipped) for the simulator's
    timeline; without it, only events, messages and warnings, which is all live processing needs. With `outbox`
    (live), every message sent is queued for delivery in the turn's transaction, and `on_outbox` is called after the
    commit of a turn that queued any (the app wakes its delivery worker with it).

    The database may be SQLite or PostgreSQL (storage/connection.py gives the connection, runtime/store.py the
    statements and how concurrent turns stay correct); on PostgreSQL a turn that lost a deadlock is run again."""

    def __init__(self, database: Database, *, clock: Callable[[], datetime] = utcnow, trace: bool = False,
                 outbox: bool = False, on_outbox: Callable[[], None] | None = None,
                 connection: EngineConnection | None = None) -> None:
        self._engine = connection if connection is not None else connect_engine(database)
        self._connection = self._engine.db
        self._definitions = DefinitionCache()
        self._parses = ParseCache()
        self._lock = threading.Lock()
        self.clock = clock
        self.trace = trace
        self.outbox = outbox
        self.on_outbox = on_outbox

    def open_link(self, inbound: Inbound, options: RunOptions = LIVE) -> OpenResult:
        """Process one inbound open in one BEGIN IMMEDIATE transaction (DOMAIN §4), triggers and flows included. The
        inbound's text is cleaned, cut to the channel's limit and read before the transaction begins. A dry run
        (`options.dry_run`) does all of it and rolls the transaction back: the result says what the open would do
        (the contact's fields and tags as they would be), and nothing is stored or delivered."""
        inbound, cut = clean_inbound(inbound)
        with self._lock:
            held = self._definitions.held(self._connection)
        reading = read_inbound(inbound, held, self._parses, cut)

        def work(turn: Turn) -> OpenResult:
            result = claim_event(turn, inbound) if inbound.event_id is not None else None
            if result is not None:
                return result
            current = reading if reading.version == turn.defs.version else \
                read_inbound(inbound, turn.defs, self._parses, cut)  # the definitions changed meanwhile
            opened = process_open(turn, inbound, current)
            handled = dispatch_events(turn)
            response = _respond(turn, opened)
            dispatch_events(turn, handled)
            turn.write_events()
            result = summarise_open(turn, opened, response)
            if options.dry_run:  # read now: after the rollback the contact may not exist
                contact_data = read_contact_data(turn, opened.contact_id)
                result.read_contact = lambda: contact_data
            elif inbound.event_id is not None:
                remember_event(turn, inbound, result)
            return result

        result = self._run(work, options=options)
        if not options.dry_run:
            contact_id = result.contact_id
            result.read_contact = lambda: self.contact_data(contact_id)
        return result

    def reply(self, *, channel: str, channel_user_id: str, text: str, options: RunOptions = LIVE) -> TurnResult:
        """A message from a contact: it answers the question or buttons they wait at, else gets the default reply."""
        channel_user_id, text = storable_text(channel_user_id), storable_text(text)

        def work(turn: Turn) -> TurnResult:
            contact_id = store.find_contact_by_channel_user(turn.db, channel, channel_user_id)
            if contact_id is None:
                turn.warn(f"No {channel} contact has the id '{channel_user_id}'; they must open a link first.")
                return TurnResult(None, False, warnings=turn.warnings)
            turn.lock_contact(contact_id)
            handled = resume_with_reply(turn, contact_id, text)
            if not handled:
                turn.receive(contact_id, text)
                turn.send(SentMessage(contact_id, turn.render(turn.defs.default_reply, contact_id)))
            dispatch_events(turn)
            turn.write_events()
            return self._summarise(turn, contact_id, handled)

        return self._run(work, options=options)

    def tick(self, advance: timedelta = timedelta(0), limit: int = -1, options: RunOptions = LIVE) -> TurnResult:
        """Run every delay that is due by now + `advance` (the simulator fast-forwards with it); with `limit`, only
        that many of the oldest, so that a backlog is worked through in short transactions."""
        def work(turn: Turn) -> TurnResult:
            woken = run_due_wakeups(turn, limit)
            dispatch_events(turn)
            turn.write_events()
            result = self._summarise(turn, None, woken > 0)
            result.woken = woken
            return result

        return self._run(work, advance, options=options)

    def any_delay_due(self) -> bool:
        """Whether a delay is due by now: one read, without the write lock (the live clock asks every second)."""
        return self._run(lambda turn: store.any_wake_up_due(turn.db, turn.stamp), write=False)

    def contact_data(self, contact_id: int) -> tuple[dict[str, Any], list[str]]:
        """A contact's field values (by name) and tag names, as stored now."""
        return self._run(lambda turn: read_contact_data(turn, contact_id), write=False)

    def referral_standing(self, contact_id: int, *, entry_point_id: int | None = None,
                          period: str = "all") -> tuple[int | None, int]:
        """The contact's rank (None: not on the board) and counted referrals on a board, as a leaderboard step
        reads them now (by the runtime's clock)."""
        def work(turn: Turn) -> tuple[int | None, int]:
            scope = Scope(entry_point_id, period)
            rank, count = (referral_value(turn.db, contact_id=contact_id, key=key, at=turn.now, scope=scope)
                           for key in ("rank", "count"))
            return rank, count  # type: ignore[return-value]

        return self._run(work, write=False)

    def codes_left(self, pool_name: str) -> int | None:
        """How many codes a coupon pool can still give (None: no pool of that name)."""
        return self._run(lambda turn: count_codes_left(turn.db, pool_name=pool_name), write=False)

    def definitions(self) -> Definitions:
        with self._lock:
            return self._definitions.get(self._connection)

    def close(self) -> None:
        with self._lock:
            self._engine.close()

    def __enter__(self) -> "Runtime":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _run(self, work: Callable[[Turn], T], advance: timedelta = timedelta(0), write: bool = True,
             options: RunOptions = LIVE) -> T:
        """`work` in one transaction (BEGIN IMMEDIATE on SQLite), committed when it returns (rolled back instead
        for a dry run), rolled back when it raises; on PostgreSQL run again from the start when it lost a deadlock
        or a serialization check."""
        engine = self._engine
        with self._lock:
            for attempt in range(RETRIES + 1):
                if write:
                    engine.begin_write()
                else:
                    engine.begin_read()
                try:
                    turn = Turn(self._connection, self._definitions.get(self._connection), self.clock() + advance,
                                use_draft=options.use_draft, seed=options.seed, trace=self.trace, outbox=self.outbox,
                                lock_contact=engine.lock_contact)
                    result = work(turn)
                except BaseException as error:
                    engine.rollback()
                    if attempt < RETRIES and engine.is_retryable(error):
                        continue
                    raise
                if not options.dry_run:
                    engine.commit()
                else:
                    engine.rollback()
                break
        if not options.dry_run and turn.queued and self.on_outbox is not None:
            self.on_outbox()  # after COMMIT: the worker can see what this turn queued
        return result

    @staticmethod
    def _summarise(turn: Turn, contact_id: int | None, handled: bool) -> TurnResult:
        fields, tags = read_contact_data(turn, contact_id) if contact_id is not None else ({}, [])
        return TurnResult(contact_id, handled, [m.to_dict() for m in turn.messages],
                          [e.to_dict() for e in turn.events], count_repeats(turn.warnings), fields, tags, turn.trace)


def _respond(turn: Turn, opened: Opened) -> dict[str, Any]:
    """Step 5's answer to the person who opened: the entry point's message or flow, or the default reply."""
    entry = opened.entry
    if entry is not None and entry.response_type == "flow":
        if entry.response_flow_id is None:
            turn.warn(f"Entry point '{entry.ref}' answers with a flow, but no flow is chosen.")
            return {"type": "none"}
        start_flow(turn, opened.contact_id, entry.response_flow_id)
        return {"type": "flow", "flow_id": entry.response_flow_id}
    text = entry.response_message if entry is not None else turn.defs.default_reply
    if not text:
        return {"type": "none"}
    message = SentMessage(opened.contact_id, turn.render(text, opened.contact_id))
    turn.send(message)
    return {"type": "message", "text": message.text}
