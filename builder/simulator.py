"""Simulator: open links as simulated people in the sandbox, see everything that happened, answer the bot, fast-forward
delays, and save and re-run scenarios (DOMAIN §8). The actions are runtime/simulator/simulation.py's `Simulation`;
`SimulatorPage` holds the controls and simulator_parts draws the view each action returns."""

from dataclasses import replace

from nicegui import app, ui
from pydantic import ValidationError

from builder.context import database, simulator
from builder.frame import frame
from builder.simulator_parts import confirm, show_result, show_scenario_report, show_scenario_row
from channels.simulated import SimulatedDelivery
from runtime.definitions import Definitions
from runtime.link_reading import extract_ref
from runtime.links import LinkError, PayloadItem, build_link, build_ref
from runtime.simulator.recording import Recording, RecordingError
from runtime.simulator.scenarios import ScenarioError, ScenarioReport
from runtime.simulator.simulation import Opener, Simulation
from runtime.simulator.views import ActionView
from runtime.vocabulary import CHANNEL_NAMES, DurationError
from storage.contacts import ContactQuery, list_contacts
from storage.scenarios import (
    ScenarioSave,
    ScenarioStoreError,
    delete_scenario,
    get_scenario,
    list_scenarios,
    save_scenario,
)

NAMES = ("Ann", "Bob", "Cat", "Dan", "Eve", "Fay", "Gus", "Hal", "Ivy", "Jon", "Kim", "Lou")
NO_REFERRER = 0
PICKER_SIZE = 50  # the newest simulated contacts offered in the pickers


def create() -> None:
    with frame("Simulator") as content:
        content.classes(remove="max-w-5xl", add="max-w-7xl")
        SimulatorPage(current_simulation()).build()


def current_simulation() -> Simulation:
    """The actions on the app's one sandbox, with the steps recorded since its last reset."""
    bench = simulator()
    kept = getattr(app.state, "referflow_simulator_recording", None)
    if kept is None or kept[0] is not bench:  # a new sandbox (the app restarted) starts a new recording
        kept = app.state.referflow_simulator_recording = (bench, Recording())
    return Simulation(database(), bench, kept[1])


class SimulatorPage:
    def __init__(self, simulation: Simulation) -> None:
        self.simulation = simulation
        self.view: ActionView | None = None
        self.report: ScenarioReport | None = None
        self.payload_rows: list[tuple[ui.input, ui.input, ui.row]] = []
        self.entry = self.channel = self.referrer = None
        self.last_built = ""

    @property
    def use_draft(self) -> bool:
        return self.copy.value == "draft"

    def build(self) -> None:
        defs = self.simulation.prepare()
        ui.label("Open links as simulated people. Everything happens in a sandbox copy of this workspace: live "
                 "contacts are never touched.").classes("text-slate-500")
        with ui.grid(columns="minmax(0,3fr) minmax(0,2fr)").classes("w-full gap-4"):
            self.build_link_card(defs)
            self.build_opener_card()
        self.build_action_bar()
        self.draw_result()
        self.draw_scenarios()
        self.refresh_status()
        self.rebuild_link()

    # --- the controls ------------------------------------------------------------------------------------------

    def build_link_card(self, defs: Definitions) -> None:
        self.identities = defs.identities
        entries = {ref: f"{entry.name} ({ref})" for ref, entry in sorted(defs.entries_by_ref.items())}
        channels = {channel: CHANNEL_NAMES[channel] for channel in defs.identities.configured_channels()}
        with ui.card().classes("w-full gap-2"):
            ui.label("1 · The link").classes("text-lg font-medium")
            self.link = ui.input("Link or ref", placeholder="https://m.me/…?ref=giveaway2025-c1, a ref, /start REF") \
                .props("outlined dense clearable").classes("w-full font-mono").mark("link")
            self.link.on_value_change(self.follow_link_channel)
            if not entries or not channels:
                missing = "an entry point (Entry points page)" if not entries else "a channel (Settings page)"
                ui.label(f"To build links here, add {missing}. You can still paste any link or ref.") \
                    .classes("text-sm text-slate-500").mark("builder-unavailable")
                return
            ui.label("Or build one").classes("text-xs uppercase tracking-wide text-slate-500 mt-1")
            with ui.row().classes("w-full gap-2 no-wrap"):
                self.entry = ui.select(entries, label="Entry point", value=next(iter(entries)),
                                       on_change=self.rebuild_link).props("dense outlined").classes("grow min-w-0") \
                    .mark("entry")
                self.channel = ui.select(channels, label="Channel", value=next(iter(channels)),
                                         on_change=self.rebuild_link).props("dense outlined").classes("w-36") \
                    .mark("channel")
                self.referrer = ui.select({NO_REFERRER: "No referrer"}, label="Referrer", value=NO_REFERRER,
                                          on_change=self.rebuild_link).props("dense outlined").classes("w-48") \
                    .mark("referrer")
            with ui.row().classes("w-full gap-2 no-wrap items-center"):
                self.default_value = ui.input("Default payload value", on_change=self.rebuild_link) \
                    .props("dense outlined").classes("grow").mark("default-value")
                ui.button("Key and value", icon="add", on_click=self.add_payload_row).props("flat dense no-caps") \
                    .mark("add-payload")
            self.payload_box = ui.column().classes("w-full gap-1")
            self.built = ui.label().classes("text-sm break-all").mark("built-link")

    def build_opener_card(self) -> None:
        with ui.card().classes("w-full gap-2"):
            ui.label("2 · Who opens it").classes("text-lg font-medium")
            self.open_as = ui.radio({"new": "A new person", "existing": "A simulated contact"}, value="new") \
                .props("inline dense").mark("open-as")
            with ui.column().classes("w-full gap-2").bind_visibility_from(self.open_as, "value", value="new"):
                with ui.row().classes("w-full gap-2 no-wrap"):
                    self.person_name = ui.input("Name", value=self.next_name()).props("dense outlined") \
                        .classes("grow min-w-0").mark("person-name")
                    self.person_channel = ui.select(CHANNEL_NAMES, label="Channel", value="messenger") \
                        .props("dense outlined").classes("w-36").mark("person-channel")
                self.person_phone = ui.input("Phone (optional)").props("dense outlined").classes("w-full") \
                    .mark("person-phone")
            self.contact = ui.select({}, label="Simulated contact", with_input=True).props("dense outlined") \
                .classes("w-full").mark("contact").bind_visibility_from(self.open_as, "value", value="existing")
            self.copy = ui.radio({"draft": "Draft flows", "published": "Published flows"}, value="draft") \
                .props("inline dense").mark("copy")
            self.as_webhook = ui.switch("As the channel's real webhook").mark("as-webhook").tooltip(
                "Messenger, Instagram and WhatsApp: the body the platform sends, through the live webhook's code")
            ui.button("Open the link", icon="play_arrow", on_click=self.open).classes("w-full").mark("open")

    def build_action_bar(self) -> None:
        with ui.row().classes("w-full items-center gap-2 no-wrap"):
            self.duration = ui.input("Fast-forward by", value="1h").props("dense outlined").classes("w-32") \
                .mark("duration")
            ui.button("Fast-forward", icon="fast_forward", on_click=self.fast_forward).props("outline no-caps") \
                .tooltip("Move the simulated clock forward and run the delays that are due").mark("fast-forward")
            self.clock = ui.label().classes("text-sm text-slate-500 whitespace-nowrap").mark("clock")
            ui.space()
            self.recorded = ui.label().classes("text-sm text-slate-500 whitespace-nowrap").mark("recorded") \
                .tooltip("What you did since the sandbox was last reset; “Save as scenario” keeps it.")
            ui.button("Save as scenario", icon="playlist_add", on_click=self.open_save_dialog) \
                .props("outline no-caps").mark("save-scenario")
            ui.button("Reset sandbox", icon="restart_alt", on_click=self.confirm_reset) \
                .props("outline no-caps color=negative").mark("reset-sandbox")

    def add_payload_row(self) -> None:
        number = len(self.payload_rows) + 1
        with self.payload_box, ui.row().classes("w-full gap-2 no-wrap items-center") as row:
            key = ui.input("Key (field ID or name)", on_change=self.rebuild_link).props("dense outlined") \
                .classes("w-56").mark(f"payload-key-{number}")
            value = ui.input("Value", on_change=self.rebuild_link).props("dense outlined").classes("grow") \
                .mark(f"payload-value-{number}")
            ui.button(icon="close", on_click=lambda: self.remove_payload_row(row)).props("flat round dense") \
                .tooltip("Remove").mark(f"remove-payload-{number}")
        self.payload_rows.append((key, value, row))

    def remove_payload_row(self, row: ui.row) -> None:
        self.payload_rows = [item for item in self.payload_rows if item[2] is not row]
        row.delete()
        self.rebuild_link()

    def rebuild_link(self) -> None:
        if self.entry is None:
            return
        payload = [PayloadItem(None, self.default_value.value.strip())] if (self.default_value.value or "").strip() \
            else []
        payload += [PayloadItem(key.value.strip(), value.value.strip()) for key, value, _ in self.payload_rows
                    if (key.value or "").strip() or (value.value or "").strip()]
        try:
            ref = build_ref(self.entry.value, referrer=self.referrer.value or None, payload=payload)
            link = build_link(self.channel.value, ref, self.identities)
        except LinkError as error:
            self.built.set_text(f"No link: {error}")
            self.built.classes(replace="text-sm break-all text-red-700")
            return
        self.last_built = link
        self.link.value = link
        self.built.set_text(f"Built: {link}")
        self.built.classes(replace="text-sm break-all text-slate-500 font-mono")

    def follow_link_channel(self) -> None:
        """A new person is on the channel of the link they open."""
        channel = extract_ref(self.link.value or "")[0]
        if channel:
            self.person_channel.value = channel
        if self.entry is not None and self.link.value != self.last_built:
            self.built.set_text("")  # the admin typed or pasted their own link

    # --- the actions ---------------------------------------------------------------------------------------------

    def open(self) -> None:
        self.link.error = self.contact.error = None
        link = (self.link.value or "").strip()
        if not link:
            self.link.error = "Paste a link or a ref, or build one below."
            return
        if self.open_as.value == "existing" and not self.contact.value:
            self.contact.error = "Choose a simulated contact, or open the link as a new person."
            return
        opener = Opener(contact_id=int(self.contact.value)) if self.open_as.value == "existing" else Opener(
            name=(self.person_name.value or "").strip() or self.next_name(),
            channel=self.person_channel.value or "messenger", phone=self.person_phone.value or "")
        opener = replace(opener, as_webhook=bool(self.as_webhook.value))
        self.show(self.simulation.open(link, opener, use_draft=self.use_draft))
        self.person_name.value = self.next_name()

    def redeliver(self, delivery: SimulatedDelivery) -> None:
        self.show(self.simulation.redeliver(delivery, use_draft=self.use_draft))

    def answer(self, contact_id: int, text: str, pressed: bool) -> None:
        if not text.strip():
            ui.notify("Type a reply first.", type="warning")
            return
        self.show(self.simulation.reply(contact_id, text.strip(), pressed=pressed, use_draft=self.use_draft))

    def fast_forward(self) -> None:
        self.duration.error = None
        try:
            view = self.simulation.advance(self.duration.value or "", use_draft=self.use_draft)
        except DurationError as error:
            self.duration.error = str(error)
            return
        self.show(view)

    def confirm_reset(self) -> None:
        confirm("Reset the sandbox?", "Every simulated contact goes, with their messages, field values and referrals, "
                "and the recorded steps start over. Live contacts and saved scenarios stay.", "Reset sandbox",
                "confirm-reset", self.reset)

    def reset(self) -> None:
        self.simulation.reset()
        self.report = None
        self.show(None)
        self.draw_scenarios.refresh()
        self.person_name.value = self.next_name()
        ui.notify("The sandbox is empty again.", type="positive")

    def show(self, view: ActionView | None) -> None:
        self.view = view
        self.draw_result.refresh()
        self.refresh_status()

    @ui.refreshable_method
    def draw_result(self) -> None:
        show_result(self.view, self.answer, self.redeliver)

    def refresh_status(self) -> None:
        options = self.contact_options()
        if self.referrer is not None:
            keep = self.referrer.value if self.referrer.value in options else NO_REFERRER
            self.referrer.set_options({NO_REFERRER: "No referrer"} | options, value=keep)
        self.contact.set_options(options, value=self.contact.value if self.contact.value in options else None)
        lead = self.simulation.clock_lead()
        self.clock.set_text(f"Clock: {lead} ahead" if lead else "Clock: real time")
        count = len(self.simulation.recording.steps)
        self.recorded.set_text(f"{count} step{'' if count == 1 else 's'} recorded")

    def contact_options(self) -> dict[int, str]:
        with self.simulation.sandbox.session() as session:
            rows = list_contacts(session=session, query=ContactQuery(page_size=PICKER_SIZE)).rows
        return {row.id: f"{row.name} · #{row.id} · {CHANNEL_NAMES.get(row.channel, row.channel)}"
                for row in sorted(rows, key=lambda row: row.id)}

    def next_name(self) -> str:
        used = {person.name for person in self.simulation.recording.people.values()}
        return next((name for name in NAMES if name not in used), f"Person {len(used) + 1}")

    # --- scenarios -----------------------------------------------------------------------------------------------

    @ui.refreshable_method
    def draw_scenarios(self) -> None:
        with database().session() as session:
            scenarios = list_scenarios(session=session)
        with ui.card().classes("w-full gap-2").mark("scenarios"):
            with ui.row().classes("w-full items-baseline gap-3"):
                ui.label("Scenarios").classes("text-lg font-medium")
                ui.label("Saved steps with expectations, re-run as regression tests.").classes(
                    "text-sm text-slate-500")
            if not scenarios:
                ui.label("No saved scenarios yet: try some steps above, then “Save as scenario”.").classes(
                    "text-slate-500").mark("no-scenarios")
            for scenario in scenarios:
                show_scenario_row(scenario, self.confirm_run, self.confirm_delete)
            if self.report is not None:
                show_scenario_report(self.report)

    def confirm_run(self, scenario_id: int, name: str) -> None:
        """A scenario starts from an empty sandbox: what the admin tried so far is wiped, so ask first."""
        contacts, steps = self.simulation.sandbox_contacts(), len(self.simulation.recording.steps)
        if not contacts and not steps:
            self.run_saved(scenario_id)
            return
        lost = [f"{contacts} simulated contact{'s' if contacts != 1 else ''}" if contacts else "",
                f"{steps} recorded step{'s' if steps != 1 else ''}" if steps else ""]
        confirm(f"Run the scenario “{name}”?", f"A scenario starts from an empty sandbox: the "
                f"{' and the '.join(part for part in lost if part)} of this session go. To keep the steps, "
                "save them as a scenario first.", "Empty the sandbox and run", "confirm-run-scenario",
                lambda: self.run_saved(scenario_id))

    def run_saved(self, scenario_id: int) -> None:
        try:
            with database().session() as session:
                document = get_scenario(session=session, scenario_id=scenario_id).document
            self.report = self.simulation.run_scenario(document)
        except (ScenarioStoreError, ScenarioError) as error:
            ui.notify(f"The scenario could not run: {error}", type="warning", multi_line=True)
            return
        self.show(None)
        self.draw_scenarios.refresh()

    def confirm_delete(self, scenario_id: int, name: str) -> None:
        def delete() -> None:
            with database().write_session() as session:
                delete_scenario(session=session, scenario_id=scenario_id)
            self.draw_scenarios.refresh()
            ui.notify(f"Scenario “{name}” deleted.")

        confirm(f"Delete the scenario “{name}”?", "Its steps and expectations go; the sandbox is not touched.",
                "Delete", "confirm-delete-scenario", delete)

    def open_save_dialog(self) -> None:
        steps = self.simulation.recording.steps
        if not steps:
            ui.notify("Nothing to save yet: the steps since the last reset become the scenario.", type="warning")
            return
        with ui.dialog() as dialog, ui.card().classes("w-[46rem] max-w-full gap-3").mark("save-dialog"):
            ui.label("Save these steps as a scenario").classes("text-lg font-semibold")
            name = ui.input("Scenario name").props("dense outlined").classes("w-full").mark("scenario-name")
            description = ui.input("Description (optional)").props("dense outlined").classes("w-full") \
                .mark("scenario-description")
            ui.label("Tick what each step must show again when the scenario runs:").classes("text-slate-600")
            boxes = {}
            with ui.column().classes("w-full gap-1 max-h-96 overflow-auto"):
                for number, step in enumerate(steps):
                    ui.label(f"{number + 1}. {step.description}").classes("font-medium break-all mt-1")
                    for index, choice in enumerate(step.choices):
                        boxes[number, index] = ui.checkbox(choice.label, value=choice.chosen).classes("text-sm") \
                            .mark(f"expect-{number + 1}-{index + 1}")
                    if not step.choices:
                        ui.label("Nothing to check in this step.").classes("text-sm text-slate-400")
            error = ui.label().classes("text-red-700").mark("save-error")
            chosen = lambda: {key for key, box in boxes.items() if box.value}  # noqa: E731
            with ui.row().classes("self-end"):
                ui.button("Cancel", on_click=dialog.close).props("flat")
                ui.button("Save scenario", icon="save",
                          on_click=lambda: self.save(dialog, name, description, error, chosen())) \
                    .mark("confirm-save-scenario")
        dialog.open()

    def save(self, dialog: ui.dialog, name: ui.input, description: ui.input, error: ui.label,
             chosen: set[tuple[int, int]]) -> None:
        name.error, error.text = None, ""
        try:
            document = self.simulation.recording.to_document(chosen=chosen)
            data = ScenarioSave(name=name.value or "", description=description.value or "", document=document)
            with database().write_session() as session:
                save_scenario(session=session, data=data)
        except ValidationError as problems:
            for problem in problems.errors():
                message = problem["msg"].removeprefix("Value error, ")
                if problem["loc"] and problem["loc"][0] == "name":
                    name.error = message
                else:
                    error.text = message
            return
        except RecordingError as problem:
            error.text = str(problem)
            return
        except ScenarioStoreError as problem:
            if "name" in str(problem):
                name.error = str(problem)
            else:
                error.text = str(problem)
            return
        dialog.close()
        self.draw_scenarios.refresh()
        ui.notify(f"Scenario “{data.name}” saved with {len(document['steps'])} steps.", type="positive")
