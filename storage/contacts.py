"""Contacts as the admin sees them: a paged, searchable list that stays fast with 100,000 contacts, one contact's
details, the admin's own field and tag edits, and the referral tree: the Contacts page's data access, kept in one
module because those share the one query shape (a contact with its fields, tags and referrer).

Decisions where the brief was silent:
- "Referrals" of a contact are the referrals they made with status counted or repeat (repeat: counted again under the
  "count every open" policy), over every entry point.
- The referral tree follows `contact.referred_by_id` (the first referrer who got credit), so every person appears once,
  under the person who brought them in; it is walked breadth-first and cut at TREE_CAP people.
- Search matches the name, the channel user id, the phone (when the search looks like a phone number) and the contact
  id (`42` or `#42`); an empty field input clears the value.
- Field and tag edits made here write the tables directly: they never fire triggers (the UI says so).
"""

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from runtime.values import coerce_value, decode_value, encode_value
from runtime.vocabulary import COUNTED_STATUSES
from storage.models import sql_list, utcnow

PAGE_SIZES = (25, 50)
SORTS = ("created", "name", "referrals")
COUNTED = sql_list(COUNTED_STATUSES)
TREE_DEPTH = 3
TREE_CAP = 200
FEW_MATCHES = 2000  # a search matching at most this many contacts is paged through their ids


@dataclass(frozen=True)
class ContactQuery:
    """Which page of the contact list to show; unknown sorts and sizes fall back to the defaults."""

    search: str = ""
    sort: str = "created"
    descending: bool = True
    page: int = 1
    page_size: int = 25

    def __post_init__(self) -> None:
        object.__setattr__(self, "search", (self.search or "").strip())
        object.__setattr__(self, "sort", self.sort if self.sort in SORTS else "created")
        object.__setattr__(self, "page", max(1, int(self.page or 1)))
        object.__setattr__(self, "page_size", self.page_size if self.page_size in PAGE_SIZES else PAGE_SIZES[0])


@dataclass(frozen=True)
class NumberField:
    id: int
    name: str


@dataclass(frozen=True)
class ContactRow:
    id: int
    name: str
    channel: str
    channel_user_id: str
    phone: str
    created_at: datetime
    referred_by_id: int | None
    referred_by_name: str
    referrals: int
    numbers: dict[int, Any] = field(default_factory=dict)  # number field id -> value


@dataclass(frozen=True)
class ContactPage:
    rows: list[ContactRow]
    total: int
    query: ContactQuery
    number_fields: list[NumberField]


def list_contacts(*, session: Session, query: ContactQuery) -> ContactPage:
    """One page of contacts with their referral counts and number-field values: a count, an indexed page query over
    ids only (LIMIT/OFFSET) and three lookups for the page's ids. A page past the end gives the last page."""
    selection = _select(session, query.search)
    query = replace(query, page=min(query.page, max(1, -(-selection.total // query.page_size))))  # past the end
    if query.sort == "referrals":
        ids = _ids_by_referrals(session, query, selection)
    else:
        ids = _ids(session, query, selection, selection.conditions, _offset(query), query.page_size)
    number_fields = list_number_fields(session=session)
    return ContactPage(_load_rows(session, ids, number_fields), selection.total, query, number_fields)


@dataclass(frozen=True)
class _Selection:
    conditions: list[str]
    params: dict[str, Any]
    total: int
    by_index: bool  # False when the conditions list the ids: sorting them beats walking ix_contact_created_at


def _select(session: Session, search: str) -> _Selection:
    """Which contacts the search selects, and how many. A search reads the table once: when it matches few people,
    their ids become the condition; when it matches many, walking ix_contact_created_at finds a page of them quickly
    and only the count reads the rest of the table."""
    if not search:
        return _Selection([], {}, _scalar(session, "SELECT count(*) FROM contact"), by_index=True)
    conditions, params = _search_conditions(search)
    few = [row[0] for row in _rows(session, f"SELECT c.id FROM contact c {_where(conditions)} LIMIT :few",
                                   few=FEW_MATCHES + 1, **params)]
    if len(few) <= FEW_MATCHES:
        return _Selection(["c.id IN :matches"], {"matches": few or [0]}, len(few), by_index=False)
    total = _scalar(session, f"SELECT count(*) FROM contact c {_where(conditions)}", **params)
    return _Selection(conditions, params, total, by_index=True)


def list_number_fields(*, session: Session) -> list[NumberField]:
    return [NumberField(*row) for row in _rows(session, "SELECT id, name FROM custom_field WHERE type = 'number'"
                                                        " ORDER BY id")]


def display_name(first_name: str, last_name: str, contact_id: int | None) -> str:
    """The contact's name, or 'Contact 42' for people the channel gave no name."""
    name = f"{first_name or ''} {last_name or ''}".strip()
    return name or (f"Contact {contact_id}" if contact_id is not None else "")


def _search_conditions(search: str) -> tuple[list[str], dict[str, Any]]:
    escaped = re.sub(r"([\\%_])", r"\\\1", search)
    params: dict[str, Any] = {"pattern": f"%{escaped}%"}
    names = ["(c.first_name || ' ' || c.last_name)"] if " " in search else ["c.first_name", "c.last_name"]
    parts = [f"{column} LIKE :pattern ESCAPE '\\'" for column in (*names, "c.channel_user_id")]
    digits = re.sub(r"\D", "", search)
    if digits and re.fullmatch(r"[\d\s()+.-]+", search):
        parts.append("c.phone LIKE :phone")
        params["phone"] = f"%{digits}%"
    if re.fullmatch(r"#?[0-9]{1,18}", search):  # ASCII digits only: int() would also read "٣"
        parts.append("c.id = :id")
        params["id"] = int(search.lstrip("#"))
    return [f"({' OR '.join(parts)})"], params


def _order(query: ContactQuery, *, by_index: bool) -> str:
    direction = "DESC" if query.descending else "ASC"
    if query.sort == "name":  # nameless contacts last, whichever the direction
        return (f"(c.first_name = '' AND c.last_name = ''), c.first_name COLLATE NOCASE {direction},"
                f" c.last_name COLLATE NOCASE {direction}, c.id {direction}")
    column = "c.created_at" if by_index else "+c.created_at"  # "+" keeps SQLite off the index
    return f"{column} {direction}, c.id {direction}"


def _ids_by_referrals(session: Session, query: ContactQuery, selection: _Selection) -> list[int]:
    """Sorting 100,000 contacts by an aggregate is slow; instead page through the people who referred someone
    (sorted by how many) and the people who did not (newest first), one section after the other."""
    direction = "DESC" if query.descending else "ASC"
    referrers = (f"FROM (SELECT referrer_id, count(*) AS made FROM referral WHERE status IN {COUNTED}"
                 f" GROUP BY referrer_id) m JOIN contact c ON c.id = m.referrer_id {_where(selection.conditions)}")
    referring = _scalar(session, f"SELECT count(*) {referrers}", **selection.params)
    others = [*selection.conditions, f"NOT EXISTS (SELECT 1 FROM referral x WHERE x.referrer_id = c.id"
                                     f" AND x.status IN {COUNTED})"]

    def fetch_referrers(offset: int, limit: int) -> list[int]:
        return [row[0] for row in _rows(
            session, f"SELECT c.id {referrers} ORDER BY m.made {direction}, c.created_at {direction}, c.id {direction}"
                     " LIMIT :limit OFFSET :offset", limit=limit, offset=offset, **selection.params)]

    def fetch_others(offset: int, limit: int) -> list[int]:
        return _ids(session, replace(query, sort="created"), selection, others, offset, limit)

    sections = [(referring, fetch_referrers), (selection.total - referring, fetch_others)]
    ids: list[int] = []
    offset = _offset(query)
    for size, fetch in sections if query.descending else reversed(sections):
        if offset < size and len(ids) < query.page_size:
            ids += fetch(offset, query.page_size - len(ids))
        offset = max(0, offset - size)
    return ids


def _ids(session: Session, query: ContactQuery, selection: _Selection, conditions: list[str], offset: int,
         limit: int) -> list[int]:
    order = _order(query, by_index=selection.by_index)
    return [row[0] for row in _rows(session, f"SELECT c.id FROM contact c {_where(conditions)} ORDER BY {order}"
                                             " LIMIT :limit OFFSET :offset", limit=limit, offset=offset,
                                    **selection.params)]


def _where(conditions: list[str]) -> str:
    return f"WHERE {' AND '.join(conditions)}" if conditions else ""


def _offset(query: ContactQuery) -> int:
    return (query.page - 1) * query.page_size


def _load_rows(session: Session, ids: list[int], number_fields: list[NumberField]) -> list[ContactRow]:
    if not ids:
        return []
    made = dict(_rows(session, f"SELECT referrer_id, count(*) FROM referral WHERE referrer_id IN :ids"
                               f" AND status IN {COUNTED} GROUP BY referrer_id", ids=ids))
    numbers: dict[int, dict[int, Any]] = {contact_id: {} for contact_id in ids}
    if number_fields:
        for contact_id, field_id, value in _rows(
                session, "SELECT contact_id, field_id, value FROM field_value WHERE contact_id IN :ids"
                         " AND field_id IN :fields", ids=ids, fields=[f.id for f in number_fields]):
            numbers[contact_id][field_id] = decode_value(value)
    found = {row[0]: row for row in _rows(
        session, "SELECT c.id, c.channel, c.channel_user_id, c.first_name, c.last_name, c.phone, c.created_at,"
                 " c.referred_by_id, r.first_name, r.last_name FROM contact c"
                 " LEFT JOIN contact r ON r.id = c.referred_by_id WHERE c.id IN :ids", ids=ids)}
    return [ContactRow(id=row[0], name=display_name(row[3], row[4], row[0]), channel=row[1], channel_user_id=row[2],
                       phone=row[5], created_at=_when(row[6]), referred_by_id=row[7],
                       referred_by_name=display_name(row[8], row[9], row[7]), referrals=made.get(row[0], 0),
                       numbers=numbers[row[0]])
            for row in (found[contact_id] for contact_id in ids if contact_id in found)]


# --- one contact ------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ContactDetail:
    id: int
    name: str
    channel: str
    channel_user_id: str
    first_name: str
    last_name: str
    phone: str
    first_ref: str
    last_ref: str
    created_at: datetime
    last_seen_at: datetime
    referred_by_id: int | None
    referred_by_name: str


def get_contact(*, session: Session, contact_id: int) -> ContactDetail | None:
    row = _one(session, "SELECT c.id, c.channel, c.channel_user_id, c.first_name, c.last_name, c.phone, c.first_ref,"
                        " c.last_ref, c.created_at, c.last_seen_at, c.referred_by_id, r.first_name, r.last_name"
                        " FROM contact c LEFT JOIN contact r ON r.id = c.referred_by_id WHERE c.id = :id",
               id=contact_id)
    if row is None:
        return None
    return ContactDetail(id=row[0], name=display_name(row[3], row[4], row[0]), channel=row[1], channel_user_id=row[2],
                         first_name=row[3], last_name=row[4], phone=row[5], first_ref=row[6], last_ref=row[7],
                         created_at=_when(row[8]), last_seen_at=_when(row[9]), referred_by_id=row[10],
                         referred_by_name=display_name(row[11], row[12], row[10]))


@dataclass(frozen=True)
class FieldEntry:
    field_id: int
    name: str
    type: str
    description: str
    value: Any  # None when the contact has no value
    updated_at: datetime | None


def list_contact_fields(*, session: Session, contact_id: int) -> list[FieldEntry]:
    """Every custom field of the workspace, with this contact's value where there is one."""
    return [_field_entry(row) for row in _rows(
        session, "SELECT f.id, f.name, f.type, f.description, v.value, v.updated_at FROM custom_field f"
                 " LEFT JOIN field_value v ON v.field_id = f.id AND v.contact_id = :id ORDER BY f.id", id=contact_id)]


def set_contact_field(*, session: Session, contact_id: int, field_id: int, text: str) -> FieldEntry:
    """Type-check what the admin typed and save it (empty text clears the value). Raises FieldValueError with a
    message for the admin, LookupError when the contact or the field is gone. Admin edits fire no triggers."""
    row = _one(session, "SELECT f.id, f.name, f.type FROM custom_field f, contact c WHERE f.id = :field"
                        " AND c.id = :contact", field=field_id, contact=contact_id)
    if row is None:
        raise LookupError("This contact or this field no longer exists; reload the page.")
    if not (text or "").strip():
        _execute(session, "DELETE FROM field_value WHERE contact_id = :contact AND field_id = :field",
                 contact=contact_id, field=field_id)
    else:
        value = coerce_value(row[1], row[2], text)
        _execute(session, "INSERT INTO field_value (contact_id, field_id, value, updated_at)"
                          " VALUES (:contact, :field, :value, :now) ON CONFLICT DO UPDATE SET value = excluded.value,"
                          " updated_at = excluded.updated_at",
                 contact=contact_id, field=field_id, value=encode_value(value), now=_stamp())
    return next(entry for entry in list_contact_fields(session=session, contact_id=contact_id)
                if entry.field_id == field_id)


def _field_entry(row: tuple) -> FieldEntry:
    return FieldEntry(field_id=row[0], name=row[1], type=row[2], description=row[3], value=decode_value(row[4]),
                      updated_at=_when(row[5]) if row[5] else None)


# --- tags -------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TagChoice:
    id: int
    name: str


def list_contact_tags(*, session: Session, contact_id: int) -> list[TagChoice]:
    return [TagChoice(*row) for row in _rows(
        session, "SELECT t.id, t.name FROM contact_tag ct JOIN tag t ON t.id = ct.tag_id WHERE ct.contact_id = :id"
                 " ORDER BY t.name COLLATE NOCASE", id=contact_id)]


def list_tag_choices(*, session: Session) -> list[TagChoice]:
    return [TagChoice(*row) for row in _rows(session, "SELECT id, name FROM tag ORDER BY name COLLATE NOCASE")]


def add_contact_tag(*, session: Session, contact_id: int, tag_id: int) -> bool:
    """True when the tag was added (False: the contact had it already). Fires no trigger."""
    return _execute(session, "INSERT INTO contact_tag (contact_id, tag_id, created_at) SELECT :contact, :tag, :now"
                             " WHERE EXISTS (SELECT 1 FROM contact WHERE id = :contact)"
                             " AND EXISTS (SELECT 1 FROM tag WHERE id = :tag) ON CONFLICT DO NOTHING",
                    contact=contact_id, tag=tag_id, now=_stamp()) > 0


def remove_contact_tag(*, session: Session, contact_id: int, tag_id: int) -> bool:
    return _execute(session, "DELETE FROM contact_tag WHERE contact_id = :contact AND tag_id = :tag",
                    contact=contact_id, tag=tag_id) > 0


# --- referrals and transcript -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ReferralEntry:
    entry_point: str  # name (ref)
    other_id: int | None  # the other person: the referee for referrals made, the referrer for referrals received
    other_name: str
    kind: str
    status: str
    created_at: datetime


@dataclass(frozen=True)
class ContactReferrals:
    made: list[ReferralEntry]
    received: list[ReferralEntry]
    made_total: int
    received_total: int


def list_contact_referrals(*, session: Session, contact_id: int, limit: int = 100) -> ContactReferrals:
    """The newest `limit` referrals this contact made and received, every status, with the totals."""
    made = _referrals(session, "referrer_id", "referee_id", contact_id, limit)
    received = _referrals(session, "referee_id", "referrer_id", contact_id, limit)
    made_total = _scalar(session, "SELECT count(*) FROM referral WHERE referrer_id = :id", id=contact_id)
    received_total = _scalar(session, "SELECT count(*) FROM referral WHERE referee_id = :id", id=contact_id)
    return ContactReferrals(made, received, made_total, received_total)


def _referrals(session: Session, mine: str, other: str, contact_id: int, limit: int) -> list[ReferralEntry]:
    rows = _rows(session, f"SELECT e.name, e.ref, x.{other}, o.first_name, o.last_name, x.referrer_ref, x.kind,"
                          f" x.status, x.created_at FROM referral x JOIN entry_point e ON e.id = x.entry_point_id"
                          f" LEFT JOIN contact o ON o.id = x.{other} WHERE x.{mine} = :id"
                          f" ORDER BY x.created_at DESC, x.id DESC LIMIT :limit", id=contact_id, limit=limit)
    return [ReferralEntry(entry_point=f"{name} ({ref})", other_id=other_id,
                          other_name=display_name(first, last, other_id) if other_id is not None
                          else f"unknown '{written}'", kind=kind, status=status, created_at=_when(created))
            for name, ref, other_id, first, last, written, kind, status, created in rows]


@dataclass(frozen=True)
class TranscriptMessage:
    direction: str  # "in" (from the contact) or "out" (from the bot)
    text: str
    buttons: list[str]
    created_at: datetime
    delivery: str | None = None  # live messages: "pending", "sent" or "failed"; None: never queued (simulator, CLI)
    attempts: int = 0
    error: str = ""  # the channel's words on the last failed attempt


def list_messages(*, session: Session, contact_id: int, limit: int = 200) -> tuple[list[TranscriptMessage], int]:
    """The newest `limit` messages in the order they were sent, and how many there are in all."""
    rows = _rows(session, "SELECT m.direction, m.text, m.buttons, m.created_at, o.state, o.attempts, o.last_error"
                          " FROM message m LEFT JOIN outbox_message o ON o.message_id = m.id"
                          " WHERE m.contact_id = :id ORDER BY m.id DESC LIMIT :limit", id=contact_id, limit=limit)
    total = _scalar(session, "SELECT count(*) FROM message WHERE contact_id = :id", id=contact_id)
    messages = [TranscriptMessage(direction, text, [str(b.get("title", "")) for b in decode_value(buttons) or []],
                                  _when(created), state, attempts or 0, error or "")
                for direction, text, buttons, created, state, attempts, error in reversed(rows)]
    return messages, total


def transcript_version(*, session: Session, contact_id: int) -> tuple:
    """Changes whenever the contact's transcript or a delivery state in it does (the page redraws on a change)."""
    return tuple(_rows(session, "SELECT (SELECT max(id) FROM message WHERE contact_id = :id),"
                                " (SELECT count(*) FROM outbox_message WHERE contact_id = :id AND state = 'pending'),"
                                " (SELECT count(*) FROM outbox_message WHERE contact_id = :id AND state = 'failed'),"
                                " (SELECT sum(attempts) FROM outbox_message WHERE contact_id = :id)",
                       id=contact_id)[0])


# --- the referral tree ------------------------------------------------------------------------------------------------

@dataclass
class TreeNode:
    id: int
    name: str
    channel: str
    level: int
    brought_in: int  # people this contact brought in (all of them, even beyond the cap)
    children: list["TreeNode"] = field(default_factory=list)


@dataclass(frozen=True)
class ReferralTree:
    root: TreeNode
    per_level: dict[int, int]  # level (1 = brought in directly) -> people shown at that level
    shown: int  # people in the tree below the root
    capped: bool  # True when the tree was cut at `cap` people


def build_referral_tree(*, session: Session, contact_id: int, depth: int = TREE_DEPTH,
                        cap: int = TREE_CAP) -> ReferralTree | None:
    """Who this contact brought in, who those brought in, ... `depth` levels deep, breadth-first, at most `cap`
    people: one recursive CTE over ix_contact_referred_by."""
    rows = _rows(session, """
        WITH RECURSIVE tree(id, parent_id, level) AS (
            SELECT :root, NULL, 0
            UNION ALL
            SELECT c.id, c.referred_by_id, t.level + 1 FROM tree t JOIN contact c ON c.referred_by_id = t.id
            WHERE t.level < :depth AND c.id <> :root
            ORDER BY 3
            LIMIT :limit
        )
        SELECT t.id, t.parent_id, t.level, c.first_name, c.last_name, c.channel,
               (SELECT count(*) FROM contact k WHERE k.referred_by_id = t.id AND k.id <> :root)
        FROM tree t JOIN contact c ON c.id = t.id""", root=contact_id, depth=depth, limit=cap + 2)
    nodes = {row[0]: TreeNode(row[0], display_name(row[3], row[4], row[0]), row[5], row[2], row[6]) for row in rows}
    if contact_id not in nodes:
        return None
    shown_rows = [row for row in rows if row[0] != contact_id][:cap]
    per_level: dict[int, int] = {}
    for node_id, parent_id, level, *_ in shown_rows:
        nodes[parent_id].children.append(nodes[node_id])
        per_level[level] = per_level.get(level, 0) + 1
    for node in nodes.values():
        node.children.sort(key=lambda child: (-child.brought_in, child.id))  # the biggest branches first
    return ReferralTree(nodes[contact_id], per_level, len(shown_rows), capped=len(rows) - 1 > cap)


# --- small helpers ----------------------------------------------------------------------------------------------------

def _rows(session: Session, sql: str, **params: Any) -> list[tuple]:
    statement = sa.text(sql)
    expanding = [sa.bindparam(name, expanding=True) for name, value in params.items() if isinstance(value, list)]
    if expanding:
        statement = statement.bindparams(*expanding)
    return [tuple(row) for row in session.connection().execute(statement, params)]


def _one(session: Session, sql: str, **params: Any) -> tuple | None:
    rows = _rows(session, sql, **params)
    return rows[0] if rows else None


def _scalar(session: Session, sql: str, **params: Any) -> Any:
    return _rows(session, sql, **params)[0][0]


def _execute(session: Session, sql: str, **params: Any) -> int:
    return session.connection().execute(sa.text(sql), params).rowcount


def _stamp() -> str:
    """SQLAlchemy's DATETIME text format, as every other writer uses."""
    return utcnow().replace(tzinfo=None).isoformat(" ", "microseconds")


def _when(value: str | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)
