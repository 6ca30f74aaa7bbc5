"""Simulator: open links as simulated people in the sandbox, see everything that happened, answer the bot, fast-forward
delays, and save and re-run scenarios (DOMAIN §8). `Simulation` holds the actions (the same `Runtime` as live
processing, on the app's one sandbox); `SimulatorPage` the controls; simulator_parts draws the result."""

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, replace

from nicegui import app, ui
from pydantic import ValidationError
from sqlmodel import func, select

from builder.context import SimulatorBench, database, simulator
from builder.entry_point_links import CHANNEL_NAMES
from builder.frame import frame
from builder.simulator_parts import (
    ActionView,
    WebhookView,
    confirm,
    describe_action,
    show_result,
    show_scenario_report,
    show_scenario_row,
)
from channels.meta import MalformedWebhook
from channels.simulated import WEBHOOK_CHANNELS, SimulatedDelivery, deliver, simulated_open
from runtime.definitions import Definitions
from runtime.link_reading import extract_ref
from runtime.links import LinkError, PayloadItem, build_link, build_ref
from runtime.opening import Inbound
from runtime.simulator.sandbox import reset_sandbox
from runtime.simulator.scenarios import ScenarioError, ScenarioReport, check_scenario, run_scenario
from runtime.values import read_id
from runtime.vocabulary import DurationError, parse_duration
from storage.contacts import ContactQuery, get_contact, list_contacts
from storage.db import Database
from storage.entry_points import explain_link
from storage.models import Contact
from storage.scenarios import (
    Recording,
    ScenarioSave,
    ScenarioStoreError,
    delete_scenario,
    fresh_channel_user_id,
    get_scenario,
    list_scenarios,
    save_scenario,
)

NAMES = ("Ann", "Bob", "Cat", "Dan", "Eve", "Fay", "Gus", "Hal", "Ivy", "Jon", "Kim", "Lou")
NO_REFERRER = 0
PICKER_SIZE = 50  # the newest simulated contacts offered in the pickers
TELEGRAM_IDS = 7_000_000_000  # simulated Telegram people get a random id from here up
SNAPSHOT_LIMIT = 50  # recorded people whose fields are read before an action (the sandbox holds few)


def create() -> None:
    with frame("Simulator") as content:
        content.classes(remove="max-w-5xl", add="max-w-7xl")
        SimulatorPage(current_simulation()).build()


def current_simulation() -> "Simulation":
    """The actions on the app's one sandbox, with the steps recorded since its last reset."""
    bench = simulator()
    kept = getattr(app.state, "referflow_simulator_recording", None)
    if kept is None or kept[0] is not bench:  # a new sandbox (the app restarted) starts a new recording
        kept = app.state.referflow_simulator_recording = (bench, Recording())
    return Simulation(database(), bench, kept[1])


@dataclass(frozen=True)
class Opener:
    """Who opens the link: an existing simulated contact (`contact_id`), or a new person."""

    contact_id: int | None = None
    name: str = ""
    channel: str = "messenger"
    phone: str = ""
    as_webhook: bool = False  # delivered as the channel's real webhook body, through the live route's code


class Simulation:
    """The page's actions on the app's one sandbox. Every action first copies the live definitions into the sandbox
    (edits show up at once) and records itself as a scenario step."""

    def __init__(self, live: Database, bench: SimulatorBench, recording: Recording) -> None:
        self.live, self.bench, self.recording = live, bench, recording

    @property
    def sandbox(self) -> Database:
        return self.bench.database

    def prepare(self, *, use_draft: bool) -> Definitions:
        self.bench.sync(self.live)
        self.bench.runtime.use_draft = use_draft
        return self.bench.runtime.definitions()

    def open(self, link: str, opener: Opener, *, use_draft: bool) -> ActionView:
        defs = self.prepare(use_draft=use_draft)
        with self.sandbox.session() as session:
            explanation = explain_link(session=session, text=link)
            actor = get_contact(session=session, contact_id=opener.contact_id) if opener.contact_id else None
            # WhatsApp knows people by their number; other channels get a fresh sim-<n>
            number = re.sub(r"\D", "", opener.phone) if opener.channel == "whatsapp" else ""
            user_id = actor.channel_user_id if actor else number or fresh_channel_user_id(session=session)
        referrer = explanation.parsed.referrer
        before = self.snapshot([opener.contact_id, read_id(referrer)])
        name = actor.first_name if actor else opener.name.strip()
        channel = actor.channel if actor else opener.channel
        delivery = None
        if opener.as_webhook and channel in WEBHOOK_CHANNELS:
            if channel == "telegram" and actor is None:  # Telegram knows people by a number
                user_id = str(TELEGRAM_IDS + secrets.randbelow(TELEGRAM_IDS))
            delivery = simulated_open(channel, user_id=user_id, ref=explanation.parsed.ref,
                                      new_conversation=actor is None, first_name=name, now=self.bench.clock.now)
        if delivery is not None:
            result = deliver(self.bench.runtime, self.sandbox, delivery)[0].result
        else:
            result = self.bench.runtime.open_link(Inbound(
                text=link, channel=channel, channel_user_id=user_id, first_name=name,
                phone=actor.phone if actor else opener.phone.strip()))
        referrer_id = (result.referral or {}).get("referrer_id")
        roles = {result.contact_id: "opened the link"}
        if referrer_id and referrer_id != result.contact_id:
            roles[referrer_id] = "referrer"
        view = describe_action(self.bench, defs, result, roles, before, title=f"{name or 'Someone'} opened {link}")
        view.explanation, view.referral = explanation, result.referral
        if delivery is not None:
            view.webhook = WebhookView(delivery.label, delivery.pretty(), delivery)
        elif opener.as_webhook:
            view.warnings.insert(0, f"This {CHANNEL_NAMES.get(channel, channel)} contact's id cannot travel in its "
                                    "channel's webhook (web chat has none; Telegram's ids are numbers), so the open "
                                    "went to the runtime directly.")
        person = self.remember(view, new={result.contact_id} if result.is_new else set())[result.contact_id]
        self.record({"open": link, "as": person.key}, view, result.to_dict(), use_draft)
        return view

    def redeliver(self, delivery: SimulatedDelivery, *, use_draft: bool) -> ActionView:
        """The platform delivers the same webhook again (Meta does, for a few percent of referrals): the live code
        sees its event id and changes nothing."""
        defs = self.prepare(use_draft=use_draft)
        before = self.snapshot([])
        try:
            processed = deliver(self.bench.runtime, self.sandbox, delivery)
        except MalformedWebhook as error:
            return ActionView(f"{delivery.label} webhook refused", warnings=[str(error)])
        title = f"{delivery.label} delivered the same webhook again"
        result = processed[0].result if processed else None
        if result is None:
            view = ActionView(title, warnings=["This event was already processed; nothing changed this time."])
        else:
            roles = {result.contact_id: "got the same webhook again"} if result.contact_id else {}
            view = describe_action(self.bench, defs, result, roles, before, title=title)
        view.webhook = WebhookView(delivery.label, delivery.pretty(), delivery,
                                   duplicate=all(item.duplicate for item in processed))
        return view

    def reply(self, contact_id: int, text: str, *, pressed: bool, use_draft: bool) -> ActionView:
        defs = self.prepare(use_draft=use_draft)
        with self.sandbox.session() as session:
            contact = get_contact(session=session, contact_id=contact_id)
        if contact is None:
            return ActionView("That contact is gone: the sandbox was reset.", warnings=["Open a link again."])
        before = self.snapshot([contact_id, contact.referred_by_id])
        result = self.bench.runtime.reply(channel=contact.channel, channel_user_id=contact.channel_user_id, text=text)
        verb = "pressed" if pressed else "replied"
        view = describe_action(self.bench, defs, result, {contact_id: verb}, before,
                               title=f"{contact.name} {verb} “{text}”")
        person = self.remember(view)[contact_id]
        self.record({"press" if pressed else "reply": text, "as": person.key}, view, result.to_dict(), use_draft)
        return view

    def advance(self, duration: str, *, use_draft: bool) -> ActionView:
        """Move the simulated clock forward and run every delay that is due (raises DurationError for a duration
        that is not one)."""
        forward = parse_duration(duration)
        defs = self.prepare(use_draft=use_draft)
        before = self.snapshot([])
        self.bench.clock.now += forward
        result = self.bench.runtime.tick()
        woken = f"{result.woken} waiting flow{'s' if result.woken != 1 else ''} went on" if result.woken else \
            "nothing was due"
        roles = {step["contact_id"]: "delay over" for step in result.trace if step["kind"] == "wake_up"}
        view = describe_action(self.bench, defs, result, roles, before,
                               title=f"The clock moved {duration.strip()}: {woken}")
        self.remember(view)
        self.record({"advance": duration.strip()}, view, result.to_dict(), use_draft)
        return view

    def reset(self) -> None:
        reset_sandbox(self.sandbox)
        self.recording.clear()
        self.bench.clock.restart()

    def run_scenario(self, document: dict) -> ScenarioReport:
        """Reset the sandbox and replay a saved scenario with its own copy and seed; raises ScenarioError, before
        touching the sandbox, for a scenario that cannot run."""
        if problems := check_scenario(document):
            raise ScenarioError(" ".join(problems))
        self.prepare(use_draft=document.get("copy") == "draft")
        self.reset()
        runtime = self.bench.runtime
        runtime.seed = document.get("seed", 1)
        try:
            return run_scenario(runtime, self.bench.clock, document)
        finally:
            runtime.seed = 1

    def sandbox_contacts(self) -> int:
        """How many simulated contacts the sandbox holds now."""
        with self.sandbox.session() as session:
            return session.exec(select(func.count()).select_from(Contact)).one()

    def clock_lead(self) -> str:
        """How far the clock was moved forward since the sandbox started, for people ('' when it was not). Not
        against the real time, which went on meanwhile: moving 1d must read 1d, not 23h58m."""
        minutes = round((self.bench.clock.now - self.bench.clock.start).total_seconds() / 60)
        days, rest = divmod(minutes, 1440)
        parts = [f"{days}d" if days else "", f"{rest // 60}h" if rest // 60 else "", f"{rest % 60}m" if rest % 60
                 else ""]
        return "".join(parts) if minutes > 0 else ""

    # --- reading the sandbox -------------------------------------------------------------------------------------

    def snapshot(self, extra: Iterable[int | None]) -> dict[int, tuple[dict, list]]:
        """Field values and tags, before an action, of everyone it is likely to touch."""
        ids = [*extra, *list(self.recording.people)[-SNAPSHOT_LIMIT:]]
        return {contact_id: self.bench.runtime.contact_data(contact_id) for contact_id in dict.fromkeys(ids)
                if contact_id is not None}

    # --- the recording -------------------------------------------------------------------------------------------

    def remember(self, view: ActionView, new: set[int] = frozenset()) -> dict:
        for person in view.people:
            contact = person.contact
            self.recording.add_person(contact_id=contact.id, name=contact.first_name or contact.name,
                                      channel=contact.channel, channel_user_id=contact.channel_user_id,
                                      phone=contact.phone, known_before=contact.id not in new)
        return self.recording.people

    def record(self, step: dict, view: ActionView, result: dict, use_draft: bool) -> None:
        self.recording.record(step, view.title, "draft" if use_draft else "published", result,
                              [person.change for person in view.people], [p.contact.id for p in view.people])


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
        defs = self.simulation.prepare(use_draft=True)
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
        except ScenarioStoreError as problem:
            if "name" in str(problem):
                name.error = str(problem)
            else:
                error.text = str(problem)
            return
        dialog.close()
        self.draw_scenarios.refresh()
        ui.notify(f"Scenario “{data.name}” saved with {len(document['steps'])} steps.", type="positive")
