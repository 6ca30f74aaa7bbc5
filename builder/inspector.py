"""The flow editor's inspector: one form per node type. Every edit hands the node's new settings to `on_change`
(with a key that tells consecutive keystrokes in one input apart from a new edit, for undo). It holds one form per
node type (`FORMS`), so it grows with the node catalogue."""

import copy
import re
from collections.abc import Callable, Mapping
from typing import Any

from nicegui import ui
from pydantic import ValidationError

from builder.context import database
from runtime.node_types import NODE_TYPES
from runtime.values import FieldValueError, coerce_value
from runtime.vocabulary import CONDITION_OPS, FIELD_OP_WORDS, OPERATOR_WORDS, VALUELESS_OPS
from storage.entry_points import EntryPointCreate, EntryPointError, create_entry_point, describe_problems
from storage.fields_tags import Choices, EntryChoice

OnChange = Callable[[dict, str], None]
SYSTEM_PLACEHOLDERS = ("first_name", "last_name", "full_name", "user_id", "phone", "channel", "bot_name",
                       "referrer.first_name", "referred.first_name", "referred.user_id", "referrals.count",
                       "referrals.rank")
OPEN_PLACEHOLDER = re.compile(r"\{\{\s*([\w.]*)$")
MAX_SUGGESTIONS = 12
DELAY_UNITS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}


class Inspector:
    """Draws the form of one node into `container`; `show(node)` replaces it."""

    def __init__(self, container: ui.element, choices: Choices, on_change: OnChange, flow_id: int) -> None:
        self.container = container
        self.choices = choices
        self.on_change = on_change
        self.flow_id = flow_id
        self.node: dict | None = None

    def show(self, node: dict | None, *, message: str = "") -> None:
        self.node = copy.deepcopy(node) if node else None
        self.container.clear()
        with self.container:
            if node is None:
                ui.label(message or "Select a step to edit it, or drag one in from the palette.") \
                    .classes("text-slate-500 text-sm").mark("inspector-empty")
                return
            spec = NODE_TYPES.get(node["type"])
            with ui.row().classes("items-center gap-2 no-wrap"):
                ui.icon(spec.icon if spec else "help", color="indigo-7")
                ui.label(spec.title if spec else node["type"]).classes("text-base font-semibold") \
                    .mark("inspector-title")
            FORMS.get(node["type"], _unknown_form)(self, node["data"])

    # -- edits ---------------------------------------------------------------------------------------------

    def set(self, key: str, value: Any, *, coalesce: bool = True) -> None:
        """Change one setting; typing into the same input again merges into the same undo step."""
        assert self.node is not None
        self.node["data"] = {**self.node["data"], key: value}
        self.on_change(copy.deepcopy(self.node["data"]), f"{self.node['id']}:{key}" if coalesce else "")

    def set_item(self, key: str, index: int, item_key: str, value: Any) -> None:
        items = copy.deepcopy(self.node["data"].get(key) or [])  # type: ignore[index]
        items[index] = {**items[index], item_key: value}
        self.node["data"] = {**self.node["data"], key: items}  # type: ignore[index]
        self.on_change(copy.deepcopy(self.node["data"]), f"{self.node['id']}:{key}.{index}.{item_key}")  # type: ignore

    def replace_items(self, key: str, items: list) -> None:
        self.set(key, items, coalesce=False)
        self.show(self.node)

    # -- inputs -------------------------------------------------------------------------------------------

    def template(self, key: str, label: str, *, extra: tuple[str, ...] = (), rows: bool = True) -> None:
        """A text with `{{placeholders}}`: typing `{{` offers the fields that fit."""
        value = str(self.node["data"].get(key) or "")  # type: ignore[index]
        element = (ui.textarea(label, value=value).props("autogrow outlined dense") if rows
                   else ui.input(label, value=value).props("outlined dense")).classes("w-full").mark(f"node-{key}")
        element.on_value_change(lambda event: self.set(key, event.value))
        offer_placeholders(element, placeholder_names(self.choices, extra), f"suggestions-{key}")

    def picker(self, key: str, label: str, options: Mapping[int, str], *, empty: str) -> ui.select:
        value = self.node["data"].get(key)  # type: ignore[index]
        shown = dict(options)
        if value is not None and value not in shown:
            shown[value] = f"#{value} (deleted)"
        select = ui.select(shown, label=label, value=value, clearable=True,
                           on_change=lambda e: self.set(key, e.value, coalesce=False)) \
            .props("outlined dense options-dense").classes("w-full").mark(f"node-{key}")
        if not options:
            select.props(f'hint="{empty}"')
        return select

    def field_options(self) -> dict[int, str]:
        return {field_id: f"{choice.name} ({choice.type})" for field_id, choice in self.choices.fields.items()}

    def flow_options(self) -> dict[int, str]:
        return {flow_id: f"{name} (this flow)" if flow_id == self.flow_id else name
                for flow_id, name in self.choices.flows.items()}

    def typed_value(self, field_id: object, text: str) -> tuple[Any, str | None]:
        """The text as a value of the field's type, or an error saying why it was not taken."""
        choice = self.choices.fields.get(field_id) if isinstance(field_id, int) else None
        if choice is None or text == "":
            return text, None
        try:
            return coerce_value(choice.name, choice.type, text), None
        except FieldValueError as error:
            return None, str(error)


def placeholder_names(choices: Choices, extra: tuple[str, ...] = ()) -> list[str]:
    """What `{{` offers: the step's own names, then the workspace's fields (what admins look for), then system
    fields."""
    return list(dict.fromkeys([*extra, *(choice.name for choice in choices.fields.values()), *SYSTEM_PLACEHOLDERS]))


def offer_placeholders(element: ui.input | ui.textarea, names: list[str], marker: str) -> None:
    """Under a text input: typing `{{` offers the names that fit what follows, as chips that complete it."""
    suggestions = ui.row().classes("gap-1 -mt-1").mark(marker)
    ui.label("Type {{ to insert a field.").classes("text-xs text-slate-400 -mt-1")
    element.on_value_change(lambda _: _suggest(suggestions, element, names))


def _suggest(row: ui.row, element: ui.input | ui.textarea, names: list[str]) -> None:
    row.clear()
    text = str(element.value or "")
    match = OPEN_PLACEHOLDER.search(text)
    if not match:
        return
    typed = match[1].lower()
    with row:
        for name in [name for name in names if name.lower().startswith(typed)][:MAX_SUGGESTIONS]:
            ui.chip(name, on_click=lambda name=name, start=match.start(): _complete(element, start, name)) \
                .props("dense clickable outline color=indigo").classes("text-xs").mark("suggestion")


def _complete(element: ui.input | ui.textarea, start: int, name: str) -> None:
    element.value = f"{str(element.value)[:start]}{{{{{name}}}}}"


# ---------------------------------------------------------------------------------------------- forms


def _note(text: str) -> None:
    ui.label(text).classes("text-sm text-slate-500")


def _start_form(inspector: Inspector, data: dict) -> None:
    _note("Every flow begins here. Connect its exit to the first step.")


def _end_form(inspector: Inspector, data: dict) -> None:
    _note("The flow stops here for this contact.")


def _unknown_form(inspector: Inspector, data: dict) -> None:
    _note("This version of Referflow does not know this kind of step. Delete it or replace it.")


def _message_form(inspector: Inspector, data: dict) -> None:
    inspector.template("text", "Message text")
    ui.label("Buttons").classes("text-sm font-medium mt-2")
    buttons = list(data.get("buttons") or [])
    if not buttons:
        _note("No buttons: the flow goes straight on to the next step.")
    for index, button in enumerate(buttons):
        with ui.row().classes("w-full items-center no-wrap gap-1"):
            ui.input(value=str(button.get("title") or ""), placeholder="Button title",
                     on_change=lambda e, i=index: inspector.set_item("buttons", i, "title", e.value)) \
                .props("outlined dense").classes("grow").mark("button-title")
            ui.button(icon="close", on_click=lambda i=index: inspector.replace_items(
                "buttons", [b for n, b in enumerate(buttons) if n != i])) \
                .props("flat dense round size=sm").tooltip("Remove this button").mark("remove-button")
    new_id = _free_id("b", {str(b.get("id")) for b in buttons})
    ui.button("Add button", icon="add", on_click=lambda: inspector.replace_items(
        "buttons", [*buttons, {"id": new_id, "title": f"Button {len(buttons) + 1}"}])) \
        .props("flat dense no-caps color=indigo").mark("add-button")


def _ask_form(inspector: Inspector, data: dict) -> None:
    inspector.template("text", "Question")
    inspector.picker("field_id", "Save the answer in", inspector.field_options(), empty="Add a field first.")
    inspector.template("retry_text", "When the answer does not fit the field", rows=False)


def _condition_form(inspector: Inspector, data: dict) -> None:
    ui.toggle({"all": "All rules hold", "any": "Any rule holds"}, value=data.get("match", "all"),
              on_change=lambda e: inspector.set("match", e.value, coalesce=False)).props("dense no-caps") \
        .mark("node-match")
    rules = list(data.get("rules") or [])
    for index, rule in enumerate(rules):
        _rule_row(inspector, rules, index, rule)
    ui.button("Add rule", icon="add", on_click=lambda: inspector.replace_items(
        "rules", [*rules, {"field_id": None, "op": "==", "value": ""}])) \
        .props("flat dense no-caps color=indigo").mark("add-rule")
    _note("The “true” exit runs when the rules hold, “false” otherwise.")


def _rule_row(inspector: Inspector, rules: list, index: int, rule: dict) -> None:
    with ui.column().classes("w-full gap-1 border border-slate-200 rounded p-2"):
        with ui.row().classes("w-full items-center no-wrap gap-1"):
            ui.select(inspector.field_options(), value=rule.get("field_id"), label="Field",
                      on_change=lambda e: inspector.set_item("rules", index, "field_id", e.value)) \
                .props("outlined dense options-dense").classes("grow").mark("rule-field")
            ui.button(icon="close", on_click=lambda: inspector.replace_items(
                "rules", [r for n, r in enumerate(rules) if n != index])) \
                .props("flat dense round size=sm").tooltip("Remove this rule").mark("remove-rule")
        with ui.row().classes("w-full no-wrap gap-1"):
            ui.select({op: OPERATOR_WORDS[op] for op in CONDITION_OPS}, value=rule.get("op"),
                      on_change=lambda e: (inspector.set_item("rules", index, "op", e.value),
                                           value.set_visibility(e.value not in VALUELESS_OPS))) \
                .props("outlined dense options-dense").classes("w-32").mark("rule-op")
            value = ui.input("Value", value=_shown(rule.get("value"))).props("outlined dense").classes("grow") \
                .without_auto_validation().mark("rule-value")
        value.set_visibility(rule.get("op") not in VALUELESS_OPS)

        def typed(event: Any) -> None:
            current = inspector.node["data"]["rules"][index]  # type: ignore[index]
            text = event.value or ""
            result, error = inspector.typed_value(current.get("field_id"), text)
            value.error = error and error.replace("was not saved", "cannot be compared with it")
            # kept as typed, so the canvas marks the rule until it is fixed and nothing the admin wrote is lost
            inspector.set_item("rules", index, "value", text if error else result)

        value.on_value_change(typed)


def _set_field_form(inspector: Inspector, data: dict) -> None:
    inspector.picker("field_id", "Field", inspector.field_options(), empty="Add a field first.")
    ui.select({op: words.capitalize() for op, words in FIELD_OP_WORDS.items()}, value=data.get("op"), label="Change",
              on_change=lambda e: (inspector.set("op", e.value, coalesce=False),
                                   value.set_visibility(e.value != "clear"))) \
        .props("outlined dense").classes("w-full").mark("node-op")
    value = ui.input("Value", value=_shown(data.get("value"))).props("outlined dense").classes("w-full") \
        .without_auto_validation().mark("node-value")
    value.set_visibility(data.get("op") != "clear")

    def typed(event: Any) -> None:
        current = inspector.node["data"]  # type: ignore[index]
        if current.get("op") in ("increase", "decrease"):
            number, error = _number(event.value)
        else:
            number, error = inspector.typed_value(current.get("field_id"), event.value)
        value.error = error
        if error is None:
            inspector.set("value", number)

    value.on_value_change(typed)


def _tag_form(inspector: Inspector, data: dict) -> None:
    ui.toggle({"add": "Add tag", "remove": "Remove tag"}, value=data.get("op", "add"),
              on_change=lambda e: inspector.set("op", e.value, coalesce=False)).props("dense no-caps") \
        .mark("node-op")
    inspector.picker("tag_id", "Tag", inspector.choices.tags, empty="Add a tag first (Fields & tags).")


def _referral_link_form(inspector: Inspector, data: dict) -> None:
    entry_points = {i: f"{c.name} ({c.ref})" for i, c in inspector.choices.entry_points.items()}
    inspector.picker("entry_point_id", "Entry point the link opens", entry_points,
                     empty="There is no entry point yet: create one here.")
    if not entry_points:
        ui.button("Create an entry point", icon="add", on_click=lambda: _ask_new_entry_point(inspector)) \
            .props("flat dense no-caps color=indigo-7").mark("create-entry-point")
    inspector.template("text", "Message (put {{link}} where the link goes)", extra=("link",))


def _ask_new_entry_point(inspector: Inspector) -> None:
    """The link needs an entry point: make one in place (it answers with a message until the admin changes it)."""
    with ui.dialog() as dialog, ui.card().classes("w-[26rem] gap-3").mark("new-entry-dialog"):
        ui.label("Create an entry point").classes("text-lg font-medium")
        name = ui.input("Name").props("dense outlined autofocus").classes("w-full").mark("new-entry-name")
        ref = ui.input("Ref", placeholder="e.g. giveaway2025").props('dense outlined input-class="font-mono"') \
            .classes("w-full").mark("new-entry-ref")
        with ui.row().classes("self-end"):
            ui.button("Cancel", on_click=dialog.close).props("flat")
            ui.button("Create entry point", on_click=lambda: _create_entry_point(inspector, dialog, name, ref)) \
                .props("color=indigo-7").mark("confirm-create-entry-point")
    dialog.open()


def _create_entry_point(inspector: Inspector, dialog: ui.dialog, name: ui.input, ref: ui.input) -> None:
    name.error = ref.error = None
    try:
        data = EntryPointCreate(name=name.value or "", ref=ref.value or "")
        with database().write_session() as session:
            entry = create_entry_point(session=session, data=data)
    except (ValidationError, EntryPointError) as error:
        problems = describe_problems(error) if isinstance(error, ValidationError) else error.problems
        for key, message in problems.items():
            (ref if key == "ref" else name).error = message
        return
    dialog.close()
    inspector.choices.entry_points[entry.id] = EntryChoice(entry.name, entry.ref)
    inspector.set("entry_point_id", entry.id, coalesce=False)
    inspector.show(inspector.node)
    ui.notify(f"Entry point “{entry.name}” created: set up what it answers on the Entry points page.",
              type="positive", multi_line=True)


def _my_referrals_form(inspector: Inspector, data: dict) -> None:
    _referral_scope(inspector, data)
    inspector.template("text", "Message", extra=("referrals.list", "referrals.count"))
    _note("{{referrals.list}}: who joined with the contact's link, newest first, as “Ann R. · 1 Dec 2026” "
          "(names masked); {{referrals.count}}: how many counted.")


def _leaderboard_form(inspector: Inspector, data: dict) -> None:
    _referral_scope(inspector, data)
    ui.toggle({"week": "This week", "month": "This month", "all": "All time"}, value=data.get("period", "week"),
              on_change=lambda e: inspector.set("period", e.value, coalesce=False)).props("no-caps dense") \
        .mark("node-period")
    inspector.template("text", "Message", extra=("referrals.top", "referrals.rank", "referrals.count", "period"))
    _note("{{referrals.top}}: the top referrers (“1. Ann R. — 12”, ties share a place); {{referrals.rank}} and "
          "{{referrals.count}}: the contact's own place and referrals on this board.")


def _referral_scope(inspector: Inspector, data: dict) -> None:
    entry_points = {i: f"{c.name} ({c.ref})" for i, c in inspector.choices.entry_points.items()}
    inspector.picker("entry_point_id", "Entry point (empty: every entry point)", entry_points,
                     empty="No entry point yet: the step counts every referral.")
    limit = ui.number("People to list (1–50)", value=data.get("limit"), min=1, max=50, precision=0) \
        .props("outlined dense").classes("w-full").without_auto_validation().mark("node-limit")

    def changed() -> None:
        ok = limit.value is not None and 1 <= limit.value <= 50
        limit.error = None if ok else "List from 1 to 50 people."
        if ok:
            inspector.set("limit", int(limit.value))

    limit.on_value_change(changed)


def _notify_form(inspector: Inspector, data: dict) -> None:
    _note("Sent to the person whose link brought this contact in.")
    inspector.template("text", "Message to the referrer")


def _json_form(inspector: Inspector, data: dict) -> None:
    inspector.picker("source_field_id", "Field holding the JSON", inspector.field_options(),
                     empty="Add a JSON field first.")
    path = ui.input("Path", value=str(data.get("path") or ""), placeholder="order.items[0].sku") \
        .props("outlined dense").classes("w-full").mark("node-path")
    path.on_value_change(lambda e: inspector.set("path", e.value))
    inspector.picker("field_id", "Save the value in", inspector.field_options(), empty="Add a field first.")


def _coupon_form(inspector: Inspector, data: dict) -> None:
    inspector.picker("pool_id", "Coupon pool", inspector.choices.pools,
                     empty="Create a pool and paste its codes on the Coupon pools page first.")
    texts = {i: c.name for i, c in inspector.choices.fields.items() if c.type == "text"}
    inspector.picker("field_id", "Save the code in (a text field)", texts, empty="Add a text field first.")
    _note("Each code goes to one contact only, once. When the pool is empty the flow takes the “none left” exit.")


def _go_to_flow_form(inspector: Inspector, data: dict) -> None:
    inspector.picker("flow_id", "Flow to go to", inspector.flow_options(), empty="There are no other flows yet.")
    _note("The contact continues in that flow from its Start step.")


def _delay_form(inspector: Inspector, data: dict) -> None:
    seconds = data.get("seconds") if isinstance(data.get("seconds"), int | float) else 0
    unit = next((name for name, size in reversed(DELAY_UNITS.items()) if seconds and seconds % size == 0), "seconds")
    with ui.row().classes("w-full no-wrap gap-1"):
        amount = ui.number("Wait", value=seconds / DELAY_UNITS[unit] if seconds else None, min=0) \
            .props("outlined dense").classes("grow").without_auto_validation().mark("node-delay")
        units = ui.select(list(DELAY_UNITS), value=unit).props("outlined dense").classes("w-28").mark("node-unit")

    def changed() -> None:
        amount.error = None if amount.value and amount.value > 0 else "Wait at least a moment: give a number above 0."
        if amount.error is None:
            total = amount.value * DELAY_UNITS[units.value]
            inspector.set("seconds", int(total) if float(total).is_integer() else total)

    amount.on_value_change(changed)
    units.on_value_change(changed)


def _randomizer_form(inspector: Inspector, data: dict) -> None:
    branches = list(data.get("branches") or [])
    _note("Each contact takes one branch at random, in proportion to its weight.")
    for index, branch in enumerate(branches):
        with ui.row().classes("w-full items-center no-wrap gap-2"):
            ui.label(f"Branch {branch.get('id')}").classes("w-20 text-sm")
            weight = ui.number("Weight", value=branch.get("weight"), min=0).props("outlined dense") \
                .classes("grow").without_auto_validation().mark("branch-weight")
            weight.on_value_change(lambda e, i=index, w=weight: _set_weight(inspector, i, w))
            ui.button(icon="close", on_click=lambda i=index: inspector.replace_items(
                "branches", [b for n, b in enumerate(branches) if n != i])) \
                .props("flat dense round size=sm").tooltip("Remove this branch").mark("remove-branch")
    new_id = _free_letter({str(b.get("id")) for b in branches})
    ui.button("Add branch", icon="add", on_click=lambda: inspector.replace_items(
        "branches", [*branches, {"id": new_id, "weight": 50}])).props("flat dense no-caps color=indigo") \
        .mark("add-branch")


def _set_weight(inspector: Inspector, index: int, weight: ui.number) -> None:
    weight.error = None if weight.value and weight.value > 0 else "Give a weight above 0."
    if weight.error is None:
        inspector.set_item("branches", index, "weight", int(weight.value) if float(weight.value).is_integer()
                           else weight.value)


FORMS: dict[str, Callable[[Inspector, dict], None]] = {
    "start": _start_form, "end": _end_form, "send_message": _message_form, "ask": _ask_form,
    "condition": _condition_form, "set_field": _set_field_form, "tag": _tag_form,
    "send_referral_link": _referral_link_form, "notify_referrer": _notify_form, "json_get": _json_form,
    "go_to_flow": _go_to_flow_form, "delay": _delay_form, "randomizer": _randomizer_form, "give_coupon": _coupon_form,
    "my_referrals": _my_referrals_form, "leaderboard": _leaderboard_form,
}


def _number(text: str) -> tuple[Any, str | None]:
    try:
        number = float(text)
    except ValueError:
        return None, f"Write a number; '{text}' is not one."
    return (int(number) if number.is_integer() else number), None


def _shown(value: object) -> str:
    return "" if value is None else str(value)


def _free_id(prefix: str, taken: set[str]) -> str:
    return next(f"{prefix}{n}" for n in range(1, len(taken) + 2) if f"{prefix}{n}" not in taken)


def _free_letter(taken: set[str]) -> str:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return next((letter for letter in letters if letter not in taken), _free_id("branch", taken))
