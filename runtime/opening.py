"""What opening a link does (DOMAIN §4): one inbound open, processed in one BEGIN IMMEDIATE transaction.

Written with plain SQL on one sqlite3 connection: upserts and atomic statements, never read-then-write in Python.
The steps share one transaction and what was found so far (`_Opening`), so they stay together in this module; the
result also says where each value of the link went (`Landing`), which the link preview (runtime/link_preview.py)
shows from a dry run.
"""

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from runtime import store
from runtime.coupons import find_second_level_referrer
from runtime.definitions import EntryDef, FieldDef, link_may_set, refused_by_field
from runtime.inbound import Inbound, LinkReading
from runtime.link_reading import count_repeats
from runtime.links import PayloadItem
from runtime.referral_stats import add_referral_score
from runtime.turn import Event, Turn, trace_steps
from runtime.values import FieldValueError, JsonPathError, coerce_value, read_id, read_json_path
from runtime.vocabulary import COUNTED_STATUSES
from storage.connection import Executor


@dataclass
class OpenResult:
    """What one open did. Events, messages and the trace are turned into dicts when read; the contact's fields and
    tags are read when first asked for (live processing rarely needs them), as they are stored at that moment.
    `contact_id` is None only for a refused replay from someone the bot does not know."""

    contact_id: int | None
    is_new: bool
    entry: str | None
    referral: dict[str, Any] | None
    warnings: list[str]
    response: dict[str, Any]
    raw_events: list = field(default_factory=list, repr=False)  # Event objects, or dicts from a stored result
    raw_messages: list = field(default_factory=list, repr=False)  # SentMessage objects, or dicts
    steps: list = field(default_factory=list, repr=False)  # the turn's raw trace
    landings: list["Landing"] = field(default_factory=list, repr=False)  # where each value of the link went
    referral_problem: str | None = field(default=None, repr=False)  # why the referrer was not credited
    duplicate_event: bool = False
    read_contact: Callable[[], tuple[dict[str, Any], list[str]]] | None = field(default=None, repr=False)
    _contact: tuple[dict[str, Any], list[str]] | None = field(default=None, repr=False)

    @property
    def events(self) -> list[dict[str, Any]]:
        return [e if isinstance(e, dict) else e.to_dict() for e in self.raw_events]

    @property
    def messages(self) -> list[dict[str, Any]]:
        return [m if isinstance(m, dict) else m.to_dict() for m in self.raw_messages]

    @property
    def trace(self) -> list[dict[str, Any]]:
        return trace_steps(self.steps)

    @property
    def fields(self) -> dict[str, Any]:
        return self._contact_data()[0]

    @property
    def tags(self) -> list[str]:
        return self._contact_data()[1]

    def _contact_data(self) -> tuple[dict[str, Any], list[str]]:
        if self._contact is None:
            self._contact = self.read_contact() if self.read_contact and self.contact_id is not None else ({}, [])
        return self._contact

    def to_dict(self, *, with_contact_data: bool = True) -> dict[str, Any]:
        contact = {"id": self.contact_id, "is_new": self.is_new}
        if with_contact_data:
            contact |= {"fields": self.fields, "tags": self.tags}
        return {
            "contact": contact,
            "entry": self.entry,
            "referral": self.referral,
            "events": self.events,
            "response": self.response,
            "messages": self.messages,
            "warnings": self.warnings,
            "duplicate_event": self.duplicate_event,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "OpenResult":
        contact = data["contact"]
        return cls(
            contact_id=contact["id"], is_new=contact["is_new"], entry=data["entry"], referral=data["referral"],
            warnings=data["warnings"], response=data["response"], raw_events=data["events"],
            raw_messages=data.get("messages", []),
        )


@dataclass(frozen=True)
class Landing:
    """Where one value of the link went (step 3): saved into `field` as `saved`, or not, and `problem` is the warning
    the open gave. A payload value has its `key` (None: the first value); a JSON value its `path`, and a landing with
    `from_json` and no path stands for the whole JSON, when none of it could be saved. `found_by` says how the field
    was chosen: default, mapping, id, name (a payload key) or json (the entry point's JSON mapping)."""

    value: Any
    field: str | None
    found_by: str
    saved: Any = None
    problem: str | None = None
    key: str | None = None
    path: str | None = None
    from_json: bool = False


@dataclass
class Opened:
    """Steps 1–4 done: who opened, through which entry point, with which referral outcome."""

    contact_id: int
    is_new: bool
    entry: EntryDef | None
    referral: dict[str, Any] | None
    landings: list[Landing] = field(default_factory=list)
    referral_problem: str | None = None  # why the referrer was not credited (also among the warnings)


def process_open(turn: Turn, inbound: Inbound, reading: LinkReading) -> Opened:
    """Steps 1–4 of DOMAIN §4 and the events of step 5, inside the caller's transaction, on a link read beforehand
    (runtime.inbound). Every problem becomes a warning on the turn; nothing raises for bad input."""
    return _Opening(turn, inbound, reading).run()


def claim_event(turn: Turn, inbound: Inbound) -> OpenResult | None:
    """None when the inbound's event id is new on its channel and bot (and now claimed); else the result given the
    first time — to the same person only: someone else sending a used id learns nothing and changes nothing."""
    key = (inbound.channel, inbound.bot, inbound.event_id)
    if store.claim_event(turn.db, *key, inbound.channel_user_id, turn.stamp):
        return None
    sender, stored = store.read_processed_event(turn.db, *key)
    if sender != inbound.channel_user_id:
        return _refused_replay(turn, inbound)
    earlier = OpenResult.from_dict(json.loads(stored))
    earlier.duplicate_event = True
    earlier.warnings = [*earlier.warnings, f"Event '{inbound.event_id}' was already processed; nothing changed this "
                                           "time."]
    return earlier


def _refused_replay(turn: Turn, inbound: Inbound) -> OpenResult:
    own = store.find_contact_by_channel_user(turn.db, inbound.channel, inbound.channel_user_id)
    warning = (f"Event '{inbound.event_id}' was already processed for another person on {inbound.channel}; event "
               "ids are unique per channel, so this open changed nothing.")
    return OpenResult(contact_id=own, is_new=False, entry=None, referral=None,
                      warnings=[warning], response={"type": "none"}, duplicate_event=True)


def remember_event(turn: Turn, inbound: Inbound, result: OpenResult) -> None:
    """Keep what the open did, for a retry of the same event (the contact's data is read afresh then)."""
    record = result.to_dict(with_contact_data=False)
    store.store_event_result(turn.db, inbound.channel, inbound.bot, inbound.event_id,
                             json.dumps(record, ensure_ascii=False, default=str))


def summarise_open(turn: Turn, opened: Opened, response: dict[str, Any]) -> OpenResult:
    return OpenResult(
        contact_id=opened.contact_id, is_new=opened.is_new, entry=opened.entry.ref if opened.entry else None,
        referral=opened.referral, warnings=count_repeats(turn.warnings), response=response, raw_events=turn.events,
        raw_messages=turn.messages, steps=turn.steps, landings=opened.landings,
        referral_problem=opened.referral_problem,
    )


def read_contact_data(turn: Turn, contact_id: int) -> tuple[dict[str, Any], list[str]]:
    """The contact's field values (by field name) and tag names."""
    return turn.fields_and_tags(contact_id)


class _Opening:
    """The steps of one open, sharing the turn, the inbound click and what was found so far."""

    def __init__(self, turn: Turn, inbound: Inbound, reading: LinkReading) -> None:
        self.turn = turn
        self.db = turn.db
        self.defs = turn.defs
        self.inbound = inbound
        self.reading = reading
        self.stamp = turn.stamp
        self.warnings = turn.warnings
        self.landings: list[Landing] = []
        self.referral_problem: str | None = None

    def run(self) -> Opened:
        self.warnings.extend(self.reading.warnings)
        ref, referrer, payload, json_payload = (self.reading.ref, self.reading.referrer, self.reading.payload,
                                                self.reading.json)
        entry = self.resolve_entry(self.reading.entry_ref, ref)
        referrer_id = find_referrer(self.db, referrer, entry.referrer_match) if referrer and entry else None
        if referrer_id is not None:  # their points, flows and rewards may change in this turn: lock both people now
            self.turn.lock_contact(referrer_id, (self.inbound.channel, self.inbound.channel_user_id))
        # A newcomer with a known referrer is always counted (they have no referral yet and cannot be the referrer),
        # so they are stored as referred right away instead of with a second statement.
        referred_by = referrer_id if entry is not None and entry.referrals_enabled else None
        contact_id, is_new = self.upsert_contact(ref, referred_by)
        self.turn.note("contact", contact_id=contact_id, is_new=is_new, entry=entry.ref if entry else None)
        if entry is not None:
            self.apply_payload(contact_id, entry, payload)
            self.apply_json(contact_id, entry, json_payload)
            if entry.segment_tag_id is not None:
                self.turn.add_tag(contact_id, entry.segment_tag_id, entry_point_id=entry.id)
        elif payload or json_payload:
            self.refuse_payload(payload, json_payload)
        store.insert_link_open(self.db, entry.id if entry else None, contact_id, self.inbound.channel, ref, is_new,
                               self.inbound.event_id, self.stamp)
        referral = self.attribute_referral(contact_id, is_new, entry, referrer, referrer_id) if referrer else None
        if is_new:
            self.turn.emit(Event("contact_created", contact_id, entry_point_id=entry.id if entry else None))
        if entry is not None:
            self.turn.emit(Event("entry_point_opened", contact_id, entry_point_id=entry.id, data={"ref": ref}))
        return Opened(contact_id, is_new, entry, referral, self.landings, self.referral_problem)

    # --- step 1: the entry point ----------------------------------------------------------------------------------

    def resolve_entry(self, entry_ref: str | None, ref: str) -> EntryDef | None:
        entry = self.defs.entries_by_ref.get(entry_ref) if entry_ref else None
        if entry is not None and not entry.active:
            self.warnings.append(f"Entry point '{entry.ref}' is switched off; the person got the default reply.")
            return None
        if entry is None and ref and not any("entry point" in w.lower() for w in self.warnings):
            self.warnings.append(f"No entry point matches '{ref}'; the person got the default reply.")
        return entry

    # --- step 2: the contact ---------------------------------------------------------------------------------------

    def upsert_contact(self, ref: str, referred_by: int | None) -> tuple[int, bool]:
        """The contact's id and whether they are new; `referred_by` is stored only for a new contact. Known people
        first. On SQLite the transaction holds the write lock, so nobody can add the contact between the two
        statements; on PostgreSQL a concurrent turn may, and then the insert does nothing and the update finds them
        (runtime/store.py)."""
        inbound = self.inbound
        phone = _phone_digits(inbound.phone) or (inbound.channel_user_id if inbound.channel == "whatsapp" else "")
        contact_id = None
        while contact_id is None:
            known = store.update_known_contact(self.db, inbound.channel, inbound.channel_user_id, ref, self.stamp,
                                               inbound.first_name, inbound.last_name, phone)
            if known is not None:
                self.turn.know_channel(known, inbound.channel)
                return known, False
            contact_id = store.insert_contact(self.db, inbound.channel, inbound.channel_user_id, inbound.first_name,
                                              inbound.last_name, phone, referred_by, ref, self.stamp)
        self.turn.know_new_contact(contact_id, inbound.channel, inbound.channel_user_id, inbound.first_name,
                                   inbound.last_name, phone, referred_by)
        return contact_id, True

    # --- step 3: payload, segment --------------------------------------------------------------------------------

    def apply_payload(self, contact_id: int, entry: EntryDef, payload: tuple[PayloadItem, ...]) -> None:
        for item in payload:
            target, found_by, problem = self.payload_field(entry, item)
            landing = Landing(item.value, target.name if target else None, found_by, problem=problem, key=item.key)
            if target is not None and problem is None:
                self.save_field(contact_id, target, item.value, landing)
            else:
                self.refuse(landing)

    def payload_field(self, entry: EntryDef, item: PayloadItem) -> tuple[FieldDef | None, str, str | None]:
        """The field a payload value goes to, how it was found, and why it may not be saved there (None: it may)."""
        if item.key is None:
            target = self.defs.fields_by_id.get(entry.default_field_id) if entry.default_field_id else None
            if target is None:
                return None, "default", (f"Entry point '{entry.ref}' has no default payload field; "
                                         f"the value '{item.value}' was not saved.")
            return target, "default", None
        target, found_by = self.defs.field_for_key(item.key, entry)
        if target is None:
            return None, found_by, f"No custom field has the ID or name '{item.key}'; the value '{item.value}' was " \
                                   "not saved."
        if not link_may_set(found_by, target.links_may_set):
            return target, found_by, refused_by_field(target.name, item.value)
        return target, found_by, None

    def apply_json(self, contact_id: int, entry: EntryDef, document: dict | None) -> None:
        if document is None:
            return
        if not entry.json_mapping:
            self.refuse(Landing(document, None, "json", from_json=True, problem=f"Entry point '{entry.ref}' has no "
                                "JSON mapping; the link's JSON was not saved."))
        for path, field_id in entry.json_mapping:
            target = self.defs.fields_by_id.get(field_id)
            if target is None:
                self.refuse(Landing(None, None, "json", path=path, from_json=True, problem=(
                    f"The JSON mapping of '{entry.ref}' points at field ID {field_id}, which no longer exists.")))
                continue
            try:
                value = read_json_path(document, path)
            except JsonPathError as error:
                self.refuse(Landing(None, target.name, "json", path=path, from_json=True,
                                    problem=f"{error} Field '{target.name}' was left as it was."))
                continue
            self.save_field(contact_id, target, value, Landing(value, target.name, "json", path=path,
                                                               from_json=True))

    def refuse_payload(self, payload: tuple[PayloadItem, ...], document: dict | None) -> None:
        """No entry point (unknown or off): nothing the link carries is saved, with one warning for all of it."""
        problem = "The payload was not saved because the link's entry point is not known or is off."
        self.warnings.append(problem)
        self.landings += [Landing(item.value, None, "", problem=problem, key=item.key) for item in payload]
        if document is not None:
            self.landings.append(Landing(document, None, "json", problem=problem, from_json=True))

    def save_field(self, contact_id: int, target: FieldDef, raw: Any, landing: Landing) -> None:
        try:
            value = coerce_value(target.name, target.type, raw)
        except FieldValueError as error:
            self.refuse(replace(landing, problem=str(error)))
            return
        self.turn.set_field(contact_id, target, value)
        self.landings.append(replace(landing, saved=value))

    def refuse(self, landing: Landing) -> None:
        self.warnings.append(landing.problem)
        self.landings.append(landing)

    # --- step 4: referral attribution ------------------------------------------------------------------------------

    def attribute_referral(self, contact_id: int, is_new: bool, entry: EntryDef | None, referrer: str,
                           referrer_id: int | None) -> dict:
        kind = "new" if is_new else "existing"
        if entry is None:
            self.refuse_referral(f"The referrer '{referrer}' was ignored because the link's entry point is not "
                                 "known or is off.")
            return {"status": "no_entry_point", "kind": kind, "referrer_id": None}
        status = self.referral_status(contact_id, entry, referrer, referrer_id)
        row = (entry.id, referrer_id, referrer, contact_id, kind)
        if status == "counted":
            status = self.count_referral(entry, row)
        else:
            self.insert_referral(row, status)
        if status in COUNTED_STATUSES:
            add_referral_score(self.db, referrer_id=referrer_id, entry_point_id=entry.id, at=self.turn.now,
                               stamp=self.turn.stamp)
            # a newcomer was stored as referred already
            if not is_new and store.set_referrer_once(self.db, contact_id, referrer_id):
                self.turn.know_referrer(contact_id, referrer_id)
            self.turn.emit(Event(f"referred_{kind}_contact", referrer_id, other_contact_id=contact_id,
                                 entry_point_id=entry.id))
            if entry.second_level_credit:
                self.credit_second_level(contact_id, entry, referrer_id)
        return {"status": status, "kind": kind, "referrer_id": referrer_id}

    def credit_second_level(self, contact_id: int, entry: EntryDef, referrer_id: int) -> None:
        """B joined with A's link and A had joined with Z's: `referred_second_level` in Z's context, B as referred.
        Only Z: whoever referred Z gets nothing, so credit never goes deeper than two levels."""
        grand = find_second_level_referrer(self.db, referrer_id=referrer_id)
        if grand is not None and grand not in (contact_id, referrer_id):
            self.turn.emit(Event("referred_second_level", grand, other_contact_id=contact_id,
                                 entry_point_id=entry.id, data={"via": referrer_id}))

    def referral_status(self, contact_id: int, entry: EntryDef, referrer: str, referrer_id: int | None) -> str:
        if not entry.referrals_enabled:
            self.refuse_referral(f"Referrals are off for '{entry.ref}'; the referrer '{referrer}' was not credited.")
            return "disabled"
        if referrer_id is None:
            self.refuse_referral(f"No contact has the {_MATCHED_BY[entry.referrer_match]} '{referrer}'; no referral "
                                 "was counted.")
            return "unknown_referrer"
        if referrer_id == contact_id:
            self.refuse_referral("A person cannot refer themselves; the self-referral was blocked.")
            return "self"
        return "counted"

    def count_referral(self, entry: EntryDef, row: tuple) -> str:
        """`counted` when this referee is new to the entry point; otherwise `duplicate`, or `repeat` (counted again)
        under the "count every open" policy. The partial unique index makes the first insert the arbiter."""
        if store.insert_counted_referral(self.db, row, self.stamp):
            return "counted"
        status = "repeat" if entry.referral_policy == "every_open" else "duplicate"
        self.insert_referral(row, status)
        if status == "duplicate":
            self.refuse_referral(f"This person was already counted as a referral for '{entry.ref}'; "
                                 "it was not counted again.")
        return status

    def insert_referral(self, row: tuple, status: str) -> None:
        store.insert_referral(self.db, row, status, self.stamp)

    def refuse_referral(self, problem: str) -> None:
        self.warnings.append(problem)
        self.referral_problem = problem


_MATCHED_BY = {"id": "contact ID", "phone": "phone", "id_or_phone": "contact ID or phone"}


def find_referrer(db: Executor, referrer: str, match: str) -> int | None:
    """The id of the contact a link's referrer names, by contact id, by phone (or WhatsApp number), or by either, as
    the entry point's `referrer_match` says (DOMAIN §4.3); None when nobody matches."""
    if (match in ("id", "id_or_phone") and (contact_id := read_id(referrer)) is not None
            and (found := store.find_contact_by_id(db, contact_id)) is not None):
        return found
    digits = _phone_digits(referrer) if match in ("phone", "id_or_phone") else ""
    if digits:
        return store.find_contact_by_phone(db, digits)
    return None


def _phone_digits(text: str) -> str:
    return _NOT_DIGITS.sub("", text) if text else ""


_NOT_DIGITS = re.compile(r"[^0-9]")  # ASCII digits only: a phone number of "٣" digits is none
