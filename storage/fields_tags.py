"""Custom fields and tags: the admin's input shapes, the lists the builder shows, what uses a field or tag, and the
writes; and what a trigger or a flow step can point at (`load_choices`). Triggers are in storage.triggers.

The input shapes check what they can alone; given a validation context (`field_context`, `tag_context`) they also
check against the workspace: names already taken, and a field's type once contacts have values. Every problem is a
sentence for the admin.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ValidationError, ValidationInfo, field_validator
from sqlmodel import Session, select

from runtime.actions import ACTION_TYPES
from runtime.node_types import NODE_TYPES
from runtime.templates import is_template, placeholders
from storage.models import FIELD_TYPES, CouponPool, CustomField, EntryPoint, Flow, Tag, Trigger
from storage.names import Stripped, check_name_shape, find_clash, load_taken


def form_errors(error: ValidationError) -> dict[tuple, str]:
    """The first problem of each input, keyed by its location (("actions", 1, "value"),), in the admin's words."""
    messages: dict[tuple, str] = {}
    for problem in error.errors():
        text = problem["msg"].removeprefix("Value error, ")
        if problem["type"] != "value_error":
            text = "Fill this in." if problem["type"] == "missing" else "Choose a value from the list."
        messages.setdefault(tuple(problem["loc"]), text)
    return messages


# ---------------------------------------------------------------------------------------------- fields and tags


class FieldCreate(BaseModel):
    name: Stripped
    type: str = "text"
    description: Stripped = ""
    links_may_set: bool = True  # a link may fill it by naming its ID or name (mappings on entry points always may)

    @field_validator("name")
    @classmethod
    def check_name(cls, value: str, info: ValidationInfo) -> str:
        return _check_name(value, info, "field")

    @field_validator("type")
    @classmethod
    def check_type(cls, value: str, info: ValidationInfo) -> str:
        if value not in FIELD_TYPES:
            raise ValueError(f"Choose one of the types: {', '.join(FIELD_TYPES)}.")
        context = info.context or {}
        values, current = context.get("values", 0), context.get("current_type")
        if values and current and value != current:
            raise ValueError(f"{values} contact{'s' if values != 1 else ''} already have a value in this field, so its "
                             f"type stays {current}. Create a new field for {value} values instead.")
        return value


class FieldUpdate(FieldCreate):
    """The edited field; validate with `field_context(session=..., field_id=...)`. `links_may_set` left out (None)
    keeps what is stored, so that an edit that does not mention it never opens the field to links."""

    links_may_set: bool | None = None


class TagCreate(BaseModel):
    name: Stripped
    description: Stripped = ""

    @field_validator("name")
    @classmethod
    def check_name(cls, value: str, info: ValidationInfo) -> str:
        return _check_name(value, info, "tag")


class TagUpdate(TagCreate):
    """The edited tag; validate with `tag_context(session=..., tag_id=...)`."""


def _check_name(value: str, info: ValidationInfo, noun: str) -> str:
    if problem := check_name_shape(noun, value):
        raise ValueError(problem)
    context = info.context or {}
    if problem := find_clash(noun, value, context.get("taken", {}), context.get("editing_id")):
        raise ValueError(problem)
    return value


@dataclass(frozen=True)
class FieldRow:
    id: int
    name: str
    type: str
    description: str
    values: int  # contacts with a value
    links_may_set: bool = True


@dataclass(frozen=True)
class TagRow:
    id: int
    name: str
    description: str
    contacts: int  # contacts tagged


def list_fields(*, session: Session) -> list[FieldRow]:
    rows = session.execute(sa.text(
        "SELECT f.id, f.name, f.type, f.description, (SELECT COUNT(*) FROM field_value v WHERE v.field_id = f.id),"
        " f.links_may_set FROM custom_field f ORDER BY f.id"))
    return [FieldRow(*row[:5], bool(row[5])) for row in rows]


def list_tags(*, session: Session) -> list[TagRow]:
    rows = session.execute(sa.text(
        "SELECT t.id, t.name, t.description, (SELECT COUNT(*) FROM contact_tag c WHERE c.tag_id = t.id)"
        " FROM tag t ORDER BY t.name COLLATE NOCASE"))
    return [TagRow(*row) for row in rows]


def field_context(*, session: Session, field_id: int | None = None) -> dict:
    """The validation context of FieldCreate / FieldUpdate (taken names; the field's values and type)."""
    context = {"taken": load_taken(session, "field"), "editing_id": field_id}
    field = session.get(CustomField, field_id) if field_id is not None else None
    if field is not None:
        context |= {"values": count_values(session=session, field_id=field_id), "current_type": field.type}
    return context


def tag_context(*, session: Session, tag_id: int | None = None) -> dict:
    return {"taken": load_taken(session, "tag"), "editing_id": tag_id}


def count_values(*, session: Session, field_id: int) -> int:
    return session.execute(sa.text("SELECT COUNT(*) FROM field_value WHERE field_id = :id"), {"id": field_id}).scalar()


def create_field(*, session: Session, data: FieldCreate) -> CustomField:
    """Raises pydantic.ValidationError when the name is taken (or anything else is wrong)."""
    data = FieldCreate.model_validate(data.model_dump(), context=field_context(session=session))
    return save_row(session, CustomField(**data.model_dump()))


def update_field(*, session: Session, field_id: int, data: FieldUpdate) -> CustomField:
    field = fetch_row(session, CustomField, field_id, "field")
    data = FieldUpdate.model_validate(data.model_dump(), context=field_context(session=session, field_id=field_id))
    return save_row(session, field.sqlmodel_update(data.model_dump(exclude_none=True)))


def create_tag(*, session: Session, data: TagCreate) -> Tag:
    data = TagCreate.model_validate(data.model_dump(), context=tag_context(session=session))
    return save_row(session, Tag(**data.model_dump()))


def update_tag(*, session: Session, tag_id: int, data: TagUpdate) -> Tag:
    tag = fetch_row(session, Tag, tag_id, "tag")
    data = TagUpdate.model_validate(data.model_dump(), context=tag_context(session=session, tag_id=tag_id))
    return save_row(session, tag.sqlmodel_update(data.model_dump()))


def delete_field(*, session: Session, field_id: int) -> None:
    """Deletes the field with its values. Payload and JSON mappings into it are removed; entry points lose it as
    their default payload field and triggers that listen to its changes are deleted (foreign keys). Flows, trigger
    conditions and actions that use it are left for the validator to report."""
    for entry in session.exec(select(EntryPoint)):
        payload = [m for m in entry.payload_mapping if m.get("field_id") != field_id]
        json_paths = [m for m in entry.json_mapping if m.get("field_id") != field_id]
        if (payload, json_paths) != (entry.payload_mapping, entry.json_mapping):
            entry.payload_mapping, entry.json_mapping = payload, json_paths
            session.add(entry)
    session.flush()
    session.execute(sa.delete(CustomField).where(CustomField.id == field_id))


def delete_tag(*, session: Session, tag_id: int) -> None:
    session.execute(sa.delete(Tag).where(Tag.id == tag_id))


# ---------------------------------------------------------------------------------------------- what uses a field


@dataclass(frozen=True)
class Use:
    where: str  # "Entry point “Giveaway” (giveaway2025)"
    what: str  # "default payload field"
    effect: str  # what deleting does to it


@dataclass(frozen=True)
class Usage:
    uses: list[Use]
    contacts: int  # field values or tags on contacts that deleting removes


def find_field_usage(*, session: Session, field_id: int) -> Usage:
    field = fetch_row(session, CustomField, field_id, "field")
    uses = []
    for entry in session.exec(select(EntryPoint).order_by(EntryPoint.id)):
        where = f"Entry point “{entry.name}” ({entry.ref})"
        if entry.default_field_id == field_id:
            uses.append(Use(where, "default payload field", "it will have no default payload field"))
        uses += [Use(where, f"payload key “{m.get('key')}”", "this mapping is removed")
                 for m in entry.payload_mapping if m.get("field_id") == field_id]
        uses += [Use(where, f"JSON path “{m.get('path')}”", "this mapping is removed")
                 for m in entry.json_mapping if m.get("field_id") == field_id]
        if _mentions(entry.response_message, field.name):
            uses.append(Use(where, f"its message inserts {{{{{field.name}}}}}", "that spot will show nothing"))
    uses += _flow_uses(session, "field_id", field_id, field.name)
    uses += _trigger_uses(session, "field_id", field_id, field.name)
    return Usage(uses, count_values(session=session, field_id=field_id))


def find_tag_usage(*, session: Session, tag_id: int) -> Usage:
    fetch_row(session, Tag, tag_id, "tag")
    uses = [Use(f"Entry point “{entry.name}” ({entry.ref})", "segment tag", "entrants will get no tag")
            for entry in session.exec(select(EntryPoint).where(EntryPoint.segment_tag_id == tag_id))]
    uses += _flow_uses(session, "tag_id", tag_id, None)
    uses += _trigger_uses(session, "tag_id", tag_id, None)
    contacts = session.execute(sa.text("SELECT COUNT(*) FROM contact_tag WHERE tag_id = :id"), {"id": tag_id})
    return Usage(uses, contacts.scalar())


def _flow_uses(session: Session, key: str, value: int, name: str | None) -> list[Use]:
    """Steps of flow drafts or published copies that refer to `value` (under `key` or a `*_key` key, at any depth)
    or insert {{name}} in a text."""
    uses = []
    for flow in session.exec(select(Flow).order_by(Flow.id)):
        copies: dict[tuple[str, str], list[str]] = {}
        for copy_name, document in (("draft", flow.draft), ("published", flow.published)):
            for node in (document or {}).get("nodes") or []:
                if isinstance(node, dict) and (effect := _node_use(node.get("data"), key, value, name)):
                    copies.setdefault((_node_label(node), effect), []).append(copy_name)
        uses += [Use(f"Flow “{flow.name}”", f"{label} ({' and '.join(kinds)})", effect)
                 for (label, effect), kinds in copies.items()]
    return uses


def _node_use(data: object, key: str, value: int, name: str | None) -> str | None:
    if value in _references(data, key):
        return PROBLEM
    return f"where it inserts {{{{{name}}}}}, the message will show nothing" if _mentions(_texts(data), name) else None


def _node_label(node: dict) -> str:
    spec = NODE_TYPES.get(node.get("type"))
    return f"{spec.title if spec else node.get('type')} step “{node.get('id')}”"


PROBLEM = "it will show a problem until you change it"


def _trigger_uses(session: Session, key: str, value: int, name: str | None) -> list[Use]:
    noun = "field" if key == "field_id" else "tag"
    uses = []
    for trigger in session.exec(select(Trigger).order_by(Trigger.id)):
        where = f"Trigger “{trigger.name}”"
        if getattr(trigger, key) == value:
            change = "changes" if noun == "field" else "is added or removed"
            uses.append(Use(where, f"starts when this {noun} {change}", "the trigger is deleted with it"))
        rules = trigger.conditions.get("rules") or []
        uses += [Use(where, f"condition {number}", PROBLEM)
                 for number, rule in enumerate(rules, 1) if value in _references(rule, key)]
        for number, action in enumerate(trigger.actions, 1):
            if value in _references(action, key) or _mentions(action.get("text"), name):
                uses.append(Use(where, f"action {number} ({_action_title(action)})", PROBLEM))
    return uses


def _action_title(action: dict) -> str:
    spec = ACTION_TYPES.get(action.get("type"))
    return spec.title.lower() if spec else "?"


def _references(value: object, key: str) -> Iterator[object]:
    """Values of `key` (or keys ending in `_key`) at any depth."""
    if isinstance(value, dict):
        for item_key, item in value.items():
            if item_key == key or (isinstance(item_key, str) and item_key.endswith(f"_{key}")):
                yield item
            else:
                yield from _references(item, key)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item, key)


def _texts(value: object) -> str:
    if isinstance(value, dict):
        return "\n".join(_texts(item) for item in value.values())
    if isinstance(value, list):
        return "\n".join(_texts(item) for item in value)
    return value if isinstance(value, str) else ""


def _mentions(text: object, name: str | None) -> bool:
    if not name or not is_template(text):
        return False
    return any(p.lower().rsplit(".", 1)[-1] == name.lower() for p in placeholders(text))




# ---------------------------------------------------------------------------------------------- choices


@dataclass(frozen=True)
class FieldChoice:
    name: str
    type: str


@dataclass(frozen=True)
class EntryChoice:
    name: str
    ref: str


@dataclass(frozen=True)
class Choices:
    """What a trigger can point at, by id: fields, tags (names), entry points, flows (names)."""

    fields: dict[int, FieldChoice]
    tags: dict[int, str]
    entry_points: dict[int, EntryChoice]
    flows: dict[int, str]
    pools: dict[int, str] = field(default_factory=dict)  # coupon pools by name


def load_choices(*, session: Session) -> Choices:
    return Choices(
        fields={row.id: FieldChoice(row.name, row.type) for row in session.exec(select(CustomField).order_by(
            CustomField.name))},
        tags=dict(session.exec(select(Tag.id, Tag.name).order_by(Tag.name)).all()),
        entry_points={row.id: EntryChoice(row.name, row.ref) for row in session.exec(select(EntryPoint).order_by(
            EntryPoint.name))},
        flows=dict(session.exec(select(Flow.id, Flow.name).order_by(Flow.name)).all()),
        pools=dict(session.exec(select(CouponPool.id, CouponPool.name).order_by(CouponPool.name)).all()),
    )


# ---------------------------------------------------------------------------------------------- helpers


def fetch_row(session: Session, model: type, row_id: int, noun: str) -> Any:
    row = session.get(model, row_id)
    if row is None:
        raise LookupError(f"There is no {noun} with ID {row_id}; it may have been deleted.")
    return row


def save_row(session: Session, row: Any) -> Any:
    session.add(row)
    session.flush()
    return row
