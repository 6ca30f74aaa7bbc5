"""The Simulator's actions (DOMAIN §8): open links as simulated people in the sandbox, answer the bot, fast-forward
delays, reset, and replay saved scenarios — through the same `Runtime` entry points as live processing, on the app's
one sandbox. Each action passes its own RunOptions (draft or published flows, seed), so two admins simulating at once
each get the copy they chose; it returns the view of what happened (views.py) and records itself as a scenario step.
"""

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from sqlmodel import func, select

from channels.meta import MalformedWebhook
from channels.simulated import WEBHOOK_CHANNELS, SimulatedDelivery, deliver, simulated_open
from runtime.definitions import Definitions
from runtime.link_preview import explain_open
from runtime.link_reading import parse_link
from runtime.opening import Inbound
from runtime.scenariodoc import check_scenario
from runtime.service import RunOptions, Runtime
from runtime.simulator.recording import SIMULATION_SEED, Recording
from runtime.simulator.sandbox import open_sandbox, reset_sandbox, sync_definitions
from runtime.simulator.scenarios import ScenarioError, ScenarioReport, SimulatedClock, run_scenario
from runtime.simulator.views import ActionView, WebhookView, describe_action
from runtime.values import read_id
from runtime.vocabulary import CHANNEL_NAMES, parse_duration
from storage.contacts import get_contact
from storage.db import Database
from storage.models import Contact
from storage.scenarios import fresh_channel_user_id

TELEGRAM_IDS = 7_000_000_000  # simulated Telegram people get a random id from here up
SNAPSHOT_LIMIT = 50  # recorded people whose fields are read before an action (the sandbox holds few)


@dataclass
class SimulatorBench:
    """The sandbox database, the runtime that works on it (the same code as live processing) and its clock."""

    database: Database
    runtime: Runtime
    clock: SimulatedClock
    synced_version: int | None = None

    @classmethod
    def open(cls, live: Database) -> "SimulatorBench":
        """The sandbox next to `live`, with the live definitions copied in, and a tracing runtime on it."""
        sandbox = open_sandbox(live)
        clock = SimulatedClock()
        return cls(sandbox, Runtime(sandbox, clock=clock, trace=True), clock)

    def sync(self, live: Database) -> None:
        """Copy the live definitions in, when any changed since the last copy."""
        self.synced_version = sync_definitions(live=live, sandbox=self.database, known_version=self.synced_version)

    def close(self) -> None:
        self.runtime.close()
        self.database.dispose()


@dataclass(frozen=True)
class Opener:
    """Who opens the link: an existing simulated contact (`contact_id`), or a new person."""

    contact_id: int | None = None
    name: str = ""
    channel: str = "messenger"
    phone: str = ""
    as_webhook: bool = False  # delivered as the channel's real webhook body, through the live route's code


class Simulation:
    """The page's actions on the app's one sandbox, which other admins may use at the same time. Every action first
    copies the live definitions into the sandbox (edits show up at once), runs with the copy of the flows it is
    given, and records itself as a scenario step."""

    def __init__(self, live: Database, bench: SimulatorBench, recording: Recording) -> None:
        self.live, self.bench, self.recording = live, bench, recording

    @property
    def sandbox(self) -> Database:
        return self.bench.database

    def prepare(self) -> Definitions:
        """The definitions the next action runs with, the live edits copied in first."""
        self.bench.sync(self.live)
        return self.bench.runtime.definitions()

    def open(self, link: str, opener: Opener, *, use_draft: bool) -> ActionView:
        defs = self.prepare()
        with self.sandbox.session() as session:
            parsed = parse_link(link, defs.refs)
            actor = get_contact(session=session, contact_id=opener.contact_id) if opener.contact_id else None
            # WhatsApp knows people by their number; other channels get a fresh sim-<n>
            number = re.sub(r"\D", "", opener.phone) if opener.channel == "whatsapp" else ""
            user_id = actor.channel_user_id if actor else number or fresh_channel_user_id(session=session)
        referrer = parsed.referrer
        before = self.snapshot([opener.contact_id, read_id(referrer)])
        name = actor.first_name if actor else opener.name.strip()
        channel = actor.channel if actor else opener.channel
        delivery = None
        if opener.as_webhook and channel in WEBHOOK_CHANNELS:
            if channel == "telegram" and actor is None:  # Telegram knows people by a number
                user_id = str(TELEGRAM_IDS + secrets.randbelow(TELEGRAM_IDS))
            delivery = simulated_open(channel, user_id=user_id, ref=parsed.ref,
                                      new_conversation=actor is None, first_name=name, now=self.bench.clock.now)
        if delivery is not None:
            result = deliver(self.bench.runtime, self.sandbox, delivery, _options(use_draft))[0].result
        else:
            result = self.bench.runtime.open_link(Inbound(
                text=link, channel=channel, channel_user_id=user_id, first_name=name,
                phone=actor.phone if actor else opener.phone.strip()), _options(use_draft))
        referrer_id = (result.referral or {}).get("referrer_id")
        roles = {result.contact_id: "opened the link"}
        if referrer_id and referrer_id != result.contact_id:
            roles[referrer_id] = "referrer"
        view = describe_action(self.bench, defs, result, roles, before, title=f"{name or 'Someone'} opened {link}",
                               use_draft=use_draft)
        with self.sandbox.session() as session:  # the open's own report, in the link box's words
            view.explanation = explain_open(session=session, text=link, result=result)
        view.referral = result.referral
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
        defs = self.prepare()
        before = self.snapshot([])
        try:
            processed = deliver(self.bench.runtime, self.sandbox, delivery, _options(use_draft))
        except MalformedWebhook as error:
            return ActionView(f"{delivery.label} webhook refused", warnings=[str(error)])
        title = f"{delivery.label} delivered the same webhook again"
        result = processed[0].result if processed else None
        if result is None:
            view = ActionView(title, warnings=["This event was already processed; nothing changed this time."])
        else:
            roles = {result.contact_id: "got the same webhook again"} if result.contact_id else {}
            view = describe_action(self.bench, defs, result, roles, before, title=title, use_draft=use_draft)
        view.webhook = WebhookView(delivery.label, delivery.pretty(), delivery,
                                   duplicate=all(item.duplicate for item in processed))
        return view

    def reply(self, contact_id: int, text: str, *, pressed: bool, use_draft: bool) -> ActionView:
        defs = self.prepare()
        with self.sandbox.session() as session:
            contact = get_contact(session=session, contact_id=contact_id)
        if contact is None:
            return ActionView("That contact is gone: the sandbox was reset.", warnings=["Open a link again."])
        before = self.snapshot([contact_id, contact.referred_by_id])
        result = self.bench.runtime.reply(channel=contact.channel, channel_user_id=contact.channel_user_id, text=text,
                                          options=_options(use_draft))
        verb = "pressed" if pressed else "replied"
        view = describe_action(self.bench, defs, result, {contact_id: verb}, before,
                               title=f"{contact.name} {verb} “{text}”", use_draft=use_draft)
        person = self.remember(view)[contact_id]
        self.record({"press" if pressed else "reply": text, "as": person.key}, view, result.to_dict(), use_draft)
        return view

    def advance(self, duration: str, *, use_draft: bool) -> ActionView:
        """Move the simulated clock forward and run every delay that is due (raises DurationError for a duration
        that is not one)."""
        forward = parse_duration(duration)
        defs = self.prepare()
        before = self.snapshot([])
        self.bench.clock.now += forward
        result = self.bench.runtime.tick(options=_options(use_draft))
        woken = f"{result.woken} waiting flow{'s' if result.woken != 1 else ''} went on" if result.woken else \
            "nothing was due"
        roles = {step["contact_id"]: "delay over" for step in result.trace if step["kind"] == "wake_up"}
        view = describe_action(self.bench, defs, result, roles, before,
                               title=f"The clock moved {duration.strip()}: {woken}", use_draft=use_draft)
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
        self.prepare()
        self.reset()
        return run_scenario(self.bench.runtime, self.bench.clock, document)

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


def _options(use_draft: bool) -> RunOptions:
    """What a page action runs: the copy the admin chose, with the seed its recorded scenario replays with."""
    return RunOptions(use_draft=use_draft, seed=SIMULATION_SEED)
