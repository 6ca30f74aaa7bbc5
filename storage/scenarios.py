"""Saved simulator scenarios (the `scenario` table; docs/scenario-format.md), the demo scenario seeded on a first start,
and the Simulator page's recording: the steps done in the sandbox since the last reset, the people involved, and the
expectations an admin can pick from what happened.

Decisions where the brief was silent:
- A saved scenario never names a `workspace` or `settings`: in the builder it runs in the workspace's own sandbox.
- Scenario names are unique and at most 80 characters; saving under a taken name is refused, never overwritten.
- A recorded contact id inside a link or a message (`giveaway2025-c7`) becomes `{{ann.id}}`: ids change on replay.
- A scenario runs one copy of the flows; steps recorded with both the draft and the published copy are refused.
"""

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, field_validator, model_validator
from sqlmodel import Session, func, select

from runtime.simulator.scenarios import BLOCKED, FORMAT, check_scenario
from storage.models import Scenario, utcnow

DEMO_SCENARIO = Path(__file__).resolve().parents[1] / "assets" / "scenarios" / "referral_program.json"
SANDBOX_ONLY = ("workspace", "settings")  # keys a saved scenario drops: it runs in the workspace's sandbox
NAME_LIMIT = 80
REFERRAL_WORDS = {"counted": "counted", "repeat": "counted again", "duplicate": "not counted again (duplicate)",
                  "self": "blocked (self-referral)", "unknown_referrer": "blocked (unknown referrer)",
                  "disabled": "blocked (referrals are off)", "no_entry_point": "ignored (no entry point)"}


class ScenarioStoreError(ValueError):
    """A scenario that cannot be saved, renamed or found; the message is for the admin."""


class ScenarioSave(BaseModel):
    """A scenario as the Simulator page saves it; `document` is checked with the same rules the runner uses."""

    name: str
    description: str = ""
    document: dict[str, Any]

    @field_validator("name", "description", mode="before")
    @classmethod
    def strip(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else value

    @field_validator("name")
    @classmethod
    def check_name(cls, value: str) -> str:
        return _check_name(value)

    @model_validator(mode="after")
    def check_document(self) -> "ScenarioSave":
        document = {key: value for key, value in self.document.items() if key not in SANDBOX_ONLY}
        document.update(format=FORMAT, version=document.get("version", 1), name=self.name)
        if self.description:
            document["description"] = self.description
        problems = check_scenario(document)
        if problems:
            raise ValueError(" ".join(problems))
        self.document = document
        return self


@dataclass(frozen=True)
class ScenarioSummary:
    id: int
    name: str
    description: str
    steps: int
    updated_at: datetime


def list_scenarios(*, session: Session) -> list[ScenarioSummary]:
    return [ScenarioSummary(row.id, row.name, str(row.document.get("description", "")),
                            len(row.document.get("steps", [])), row.updated_at)
            for row in session.exec(select(Scenario).order_by(Scenario.name)).all()]


def get_scenario(*, session: Session, scenario_id: int) -> Scenario:
    scenario = session.get(Scenario, scenario_id)
    if scenario is None:
        raise ScenarioStoreError(f"There is no scenario with ID {scenario_id}; it may have been deleted.")
    return scenario


def save_scenario(*, session: Session, data: ScenarioSave) -> Scenario:
    _refuse_taken_name(session, data.name)
    scenario = Scenario(name=data.name, document=data.document)
    session.add(scenario)
    session.flush()
    return scenario


def rename_scenario(*, session: Session, scenario_id: int, name: str) -> Scenario:
    scenario = get_scenario(session=session, scenario_id=scenario_id)
    try:
        name = _check_name((name or "").strip())
    except ValueError as error:
        raise ScenarioStoreError(str(error)) from None
    _refuse_taken_name(session, name, scenario_id)
    scenario.name = name
    scenario.document = {**scenario.document, "name": name}
    scenario.updated_at = utcnow()
    session.add(scenario)
    session.flush()
    return scenario


def delete_scenario(*, session: Session, scenario_id: int) -> None:
    session.delete(get_scenario(session=session, scenario_id=scenario_id))
    session.flush()


def seed_demo_scenario(*, session: Session) -> bool:
    """When no scenario is saved yet, save the demo scenario's people and steps (without its workspace and settings)
    and return True; otherwise do nothing and return False."""
    if session.exec(select(func.count()).select_from(Scenario)).one():
        return False
    document = json.loads(DEMO_SCENARIO.read_text(encoding="utf-8"))
    save_scenario(session=session, data=ScenarioSave(name=document["name"], description=document.get(
        "description", ""), document=document))
    return True


def fresh_channel_user_id(*, session: Session) -> str:
    """`sim-<n>`, one more than the highest such id in the (sandbox) database."""
    if session.get_bind().dialect.name == "postgresql":  # the simulator's sandbox is SQLite; tests also run here
        highest = ("SELECT max(CAST(substring(channel_user_id FROM '^sim-([0-9]{1,18})') AS BIGINT)) FROM contact"
                   " WHERE channel_user_id LIKE 'sim-%'")
    else:
        highest = ("SELECT max(CAST(substr(channel_user_id, 5) AS INTEGER)) FROM contact"
                   " WHERE channel_user_id GLOB 'sim-[0-9]*'")
    numbers = session.connection().execute(sa.text(highest)).scalar()
    return f"sim-{(numbers or 0) + 1}"


def _check_name(value: str) -> str:
    if not value:
        raise ValueError("Give the scenario a name.")
    if len(value) > NAME_LIMIT:
        raise ValueError(f"Keep the scenario name under {NAME_LIMIT} characters.")
    return value


def _refuse_taken_name(session: Session, name: str, scenario_id: int | None = None) -> None:
    other = session.exec(select(Scenario.id).where(Scenario.name == name)).first()
    if other is not None and other != scenario_id:
        raise ScenarioStoreError(f"A scenario called '{name}' already exists; choose another name.")


# ---------------------------------------------------------------------------------------------- the recording


@dataclass
class SimulatedPerson:
    key: str  # the scenario's short name for the person: "ann"
    contact_id: int
    name: str
    channel: str
    channel_user_id: str
    phone: str = ""
    known_before: bool = False  # existed before the recording began (it cannot create them on replay)

    def profile(self) -> dict[str, str]:
        profile = {"channel": self.channel, "first_name": self.name, "channel_user_id": self.channel_user_id}
        return profile | ({"phone": self.phone} if self.phone else {})


@dataclass(frozen=True)
class ContactChange:
    """One contact's custom fields and tags read before and after a simulated action."""

    contact_id: int
    fields_before: dict[str, Any]
    fields_after: dict[str, Any]
    tags_before: list[str]
    tags_after: list[str]

    def changed_fields(self) -> list[tuple[str, Any, Any]]:
        names = dict.fromkeys([*self.fields_before, *self.fields_after])
        return [(name, self.fields_before.get(name), self.fields_after.get(name)) for name in names
                if self.fields_before.get(name) != self.fields_after.get(name)]

    @property
    def tags_added(self) -> list[str]:
        return [tag for tag in self.tags_after if tag not in self.tags_before]

    @property
    def tags_removed(self) -> list[str]:
        return [tag for tag in self.tags_before if tag not in self.tags_after]


@dataclass(frozen=True)
class ExpectationChoice:
    label: str
    expectation: dict[str, Any]
    chosen: bool = False


@dataclass
class RecordedStep:
    step: dict[str, Any]  # a scenario step without its expectations
    description: str
    copy: str  # "draft" or "published"
    choices: list[ExpectationChoice] = field(default_factory=list)


class Recording:
    """What the admin did in the sandbox since the last reset, kept as scenario steps."""

    def __init__(self) -> None:
        self.people: dict[int, SimulatedPerson] = {}
        self.steps: list[RecordedStep] = []

    def clear(self) -> None:
        self.people.clear()
        self.steps.clear()

    def add_person(self, *, contact_id: int, name: str, channel: str, channel_user_id: str, phone: str = "",
                   known_before: bool = False) -> SimulatedPerson:
        """The person for a contact, remembered the first time they take part."""
        if contact_id not in self.people:
            taken = {person.key for person in self.people.values()}
            base = re.sub(r"\W", "", name.lower()) or "person"
            key = next(f"{base}{n or ''}" for n in range(len(taken) + 2) if f"{base}{n or ''}" not in taken
                       and n != 1)
            self.people[contact_id] = SimulatedPerson(key, contact_id, name or key.title(), channel,
                                                      channel_user_id, phone, known_before)
        return self.people[contact_id]

    def record(self, step: dict[str, Any], description: str, copy: str, result: dict[str, Any],
               changes: list[ContactChange], involved: list[int]) -> RecordedStep:
        """Keep one step (`open`/`reply`/`press` with `as`, or `advance`) with the expectations the admin may pick
        from its result (the runtime's to_dict()), the contacts' changes and everyone involved."""
        step = dict(step)
        if "open" in step:
            step["open"] = self.fill_ids(step["open"])
        recorded = RecordedStep(step, description, copy, self._choices(result, changes, involved))
        self.steps.append(recorded)
        return recorded

    def fill_ids(self, text: str) -> str:
        """`-c7` becomes `-c{{ann.id}}` for every recorded person: ids differ when a scenario is replayed."""
        for contact_id, person in self.people.items():
            text = re.sub(rf"-c{contact_id}(?!\d)", f"-c{{{{{person.key}.id}}}}", text)
        return text

    def to_document(self, *, chosen: set[tuple[int, int]]) -> dict[str, Any]:
        """The scenario of every recorded step, with the expectations at the chosen (step index, choice index)."""
        if not self.steps:
            raise ScenarioStoreError("Nothing to save yet: open a link first. The steps since the last reset of the "
                                     "sandbox become the scenario.")
        copies = {step.copy for step in self.steps}
        if len(copies) > 1:
            raise ScenarioStoreError("The steps ran both the draft and the published flows; a scenario runs one of "
                                     "them. Reset the sandbox and record the steps again with one copy.")
        steps = [step.step | ({"expect": expect} if (expect := [
            choice.expectation for index, choice in enumerate(step.choices) if (number, index) in chosen]) else {})
            for number, step in enumerate(self.steps)]
        people = self._people_named(json.dumps(steps, ensure_ascii=False))
        return {"format": FORMAT, "version": 1, "copy": copies.pop(), "seed": 1,
                "people": {person.key: person.profile() for person in people}, "steps": steps}

    def _people_named(self, steps_text: str) -> list[SimulatedPerson]:
        named = [person for person in self.people.values()
                 if re.search(rf'"(as|message_to|of)": "{person.key}"|\{{\{{{person.key}\.id\}}\}}', steps_text)]
        early = [person.name for person in named if person.known_before]
        if early:
            raise ScenarioStoreError(f"{', '.join(early)} existed before the recorded steps (simulated before the "
                                     "app restarted, or by a scenario run), so a scenario could not create them. "
                                     "Reset the sandbox and record the steps again.")
        return named

    def _choices(self, result: dict[str, Any], changes: list[ContactChange],
                 involved: list[int]) -> list[ExpectationChoice]:
        choices = _referral_choices(result.get("referral"))
        received = set()
        for message in result.get("messages", []):
            person = self.people.get(message["contact_id"])
            if person is not None:
                received.add(person.contact_id)
                text = self.fill_ids(message["text"])
                choices.append(ExpectationChoice(f"{person.name} receives “{_short(message['text'])}”",
                                                 {"message_to": person.key, "contains": text}))
        for contact_id in involved:
            if contact_id not in received and contact_id in self.people:
                person = self.people[contact_id]
                choices.append(ExpectationChoice(f"{person.name} receives nothing",
                                                 {"message_to": person.key, "nothing": True}))
        for change in changes:
            choices.extend(self._change_choices(change))
        return choices

    def _change_choices(self, change: ContactChange) -> list[ExpectationChoice]:
        person = self.people.get(change.contact_id)
        if person is None:
            return []
        choices = [ExpectationChoice(f"{person.name}'s {name} is {json.dumps(after, ensure_ascii=False)}",
                                     {"field": name, "of": person.key, "equals": after})
                   for name, _, after in change.changed_fields()]
        choices += [ExpectationChoice(f"{person.name} has the tag {tag}", {"tag": tag, "of": person.key,
                                                                             "present": True})
                    for tag in change.tags_added]
        choices += [ExpectationChoice(f"{person.name} no longer has the tag {tag}",
                                      {"tag": tag, "of": person.key, "present": False}) for tag in change.tags_removed]
        return choices


def _referral_choices(referral: dict[str, Any] | None) -> list[ExpectationChoice]:
    status = (referral or {}).get("status")
    if status not in REFERRAL_WORDS or status == "no_entry_point":
        return []
    choices = [ExpectationChoice(f"The referral is {REFERRAL_WORDS[status]}", {"referral": status}, chosen=True)]
    if status in BLOCKED:
        choices.append(ExpectationChoice("The referral is not counted (any reason)", {"referral": "blocked"}))
    return choices


def _short(text: str, limit: int = 70) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"
