"""What a pasted link would do, told by the engine itself (the Entry points page's "Test a link" box, the simulator).

`preview_link` runs the real open (`Runtime.open_link`) for a would-be contact in a transaction that is always rolled
back (`RunOptions.dry_run`), so the preview and the runtime can never disagree: nothing is stored (no contact, no
counters, no points, no referral, no event id, no outbox message) and nothing is delivered. `explain_open` turns
what an open reported (where each value of the link went, the referral outcome, the warnings, the reply) into the
page's words; the simulator explains its real opens with it too.

On PostgreSQL a rolled-back insert still uses up a number of its table's sequence, so a preview can make the next
contact's id skip one; nothing else of it remains.
"""

import json
import secrets
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from runtime.link_reading import ParsedLink, parse_link
from runtime.opening import Inbound, Landing, OpenResult
from runtime.service import RunOptions, Runtime
from storage.contacts import get_contact
from storage.db import Database
from storage.entry_points import find_entry_point, list_refs
from storage.models import EntryPoint, Flow

PREVIEW_CHANNEL = "messenger"  # who opens a bare ref (no channel in the link) in the preview


@dataclass(frozen=True)
class ShownLanding:
    """One value of a link and the field it lands in, in words: `saved` is the value as stored, or `problem` says
    why it was not."""

    source: str
    value: str
    field: str | None
    how: str
    saved: str | None
    problem: str | None


@dataclass(frozen=True)
class LinkPreview:
    parsed: ParsedLink  # how the link reads (channel, ref, JSON, the channel limits it breaks)
    entry: EntryPoint | None
    entry_note: str | None
    referrer_contact: str | None
    referrer_note: str | None
    payload: tuple[ShownLanding, ...]
    json_values: tuple[ShownLanding, ...]
    json_note: str | None
    response: str  # what the person gets back
    messages: tuple[str, ...]  # everything the bot sends, to whom
    fields: dict[str, Any]  # the person's field values after the open (by field name), triggers and flows included
    tags: tuple[str, ...]  # the person's tags after the open
    warnings: tuple[str, ...]  # every warning of the open
    notes: tuple[str, ...]  # the warnings not already shown beside a value or the referrer


def preview_link(*, database: Database, text: str, channel: str | None = None, channel_user_id: str | None = None,
                 first_name: str = "", runtime: Runtime | None = None) -> LinkPreview:
    """What opening `text` would do for a new person on the link's channel (or as the contact with this
    `channel_user_id`), with the runtime's own code in a transaction it rolls back: nothing is written.

    `runtime` is the app's live one where there is one (its definitions are already read and its connection open);
    without it the preview opens a runtime of its own for this one open."""
    channel = channel or parse_link(text).channel or PREVIEW_CHANNEL
    someone_new = f"link-preview-{secrets.token_hex(8)}"  # nobody has it, and it is never stored
    inbound = Inbound(text=text, channel=channel, channel_user_id=channel_user_id or someone_new,
                      first_name=first_name)
    if runtime is not None:
        result = runtime.open_link(inbound, RunOptions(dry_run=True))
    else:
        with Runtime(database) as own:
            result = own.open_link(inbound, RunOptions(dry_run=True))
    with database.session() as session:
        return explain_open(session=session, text=text, result=result)


def explain_open(*, session: Session, text: str, result: OpenResult) -> LinkPreview:
    """An open's result (dry run or real) in the words the link box shows; `session` reads the workspace it ran
    against (entry points, the referrer, flow names)."""
    parsed = parse_link(text, list_refs(session=session))
    ref = result.entry or parsed.entry
    entry = find_entry_point(session=session, ref=ref) if ref else None
    landings = result.landings
    whole_json = [landing for landing in landings if landing.from_json and landing.path is None]
    shown = {landing.problem for landing in landings} | {result.referral_problem}
    people = _People(session)
    return LinkPreview(
        parsed=parsed, entry=entry, entry_note=_SWITCHED_OFF if entry is not None and result.entry is None else None,
        referrer_contact=_referrer(people, result), referrer_note=result.referral_problem,
        payload=tuple(_show(landing) for landing in landings if not landing.from_json),
        json_values=tuple(_show(landing) for landing in landings if landing.from_json and landing.path is not None),
        json_note=whole_json[0].problem if whole_json else None,
        response=_describe_response(session, result), messages=_describe_messages(people, result),
        fields=result.fields, tags=tuple(result.tags), warnings=tuple(result.warnings),
        notes=tuple(warning for warning in result.warnings if warning not in shown),
    )


_SWITCHED_OFF = "This entry point is switched off: the person gets the default reply and nothing in the link is saved."


class _People:
    """The contacts an explanation names, each read once (the referrer is usually also told about the join)."""

    def __init__(self, session: Session) -> None:
        self.session, self.known = session, {}

    def describe(self, contact_id: int) -> str | None:
        if contact_id not in self.known:
            contact = get_contact(session=self.session, contact_id=contact_id)
            self.known[contact_id] = describe_contact(contact.name, contact.id, contact.channel) if contact else None
        return self.known[contact_id]


def _referrer(people: _People, result: OpenResult) -> str | None:
    referrer_id = (result.referral or {}).get("referrer_id")
    return people.describe(referrer_id) if referrer_id is not None else None


def describe_contact(name: str, contact_id: int, channel: str) -> str:
    return f"{name or 'A contact without a name'} (contact #{contact_id} on {channel})"


def _show(landing: Landing) -> ShownLanding:
    if landing.from_json:
        source = f"JSON path '{landing.path}'"
    else:
        source = "first value" if landing.key is None else f"key '{landing.key}'"
    saved = show_value(landing.saved) if landing.problem is None else None
    value = show_value(landing.value) if landing.value is not None else ""
    return ShownLanding(source, value, landing.field, _FOUND_BY.get(landing.found_by, "nothing"), saved,
                        landing.problem)


_FOUND_BY = {"default": "default payload field", "mapping": "this entry point's payload mapping", "id": "field ID",
             "name": "field name", "json": "JSON mapping"}


def _describe_response(session: Session, result: OpenResult) -> str:
    response = result.response
    if response.get("type") == "flow":
        flow = session.get(Flow, response["flow_id"])
        name = flow.name if flow is not None else f"#{response['flow_id']}"
        return f"Starts flow “{name}”"
    if response.get("type") == "message":
        return f"Replies “{response['text']}”"
    return "No reply"


def _describe_messages(people: _People, result: OpenResult) -> tuple[str, ...]:
    described = []
    for message in result.messages:
        contact_id = message["contact_id"]
        to = ("the person" if contact_id == result.contact_id
              else people.describe(contact_id) or f"contact #{contact_id}")
        described.append(f"To {to}: {message['text']}")
    return tuple(described)


def show_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
