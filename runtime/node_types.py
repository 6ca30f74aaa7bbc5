"""The catalogue of node types that the builder, the engine and the validator share: each type's title, icon, summary,
settings it needs, exits and defaults. A new node type starts here (the engine's step for it is runtime/flows.py)."""

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from runtime.templates import placeholders
from runtime.vocabulary import (
    CONDITION_OPS,
    FIELD_OP_WORDS,
    FIELD_OPS,
    MATCH_MODES,
    OPERATOR_WORDS,
    TAG_OPS,
    VALUED_OPS,
    VALUELESS_OPS,
    format_duration,
)


@dataclass(frozen=True)
class Names:
    """Display names by id for summaries: fields, tags and flows by name, entry points by ref. Any may be empty."""

    fields: Mapping[int, str] = field(default_factory=dict)
    tags: Mapping[int, str] = field(default_factory=dict)
    flows: Mapping[int, str] = field(default_factory=dict)
    entry_points: Mapping[int, str] = field(default_factory=dict)
    pools: Mapping[int, str] = field(default_factory=dict)


Describe = Callable[[Mapping, Names], str]
Inspect = Callable[[Mapping], list[str]]


@dataclass(frozen=True)
class NodeSpec:
    title: str
    icon: str  # a Material icon name
    describe: Describe
    needs: Inspect | None = None  # None: nothing to configure
    exit_list: Inspect | None = None  # None: the single exit "next"
    waits_when: Callable[[Mapping], bool] | bool = False
    defaults: Mapping[str, Any] = field(default_factory=dict)

    def waits(self, data: Mapping | None) -> bool:
        """Whether the flow pauses here for the contact (a reply, a button, time passing)."""
        waits_when = self.waits_when
        return waits_when if waits_when.__class__ is bool else waits_when(data or {})  # type: ignore[operator]

    def exits(self, data: Mapping | None) -> list[str]:
        return self.exit_list(data or {}) if self.exit_list else ["next"]

    def required(self, data: Mapping | None) -> list[str]:
        """One sentence per missing or unusable setting, telling the admin what to do."""
        return self.needs(data or {}) if self.needs else []

    def summary(self, data: Mapping | None, names: Names | None = None) -> str:
        return self.describe(data or {}, names or Names())

    def default_data(self) -> dict:
        return copy.deepcopy(dict(self.defaults))


def _describe_message(data: Mapping, names: Names) -> str:
    text = shorten(data.get("text")) or "No text yet"
    titles = [str(button.get("title") or "?") for button in _items(data, "buttons")]
    return f"{text} · buttons: {', '.join(titles)}" if titles else text


def _describe_ask(data: Mapping, names: Names) -> str:
    return f"{shorten(data.get('text')) or 'No question yet'} → {name_of(names.fields, data.get('field_id'), 'field')}"


def _describe_condition(data: Mapping, names: Names) -> str:
    rules = [_describe_rule(rule, names) for rule in _items(data, "rules")]
    joiner = " or " if data.get("match") == "any" else " and "
    return shorten(joiner.join(rules)) or "No rules yet"


def _describe_rule(rule: Mapping, names: Names) -> str:
    name, op = name_of(names.fields, rule.get("field_id"), "field"), rule.get("op")
    words = OPERATOR_WORDS.get(op, op or "?")  # "points is at least 5", as the inspector and the Triggers page say it
    if op in VALUELESS_OPS:
        return f"{name} {words}"
    return f"{name} {words} {show_value(rule.get('value'))}"


def _describe_set_field(data: Mapping, names: Names) -> str:
    name, op = name_of(names.fields, data.get("field_id"), "field"), data.get("op")
    if op not in FIELD_OP_WORDS:
        return f"Change {name}"
    verb, _, preposition = FIELD_OP_WORDS[op].partition(" ")  # "increase by": "Increase points by 1"
    return f"{verb.capitalize()} {name} {preposition} {show_value(data.get('value'))}" if preposition \
        else f"{verb.capitalize()} {name}"


def _describe_tag(data: Mapping, names: Names) -> str:
    verb = "Remove" if data.get("op") == "remove" else "Add"
    return f"{verb} {name_of(names.tags, data.get('tag_id'), 'tag')}"


def _describe_json_get(data: Mapping, names: Names) -> str:
    source = name_of(names.fields, data.get("source_field_id"), "field")
    return f"{data.get('path') or '?'} from {source} into {name_of(names.fields, data.get('field_id'), 'field')}"


def _describe_delay(data: Mapping, names: Names) -> str:
    seconds = data.get("seconds")
    if not _is_number(seconds) or seconds <= 0:
        return "No time set"
    return format_duration(seconds)


def _describe_randomizer(data: Mapping, names: Names) -> str:
    branches = _items(data, "branches")
    weights = [b.get("weight") if _is_number(b.get("weight")) and b.get("weight") > 0 else 0 for b in branches]
    total = sum(weights) or 1
    return " · ".join(f"{b.get('id')} {round(100 * w / total)}%" for b, w in zip(branches, weights, strict=True))


def _need_message(data: Mapping) -> list[str]:
    # One pass over the buttons: a big bot has thousands of these, and validation checks every one on each edit.
    untitled = unnamed = False
    buttons = data.get("buttons")
    for button in buttons if isinstance(buttons, list) else ():
        if not isinstance(button, dict):
            continue
        title, ident = button.get("title"), button.get("id")
        untitled = untitled or title is None or (isinstance(title, str) and not title.strip())
        unnamed = unnamed or ident is None or (isinstance(ident, str) and not ident.strip())
    return [message for broken, message in (
        (_blank(data.get("text")), "Write the message text."),
        (untitled, "Give every button a title."),
        (unnamed, "Every button needs an id."),
    ) if broken]


def _need_condition(data: Mapping) -> list[str]:
    rules = _items(data, "rules")
    fieldless = opless = valueless = False
    for rule in rules:  # one pass, as in _need_message
        fieldless = fieldless or rule.get("field_id") is None
        opless = opless or rule.get("op") not in CONDITION_OPS
        valueless = valueless or (rule.get("op") in VALUED_OPS and rule.get("value") in (None, ""))
    return [message for broken, message in (
        (not rules, "Add at least one rule."),
        (data.get("match", "all") not in MATCH_MODES, "Choose whether all or any of the rules must hold."),
        (fieldless, "Choose the field for every rule."),
        (opless, "Choose a comparison for every rule."),
        (valueless, "Give every rule a value to compare with (or compare with “has no value”)."),
    ) if broken]


def _need_set_field(data: Mapping) -> list[str]:
    op, value = data.get("op"), data.get("value")
    return [message for broken, message in (
        (data.get("field_id") is None, "Choose the field to change."),
        (op not in FIELD_OPS, "Choose whether to set, increase, decrease or clear the field."),
        (op == "set" and value is None, "Give the value to set."),
        (op in ("increase", "decrease") and not _is_number(value), f"Give the number to {op} the field by."),
    ) if broken]


def _need_randomizer(data: Mapping) -> list[str]:
    branches = _items(data, "branches")
    unnamed = unweighted = False
    for branch in branches:  # one pass, as in _need_message
        weight = branch.get("weight")
        unnamed = unnamed or _blank(branch.get("id"))
        unweighted = unweighted or not _is_number(weight) or weight <= 0
    return [message for broken, message in (
        (not branches, "Add at least one branch."),
        (unnamed, "Every branch needs an id."),
        (unweighted, "Give every branch a weight above 0."),
    ) if broken]


def _need_referral_link(data: Mapping) -> list[str]:
    return _need(data, ("entry_point_id", "Choose the entry point the link opens.")) + (
        [] if "link" in placeholders(str(data.get("text") or ""))
        else ["Put {{link}} in the text where the link should go."])


def _need_delay(data: Mapping) -> list[str]:
    seconds = data.get("seconds")
    return [] if _is_number(seconds) and seconds > 0 else ["Set how long to wait, in seconds."]


def _needs(*checks: tuple[str, str]) -> Inspect:
    return lambda data: _need(data, *checks)


def _need(data: Mapping, *checks: tuple[str, str]) -> list[str]:
    return [message for key, message in checks if _blank(data.get(key))]


def _button_exits(data: Mapping) -> list[str]:
    buttons = data.get("buttons")
    if not buttons or not isinstance(buttons, list):
        return ["next"]
    ids = _item_ids(buttons)  # the buttons that are not objects are left out, as by _items
    return ids if ids or any(isinstance(button, dict) for button in buttons) else ["next"]


def _branch_exits(data: Mapping) -> list[str]:
    branches = data.get("branches")
    return _item_ids(branches) if isinstance(branches, list) else []


def _item_ids(items: list) -> list[str]:
    """The ids of buttons or branches (the objects among `items`) as exit handles: in order, each once, the blank
    ones left out."""
    ids: dict[str, None] = {}
    for item in items:
        if not isinstance(item, dict):
            continue
        ident = item.get("id")
        if isinstance(ident, str):  # _blank, written out: a big flow has thousands of buttons
            if ident.strip():
                ids[ident] = None
        elif ident is not None:
            ids[str(ident)] = None
    return list(ids)


def _has_buttons(data: Mapping) -> bool:
    buttons = data.get("buttons")
    if buttons and isinstance(buttons, list):
        for button in buttons:  # a loop rather than any(): this runs for every message of a flow on each check
            if isinstance(button, dict):
                return True
    return False


def _items(data: Mapping, key: str) -> list[Mapping]:
    value = data.get(key)
    if not value or not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict)]


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def name_of(known: Mapping[int, str], value: object, kind: str) -> str:
    if value is None:
        return f"(no {kind})"
    return (known.get(value) if isinstance(value, int | str) else None) or f"{kind} #{value}"


def show_value(value: object) -> str:
    return f"“{value}”" if isinstance(value, str) else "?" if value is None else str(value)


def shorten(text: object, limit: int = 60) -> str:
    line = str(text or "").strip().split("\n", 1)[0].strip()
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


LEADERBOARD_PERIODS = {"week": "this week", "month": "this month", "all": "all time"}
MAX_LISTED = 50  # people one message can list (runtime/referral_stats.MAX_LIST)


def _describe_my_referrals(data: Mapping, names: Names) -> str:
    entry = data.get("entry_point_id")
    where = "every entry point" if entry is None else name_of(names.entry_points, entry, "entry point")
    return f"Up to {data.get('limit') or '?'} people who joined with the link · {where}"


def _describe_leaderboard(data: Mapping, names: Names) -> str:
    entry = data.get("entry_point_id")
    where = "every entry point" if entry is None else name_of(names.entry_points, entry, "entry point")
    return f"Top {data.get('limit') or '?'} {LEADERBOARD_PERIODS.get(data.get('period'), '(no period)')} · {where}"


def _need_referral_message(data: Mapping) -> list[str]:
    limit = data.get("limit")
    return _need(data, ("text", "Write the message.")) + (
        [] if _is_number(limit) and limit == int(limit) and 1 <= limit <= MAX_LISTED
        else [f"Say how many people to list, from 1 to {MAX_LISTED}."])


def _need_leaderboard(data: Mapping) -> list[str]:
    return _need_referral_message(data) + (
        [] if data.get("period") in LEADERBOARD_PERIODS else ["Choose this week, this month or all time."])


def _nothing(data: Mapping, names: Names) -> str:
    return ""


NODE_TYPES: dict[str, NodeSpec] = {
    "start": NodeSpec("Start", "play_arrow", _nothing),
    "send_message": NodeSpec(
        "Send message", "chat", _describe_message, _need_message, _button_exits, _has_buttons,
        {"text": "", "buttons": []}),
    "ask": NodeSpec(
        "Ask a question", "help_outline", _describe_ask,
        _needs(("text", "Write the question."), ("field_id", "Choose the field to save the answer in.")),
        waits_when=True, defaults={"text": "", "field_id": None, "retry_text": "Sorry, I did not get that."}),
    "condition": NodeSpec(
        "Condition", "call_split", _describe_condition, _need_condition, lambda data: ["true", "false"],
        defaults={"match": "all", "rules": []}),
    "set_field": NodeSpec(
        "Set field", "edit_note", _describe_set_field, _need_set_field,
        defaults={"field_id": None, "op": "set", "value": ""}),
    "tag": NodeSpec(
        "Tag", "sell", _describe_tag,
        lambda data: _need(data, ("tag_id", "Choose the tag.")) + (
            [] if data.get("op") in TAG_OPS else ["Choose whether to add or remove the tag."]),
        defaults={"tag_id": None, "op": "add"}),
    "send_referral_link": NodeSpec(
        "Send referral link", "share",
        lambda data, names: name_of(names.entry_points, data.get("entry_point_id"), "entry point"),
        _need_referral_link, defaults={"entry_point_id": None, "text": "Invite your friends with your link: {{link}}"}),
    "notify_referrer": NodeSpec(
        "Notify referrer", "notifications", lambda data, names: shorten(data.get("text")) or "No text yet",
        _needs(("text", "Write the message for the referrer.")), defaults={"text": ""}),
    "json_get": NodeSpec(
        "Get data from JSON", "data_object", _describe_json_get,
        _needs(("source_field_id", "Choose the field that holds the JSON."),
               ("path", "Write the path to read, for example order.items[0].sku."),
               ("field_id", "Choose the field to save the value in.")),
        defaults={"source_field_id": None, "path": "", "field_id": None}),
    "go_to_flow": NodeSpec(
        "Go to flow", "shortcut", lambda data, names: name_of(names.flows, data.get("flow_id"), "flow"),
        _needs(("flow_id", "Choose the flow to go to.")), lambda data: [], defaults={"flow_id": None}),
    "delay": NodeSpec(
        "Delay", "schedule", _describe_delay, _need_delay, waits_when=True, defaults={"seconds": 60}),
    "randomizer": NodeSpec(
        "Randomizer", "shuffle", _describe_randomizer, _need_randomizer, _branch_exits,
        defaults={"branches": [{"id": "a", "weight": 50}, {"id": "b", "weight": 50}]}),
    "give_coupon": NodeSpec(
        "Give a coupon code", "redeem",
        lambda data, names: f"A code from {name_of(names.pools, data.get('pool_id'), 'pool')} into "
                            f"{name_of(names.fields, data.get('field_id'), 'field')}",
        _needs(("pool_id", "Choose the coupon pool to take the code from."),
               ("field_id", "Choose the text field the code is saved in.")),
        lambda data: ["next", "none_left"], defaults={"pool_id": None, "field_id": None}),
    "my_referrals": NodeSpec(
        "My referrals", "groups", _describe_my_referrals, _need_referral_message,
        defaults={"entry_point_id": None, "limit": 10,
                  "text": "{{referrals.count}} friends joined with your link:\n{{referrals.list}}"}),
    "leaderboard": NodeSpec(
        "Leaderboard", "leaderboard", _describe_leaderboard, _need_leaderboard,
        defaults={"entry_point_id": None, "period": "week", "limit": 5,
                  "text": "Top referrers {{period}}:\n{{referrals.top}}\n"
                          "Your place: {{referrals.rank|not on the board yet}} ({{referrals.count}} friends)"}),
    "end": NodeSpec("End", "stop_circle", _nothing, exit_list=lambda data: []),
}
