"""Triggers: the admin's input shape (event, filter, conditions, actions), the list the builder shows, and the
writes. Given a validation context (`trigger_context`) the input also checks against the workspace: the trigger's
name is free, what it points at exists, and every value fits the field it goes into. Every problem is a sentence for
the admin.
"""

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator
from sqlmodel import Session, select

from runtime.actions import ACTION_TYPES, Setting
from runtime.templates import is_template
from runtime.values import coerce_value
from runtime.vocabulary import (
    CONDITION_OPS,
    ENTRY_EVENTS,
    FIELD_OPS,
    MATCH_MODES,
    TAG_EVENTS,
    TRIGGER_EVENTS,
    VALUELESS_OPS,
)
from storage.fields_tags import FieldChoice, fetch_row, load_choices, save_row
from storage.models import Trigger
from storage.names import check_name_shape, find_clash, load_taken

ORDERED_TYPES = ("number", "date", "datetime")


def trigger_context(*, session: Session, trigger_id: int | None = None) -> dict:
    """The validation context of TriggerCreate / TriggerUpdate."""
    return {"choices": load_choices(session=session), "taken": load_taken(session, "trigger"), "editing_id": trigger_id}


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
        if value not in MATCH_MODES:
            raise ValueError("Choose whether all rules or any rule must hold.")
        return value


class ActionInput(BaseModel):
    """One action; only the settings of its type are kept and checked (runtime/actions.py), each by its kind."""

    model_config = ConfigDict(validate_default=True)

    type: str
    field_id: int | None = None
    op: str | None = None
    value: Any = None
    tag_id: int | None = None
    text: str | None = None
    flow_id: int | None = None
    pool_id: int | None = None

    @field_validator("type")
    @classmethod
    def check_type(cls, value: str) -> str:
        if value not in ACTION_TYPES:
            raise ValueError("Choose what this action does.")
        return value

    @field_validator("field_id", "op", "value", "tag_id", "text", "flow_id", "pool_id")
    @classmethod
    def check_setting(cls, value: Any, info: ValidationInfo) -> Any:
        spec = ACTION_TYPES.get(info.data.get("type"))  # type: ignore[arg-type]
        setting = spec.setting(info.field_name) if spec else None
        if setting is None or not setting.applies(info.data):
            return None
        return _SETTING_CHECKS[setting.kind](value, setting, info)

    def to_stored(self) -> dict:
        return {"type": self.type} | {key: getattr(self, key) for key in ACTION_TYPES[self.type].keys(self.__dict__)}


def _check_field_setting(value: int | None, setting: Setting, info: ValidationInfo) -> int | None:
    known = _known(value, info, "fields", _sentence(setting.missing))
    field = _field(info, known)
    if field and setting.field_types and field.type not in setting.field_types:
        kinds = " or ".join(setting.field_types)
        raise ValueError(f"{setting.label}: field '{field.name}' is {field.type}. Choose a {kinds} field.")
    return known


def _check_op_setting(value: str | None, setting: Setting, info: ValidationInfo) -> str | None:
    if value not in FIELD_OPS:
        raise ValueError(_sentence(setting.missing))
    field = _field(info, info.data.get("field_id"))
    if field and value in ("increase", "decrease") and field.type != "number":
        raise ValueError(f"Only number fields can be increased or decreased; '{field.name}' is {field.type}. "
                         "Use 'set' instead.")
    return value


def _check_value_setting(value: Any, setting: Setting, info: ValidationInfo) -> Any:
    op, field = info.data.get("op"), _field(info, info.data.get("field_id"))
    if op in ("increase", "decrease"):
        if _blank(value):
            raise ValueError(f"Write how much to {op} by, e.g. 1.")
        return coerce_value(field.name if field else "amount", "number", value)
    if _blank(value):
        raise ValueError("Write the value to set, or choose 'clear' to empty the field.")
    if field is None or is_template(value):  # templates are filled in when it runs
        return value
    return coerce_value(field.name, field.type, value)


def _check_text_setting(value: str | None, setting: Setting, info: ValidationInfo) -> str | None:
    if _blank(value):
        raise ValueError(_sentence(setting.missing))
    return value.strip()


def _check_reference_setting(value: int | None, setting: Setting, info: ValidationInfo) -> int | None:
    return _known(value, info, f"{setting.kind}s", _sentence(setting.missing))


def _sentence(phrase: str) -> str:
    return f"{phrase[:1].upper()}{phrase[1:]}."


_SETTING_CHECKS = {"field": _check_field_setting, "op": _check_op_setting, "value": _check_value_setting,
                   "text": _check_text_setting, "template": _check_text_setting, "tag": _check_reference_setting,
                   "flow": _check_reference_setting, "pool": _check_reference_setting}


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
        context = info.context or {}
        if problem := check_name_shape("trigger", value) or find_clash("trigger", value, context.get("taken", {}),
                                                                        context.get("editing_id")):
            raise ValueError(problem)
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










def create_trigger(*, session: Session, data: TriggerCreate) -> Trigger:
    """Raises pydantic.ValidationError when something is wrong; new triggers run after the others of the event."""
    data = TriggerCreate.model_validate(data.model_dump(), context=trigger_context(session=session))
    last = session.execute(sa.select(sa.func.max(Trigger.position))).scalar()
    return save_row(session, Trigger(**data.to_columns(), position=0 if last is None else last + 1))


def update_trigger(*, session: Session, trigger_id: int, data: TriggerUpdate) -> Trigger:
    trigger = fetch_row(session, Trigger, trigger_id, "trigger")
    context = trigger_context(session=session, trigger_id=trigger_id)
    data = TriggerUpdate.model_validate(data.model_dump(), context=context)
    return save_row(session, trigger.sqlmodel_update(data.to_columns()))






def delete_trigger(*, session: Session, trigger_id: int) -> None:
    session.execute(sa.delete(Trigger).where(Trigger.id == trigger_id))
