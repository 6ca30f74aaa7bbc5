"""Entry points: the list with each one's activity, and the editor (ref, response, payload, referrals, links).

One page, one module: the editor's sections share the form being edited and its problems; the links tab and the
paste box are builder/entry_point_links.py."""

from collections.abc import Callable

from nicegui import ui
from pydantic import ValidationError
from sqlmodel import Session

from builder.context import database
from builder.entry_point_links import links_card, paste_box
from builder.frame import UnsavedChanges, frame
from runtime.link_reading import match_whatsapp_text
from runtime.links import LinkError, check_entry_ref
from runtime.values import read_id
from storage.entry_points import (
    Choices,
    EntryPointCreate,
    EntryPointError,
    EntryPointSummary,
    EntryPointUpdate,
    check_json_path,
    check_payload_key,
    check_ref,
    count_activity,
    create_entry_point,
    delete_entry_point,
    describe_problems,
    get_entry_point,
    list_choices,
    list_entry_points,
    update_entry_point,
)
from storage.flows import FlowError, create_flow
from storage.models import EntryPoint

POLICIES = {"first_only": "Count each person once", "every_open": "Count every open"}
REFERRER_MATCHES = {"id": "Contact ID", "phone": "Phone number", "id_or_phone": "Contact ID or phone number"}
LIST_COLUMNS = "minmax(12rem, 1.4fr) minmax(10rem, 1.6fr) minmax(6rem, 0.8fr) repeat(3, 7.5rem)"


def create() -> None:
    with frame("Entry points"):
        with database().session() as session:
            summaries = list_entry_points(session=session)
        with ui.row().classes("w-full items-center"):
            ui.label("The links that bring people into your bot, with what happens when they open them.") \
                .classes("text-slate-500")
            ui.space()
            ui.button("New entry point", icon="add", on_click=lambda: ui.navigate.to("/entry-points/new")) \
                .props("color=indigo-7").mark("new-entry-point")
        with ui.card().classes("w-full p-0 gap-0").mark("entry-point-list"):
            if summaries:
                _draw_list(summaries)
            else:
                ui.label("No entry points yet. Create one to get a link for every channel your bot is on.") \
                    .classes("p-4 text-slate-500").mark("no-entry-points")
        paste_box()


def _draw_list(summaries: list[EntryPointSummary]) -> None:
    with ui.grid(columns=LIST_COLUMNS).classes("w-full gap-0 items-center text-sm"):
        for heading, align in [("Entry point", ""), ("Response", ""), ("Segment", ""), ("Opens", "text-right"),
                               ("New contacts", "text-right"), ("Referrals", "text-right")]:
            ui.label(heading).classes(f"px-4 py-2 text-xs uppercase tracking-wide text-slate-500 {align}")
        for item in summaries:
            _draw_row(item)


def _draw_row(item: EntryPointSummary) -> None:
    cell = "px-4 py-3 border-t border-slate-100 h-full flex flex-col justify-center"
    with ui.element("div").classes(cell):
        with ui.row().classes("items-center gap-2 no-wrap"):
            ui.link(item.name, f"/entry-points/{item.id}").classes("font-medium text-indigo-700 truncate") \
                .mark(f"entry-{item.id}")
            if not item.active:
                ui.badge("Off", color="grey-6").props("outline").mark(f"off-{item.id}")
        ui.label(item.ref).classes("font-mono text-xs text-slate-500 truncate")
    with ui.element("div").classes(cell):
        if item.response_type == "flow":
            ui.label(f"Starts flow “{item.flow_name}”" if item.flow_name else "Starts a flow (none chosen)") \
                .classes("truncate")
        else:
            ui.label(item.response_message or "No message").classes("truncate text-slate-700" if
                                                                    item.response_message else "text-slate-400")
    with ui.element("div").classes(cell):
        if item.segment_tag:
            ui.badge(item.segment_tag, color="indigo-1", text_color="indigo-9").classes("self-start")
        else:
            ui.label("—").classes("text-slate-400")
    for name, value in [("opens", item.opens), ("new", item.new_contacts), ("referrals", item.referrals)]:
        with ui.element("div").classes(f"{cell} items-end"):
            ui.label(f"{value:,}").classes("tabular-nums").mark(f"{name}-{item.id}")


# --- the editor -------------------------------------------------------------------------------------------------------

def create_editor(entry_point_id: str) -> None:
    with frame("Entry points"):
        with database().session() as session:
            entry = None if entry_point_id == "new" else _find(session, entry_point_id)
            choices = list_choices(session=session)
        with ui.row().classes("items-center gap-1 -mt-2"):
            ui.link("All entry points", "/entry-points").classes("text-indigo-700 text-sm").mark("back")
            ui.icon("chevron_right", color="grey-6")
            crumb = ui.label(entry.name if entry else "New entry point").classes("text-sm text-slate-600")
        if entry is None and entry_point_id != "new":
            ui.label("This entry point does not exist; it may have been deleted.").mark("not-found")
            return
        _Editor(entry, choices, crumb)


def _find(session: Session, entry_point_id: str) -> EntryPoint | None:
    number = read_id(entry_point_id)
    return get_entry_point(session=session, entry_point_id=number) if number is not None else None


class _Editor:
    """The form of one entry point: what the admin typed stays until it is saved or they leave."""

    def __init__(self, entry: EntryPoint | None, choices: Choices, crumb: ui.label) -> None:
        self.entry, self.choices, self.crumb = entry, choices, crumb
        saved = entry or EntryPoint(name="", ref="")
        self.inputs: dict[str, ui.element] = {}
        self.payload_rows = _Rows("payload_mapping", "key", "Key in the link", "e.g. 738 or color", check_payload_key,
                                  choices.fields, saved.payload_mapping)
        self.json_rows = _Rows("json_mapping", "path", "JSON path", "e.g. order.items[0].sku", check_json_path,
                               choices.fields, saved.json_mapping)
        self._draw_basics(saved)
        self.refresh_links = links_card(lambda: (self.inputs["ref"].value or "").strip())
        self._draw_response(saved)
        self._draw_payload(saved)
        self._draw_referrals(saved)
        self.saved_values = self.values()
        self.unsaved = UnsavedChanges(lambda: self.values() != self.saved_values)
        with ui.row().classes("w-full items-center gap-2"):
            ui.button("Save entry point", icon="save", on_click=self.save).props("color=indigo-7") \
                .mark("save-entry-point")
            ui.space()
            if entry is not None:
                ui.button("Delete", icon="delete", on_click=self.confirm_delete).props("flat color=negative") \
                    .mark("delete-entry-point")

    def _draw_basics(self, saved: EntryPoint) -> None:
        with ui.card().classes("w-full gap-2"):
            with ui.row().classes("w-full items-center"):
                ui.label("Entry point").classes("text-lg font-medium")
                ui.space()
                self.inputs["active"] = ui.switch("Active", value=saved.active).mark("active")
            with ui.grid(columns=2).classes("w-full gap-x-6 gap-y-1 pb-3"):
                self.inputs["name"] = ui.input("Name", value=saved.name).props('hint="Only admins see it"') \
                    .mark("name")
                self.inputs["ref"] = ui.input("Ref", value=saved.ref, validation=self._check_ref,
                                              on_change=self._follow_ref) \
                    .props('hint="Goes into every link: letters, digits, _ and single hyphens, e.g. black-friday"') \
                    .props('input-class="font-mono"').mark("ref")

    def _check_ref(self, ref: str | None) -> str | None:
        """Checked as the admin types: the grammar, and that no other entry point has the ref."""
        if not (ref or "").strip():
            return None
        with database().session() as session:
            return check_ref(session=session, ref=ref, entry_point_id=self.entry.id if self.entry else None)

    def _follow_ref(self) -> None:
        if not check_entry_ref((self.inputs["ref"].value or "").strip()):
            self.refresh_links()

    def _draw_response(self, saved: EntryPoint) -> None:
        with ui.card().classes("w-full gap-2"):
            ui.label("When someone opens the link").classes("text-lg font-medium")
            kind = ui.toggle({"message": "Send a message", "flow": "Start a flow"}, value=saved.response_type) \
                .props("no-caps color=grey-3 text-color=grey-9 toggle-color=indigo-7").mark("response_type")
            self.inputs["response_type"] = kind
            self.inputs["response_message"] = ui.textarea(
                "Message", value=saved.response_message, placeholder="Welcome {{first_name}}! …") \
                .props('autogrow hint="Leave empty to send nothing (triggers still run)"').classes("w-full") \
                .mark("response_message").bind_visibility_from(kind, "value", value="message")
            with ui.row().classes("w-full items-start gap-3 no-wrap").bind_visibility_from(kind, "value", value="flow"):
                self.inputs["response_flow_id"] = ui.select(
                    self.choices.flows, label="Flow", value=saved.response_flow_id) \
                    .props('hint="The flow starts for the person who opened the link"').classes("w-1/2") \
                    .mark("response_flow_id")
                with ui.column().classes("gap-0 pt-2"):
                    if not self.choices.flows:
                        ui.label("There is no flow yet: create one here, then build it on the Flows page.") \
                            .classes("text-sm text-slate-600").mark("no-flows")
                    ui.button("Create a flow", icon="add", on_click=self.ask_new_flow) \
                        .props("flat dense no-caps color=indigo-7").mark("create-flow")
            self.inputs["segment_tag_id"] = ui.select(
                self.choices.tags, label="Segment tag", value=saved.segment_tag_id, clearable=True) \
                .props('hint="Everyone who enters through this link gets this tag (optional)"').classes("w-1/2") \
                .mark("segment_tag_id")

    def _draw_payload(self, saved: EntryPoint) -> None:
        with ui.card().classes("w-full gap-2"):
            ui.label("Payload").classes("text-lg font-medium")
            ui.markdown("Data carried in the link after the ref, saved into contact fields: one value "
                        "(`ref--gold`), keys and values (`ref--color--gold`) or JSON "
                        "(`refjsondata--{\"plan\":\"pro\"}`).").classes("text-slate-500")
            self.inputs["default_field_id"] = ui.select(
                self.choices.fields, label="Default payload field", value=saved.default_field_id, clearable=True) \
                .props('hint="Where a single value goes (ref--gold)"').classes("w-1/2").mark("default_field_id")
            ui.label("Payload keys").classes("font-medium mt-2")
            ui.label("A key in the link that fills a field; keys that are a field's ID or name work without a row.") \
                .classes("text-sm text-slate-500")
            self.payload_rows.draw()
            ui.label("JSON mapping").classes("font-medium mt-2")
            ui.markdown("Where values of the link's JSON data (`jsondata--{…}`) go.").classes("text-sm text-slate-500")
            self.json_rows.draw()

    def _draw_referrals(self, saved: EntryPoint) -> None:
        with ui.card().classes("w-full gap-2"):
            ui.label("Referrals").classes("text-lg font-medium")
            self.inputs["referrals_enabled"] = ui.switch(
                "Credit the contact whose ID is in the link (-c{{user_id}})", value=saved.referrals_enabled) \
                .mark("referrals_enabled")
            with ui.column().classes("w-full gap-2").bind_visibility_from(self.inputs["referrals_enabled"], "value"):
                with ui.row().classes("w-full gap-8 items-start"):
                    with ui.column().classes("gap-0"):
                        ui.label("When the same person opens it again").classes("text-sm text-slate-600")
                        self.inputs["referral_policy"] = ui.radio(POLICIES, value=saved.referral_policy) \
                            .props("inline").mark("referral_policy")
                    self.inputs["referrer_match"] = ui.select(
                        REFERRER_MATCHES, label="Find the referrer by", value=saved.referrer_match).classes("w-64") \
                        .mark("referrer_match")
                self.inputs["second_level_credit"] = ui.switch(
                    "Second-level credit: when someone joins with a friend's link, also credit whoever brought that "
                    "friend in (the event “A friend's friend joined”; two levels, never deeper)",
                    value=saved.second_level_credit).mark("second_level_credit")
            self._draw_whatsapp(saved)

    def _draw_whatsapp(self, saved: EntryPoint) -> None:
        ui.label("WhatsApp text pattern").classes("font-medium mt-2")
        ui.label("For referrals shared as a message, e.g. You were recommended by (?P<referrer>\\+?\\d{7,15}). "
                 "Name the parts to read (?P<ref>…) and/or (?P<referrer>…).").classes("text-sm text-slate-500")
        with ui.grid(columns=2).classes("w-full gap-x-6 gap-y-1"):
            pattern = ui.input("Pattern (a regular expression, optional)", value=saved.whatsapp_pattern,
                               validation=_pattern_problem).props('input-class="font-mono"').mark("whatsapp_pattern")
            sample = ui.input("Try a message", placeholder="You were recommended by +15551234567").mark("sample")
        result = ui.label().classes("text-sm").mark("pattern-result")

        def test_pattern() -> None:
            result.text, color = _try_pattern(pattern.value or "", sample.value or "")
            result.classes(replace=f"text-sm {color}")

        pattern.on_value_change(test_pattern)
        sample.on_value_change(test_pattern)
        if saved.whatsapp_pattern:  # one stored before patterns ran on RE2 may be refused now: say so at once
            pattern.validate()
        self.inputs["whatsapp_pattern"] = pattern

    def ask_new_flow(self) -> None:
        """A new, empty flow made in place and chosen at once: no trip to the Flows page and back, nothing lost."""
        entry_name = (self.inputs["name"].value or "").strip()
        with ui.dialog() as dialog, ui.card().classes("w-[26rem] gap-3").mark("new-flow-dialog"):
            ui.label("Create a flow").classes("text-lg font-medium")
            name = ui.input("Flow name", value=f"{entry_name} welcome".strip() if entry_name else "") \
                .props("dense outlined autofocus").classes("w-full").mark("new-flow-name")
            with ui.row().classes("self-end"):
                ui.button("Cancel", on_click=dialog.close).props("flat")
                ui.button("Create flow", on_click=lambda: self.create_flow(dialog, name)) \
                    .props("color=indigo-7").mark("confirm-create-flow")
        dialog.open()

    def create_flow(self, dialog: ui.dialog, name: ui.input) -> None:
        try:
            with database().write_session() as session:
                flow = create_flow(session=session, name=name.value or "")
        except FlowError as error:
            name.error = str(error)
            return
        dialog.close()
        self.choices.flows[flow.id] = flow.name
        self.inputs["response_flow_id"].set_options(dict(self.choices.flows), value=flow.id)
        ui.notify(f"Flow “{flow.name}” created and chosen. Save the entry point, then build the flow on the Flows "
                  "page.", type="positive", multi_line=True)

    # --- saving and deleting ------------------------------------------------------------------------------------------

    def values(self) -> dict:
        simple = {name: element.value for name, element in self.inputs.items()}
        text = {name: simple[name] or "" for name in ("name", "ref", "response_message", "whatsapp_pattern")}
        return simple | text | {"payload_mapping": self.payload_rows.values(), "json_mapping": self.json_rows.values()}

    def save(self) -> None:
        for element in [*self.inputs.values(), *self.payload_rows.elements(), *self.json_rows.elements()]:
            if hasattr(element, "error"):
                element.error = None
        shape = EntryPointUpdate if self.entry else EntryPointCreate
        try:
            data = shape(**self.values())
            with database().write_session() as session:
                saved = _write(session, self.entry, data)
        except ValidationError as error:
            return self.show_problems(describe_problems(error))
        except EntryPointError as error:
            return self.show_problems(error.problems)
        except LookupError as error:
            return ui.notify(str(error), type="negative")
        self.saved_values = self.values()
        self.unsaved.check()
        if self.entry is None:
            ui.navigate.to(f"/entry-points/{saved.id}")
        self.entry, self.crumb.text = saved, saved.name
        ui.notify(f"Entry point “{saved.name}” saved.", type="positive")
        self.refresh_links()

    def show_problems(self, problems: dict[str, str]) -> None:
        for key, message in problems.items():
            element = self.inputs.get(key) or self.payload_rows.element(key) or self.json_rows.element(key)
            if element is not None and hasattr(element, "error"):
                element.error = message
            else:
                ui.notify(message, type="warning")
        ui.notify("Nothing was saved: fix the fields marked in red.", type="warning")

    def confirm_delete(self) -> None:
        with database().session() as session:
            activity = count_activity(session=session, entry_point_id=self.entry.id)
        with ui.dialog() as dialog, ui.card().classes("max-w-lg gap-3").mark("delete-dialog"):
            ui.label(f"Delete “{self.entry.name}”?").classes("text-lg font-medium")
            ui.label(_describe_loss(activity.opens, activity.referrals, activity.triggers)).mark("delete-summary")
            with ui.row().classes("w-full justify-end gap-2"):
                ui.button("Cancel", on_click=dialog.close).props("flat")
                ui.button("Delete entry point", on_click=lambda: self.delete(dialog)).props("color=negative") \
                    .mark("confirm-delete")
        dialog.open()

    def delete(self, dialog: ui.dialog) -> None:
        with database().write_session() as session:
            delete_entry_point(session=session, entry_point_id=self.entry.id)
        dialog.close()
        ui.notify(f"Entry point “{self.entry.name}” deleted.")
        ui.navigate.to("/entry-points")


def _write(session: Session, entry: EntryPoint | None, data: EntryPointCreate | EntryPointUpdate) -> EntryPoint:
    if entry is None:
        return create_entry_point(session=session, data=data)
    return update_entry_point(session=session, entry_point_id=entry.id, data=data)


def _describe_loss(opens: int, referrals: int, triggers: int) -> str:
    recorded = f"{_count(opens, 'open')} and {_count(referrals, 'counted referral')} are recorded for it."
    gone = " Its referral records are deleted" + (f", and so are the {_count(triggers, 'trigger')} that listen to "
                                                    "it" if triggers else "")
    return (recorded + gone + "; the opens stay in analytics without an entry point. To keep its history, switch it "
            "off instead.")


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def _pattern_problem(pattern: str | None) -> str | None:
    try:
        if (pattern or "").strip():
            match_whatsapp_text("", pattern)
    except LinkError as error:
        return str(error)
    return None


def _try_pattern(pattern: str, sample: str) -> tuple[str, str]:
    """What the live test box says, and its colour; a broken pattern is explained under the pattern itself."""
    if not pattern.strip() or _pattern_problem(pattern):
        return "", "text-slate-500"
    groups = match_whatsapp_text(sample, pattern)
    if not sample:
        return "Type a sample message to try the pattern.", "text-slate-500"
    if groups is None:
        return "No match: the bot would not read a ref or referrer from this message.", "text-amber-800"
    found = ", ".join(f"{name} = {value}" for name, value in groups.items())
    return f"Matches: {found}.", "text-emerald-700"


class _Rows:
    """Editable mapping rows (key or path → field); the typed values live in `rows` so redrawing keeps them."""

    def __init__(self, kind: str, key: str, label: str, placeholder: str, check: Callable[[str], str | None],
                 fields: dict[int, str], saved: list[dict]) -> None:
        self.kind, self.key, self.label, self.placeholder, self.fields = kind, key, label, placeholder, fields
        self.check = check
        self.rows = [{key: str(row.get(key, "")), "field_id": row.get("field_id")} for row in saved]
        self.drawn: list[tuple[ui.input, ui.select]] = []

    @ui.refreshable_method
    def draw(self) -> None:
        self.drawn = []
        prefix = self.kind.split("_")[0]
        with ui.column().classes("w-full gap-1"):
            for number, row in enumerate(self.rows):
                with ui.row().classes("w-full no-wrap items-start gap-3"):
                    typed = ui.input(self.label, placeholder=self.placeholder, validation=self.check_typed) \
                        .bind_value(row, self.key) \
                        .classes("flex-1").props('input-class="font-mono"').mark(f"{prefix}-{self.key}-{number}")
                    ui.icon("east", color="grey-6").classes("mt-5")
                    field = ui.select(self.fields, label="Field").bind_value(row, "field_id").classes("flex-1") \
                        .mark(f"{prefix}-field-{number}")
                    ui.button(icon="close", on_click=lambda number=number: self.remove(number)) \
                        .props("flat round dense color=grey-7").classes("mt-3").mark(f"remove-{prefix}-{number}") \
                        .tooltip("Remove this row")
                self.drawn.append((typed, field))
            ui.button("Add row", icon="add", on_click=self.add).props("flat dense no-caps color=indigo-7") \
                .mark(f"add-{prefix}-row")

    def check_typed(self, value: str | None) -> str | None:
        """Checked as the admin types, once there is something to check."""
        return self.check(value) if (value or "").strip() else None

    def add(self) -> None:
        self.rows.append({self.key: "", "field_id": None})
        self.draw.refresh()

    def remove(self, number: int) -> None:
        del self.rows[number]
        self.draw.refresh()

    def values(self) -> list[dict]:
        return [dict(row) for row in self.rows]

    def elements(self) -> list[ui.element]:
        return [element for pair in self.drawn for element in pair]

    def element(self, problem_key: str) -> ui.element | None:
        kind, _, rest = problem_key.partition(".")
        number, _, name = rest.partition(".")
        if kind != self.kind or not number.isdigit() or int(number) >= len(self.drawn):
            return None
        return self.drawn[int(number)][0 if name == self.key else 1]
