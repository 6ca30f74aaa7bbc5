"""The runtime's public entry points: live processing and the simulator both go through `Runtime`."""

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from runtime.coupons import count_codes_left
from runtime.definitions import DefinitionCache, Definitions
from runtime.flows import resume_with_reply, run_due_wakeups, start_flow
from runtime.inbound import ParseCache, clean_inbound, read_inbound, storable_text
from runtime.links import count_repeats
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
from storage.db import Database


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


class Runtime:
    """One database connection, a definition cache and a clock. Safe to share between threads (calls are
    serialised); use one per process, or one per sandbox in the simulator (which runs draft flows). With `trace`,
    results carry every step taken (flows started, nodes visited, triggers run or skipped) for the simulator's
    timeline; without it, only events, messages and warnings, which is all live processing needs. With `outbox`
    (live), every message sent is queued for delivery in the turn's transaction, and `on_outbox` is called after the
    commit of a turn that queued any (the app wakes its delivery worker with it)."""

    def __init__(self, database: Database, *, clock: Callable[[], datetime] = utcnow, use_draft: bool = False,
                 seed: int | str | None = None, trace: bool = False, outbox: bool = False,
                 on_outbox: Callable[[], None] | None = None) -> None:
        self._pooled = database.engine.raw_connection()
        self._connection: sqlite3.Connection = self._pooled.driver_connection
        self._definitions = DefinitionCache()
        self._parses = ParseCache()
        self._lock = threading.Lock()
        self.clock = clock
        self.use_draft = use_draft
        self.seed = seed
        self.trace = trace
        self.outbox = outbox
        self.on_outbox = on_outbox

    def open_link(self, inbound: Inbound) -> OpenResult:
        """Process one inbound open in one BEGIN IMMEDIATE transaction (DOMAIN §4), triggers and flows included. The
        inbound's text is cleaned, cut to the channel's limit and read before the transaction begins."""
        inbound, cut = clean_inbound(inbound)
        with self._lock:
            held = self._definitions.held(self._connection)
        reading = read_inbound(inbound, held, self._parses, cut)
        with self._turn() as turn:
            result = claim_event(turn, inbound) if inbound.event_id is not None else None
            if result is None:
                if reading.version != turn.defs.version:  # the definitions changed meanwhile: read it again
                    reading = read_inbound(inbound, turn.defs, self._parses, cut)
                opened = process_open(turn, inbound, reading)
                handled = dispatch_events(turn)
                response = _respond(turn, opened)
                dispatch_events(turn, handled)
                turn.write_events()
                result = summarise_open(turn, opened, response)
                if inbound.event_id is not None:
                    remember_event(turn, inbound, result)
        contact_id = result.contact_id
        result.read_contact = lambda: self.contact_data(contact_id)
        return result

    def reply(self, *, channel: str, channel_user_id: str, text: str) -> TurnResult:
        """A message from a contact: it answers the question or buttons they wait at, else gets the default reply."""
        channel_user_id, text = storable_text(channel_user_id), storable_text(text)
        with self._turn() as turn:
            row = turn.db.execute("SELECT id FROM contact WHERE channel = ? AND channel_user_id = ?",
                                  (channel, channel_user_id)).fetchone()
            if row is None:
                turn.warn(f"No {channel} contact has the id '{channel_user_id}'; they must open a link first.")
                return TurnResult(None, False, warnings=turn.warnings)
            contact_id = row[0]
            handled = resume_with_reply(turn, contact_id, text)
            if not handled:
                turn.receive(contact_id, text)
                turn.send(SentMessage(contact_id, turn.render(turn.defs.default_reply, contact_id)))
            dispatch_events(turn)
            turn.write_events()
            return self._summarise(turn, contact_id, handled)

    def tick(self, advance: timedelta = timedelta(0), limit: int = -1) -> TurnResult:
        """Run every delay that is due by now + `advance` (the simulator fast-forwards with it); with `limit`, only
        that many of the oldest, so that a backlog is worked through in short transactions."""
        with self._turn(advance) as turn:
            woken = run_due_wakeups(turn, limit)
            dispatch_events(turn)
            turn.write_events()
            result = self._summarise(turn, None, woken > 0)
            result.woken = woken
            return result

    def contact_data(self, contact_id: int) -> tuple[dict[str, Any], list[str]]:
        """A contact's field values (by name) and tag names, as stored now."""
        with self._turn(begin="BEGIN") as turn:
            return read_contact_data(turn, contact_id)

    def referral_standing(self, contact_id: int, *, entry_point_id: int | None = None,
                          period: str = "all") -> tuple[int | None, int]:
        """The contact's rank (None: not on the board) and counted referrals on a board, as a leaderboard step
        reads them now (by the runtime's clock)."""
        with self._turn(begin="BEGIN") as turn:
            scope = Scope(entry_point_id, period)
            rank, count = (referral_value(turn.db, contact_id=contact_id, key=key, at=turn.now, scope=scope)
                           for key in ("rank", "count"))
            return rank, count  # type: ignore[return-value]

    def codes_left(self, pool_name: str) -> int | None:
        """How many codes a coupon pool can still give (None: no pool of that name)."""
        with self._turn(begin="BEGIN") as turn:
            return count_codes_left(turn.db, pool_name=pool_name)

    def definitions(self) -> Definitions:
        with self._lock:
            return self._definitions.get(self._connection)

    def close(self) -> None:
        with self._lock:
            self._pooled.close()

    def __enter__(self) -> "Runtime":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @contextmanager
    def _turn(self, advance: timedelta = timedelta(0), begin: str = "BEGIN IMMEDIATE") -> Iterator[Turn]:
        with self._lock:
            connection = self._connection
            connection.execute(begin)
            try:
                turn = Turn(connection, self._definitions.get(connection), self.clock() + advance,
                            use_draft=self.use_draft, seed=self.seed, trace=self.trace, outbox=self.outbox)
                yield turn
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
        if turn.queued and self.on_outbox is not None:
            self.on_outbox()  # after COMMIT: the worker can see what this turn queued

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
