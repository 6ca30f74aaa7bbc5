"""Triggers: "when this happens (and these conditions hold), do these actions" — the list and the editor.

One page, one module: the editor builds each action's inputs from runtime/actions.py, and what is left is the form
itself (event, filter, conditions, actions) and its problems."""

import json
from typing import Any

from nicegui import run, ui
from pydantic import ValidationError

from builder.context import database
from builder.frame import UnsavedChanges, frame
from builder.inspector import offer_placeholders, placeholder_names
from runtime.actions import ACTION_TYPES, Setting
from runtime.node_types import Names
from runtime.publishing import (
    LoopError,
    draft_trigger_problems,
    set_trigger_enabled,
    switch_off_if_looping,
    trigger_problems,
)
from runtime.validation import ValidationIssue
from runtime.values import read_id
from runtime.vocabulary import ENTRY_EVENTS, FIELD_OP_WORDS, OPERATOR_WORDS, REFERRAL_EVENTS, TAG_EVENTS, VALUELESS_OPS
from storage.fields_tags import Choices, form_errors, load_choices
from storage.models import Trigger
from storage.triggers import (
    TriggerCreate,
    TriggerUpdate,
    create_trigger,
    delete_trigger,
    get_trigger,
    list_triggers,
    trigger_context,
    update_trigger,
)

EVENTS = {
    "referred_new_contact": "Referred a new contact",
    "referred_existing_contact": "Referred an existing contact",
    "referred_second_level": "A friend's friend joined (second level)",
    "contact_created": "A new contact arrives",
    "entry_point_opened": "Someone opens an entry point link",
    "field_changed": "A field changes",
    "tag_added": "A tag is added",
    "tag_removed": "A tag is removed",
}
ACTIONS = {kind: spec.title for kind, spec in ACTION_TYPES.items()}
BLANK_ACTION = {setting.key: setting.default for spec in ACTION_TYPES.values() for setting in spec.settings}
ANY = 0  # the filter option "any entry point / field / tag"
TEXT_KINDS = ("text", "template")  # settings written in a text box, with placeholder suggestions


def create() -> None:
    with frame("Triggers"):
        with database().session() as session:
            rows, choices = list_triggers(session=session), load_choices(session=session)
            problems = trigger_problems(session=session)
        with ui.row().classes("w-full items-center justify-between no-wrap"):
            ui.label("When something happens to a contact, triggers change fields and tags, send messages and start "
                     "flows.").classes("text-slate-500")
            ui.button("New trigger", icon="add", on_click=lambda: ui.navigate.to("/triggers/new")) \
                .props("unelevated color=indigo-7").mark("new-trigger")
        if not rows:
            with ui.card().classes("w-full"):
                ui.label("No triggers yet. A classic one: when someone is referred as a new contact, increase the "
                         "referrer's referral_points by 1.").classes("text-slate-500").mark("no-triggers")
            return
        with ui.card().classes("w-full gap-0 p-0"):
            for number, row in enumerate(rows):
                _trigger_row(row.trigger, row.runs, choices, problems.get(row.trigger.id, []), first=number == 0)


def _trigger_row(trigger: Trigger, runs: int, choices: Choices, problems: list[ValidationIssue], *,
                 first: bool) -> None:
    border = "" if first else "border-t border-slate-200"
    with ui.row().classes(f"w-full items-start no-wrap gap-4 px-4 py-3 {border}").mark(f"trigger-{trigger.id}"):
        with ui.column().classes("gap-1 grow min-w-0"):
            ui.link(trigger.name, f"/triggers/{trigger.id}").classes("text-base font-medium text-indigo-800 "
                                                                    "no-underline hover:underline")
            with ui.row().classes("gap-x-2 gap-y-0 items-baseline text-sm"):
                ui.label("When").classes("text-slate-500")
                ui.label(describe_event(trigger, choices)).classes("font-medium text-slate-800")
                ui.label(_describe_conditions(trigger)).classes("text-slate-500")
            with ui.row().classes("gap-2 items-baseline text-sm no-wrap"):
                ui.label("Then").classes("text-slate-500")
                ui.label(describe_actions(trigger.actions, choices) or "nothing").classes("text-slate-700")
            for problem in problems:
                _problem_line(problem)
        with ui.column().classes("items-end gap-0 shrink-0"):
            ui.switch("On" if trigger.enabled else "Off", value=trigger.enabled,
                      on_change=lambda event: _toggle(trigger, event.sender, event.value)) \
                .mark(f"enabled-{trigger.id}")
            ui.label(f"ran {runs:,} time{'s' if runs != 1 else ''}").classes("text-xs text-slate-500") \
                .mark(f"runs-{trigger.id}")


def _toggle(trigger: Trigger, switch: ui.switch, enabled: bool) -> None:
    try:
        with database().write_session() as session:
            set_trigger_enabled(session=session, trigger_id=trigger.id, enabled=enabled)
    except LoopError as error:
        switch.set_value(False)
        ui.notify(f"Trigger '{trigger.name}' was not switched on. {error}", type="warning", multi_line=True,
                  timeout=15_000)
        return
    switch.text = "On" if enabled else "Off"
    ui.notify(f"Trigger '{trigger.name}' is {'on' if enabled else 'off'}.")


def _problem_line(problem: ValidationIssue) -> None:
    error = problem.severity == "error"
    with ui.row().classes("gap-2 items-start no-wrap text-sm").mark("problem"):
        ui.badge("Error" if error else "Warning", color="red-7" if error else "orange-8").classes("mt-[2px] shrink-0")
        ui.label(problem.message).classes("text-red-800" if error else "text-orange-900")


def describe_event(trigger: Trigger, choices: Choices) -> str:
    """The event and its filter in words: "Referred a new contact via giveaway2025"."""
    event = trigger.event
    if event in ENTRY_EVENTS:
        entry = choices.entry_points.get(trigger.entry_point_id)
        where = (entry.ref if entry else f"entry point #{trigger.entry_point_id}") if trigger.entry_point_id else None
        if event == "entry_point_opened":
            return f"Someone opens {where or 'any entry point'}"
        return f"{EVENTS[event]} via {where or 'any entry point'}"
    if event == "field_changed":
        return f"Field {_name(choices.fields, trigger.field_id, 'field')} changes" if trigger.field_id \
            else "Any field changes"
    if event in TAG_EVENTS:
        verb = "is added" if event == "tag_added" else "is removed"
        return f"Tag {_name(choices.tags, trigger.tag_id, 'tag')} {verb}" if trigger.tag_id else f"Any tag {verb}"
    return EVENTS.get(event, event)


def _describe_conditions(trigger: Trigger) -> str:
    rules = (trigger.conditions or {}).get("rules") or []
    if not rules:
        return "· no conditions"
    match = "all" if (trigger.conditions or {}).get("match", "all") == "all" else "any"
    return f"· {len(rules)} condition{'s' if len(rules) != 1 else ''}" + (f" ({match} must hold)" if len(rules) > 1
                                                                           else "")


def describe_actions(actions: list[dict], choices: Choices) -> str:
    names = Names(fields={i: f.name for i, f in choices.fields.items()}, tags=choices.tags, flows=choices.flows,
                  pools=choices.pools)
    return ", then ".join(_describe_action(action, names) for action in actions)


def _describe_action(action: dict, names: Names) -> str:
    spec = ACTION_TYPES.get(action.get("type"))
    return spec.summary(action, names) if spec else "an unknown action"


def _name(names: dict, key: Any, noun: str) -> str:
    value = names.get(key)
    return getattr(value, "name", value) if value is not None else f"{noun} #{key}"


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else str(value)


# ---------------------------------------------------------------------------------------------- the editor


def create_editor(trigger_id: str) -> None:
    with frame("Triggers"):
        ui.link("← All triggers", "/triggers").classes("text-indigo-700 no-underline -mt-2")
        with database().session() as session:
            number = read_id(trigger_id)
            trigger = get_trigger(session=session, trigger_id=number) if number is not None else None
            choices = load_choices(session=session)
        if trigger is None and trigger_id != "new":
            ui.label(f"There is no trigger '{trigger_id}'; it may have been deleted.").mark("not-found")
            return
        TriggerEditor(trigger, choices).show()


class TriggerEditor:
    def __init__(self, trigger: Trigger | None, choices: Choices) -> None:
        self.trigger_id = trigger.id if trigger else None
        self.choices = choices
        self.form = _form_of(trigger)
        self.errors: dict[tuple, str] = {}
        self.client = ui.context.client  # handlers speak through the page: their buttons may be redrawn meanwhile
        self.checked = _data(self.form)  # what the problems shown are about
        self.stored = _data(self.form)
        self.switched_off = False

    def show(self) -> None:
        self.show_form()
        self.show_problems()
        ui.timer(0.5, self._recheck)  # problems follow the form while the admin edits, not only after saving
        self.unsaved = UnsavedChanges(lambda: _data(self.form) != self.stored)

    def _recheck(self) -> None:
        if _data(self.form) != self.checked:
            self.show_problems.refresh()

    @ui.refreshable_method
    def show_form(self) -> None:
        form = self.form
        with ui.card().classes("w-full gap-2"):
            ui.label("When").classes("text-lg font-medium")
            name = ui.input("Name", placeholder="e.g. Reward the referrer").classes("w-full")
            self._input(name, form, "name", "trigger-name", "name")
            with ui.row().classes("w-full gap-4 no-wrap"):
                self._select(EVENTS, "Event", form, "event", "trigger-event", "event", refresh=True).classes("w-80")
                self._filter_picker()
        self._conditions_card()
        self._actions_card()
        with ui.card().classes("w-full"), ui.row().classes("w-full items-center gap-8"):
            ui.switch("Enabled", value=form["enabled"], on_change=lambda event: form.update(enabled=event.value)) \
                .mark("trigger-enabled")
            if self.switched_off:
                ui.label("Saved switched off: it would run in a loop (see Checks).") \
                    .classes("text-sm text-orange-900").mark("switched-off")
            ui.checkbox("Only once per contact", value=form["once_per_contact"],
                        on_change=lambda event: form.update(once_per_contact=event.value)).mark("once-per-contact")
            ui.label("Once per contact: it never runs twice for the same person, e.g. a welcome gift.") \
                .classes("text-sm text-slate-500")
        with ui.row().classes("w-full items-center"):
            ui.button("Save trigger", icon="save", on_click=self.save).props("unelevated color=indigo-7") \
                .mark("save-trigger")
            ui.space()
            if self.trigger_id is not None:
                ui.button("Delete", icon="delete", on_click=self.confirm_delete).props("flat color=red-7") \
                    .mark("delete-trigger")

    def _filter_picker(self) -> None:
        event, choices = self.form["event"], self.choices
        if event in ENTRY_EVENTS:
            key, options = "entry_point_id", {ANY: "Any entry point"} | {
                i: f"{e.name} ({e.ref})" for i, e in choices.entry_points.items()}
        elif event == "field_changed":
            key, options = "field_id", {ANY: "Any field"} | {i: f.name for i, f in choices.fields.items()}
        elif event in TAG_EVENTS:
            key, options = "tag_id", {ANY: "Any tag"} | choices.tags
        else:
            return
        label = {"entry_point_id": "Through", "field_id": "Which field", "tag_id": "Which tag"}[key]
        self._select(options, label, self.form, key, "trigger-filter", key).classes("grow")

    def _conditions_card(self) -> None:
        rules = self.form["rules"]
        with ui.card().classes("w-full gap-2"):
            with ui.row().classes("w-full items-center"):
                ui.label("Only if").classes("text-lg font-medium")
                ui.space()
                if len(rules) > 1:
                    ui.toggle({"all": "all hold", "any": "any holds"}, value=self.form["match"],
                              on_change=lambda event: self.form.update(match=event.value)) \
                        .props("dense no-caps").mark("match")
            if not rules:
                ui.label("No conditions: the actions run every time the event happens.").classes("text-slate-500")
            for index, rule in enumerate(rules):
                self._rule_row(index, rule)
            ui.button("Add condition", icon="add", on_click=lambda: self._add(rules, {
                "field_id": None, "op": "==", "value": ""})).props("flat dense no-caps").mark("add-condition")

    def _rule_row(self, index: int, rule: dict) -> None:
        where, marker = ("conditions", "rules", index), f"condition-{index}"
        with ui.row().classes("w-full items-start gap-3 no-wrap"):
            self._field_picker(rule, f"{marker}-field", *where)
            self._select(OPERATOR_WORDS, "Is", rule, "op", f"{marker}-op", *where, "op", refresh=True).classes("w-40")
            if rule["op"] not in VALUELESS_OPS:
                self._value_input(rule, f"{marker}-value", "Value", *where)
            ui.space()
            ui.button(icon="close", on_click=lambda: self._remove(self.form["rules"], index)) \
                .props("flat dense round color=grey-7").classes("mt-3").tooltip("Remove this condition") \
                .mark(f"remove-{marker}")

    def _actions_card(self) -> None:
        actions = self.form["actions"]
        with ui.card().classes("w-full gap-2"):
            ui.label("Then").classes("text-lg font-medium")
            if not actions:
                ui.label("No actions yet: add what the trigger does.").classes("text-slate-500")
            if message := self.errors.get(("actions",)):
                ui.label(message).classes("text-red-700 text-sm").mark("actions-error")
            for index, action in enumerate(actions):
                self._action_row(index, action, last=index == len(actions) - 1)
            ui.button("Add action", icon="add", on_click=lambda: self._add(actions, {"type": None} | BLANK_ACTION)) \
                .props("flat dense no-caps").mark("add-action")

    def _action_row(self, index: int, action: dict, *, last: bool) -> None:
        where, marker = ("actions", index), f"action-{index}"
        with ui.row().classes("w-full items-start gap-3 no-wrap border-t border-slate-100 pt-2"):
            ui.label(f"{index + 1}.").classes("mt-4 w-5 text-slate-500")
            self._select(ACTIONS, "Action", action, "type", f"{marker}-type", *where, "type", refresh=True) \
                .classes("w-52")
            self._action_settings(action, where, marker)
            with ui.row().classes("gap-0 no-wrap mt-2 shrink-0"):
                for icon, tip, step, hidden in (("arrow_upward", "Move up", -1, index == 0),
                                                ("arrow_downward", "Move down", 1, last)):
                    ui.button(icon=icon, on_click=lambda step=step: self._move(index, step)) \
                        .props("flat dense round color=grey-7").classes("invisible" if hidden else "") \
                        .tooltip(tip).mark(f"{marker}-{'up' if step < 0 else 'down'}")
                ui.button(icon="close", on_click=lambda: self._remove(self.form["actions"], index)) \
                    .props("flat dense round color=grey-7").tooltip("Remove this action") \
                    .mark(f"{marker}-remove")

    def _action_settings(self, action: dict, where: tuple, marker: str) -> None:
        """The inputs of the action's settings (runtime/actions.py), each drawn by its kind."""
        spec = ACTION_TYPES.get(action["type"])
        settings = [setting for setting in spec.settings if setting.applies(action)] if spec else []
        for setting in settings:
            self._setting_input(action, setting, where, f"{marker}-{setting.key.removesuffix('_id')}")
        if not any(setting.kind in TEXT_KINDS for setting in settings):
            ui.space()

    def _setting_input(self, action: dict, setting: Setting, where: tuple, marker: str) -> None:
        kind, key = setting.kind, setting.key
        if kind == "field":
            self._field_picker(action, marker, *where, label=setting.label, types=setting.field_types)
        elif kind == "op":
            self._select(FIELD_OP_WORDS, setting.label, action, key, marker, *where, key, refresh=True).classes("w-36")
        elif kind == "value":
            label = "By" if action.get("op") in ("increase", "decrease") else setting.label
            self._value_input(action, marker, label, *where)
        elif kind in TEXT_KINDS:
            self._text_input(action, setting, where, marker)
        else:
            options = {"tag": self.choices.tags, "flow": self.choices.flows, "pool": self.choices.pools}[kind]
            self._select(options, setting.label, action, key, marker, *where, key).classes("w-56")

    def _text_input(self, action: dict, setting: Setting, where: tuple, marker: str) -> None:
        with ui.column().classes("grow gap-1"):
            text = self._input(ui.textarea(setting.label, placeholder=setting.hint).props("autogrow"), action,
                               setting.key, marker, *where, setting.key).classes("w-full")
            people = ("referred.first_name", "referred.user_id") if self.form["event"] in REFERRAL_EVENTS else ()
            offer_placeholders(text, placeholder_names(self.choices, people), f"{marker.rsplit('-', 1)[0]}-suggestions")

    def _field_picker(self, row: dict, marker: str, *where: Any, label: str = "Field",
                      types: tuple[str, ...] = ()) -> None:
        """Every field by name and type; with `types`, only fields of those, and by name alone when that is one."""
        options = {i: f.name if len(types) == 1 else f"{f.name} ({f.type})" for i, f in self.choices.fields.items()
                   if not types or f.type in types}
        self._select(options, label, row, "field_id", marker, *where, "field_id", refresh=True).classes("w-56")

    def _value_input(self, row: dict, marker: str, label: str, *where: Any) -> None:
        field = self.choices.fields.get(row.get("field_id"))
        if field is not None and field.type == "boolean":
            self._select(["yes", "no"], label, row, "value", marker, *where, "value").classes("w-32")
            return
        hint = "e.g. 1" if field and field.type == "number" else ""
        element = self._input(ui.input(label, placeholder=hint), row, "value", marker, *where, "value") \
            .classes("w-56")
        if field is not None and field.type in ("date", "datetime"):
            element.props(f"type={'date' if field.type == 'date' else 'datetime-local'} stack-label")

    def _select(self, options: dict | list, label: str, row: dict, key: str, marker: str, *location: Any,
                refresh: bool = False) -> ui.select:
        """A picker that writes into row[key] (a stale choice shows empty) and, with refresh, redraws the form."""
        value = row[key] if row[key] in options else None
        element = ui.select(options, label=label, value=value,
                            on_change=lambda event: self._change(row, key, event.value, refresh))
        return self._errored(element.mark(marker), location)

    def _input(self, element: ui.input, row: dict, key: str, marker: str, *location: Any) -> ui.input:
        element.value = row[key]
        element.on_value_change(lambda event: row.update({key: event.value}))
        return self._errored(element.mark(marker), location)

    def _errored(self, element: Any, location: tuple) -> Any:
        if message := self.errors.get(tuple(location)):
            element.error = message
        return element

    def _change(self, row: dict, key: str, value: Any, refresh: bool) -> None:
        row[key] = value
        if refresh:
            self.show_form.refresh()

    def _add(self, rows: list, row: dict) -> None:
        rows.append(row)
        self.show_form.refresh()

    def _remove(self, rows: list, index: int) -> None:
        rows.pop(index)
        self.errors = {}  # row numbers shift; the next save reports again
        self.show_form.refresh()

    def _move(self, index: int, step: int) -> None:
        actions = self.form["actions"]
        actions[index], actions[index + step] = actions[index + step], actions[index]
        self.errors = {}
        self.show_form.refresh()

    async def save(self) -> None:
        try:
            saved = await run.io_bound(self._write, _data(self.form))
        except ValidationError as error:
            self.errors = form_errors(error)
            with self.client:
                await self.show_form.refresh()
                ui.notify("Nothing was saved: fix the parts marked in red.", type="warning")
            return
        except LookupError as error:
            ui.notify(str(error), type="negative")
            return
        saved, loop = saved
        with self.client:
            if self.trigger_id is None:
                ui.navigate.history.replace(f"/triggers/{saved.id}")
            self.trigger_id, self.errors, self.switched_off = saved.id, {}, loop is not None
            self.form["enabled"] = saved.enabled
            self.stored = _data(self.form)
            self.unsaved.check()
            await self.show_form.refresh()
            await self.show_problems.refresh()
            if loop is None:
                ui.notify(f"Trigger '{saved.name}' saved.", type="positive")
            else:
                ui.notify(f"Trigger '{saved.name}' was saved switched off, so that it cannot run in a loop. "
                          f"{loop.message}", type="warning", multi_line=True, timeout=20_000)

    def _write(self, data: dict) -> tuple[Trigger, ValidationIssue | None]:
        """Create or update the trigger; one in a loop that never waits is saved switched off (and the loop is
        returned): the admin loses nothing they wrote, and the bot never runs it in circles."""
        with database().write_session() as session:
            context = trigger_context(session=session, trigger_id=self.trigger_id)
            if self.trigger_id is None:
                saved = create_trigger(session=session, data=TriggerCreate.model_validate(data, context=context))
            else:
                update = TriggerUpdate.model_validate(data, context=context)
                saved = update_trigger(session=session, trigger_id=self.trigger_id, data=update)
            return saved, switch_off_if_looping(session=session, trigger=saved)

    @ui.refreshable_method
    def show_problems(self) -> None:
        self.checked = _data(self.form)
        with database().session() as session:  # checked as if on: a trigger that is off is in no loop yet
            problems = draft_trigger_problems(session=session, trigger_id=self.trigger_id,
                                              draft=self.checked | {"enabled": True})
        with ui.card().classes("w-full gap-2").mark("problems"):
            ui.label("Checks").classes("text-lg font-medium")
            if problems and self.checked != self.stored:
                ui.label("For the settings above, not saved yet:").classes("text-sm text-slate-500")
            if not self.form["enabled"] and any(p.code == "unguarded_cycle" for p in problems):
                ui.label("If this trigger were switched on:").classes("text-sm text-slate-500")
            if not problems:
                ui.label("No problems found with this trigger.").classes("text-green-800").mark("no-problems")
            for problem in problems:
                _problem_line(problem)

    def confirm_delete(self) -> None:
        with ui.dialog() as dialog, ui.card().classes("w-[28rem]").mark("delete-dialog"):
            ui.label(f"Delete the trigger '{self.form['name']}'?").classes("text-lg font-medium")
            ui.label("Its actions stop running at once. Contacts keep what it already changed.") \
                .classes("text-slate-600")
            with ui.row().classes("w-full justify-end"):
                ui.button("Cancel", on_click=dialog.close).props("flat").mark("cancel")
                ui.button("Delete", icon="delete", on_click=self.delete).props("unelevated color=red-7") \
                    .mark("confirm-delete")
        dialog.open()

    def delete(self) -> None:
        with database().write_session() as session:
            delete_trigger(session=session, trigger_id=self.trigger_id)
        ui.navigate.to("/triggers")


def _form_of(trigger: Trigger | None) -> dict:
    """What the editor's inputs are bound to; ANY stands for "no filter"."""
    if trigger is None:
        return {"name": "", "event": "referred_new_contact", "entry_point_id": ANY, "field_id": ANY, "tag_id": ANY,
                "match": "all", "rules": [], "actions": [], "once_per_contact": False, "enabled": True}
    conditions = trigger.conditions or {}
    return {
        "name": trigger.name, "event": trigger.event, "entry_point_id": trigger.entry_point_id or ANY,
        "field_id": trigger.field_id or ANY, "tag_id": trigger.tag_id or ANY,
        "match": conditions.get("match", "all"),
        "rules": [{"field_id": r.get("field_id"), "op": r.get("op", "=="), "value": _typed(r.get("value"))}
                  for r in conditions.get("rules") or []],
        "actions": [BLANK_ACTION | action | {"value": _typed(action.get("value"))} for action in trigger.actions],
        "once_per_contact": trigger.once_per_contact, "enabled": trigger.enabled,
    }


def _typed(value: Any) -> str:
    return "" if value is None else _shown(value)


def _data(form: dict) -> dict:
    return {
        "name": form["name"] or "", "event": form["event"] or "",
        **{key: form[key] or None for key in ("entry_point_id", "field_id", "tag_id")},
        "conditions": {"match": form["match"], "rules": [dict(rule) for rule in form["rules"]]},
        "actions": [dict(action) | {"type": action["type"] or ""} for action in form["actions"]],
        "once_per_contact": bool(form["once_per_contact"]), "enabled": bool(form["enabled"]),
    }
