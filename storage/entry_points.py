"""Entry points: the admin's input shapes, saving and deleting, activity counts and the pickers' choices.
(What a pasted link would do is runtime/link_preview.py; each channel's links are runtime/links.py.)

Decisions where the brief was silent:
- Refs are unique ignoring upper and lower case (storage/names.py); the runtime matches a link's ref as written.
- A message response may be empty: the contact then gets no answer, but triggers still run.
- Payload mapping keys are unique regardless of case (the runtime lower-cases them); JSON paths may repeat, so one
  JSON value can fill several fields.
- Problems are keyed by the input they belong to: ``ref``, ``response_flow_id``, ``payload_mapping.1.key``...
"""

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from pydantic import Field, ValidationError, ValidationInfo, field_validator
from sqlmodel import Session, SQLModel, select

from runtime.link_reading import match_whatsapp_text
from runtime.links import ChannelIdentities, LinkError, check_entry_ref
from runtime.values import JsonPathError, parse_json_path
from storage.models import REFERRAL_POLICIES, CustomField, EntryPoint, Flow, Tag
from storage.names import check_new_name
from storage.settings import channel_identities as identities_of
from storage.settings import get_settings


class _MappingRow(SQLModel):
    @field_validator("field_id", check_fields=False)
    @classmethod
    def check_field(cls, value: int | None) -> int:
        if value is None:
            raise ValueError("Choose the field that receives this value.")
        return value


class PayloadMappingRow(_MappingRow):
    """A key in the link (`giveaway--738--gold`) and the field its value fills."""

    key: str
    field_id: int | None = Field(default=None, validate_default=True)

    @field_validator("key")
    @classmethod
    def check_key(cls, value: str) -> str:
        if reason := check_payload_key(value):
            raise ValueError(reason)
        return value.strip()


class JsonMappingRow(_MappingRow):
    """A path in the link's JSON data (`order.items[0].sku`) and the field its value fills."""

    path: str
    field_id: int | None = Field(default=None, validate_default=True)

    @field_validator("path")
    @classmethod
    def check_path(cls, value: str) -> str:
        if reason := check_json_path(value):
            raise ValueError(reason)
        return value.strip()


def check_payload_key(key: str) -> str | None:
    """None when `key` can travel in a link as a payload key, else what to fix."""
    key = key.strip()
    if not key:
        return "Type the key the link uses, e.g. 738 or color."
    if "--" in key or "–" in key or "—" in key or key.endswith("-"):
        return "A key cannot contain '--' or a long dash, nor end with '-': links use '--' to separate values."
    return None


def check_json_path(path: str) -> str | None:
    try:
        parse_json_path(path)
    except JsonPathError as error:
        return f"{error} Write names joined by dots and list positions in brackets, e.g. order.items[0].sku."
    return None


_CHOICES = {
    "response_type": (("message", "flow"), "Choose whether the entry point answers with a message or starts a flow."),
    "referral_policy": (REFERRAL_POLICIES, "Choose 'count each person once' or 'count every open'."),
    "referrer_match": (("id", "phone", "id_or_phone"), "Choose how the referrer is found: by contact ID, by phone, "
                                                        "or by either."),
}


class _EntryPointChecks(SQLModel):
    """The checks an entry point's values pass; None (an update leaving a value alone) passes them all."""

    @field_validator("name", "ref", check_fields=False)
    @classmethod
    def check_text(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        if info.field_name == "name" and not value.strip():
            raise ValueError("Give the entry point a name; admins see it in lists.")
        if info.field_name == "ref" and (reason := check_entry_ref(value.strip())):
            raise ValueError(reason)
        return value.strip()

    @field_validator(*_CHOICES, check_fields=False)
    @classmethod
    def check_choice(cls, value: str | None, info: ValidationInfo) -> str | None:
        allowed, message = _CHOICES[info.field_name]
        if value is not None and value not in allowed:
            raise ValueError(message)
        return value

    @field_validator("whatsapp_pattern", check_fields=False)
    @classmethod
    def check_pattern(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None if value is None else ""
        try:
            match_whatsapp_text("", value)
        except LinkError as error:
            raise ValueError(str(error)) from None
        return value


class EntryPointCreate(_EntryPointChecks):
    name: str
    ref: str
    active: bool = True
    response_type: str = "message"
    response_message: str = ""
    response_flow_id: int | None = None
    segment_tag_id: int | None = None
    default_field_id: int | None = None
    payload_mapping: list[PayloadMappingRow] = []
    json_mapping: list[JsonMappingRow] = []
    referrals_enabled: bool = True
    referral_policy: str = "first_only"
    referrer_match: str = "id"
    whatsapp_pattern: str = ""
    second_level_credit: bool = False


class EntryPointUpdate(_EntryPointChecks):
    """Only the values given change; to clear a picker (flow, tag, default field) pass it as None explicitly."""

    name: str | None = None
    ref: str | None = None
    active: bool | None = None
    response_type: str | None = None
    response_message: str | None = None
    response_flow_id: int | None = None
    segment_tag_id: int | None = None
    default_field_id: int | None = None
    payload_mapping: list[PayloadMappingRow] | None = None
    json_mapping: list[JsonMappingRow] | None = None
    referrals_enabled: bool | None = None
    referral_policy: str | None = None
    referrer_match: str | None = None
    whatsapp_pattern: str | None = None
    second_level_credit: bool | None = None


class EntryPointError(ValueError):
    """The entry point was not saved; `problems` maps each input (``ref``, ``payload_mapping.0.key``) to what to fix."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("\n".join(problems.values()))
        self.problems = problems


def describe_problems(error: ValidationError) -> dict[str, str]:
    """The input shapes' validation errors keyed like EntryPointError's problems."""
    problems: dict[str, str] = {}
    for problem in error.errors():
        key = ".".join(str(part) for part in problem["loc"])
        problems.setdefault(key, problem["msg"].removeprefix("Value error, "))
    return problems


# --- reading ----------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class EntryPointSummary:
    """One row of the entry point list, with its activity."""

    id: int
    name: str
    ref: str
    active: bool
    response_type: str
    response_message: str
    flow_name: str | None
    segment_tag: str | None
    opens: int
    new_contacts: int
    referrals: int


_SUMMARY_SQL = sa.text("""
    SELECT e.id, e.name, e.ref, e.active, e.response_type, e.response_message, f.name, t.name,
           coalesce(o.opens, 0), coalesce(o.new_contacts, 0), coalesce(r.referrals, 0)
    FROM entry_point e
    LEFT JOIN flow f ON f.id = e.response_flow_id
    LEFT JOIN tag t ON t.id = e.segment_tag_id
    LEFT JOIN (SELECT entry_point_id, count(*) AS opens, sum(is_new_contact) AS new_contacts
               FROM link_open WHERE entry_point_id IS NOT NULL GROUP BY entry_point_id) o ON o.entry_point_id = e.id
    LEFT JOIN (SELECT entry_point_id, count(*) AS referrals FROM referral
               WHERE status IN ('counted', 'repeat') GROUP BY entry_point_id) r ON r.entry_point_id = e.id
    ORDER BY lower(e.name), e.id
""")


def list_entry_points(*, session: Session) -> list[EntryPointSummary]:
    """Every entry point with its opens, new contacts and counted referrals, aggregated in SQL in one query."""
    return [EntryPointSummary(row[0], row[1], row[2], bool(row[3]), *row[4:8], int(row[8]), int(row[9]), int(row[10]))
            for row in session.execute(_SUMMARY_SQL)]


@dataclass(frozen=True)
class EntryPointActivity:
    """What is recorded for one entry point: what deleting it would touch."""

    opens: int
    referrals: int
    triggers: int


def count_activity(*, session: Session, entry_point_id: int) -> EntryPointActivity:
    row = session.execute(sa.text(
        "SELECT (SELECT count(*) FROM link_open WHERE entry_point_id = :id),"
        " (SELECT count(*) FROM referral WHERE entry_point_id = :id AND status IN ('counted', 'repeat')),"
        " (SELECT count(*) FROM trigger WHERE entry_point_id = :id)"), {"id": entry_point_id}).one()
    return EntryPointActivity(*row)


def get_entry_point(*, session: Session, entry_point_id: int) -> EntryPoint | None:
    return session.get(EntryPoint, entry_point_id)


@dataclass(frozen=True)
class Choices:
    """What the editor's pickers offer, id → label."""

    flows: dict[int, str]
    tags: dict[int, str]
    fields: dict[int, str]


def list_choices(*, session: Session) -> Choices:
    fields = session.exec(select(CustomField.id, CustomField.name, CustomField.type).order_by(CustomField.name))
    return Choices(
        flows=dict(session.exec(select(Flow.id, Flow.name).order_by(Flow.name)).all()),
        tags=dict(session.exec(select(Tag.id, Tag.name).order_by(Tag.name)).all()),
        fields={field_id: f"{name} ({kind})" for field_id, name, kind in fields},
    )


def check_ref(*, session: Session, ref: str, entry_point_id: int | None = None) -> str | None:
    """None when `ref` can name this entry point, else why not (the grammar, or another entry point has it)."""
    return check_new_name(session, "ref", ref.strip(), entry_point_id)


# --- writing ----------------------------------------------------------------------------------------------------------

def create_entry_point(*, session: Session, data: EntryPointCreate) -> EntryPoint:
    """Raises EntryPointError when the ref is taken or a picked flow, tag or field is gone."""
    values = data.model_dump()
    _raise_problems(session, values, None)
    entry_point = EntryPoint(**values)
    session.add(entry_point)
    _flush(session, entry_point.ref)
    return entry_point


def update_entry_point(*, session: Session, entry_point_id: int, data: EntryPointUpdate) -> EntryPoint:
    entry_point = session.get(EntryPoint, entry_point_id)
    if entry_point is None:
        raise LookupError("This entry point no longer exists; it may have been deleted.")
    values = {name: getattr(entry_point, name) for name in EntryPointCreate.model_fields}
    values |= data.model_dump(exclude_unset=True)
    _raise_problems(session, values, entry_point_id)
    for name, value in values.items():
        setattr(entry_point, name, value)
    session.add(entry_point)
    _flush(session, entry_point.ref)
    return entry_point


def delete_entry_point(*, session: Session, entry_point_id: int) -> None:
    """Its referral records and the triggers that listen to it go too; recorded opens stay, without an entry point.
    Its leaderboards go, and the boards of every entry point no longer count its referrals."""
    entry_point = session.get(EntryPoint, entry_point_id)
    if entry_point is not None:
        _forget_scores(session, entry_point_id)
        session.delete(entry_point)
        session.flush()


def _forget_scores(session: Session, entry_point_id: int) -> None:
    connection = session.connection()
    connection.execute(sa.text(
        "UPDATE referral_score SET referrals = referrals - (SELECT s.referrals FROM referral_score s"
        " WHERE s.entry_point_id = :entry AND s.period = referral_score.period"
        " AND s.contact_id = referral_score.contact_id)"
        " WHERE entry_point_id = 0 AND EXISTS (SELECT 1 FROM referral_score s WHERE s.entry_point_id = :entry"
        " AND s.period = referral_score.period AND s.contact_id = referral_score.contact_id)"),
        {"entry": entry_point_id})
    connection.execute(sa.text("DELETE FROM referral_score WHERE entry_point_id = :entry"
                               " OR (entry_point_id = 0 AND referrals <= 0)"), {"entry": entry_point_id})


def _flush(session: Session, ref: str) -> None:
    try:
        session.flush()
    except sa.exc.IntegrityError:  # another admin saved the same ref a moment ago
        raise EntryPointError({"ref": f"Another entry point already uses the ref '{ref}'; every ref must be "
                                      "unique."}) from None


def _raise_problems(session: Session, values: dict[str, Any], entry_point_id: int | None) -> None:
    if problems := _find_problems(session, values, entry_point_id):
        raise EntryPointError(problems)


def _find_problems(session: Session, values: dict[str, Any], entry_point_id: int | None) -> dict[str, str]:
    problems: dict[str, str] = {}
    if reason := check_ref(session=session, ref=values["ref"], entry_point_id=entry_point_id):
        problems["ref"] = reason
    if values["response_type"] == "flow" and values["response_flow_id"] is None:
        problems["response_flow_id"] = "Choose the flow this entry point starts."
    pickers = [("response_flow_id", Flow, "flow"), ("segment_tag_id", Tag, "tag"),
               ("default_field_id", CustomField, "field")]
    pickers += [(f"{kind}.{index}.field_id", CustomField, "field")
                for kind in ("payload_mapping", "json_mapping") for index in range(len(values[kind]))]
    for key, model, noun in pickers:
        chosen = _picked(values, key)
        if chosen is not None and session.get(model, chosen) is None:
            problems.setdefault(key, f"That {noun} no longer exists; choose another.")
    seen: set[str] = set()
    for index, row in enumerate(values["payload_mapping"]):
        if row["key"].lower() in seen:
            problems.setdefault(f"payload_mapping.{index}.key", f"The key '{row['key']}' is mapped twice; a key "
                                                                 "can fill only one field.")
        seen.add(row["key"].lower())
    return problems


def _picked(values: dict[str, Any], key: str) -> int | None:
    kind, _, rest = key.partition(".")
    if not rest:
        return values[kind]
    index, _, name = rest.partition(".")
    return values[kind][int(index)][name]


# --- links ------------------------------------------------------------------------------------------------------------

def channel_identities(*, session: Session) -> ChannelIdentities:
    return identities_of(get_settings(session=session))


def list_refs(*, session: Session) -> list[str]:
    return list(session.exec(select(EntryPoint.ref)).all())


def find_entry_point(*, session: Session, ref: str) -> EntryPoint | None:
    """The entry point with exactly this ref (as the runtime matches a link's ref)."""
    return session.exec(select(EntryPoint).where(EntryPoint.ref == ref)).first()
