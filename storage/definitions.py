"""Custom fields, tags and triggers: the admin's input shapes, the lists the builder shows, what uses a field or tag,
and the writes.

The input shapes check what they can alone; given a validation context (`field_context`, `tag_context`,
`trigger_context`) they also check against the workspace: names already taken, a field's type once contacts have
values, and that trigger values fit the field they go into. Every problem is a sentence for the admin.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator
from sqlmodel import Session, select

from runtime.flowdoc import NODE_TYPES
from runtime.templates import placeholders
from runtime.validation import ValidationIssue
from runtime.values import coerce_value
from storage.flows import workspace_problems
from storage.models import FIELD_TYPES, TRIGGER_EVENTS, CustomField, EntryPoint, Flow, Tag, Trigger
from storage.workspace_io import ACTION_KEYS, CONDITION_OPS, FIELD_OPS

NAME_PATTERN = re.compile(r"[\w ]+")
FIELD_NAME_PATTERN = re.compile(r"\w+")
ENTRY_EVENTS = ("contact_created", "entry_point_opened", "referred_new_contact", "referred_existing_contact")
TAG_EVENTS = ("tag_added", "tag_removed")
ORDERED_TYPES = ("number", "date", "datetime")
VALUELESS_OPS = ("is_set", "is_not_set")


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
    name: str
    type: str = "text"
    description: str = ""

    @field_validator("name", "description", mode="before")
    @classmethod
    def strip(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else value

    @field_validator("name")
    @classmethod
    def check_name(cls, value: str, info: ValidationInfo) -> str:
        if value.isdigit():
            raise ValueError("A field name cannot be only digits: links use digits for field IDs. Add a letter.")
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
    """The edited field; validate with `field_context(session=..., field_id=...)`."""


class TagCreate(BaseModel):
    name: str
    description: str = ""

    @field_validator("name", "description", mode="before")
    @classmethod
    def strip(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else value

    @field_validator("name")
    @classmethod
    def check_name(cls, value: str, info: ValidationInfo) -> str:
        return _check_name(value, info, "tag")


class TagUpdate(TagCreate):
    """The edited tag; validate with `tag_context(session=..., tag_id=...)`."""


def _check_name(value: str, info: ValidationInfo, noun: str) -> str:
    if not value:
        raise ValueError(f"Give the {noun} a name.")
    if noun == "field" and not FIELD_NAME_PATTERN.fullmatch(value):
        raise ValueError("A field name uses only letters, digits and underscores, e.g. referral_points: it is "
                         "written in {{templates}} and in links.")
    if not NAME_PATTERN.fullmatch(value):
        raise ValueError(f"A {noun} name uses only letters, digits, underscores and spaces.")
    context = info.context or {}
    taken = context.get("taken", {}).get(value.lower())
    if taken and taken[0] != context.get("editing_id"):
        raise ValueError(f"There is already a {noun} called '{taken[1]}' (names ignore upper and lower case).")
    return value


@dataclass(frozen=True)
class FieldRow:
    id: int
    name: str
    type: str
    description: str
    values: int  # contacts with a value


@dataclass(frozen=True)
class TagRow:
    id: int
    name: str
    description: str
    contacts: int  # contacts tagged


def list_fields(*, session: Session) -> list[FieldRow]:
    rows = session.execute(sa.text(
        "SELECT f.id, f.name, f.type, f.description, (SELECT COUNT(*) FROM field_value v WHERE v.field_id = f.id)"
        " FROM custom_field f ORDER BY f.id"))
    return [FieldRow(*row) for row in rows]


def list_tags(*, session: Session) -> list[TagRow]:
    rows = session.execute(sa.text(
        "SELECT t.id, t.name, t.description, (SELECT COUNT(*) FROM contact_tag c WHERE c.tag_id = t.id)"
        " FROM tag t ORDER BY t.name COLLATE NOCASE"))
    return [TagRow(*row) for row in rows]


def field_context(*, session: Session, field_id: int | None = None) -> dict:
    """The validation context of FieldCreate / FieldUpdate (taken names; the field's values and type)."""
    context = {"taken": _taken_names(session, CustomField), "editing_id": field_id}
    field = session.get(CustomField, field_id) if field_id is not None else None
    if field is not None:
        context |= {"values": count_values(session=session, field_id=field_id), "current_type": field.type}
    return context


def tag_context(*, session: Session, tag_id: int | None = None) -> dict:
    return {"taken": _taken_names(session, Tag), "editing_id": tag_id}


def _taken_names(session: Session, model: type[CustomField] | type[Tag]) -> dict[str, tuple[int, str]]:
    return {name.lower(): (row_id, name) for row_id, name in session.exec(select(model.id, model.name))}


def count_values(*, session: Session, field_id: int) -> int:
    return session.execute(sa.text("SELECT COUNT(*) FROM field_value WHERE field_id = :id"), {"id": field_id}).scalar()


def create_field(*, session: Session, data: FieldCreate) -> CustomField:
    """Raises pydantic.ValidationError when the name is taken (or anything else is wrong)."""
    data = FieldCreate.model_validate(data.model_dump(), context=field_context(session=session))
    return _save(session, CustomField(**data.model_dump()))


def update_field(*, session: Session, field_id: int, data: FieldUpdate) -> CustomField:
    field = _get(session, CustomField, field_id, "field")
    data = FieldUpdate.model_validate(data.model_dump(), context=field_context(session=session, field_id=field_id))
    return _save(session, field.sqlmodel_update(data.model_dump()))


def create_tag(*, session: Session, data: TagCreate) -> Tag:
    data = TagCreate.model_validate(data.model_dump(), context=tag_context(session=session))
    return _save(session, Tag(**data.model_dump()))


def update_tag(*, session: Session, tag_id: int, data: TagUpdate) -> Tag:
    tag = _get(session, Tag, tag_id, "tag")
    data = TagUpdate.model_validate(data.model_dump(), context=tag_context(session=session, tag_id=tag_id))
    return _save(session, tag.sqlmodel_update(data.model_dump()))


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
    field = _get(session, CustomField, field_id, "field")
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
    _get(session, Tag, tag_id, "tag")
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
                uses.append(Use(where, f"action {number} ({ACTION_WORDS.get(action.get('type'), '?')})", PROBLEM))
    return uses


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
    if not name or not isinstance(text, str) or "{{" not in text:
        return False
    return any(p.lower().rsplit(".", 1)[-1] == name.lower() for p in placeholders(text))


ACTION_WORDS = {"set_field": "set field", "add_tag": "add tag", "remove_tag": "remove tag",
                "send_message": "send message", "notify_referrer": "notify referrer", "start_flow": "start flow"}


# ---------------------------------------------------------------------------------------------- triggers


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


def load_choices(*, session: Session) -> Choices:
    return Choices(
        fields={row.id: FieldChoice(row.name, row.type) for row in session.exec(select(CustomField).order_by(
            CustomField.name))},
        tags=dict(session.exec(select(Tag.id, Tag.name).order_by(Tag.name)).all()),
        entry_points={row.id: EntryChoice(row.name, row.ref) for row in session.exec(select(EntryPoint).order_by(
            EntryPoint.name))},
        flows=dict(session.exec(select(Flow.id, Flow.name).order_by(Flow.name)).all()),
    )


def trigger_context(*, session: Session, trigger_id: int | None = None) -> dict:
    """The validation context of TriggerCreate / TriggerUpdate."""
    names = {name.lower(): (row_id, name) for row_id, name in session.exec(select(Trigger.id, Trigger.name))}
    return {"choices": load_choices(session=session), "taken": names, "editing_id": trigger_id}


class RuleInput(BaseModel):
    """A condition on the context contact's field: {"field_id": 1, "op": ">=", "value": 3}."""

    model_config = ConfigDict(validate_default=True)

    field_id: int | None = None
    op: str = "=="
    value: Any = None

    @field_validator("field_id")
    @classmethod
    def check_field(cls, value: int | None, info: ValidationInfo) -> int | None:
        return _known(value, info, "fields", "Choose the field to test.")

    @field_validator("op")
    @classmethod
    def check_op(cls, value: str, info: ValidationInfo) -> str:
        if value not in CONDITION_OPS:
            raise ValueError("Choose how to compare.")
        field = _field(info, info.data.get("field_id"))
        if field and value in (">", ">=", "<", "<=") and field.type not in ORDERED_TYPES:
            raise ValueError(f"'{value}' compares numbers and dates; field '{field.name}' is {field.type}.")
        if field and value == "contains" and field.type not in ("text", "json"):
            raise ValueError(f"'contains' looks inside text; field '{field.name}' is {field.type}.")
        return value

    @field_validator("value")
    @classmethod
    def check_value(cls, value: Any, info: ValidationInfo) -> Any:
        op = info.data.get("op")
        if op in VALUELESS_OPS:
            return None
        if _blank(value):
            raise ValueError("Write the value to compare with, or choose 'is set' / 'is not set'.")
        field = _field(info, info.data.get("field_id"))
        return value if field is None or op == "contains" else coerce_value(field.name, field.type, value)

    def to_stored(self) -> dict:
        return {"field_id": self.field_id, "op": self.op} | ({} if self.op in VALUELESS_OPS else {"value": self.value})


class ConditionsInput(BaseModel):
    match: str = "all"
    rules: list[RuleInput] = []

    @field_validator("match")
    @classmethod
    def check_match(cls, value: str) -> str:
        if value not in ("all", "any"):
            raise ValueError("Choose whether all rules or any rule must hold.")
        return value


class ActionInput(BaseModel):
    """One action; only the keys of its type are kept (docs/workspace-format.md, trigger actions)."""

    model_config = ConfigDict(validate_default=True)

    type: str
    field_id: int | None = None
    op: str | None = None
    value: Any = None
    tag_id: int | None = None
    text: str | None = None
    flow_id: int | None = None

    @field_validator("type")
    @classmethod
    def check_type(cls, value: str) -> str:
        if value not in ACTION_KEYS:
            raise ValueError("Choose what this action does.")
        return value

    @field_validator("field_id")
    @classmethod
    def check_field(cls, value: int | None, info: ValidationInfo) -> int | None:
        if info.data.get("type") != "set_field":
            return None
        return _known(value, info, "fields", "Choose the field to change.")

    @field_validator("op")
    @classmethod
    def check_op(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("type") != "set_field":
            return None
        if value not in FIELD_OPS:
            raise ValueError("Choose set, increase, decrease or clear.")
        field = _field(info, info.data.get("field_id"))
        if field and value in ("increase", "decrease") and field.type != "number":
            raise ValueError(f"Only number fields can be increased or decreased; '{field.name}' is {field.type}. "
                             "Use 'set' instead.")
        return value

    @field_validator("value")
    @classmethod
    def check_value(cls, value: Any, info: ValidationInfo) -> Any:
        op, field = info.data.get("op"), _field(info, info.data.get("field_id"))
        if info.data.get("type") != "set_field" or op == "clear":
            return None
        if op in ("increase", "decrease"):
            if _blank(value):
                raise ValueError(f"Write how much to {op} by, e.g. 1.")
            return coerce_value(field.name if field else "amount", "number", value)
        if _blank(value):
            raise ValueError("Write the value to set, or choose 'clear' to empty the field.")
        if field is None or (isinstance(value, str) and "{{" in value):  # templates are filled in when it runs
            return value
        return coerce_value(field.name, field.type, value)

    @field_validator("text")
    @classmethod
    def check_text(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("type") not in ("send_message", "notify_referrer"):
            return None
        if _blank(value):
            raise ValueError("Write the message.")
        return value.strip()

    @field_validator("tag_id")
    @classmethod
    def check_tag(cls, value: int | None, info: ValidationInfo) -> int | None:
        if info.data.get("type") not in ("add_tag", "remove_tag"):
            return None
        return _known(value, info, "tags", "Choose the tag.")

    @field_validator("flow_id")
    @classmethod
    def check_flow(cls, value: int | None, info: ValidationInfo) -> int | None:
        if info.data.get("type") != "start_flow":
            return None
        return _known(value, info, "flows", "Choose the flow to start.")

    def to_stored(self) -> dict:
        keys = ACTION_KEYS[self.type] + (("value",) if self.type == "set_field" and self.op != "clear" else ())
        return {"type": self.type} | {key: getattr(self, key) for key in keys}


class TriggerCreate(BaseModel):
    """A trigger as the editor sends it; validate with `context=trigger_context(session=...)`."""

    model_config = ConfigDict(validate_default=True)

    name: str
    event: str
    entry_point_id: int | None = None
    field_id: int | None = None
    tag_id: int | None = None
    conditions: ConditionsInput = ConditionsInput()
    actions: list[ActionInput] = []
    once_per_contact: bool = False
    enabled: bool = True

    @field_validator("name")
    @classmethod
    def check_name(cls, value: str, info: ValidationInfo) -> str:
        value = value.strip()
        if not value:
            raise ValueError("Give the trigger a name.")
        context = info.context or {}
        taken = context.get("taken", {}).get(value.lower())
        if taken and taken[0] != context.get("editing_id"):
            raise ValueError(f"Another trigger is already called '{taken[1]}'. Choose another name.")
        return value

    @field_validator("event")
    @classmethod
    def check_event(cls, value: str) -> str:
        if value not in TRIGGER_EVENTS:
            raise ValueError("Choose the event that starts this trigger.")
        return value

    @field_validator("entry_point_id", "field_id", "tag_id")
    @classmethod
    def check_filter(cls, value: int | None, info: ValidationInfo) -> int | None:
        events, kind = {"entry_point_id": (ENTRY_EVENTS, "entry_points"), "field_id": (("field_changed",), "fields"),
                        "tag_id": (TAG_EVENTS, "tags")}[info.field_name]
        if not value or info.data.get("event") not in events:
            return None  # no filter: any entry point, field or tag
        return _known(value, info, kind, "")

    @field_validator("actions")
    @classmethod
    def check_actions(cls, value: list[ActionInput]) -> list[ActionInput]:
        if not value:
            raise ValueError("Add at least one action: a trigger without actions does nothing.")
        return value

    def to_columns(self) -> dict:
        conditions = {"match": self.conditions.match, "rules": [rule.to_stored() for rule in self.conditions.rules]}
        return self.model_dump(exclude={"conditions", "actions"}) | {
            "conditions": conditions, "actions": [action.to_stored() for action in self.actions]}


class TriggerUpdate(TriggerCreate):
    """The edited trigger, replacing the stored one; validate with `trigger_context(session=..., trigger_id=...)`
    (its own name does not count as taken)."""


def _known(value: int | None, info: ValidationInfo, kind: str, missing: str) -> int | None:
    if value is None:
        raise ValueError(missing)
    choices = (info.context or {}).get("choices")
    if choices is not None and value not in getattr(choices, kind):
        raise ValueError(f"This {kind[:-1].replace('_', ' ')} no longer exists; choose another one.")
    return value


def _field(info: ValidationInfo, field_id: object) -> FieldChoice | None:
    choices = (info.context or {}).get("choices")
    return choices.fields.get(field_id) if choices is not None else None


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


@dataclass(frozen=True)
class TriggerRow:
    trigger: Trigger
    runs: int  # times it ran, all contacts together


def list_triggers(*, session: Session) -> list[TriggerRow]:
    runs = dict(session.execute(sa.text("SELECT trigger_id, SUM(runs) FROM trigger_run GROUP BY trigger_id")).all())
    triggers = session.exec(select(Trigger).order_by(Trigger.position, Trigger.id))
    return [TriggerRow(trigger, runs.get(trigger.id, 0)) for trigger in triggers]


def get_trigger(*, session: Session, trigger_id: int) -> Trigger | None:
    return session.get(Trigger, trigger_id)


def trigger_problems(*, session: Session) -> dict[int, list[ValidationIssue]]:
    """Each trigger's validation problems (missing references, no actions, loops through it), by trigger id."""
    problems: dict[int, list[ValidationIssue]] = {}
    for issue in workspace_problems(session=session):
        for trigger_id in issue.trigger_ids:
            problems.setdefault(trigger_id, []).append(issue)
    return problems


def create_trigger(*, session: Session, data: TriggerCreate) -> Trigger:
    """Raises pydantic.ValidationError when something is wrong; new triggers run after the others of the event."""
    data = TriggerCreate.model_validate(data.model_dump(), context=trigger_context(session=session))
    last = session.execute(sa.select(sa.func.max(Trigger.position))).scalar()
    return _save(session, Trigger(**data.to_columns(), position=0 if last is None else last + 1))


def update_trigger(*, session: Session, trigger_id: int, data: TriggerUpdate) -> Trigger:
    trigger = _get(session, Trigger, trigger_id, "trigger")
    context = trigger_context(session=session, trigger_id=trigger_id)
    data = TriggerUpdate.model_validate(data.model_dump(), context=context)
    return _save(session, trigger.sqlmodel_update(data.to_columns()))


def set_trigger_enabled(*, session: Session, trigger_id: int, enabled: bool) -> Trigger:
    trigger = _get(session, Trigger, trigger_id, "trigger")
    trigger.enabled = enabled
    return _save(session, trigger)


def delete_trigger(*, session: Session, trigger_id: int) -> None:
    session.execute(sa.delete(Trigger).where(Trigger.id == trigger_id))


# ---------------------------------------------------------------------------------------------- helpers


def _get(session: Session, model: type, row_id: int, noun: str) -> Any:
    row = session.get(model, row_id)
    if row is None:
        raise LookupError(f"There is no {noun} with ID {row_id}; it may have been deleted.")
    return row


def _save(session: Session, row: Any) -> Any:
    session.add(row)
    session.flush()
    return row
