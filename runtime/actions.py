"""The catalogue of trigger actions that the Triggers page, the input checks, the workspace import, the validator,
the usage lists and the engine share: each action's title, the settings it needs and how it reads in a list.

A new action is a spec here and its step in runtime/triggers.py (`ACTION_STEPS`), nothing else: a setting is one of
the kinds below, each of which the editor draws, storage/triggers.py checks and the validator reports on already.
Settings are stored under their key in the workspace format; keys ending in `_id` are references (import remaps them,
the Fields page lists them as uses).
"""

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from runtime.node_types import NODE_TYPES, Names, name_of, shorten

# What a setting holds, and so how the editor draws it and storage checks it:
#   field, tag, flow, pool   one of the workspace's fields / tags / flows / coupon pools, by id
#   op                       what happens to the field: one of FIELD_OPS
#   value                    what the op sets or adds (not for "clear")
#   text                     a message, with {{placeholders}}
#   template                 a template whose rendered text is saved, with {{placeholders}}
SETTING_KINDS = ("field", "tag", "flow", "pool", "op", "value", "text", "template")


@dataclass(frozen=True)
class Setting:
    key: str  # the action's key in the workspace format
    kind: str  # one of SETTING_KINDS
    label: str  # the editor's label
    missing: str  # what the admin must do while it is missing: "choose the field to change"
    default: Any = None
    field_types: tuple[str, ...] = ()  # a field setting: the field types it accepts, none for any
    hint: str = ""  # the editor's placeholder text
    when: Callable[[Mapping], bool] | None = None  # None: always; else only for actions where this holds

    def applies(self, action: Mapping) -> bool:
        return self.when is None or self.when(action)


@dataclass(frozen=True)
class ActionSpec:
    title: str  # the editor's choice: "Set field"
    doing: str  # what a run does, for the simulator's timeline: "change a field"
    settings: tuple[Setting, ...]
    describe: Callable[[Mapping, Names], str]  # the action in a trigger's list: "increase referral_points by 1"
    tag_event: str | None = None  # the event its tag change emits

    def setting(self, key: str) -> Setting | None:
        return next((setting for setting in self.settings if setting.key == key), None)

    def keys(self, action: Mapping) -> tuple[str, ...]:
        """The keys this action stores, given its other settings (a cleared field keeps no value)."""
        return tuple(setting.key for setting in self.settings if setting.applies(action))

    def required(self, action: Mapping) -> list[str]:
        """What the admin still has to do, one phrase per setting that is missing: "choose the tag to add"."""
        return [setting.missing for setting in self.settings
                if setting.applies(action) and setting.kind != "value" and action.get(setting.key) in (None, "")]

    def summary(self, action: Mapping, names: Names | None = None) -> str:
        return self.describe(action, names or Names())

    def effects(self, action: Mapping) -> Iterator[tuple[str, object]]:
        """What running it can set off: ("field_changed", field id), ("tag_added"/"tag_removed", tag id) or
        ("start_flow", flow id); the workspace graph follows these to find loops."""
        for setting in self.settings:
            value = action.get(setting.key)
            if setting.kind == "field":
                yield "field_changed", value
            elif setting.kind == "tag" and self.tag_event:
                yield self.tag_event, value
            elif setting.kind == "flow":
                yield "start_flow", value


def _changes_value(action: Mapping) -> bool:
    return action.get("op") != "clear"


def _describe_set_field(action: Mapping, names: Names) -> str:
    phrase = NODE_TYPES["set_field"].summary(action, names)
    return phrase[:1].lower() + phrase[1:]


def _describe_tag(verb: str) -> Callable[[Mapping, Names], str]:
    return lambda action, names: f"{verb} tag {name_of(names.tags, action.get('tag_id'), 'tag')}"


def _describe_message(action: Mapping, names: Names) -> str:
    return f"send “{shorten(action.get('text'), 40)}”"


def _describe_coupon(action: Mapping, names: Names) -> str:
    return (f"give a code from {name_of(names.pools, action.get('pool_id'), 'pool')} into "
            f"{name_of(names.fields, action.get('field_id'), 'field')}")


def _describe_from_template(action: Mapping, names: Names) -> str:
    return f"set {name_of(names.fields, action.get('field_id'), 'field')} to “{shorten(action.get('text'), 40)}”"


_MESSAGE_HINT = "Use {{first_name}} or {{field_name}} to personalise"

ACTION_TYPES: dict[str, ActionSpec] = {
    "set_field": ActionSpec(
        "Set field", "change a field",
        (Setting("field_id", "field", "Field", "choose the field to change"),
         Setting("op", "op", "How", "choose set, increase, decrease or clear", default="set"),
         Setting("value", "value", "Value", "write the value", default="", when=_changes_value)),
        _describe_set_field),
    "add_tag": ActionSpec(
        "Add tag", "add a tag", (Setting("tag_id", "tag", "Tag", "choose the tag to add"),), _describe_tag("add"),
        tag_event="tag_added"),
    "remove_tag": ActionSpec(
        "Remove tag", "remove a tag", (Setting("tag_id", "tag", "Tag", "choose the tag to remove"),),
        _describe_tag("remove"), tag_event="tag_removed"),
    "send_message": ActionSpec(
        "Send message", "send a message",
        (Setting("text", "text", "Message", "write the message", default="", hint=_MESSAGE_HINT),),
        _describe_message),
    "notify_referrer": ActionSpec(
        "Notify referrer", "notify the referrer",
        (Setting("text", "text", "Message", "write the message for the referrer", default="",
                 hint="{{referred.first_name}} is the person who joined"),),
        lambda action, names: "notify the referrer"),
    "start_flow": ActionSpec(
        "Start flow", "start a flow", (Setting("flow_id", "flow", "Flow", "choose the flow to start"),),
        lambda action, names: f"start flow {name_of(names.flows, action.get('flow_id'), 'flow')}"),
    "give_coupon": ActionSpec(
        "Give a coupon code", "give a coupon code",
        (Setting("pool_id", "pool", "Coupon pool", "choose the coupon pool to take the code from"),
         Setting("field_id", "field", "Save the code in", "choose the text field the code is saved in",
                 field_types=("text",))),
        _describe_coupon),
    "set_field_from_template": ActionSpec(
        "Set field from a template", "fill a field from a template",
        (Setting("field_id", "field", "Field", "choose the field to fill in"),
         Setting("text", "template", "Template", "write the template whose text the field gets", default="",
                 hint="e.g. {{first_name}} from {{referred.first_name}}")),
        _describe_from_template),
}
