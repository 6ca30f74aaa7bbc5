"""What opening a link does (DOMAIN §4): one inbound open, processed in one BEGIN IMMEDIATE transaction.

Written with plain SQL on one sqlite3 connection: upserts and atomic statements, never read-then-write in Python.
"""

import json
import re
import sqlite3
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from runtime.definitions import Definitions, EntryDef, FieldDef
from runtime.links import LinkError, ParsedRef, PayloadItem, extract_ref, match_whatsapp_text, parse_ref
from runtime.values import FieldValueError, JsonPathError, coerce_value, decode_value, encode_value, read_json_path


@dataclass(frozen=True)
class Inbound:
    """One click that reached the bot: the text it carried (a link, a ref, `/start REF`, a WhatsApp draft) and who
    sent it."""

    text: str
    channel: str
    channel_user_id: str
    first_name: str = ""
    last_name: str = ""
    phone: str = ""
    event_id: str | None = None


@dataclass
class Event:
    type: str
    contact_id: int
    other_contact_id: int | None = None
    entry_point_id: int | None = None
    field_id: int | None = None
    tag_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class OpenResult:
    contact_id: int
    is_new: bool
    entry: str | None
    referral: dict[str, Any] | None
    events: list[Event]
    warnings: list[str]
    response: dict[str, Any]
    fields: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    duplicate_event: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "contact": {"id": self.contact_id, "is_new": self.is_new, "fields": self.fields, "tags": self.tags},
            "entry": self.entry,
            "referral": self.referral,
            "events": [_event_dict(event) for event in self.events],
            "response": self.response,
            "warnings": self.warnings,
            "duplicate_event": self.duplicate_event,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "OpenResult":
        contact = data["contact"]
        return cls(
            contact_id=contact["id"], is_new=contact["is_new"], entry=data["entry"], referral=data["referral"],
            events=[Event(**{k: v for k, v in e.items()}) for e in data["events"]], warnings=data["warnings"],
            response=data["response"], fields=contact["fields"], tags=contact["tags"],
        )


def process_open(
    connection: sqlite3.Connection, definitions: Definitions, inbound: Inbound, now: datetime
) -> OpenResult:
    """Apply one open inside the caller's transaction; every problem becomes a warning, nothing raises for bad input."""
    stamp = now.replace(tzinfo=None).isoformat(" ", "microseconds")  # SQLAlchemy's own DATETIME text format
    if inbound.event_id is not None:
        earlier = _claim_event(connection, inbound.event_id, stamp)
        if earlier is not None:
            return earlier
    opening = _Opening(connection, definitions, inbound, stamp)
    result = opening.run()
    if inbound.event_id is not None:
        connection.execute("UPDATE processed_event SET result = ? WHERE event_id = ?",
                           (json.dumps(result.to_dict()), inbound.event_id))
    return result


def _claim_event(connection: sqlite3.Connection, event_id: str, stamp: str) -> OpenResult | None:
    """None when this event id is new (and now claimed); else the result given the first time."""
    claimed = connection.execute(
        "INSERT INTO processed_event (event_id, result, created_at) VALUES (?, '{}', ?) ON CONFLICT DO NOTHING",
        (event_id, stamp),
    ).rowcount
    if claimed:
        return None
    stored = connection.execute("SELECT result FROM processed_event WHERE event_id = ?", (event_id,)).fetchone()[0]
    earlier = OpenResult.from_dict(json.loads(stored))
    earlier.duplicate_event = True
    earlier.warnings = [*earlier.warnings, f"Event '{event_id}' was already processed; nothing changed this time."]
    return earlier


class _Opening:
    """The steps of one open, sharing the connection, the definitions and what was found so far."""

    def __init__(self, connection: sqlite3.Connection, definitions: Definitions, inbound: Inbound, stamp: str) -> None:
        self.db = connection
        self.defs = definitions
        self.inbound = inbound
        self.stamp = stamp
        self.warnings: list[str] = []
        self.events: list[Event] = []

    def run(self) -> OpenResult:
        ref, entry_ref, referrer, payload, json_payload = self.read_link()
        entry = self.resolve_entry(entry_ref, ref)
        contact_id, is_new = self.upsert_contact(ref)
        if entry is not None:
            self.apply_payload(contact_id, entry, payload)
            self.apply_json(contact_id, entry, json_payload)
            self.add_segment_tag(contact_id, entry)
        elif payload or json_payload:
            self.warnings.append("The payload was not saved because the link's entry point is not known or is off.")
        self.db.execute(
            "INSERT INTO link_open (entry_point_id, contact_id, channel, ref, is_new_contact, event_id, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (entry.id if entry else None, contact_id, self.inbound.channel, ref, is_new, self.inbound.event_id,
             self.stamp),
        )
        referral = self.attribute_referral(contact_id, is_new, entry, referrer) if referrer else None
        if is_new:
            self.record(Event("contact_created", contact_id, entry_point_id=entry.id if entry else None))
        if entry is not None:
            self.record(Event("entry_point_opened", contact_id, entry_point_id=entry.id, data={"ref": ref}))
        response = self.respond(contact_id, entry)
        self.write_events()
        fields, tags = self.read_contact_data(contact_id)
        return OpenResult(
            contact_id=contact_id, is_new=is_new, entry=entry.ref if entry else None, referral=referral,
            events=self.events, warnings=self.warnings, response=response, fields=fields, tags=tags,
        )

    # --- step 1: the link ----------------------------------------------------------------------------------------

    def read_link(self) -> tuple[str, str | None, str | None, tuple[PayloadItem, ...], dict | None]:
        if self.inbound.channel == "whatsapp":
            matched = self.match_whatsapp_pattern()
            if matched is not None:
                return matched
        channel, ref, extract_warnings, parsed = _parse_cached(self.inbound.text, self.defs.refs)
        if channel and channel != self.inbound.channel:
            self.warnings.append(f"This is a {channel} link, but the person is on {self.inbound.channel}.")
        self.warnings.extend((*extract_warnings, *parsed.warnings))
        return ref, parsed.entry, parsed.referrer, parsed.payload, parsed.json

    def match_whatsapp_pattern(self) -> tuple[str, str | None, str | None, tuple, dict | None] | None:
        for entry in self.defs.entries_with_whatsapp_pattern():
            try:
                groups = match_whatsapp_text(self.inbound.text, entry.whatsapp_pattern)
            except LinkError as error:
                self.warnings.append(f"Entry point '{entry.ref}': {error}")
                continue
            if groups is None:
                continue
            if groups.get("ref"):
                parsed = parse_ref(groups["ref"], self.defs.refs)
                self.warnings.extend(parsed.warnings)
                referrer = groups.get("referrer") or parsed.referrer
                return groups["ref"], parsed.entry, referrer, parsed.payload, parsed.json
            return entry.ref, entry.ref, groups.get("referrer"), (), None
        return None

    def resolve_entry(self, entry_ref: str | None, ref: str) -> EntryDef | None:
        entry = self.defs.entries_by_ref.get(entry_ref) if entry_ref else None
        if entry is not None and not entry.active:
            self.warnings.append(f"Entry point '{entry.ref}' is switched off; the person got the default reply.")
            return None
        if entry is None and ref and not any("entry point" in w.lower() for w in self.warnings):
            self.warnings.append(f"No entry point matches '{ref}'; the person got the default reply.")
        return entry

    # --- step 2: the contact ---------------------------------------------------------------------------------------

    def upsert_contact(self, ref: str) -> tuple[int, bool]:
        inbound = self.inbound
        phone = _phone_digits(inbound.phone) or (inbound.channel_user_id if inbound.channel == "whatsapp" else "")
        created = self.db.execute(
            "INSERT INTO contact (channel, channel_user_id, first_name, last_name, phone, first_ref, last_ref,"
            " created_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id",
            (inbound.channel, inbound.channel_user_id, inbound.first_name, inbound.last_name, phone, ref, ref,
             self.stamp, self.stamp),
        ).fetchone()
        if created:
            return created[0], True
        # Known person: refresh what the channel tells us, keeping names and phone the admin may have edited.
        row = self.db.execute(
            "UPDATE contact SET last_ref = ?, last_seen_at = ?,"
            " first_name = CASE WHEN first_name = '' THEN ? ELSE first_name END,"
            " last_name = CASE WHEN last_name = '' THEN ? ELSE last_name END,"
            " phone = CASE WHEN phone = '' THEN ? ELSE phone END"
            " WHERE channel = ? AND channel_user_id = ? RETURNING id",
            (ref, self.stamp, inbound.first_name, inbound.last_name, phone, inbound.channel, inbound.channel_user_id),
        ).fetchone()
        return row[0], False

    # --- step 3: payload, segment --------------------------------------------------------------------------------

    def apply_payload(self, contact_id: int, entry: EntryDef, payload: tuple[PayloadItem, ...]) -> None:
        for item in payload:
            target = self.payload_field(entry, item)
            if target is not None:
                self.save_field(contact_id, target, item.value)

    def payload_field(self, entry: EntryDef, item: PayloadItem) -> FieldDef | None:
        if item.key is None:
            target = self.defs.fields_by_id.get(entry.default_field_id) if entry.default_field_id else None
            if target is None:
                self.warnings.append(f"Entry point '{entry.ref}' has no default payload field; "
                                     f"the value '{item.value}' was not saved.")
            return target
        target = self.defs.field_for_key(item.key, entry)
        if target is None:
            self.warnings.append(f"No custom field has the ID or name '{item.key}'; the value '{item.value}' "
                                 "was not saved.")
        return target

    def apply_json(self, contact_id: int, entry: EntryDef, document: dict | None) -> None:
        if document is None:
            return
        if not entry.json_mapping:
            self.warnings.append(f"Entry point '{entry.ref}' has no JSON mapping; the link's JSON was not saved.")
        for path, field_id in entry.json_mapping:
            target = self.defs.fields_by_id.get(field_id)
            if target is None:
                self.warnings.append(f"The JSON mapping of '{entry.ref}' points at field ID {field_id}, "
                                     "which no longer exists.")
                continue
            try:
                value = read_json_path(document, path)
            except JsonPathError as error:
                self.warnings.append(f"{error} Field '{target.name}' was left as it was.")
                continue
            self.save_field(contact_id, target, value)

    def save_field(self, contact_id: int, target: FieldDef, raw: Any) -> None:
        try:
            value = coerce_value(target.name, target.type, raw)
        except FieldValueError as error:
            self.warnings.append(str(error))
            return
        changed = self.db.execute(
            "INSERT INTO field_value (contact_id, field_id, value, updated_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at"
            " WHERE field_value.value IS NOT excluded.value",
            (contact_id, target.id, encode_value(value), self.stamp),
        ).rowcount
        if changed:
            self.record(Event("field_changed", contact_id, field_id=target.id, data={"value": value}))

    def add_segment_tag(self, contact_id: int, entry: EntryDef) -> None:
        if entry.segment_tag_id is None:
            return
        added = self.db.execute(
            "INSERT INTO contact_tag (contact_id, tag_id, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (contact_id, entry.segment_tag_id, self.stamp),
        ).rowcount
        if added:
            self.record(Event("tag_added", contact_id, tag_id=entry.segment_tag_id, entry_point_id=entry.id))

    # --- step 4: referral attribution ------------------------------------------------------------------------------

    def attribute_referral(self, contact_id: int, is_new: bool, entry: EntryDef | None, referrer: str) -> dict:
        kind = "new" if is_new else "existing"
        if entry is None:
            self.warnings.append(f"The referrer '{referrer}' was ignored because the link's entry point is not known "
                                 "or is off.")
            return {"status": "no_entry_point", "kind": kind, "referrer_id": None}
        referrer_id = self.find_referrer(entry, referrer)
        status = self.referral_status(contact_id, entry, referrer, referrer_id)
        row = (entry.id, referrer_id, referrer, contact_id, kind)
        if status == "counted":
            status = self.count_referral(entry, row)
        else:
            self.insert_referral(row, status)
        if status in ("counted", "repeat"):
            self.db.execute("UPDATE contact SET referred_by_id = ? WHERE id = ? AND referred_by_id IS NULL",
                            (referrer_id, contact_id))
            self.record(Event(f"referred_{kind}_contact", referrer_id, other_contact_id=contact_id,
                              entry_point_id=entry.id))
        return {"status": status, "kind": kind, "referrer_id": referrer_id}

    def referral_status(self, contact_id: int, entry: EntryDef, referrer: str, referrer_id: int | None) -> str:
        if not entry.referrals_enabled:
            self.warnings.append(f"Referrals are off for '{entry.ref}'; the referrer '{referrer}' was not credited.")
            return "disabled"
        if referrer_id is None:
            self.warnings.append(f"No contact matches the referrer '{referrer}'; no referral was counted.")
            return "unknown_referrer"
        if referrer_id == contact_id:
            self.warnings.append("A person cannot refer themselves; the self-referral was blocked.")
            return "self"
        return "counted"

    def count_referral(self, entry: EntryDef, row: tuple) -> str:
        """`counted` when this referee is new to the entry point; otherwise `duplicate`, or `repeat` (counted again)
        under the "count every open" policy. The partial unique index makes the first insert the arbiter."""
        if self.insert_referral(row, "counted", " ON CONFLICT (entry_point_id, referee_id) WHERE status = 'counted'"
                                                " DO NOTHING"):
            return "counted"
        status = "repeat" if entry.referral_policy == "every_open" else "duplicate"
        self.insert_referral(row, status)
        if status == "duplicate":
            self.warnings.append(f"This person was already counted as a referral for '{entry.ref}'; "
                                 "it was not counted again.")
        return status

    def insert_referral(self, row: tuple, status: str, on_conflict: str = "") -> int:
        return self.db.execute(
            "INSERT INTO referral (entry_point_id, referrer_id, referrer_ref, referee_id, kind, status, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)" + on_conflict,
            (*row, status, self.stamp),
        ).rowcount

    def find_referrer(self, entry: EntryDef, referrer: str) -> int | None:
        if entry.referrer_match in ("id", "id_or_phone") and referrer.isdigit() and len(referrer) <= 18:
            row = self.db.execute("SELECT id FROM contact WHERE id = ?", (int(referrer),)).fetchone()
            if row:
                return row[0]
        if entry.referrer_match in ("phone", "id_or_phone"):
            digits = _phone_digits(referrer)
            row = self.db.execute(
                "SELECT id FROM contact WHERE phone = ? OR (channel = 'whatsapp' AND channel_user_id = ?)"
                " ORDER BY id LIMIT 1",
                (digits, digits),
            ).fetchone() if digits else None
            if row:
                return row[0]
        return None

    # --- step 5: events and the response -----------------------------------------------------------------------

    def record(self, event: Event) -> None:
        self.events.append(event)

    def write_events(self) -> None:
        self.db.executemany(
            "INSERT INTO event_log (type, contact_id, other_contact_id, entry_point_id, field_id, tag_id, data, depth,"
            " handled, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0, ?)",
            [(e.type, e.contact_id, e.other_contact_id, e.entry_point_id, e.field_id, e.tag_id,
              json.dumps(e.data, ensure_ascii=False) if e.data else "{}", self.stamp) for e in self.events],
        )

    def respond(self, contact_id: int, entry: EntryDef | None) -> dict[str, Any]:
        if entry is not None and entry.response_type == "flow" and entry.response_flow_id is not None:
            return {"type": "flow", "flow_id": entry.response_flow_id}
        text = entry.response_message if entry is not None else self.defs.default_reply
        if entry is not None and not text:
            return {"type": "none"}
        text = self.render(contact_id, text)
        self.db.execute(
            "INSERT INTO message (contact_id, direction, text, buttons, created_at) VALUES (?, 'out', ?, '[]', ?)",
            (contact_id, text, self.stamp),
        )
        return {"type": "message", "text": text}

    def render(self, contact_id: int, text: str) -> str:
        if "{{" not in text:
            return text
        first_name, last_name, phone = self.db.execute(
            "SELECT first_name, last_name, phone FROM contact WHERE id = ?", (contact_id,)
        ).fetchone()
        system = {"user_id": contact_id, "first_name": first_name, "last_name": last_name, "phone": phone,
                  "channel": self.inbound.channel, "bot_name": self.defs.bot_name}
        fields, _ = self.read_contact_data(contact_id)
        return _TEMPLATE.sub(lambda m: str(system.get(m[1], fields.get(m[1], m[2] or ""))), text)

    def read_contact_data(self, contact_id: int) -> tuple[dict[str, Any], list[str]]:
        """The contact's field values (by field name) and tag names, in one query."""
        fields, tags = {}, []
        for kind, item_id, value in self.db.execute(
            "SELECT 'f', field_id, value FROM field_value WHERE contact_id = ?"
            " UNION ALL SELECT 't', tag_id, NULL FROM contact_tag WHERE contact_id = ? ORDER BY 1, 2",
            (contact_id, contact_id),
        ):
            if kind == "f" and item_id in self.defs.fields_by_id:
                fields[self.defs.fields_by_id[item_id].name] = decode_value(value)
            elif kind == "t" and item_id in self.defs.tags_by_id:
                tags.append(self.defs.tags_by_id[item_id])
        return fields, sorted(tags)


@lru_cache(maxsize=4096)
def _parse_cached(text: str, refs: tuple[str, ...]) -> tuple[str | None, str, tuple[str, ...], ParsedRef]:
    """Parsing is pure, and the same links are opened again and again (one campaign link, many people)."""
    channel, ref, warnings = extract_ref(text)
    return channel, ref, warnings, parse_ref(ref, refs)


_TEMPLATE = re.compile(r"\{\{\s*([\w.]+)\s*(?:\|\s*([^}]*?)\s*)?\}\}")


def _phone_digits(text: str) -> str:
    return re.sub(r"\D", "", text or "")


def _event_dict(event: Event) -> dict[str, Any]:
    return {key: value for key, value in asdict(event).items() if value not in (None, {})}
