"""The Simulator's recording: the steps done in the sandbox since the last reset, the people involved, and the
expectations an admin can pick from what happened; `to_document` turns it into a scenario (docs/scenario-format.md).

Decisions where the brief was silent:
- A recorded contact id inside a link or a message (`giveaway2025-c7`) becomes `{{ann.id}}`: ids change on replay.
- A scenario runs one copy of the flows; steps recorded with both the draft and the published copy are refused.
"""

import json
import re
from dataclasses import dataclass, field
from typing import Any

from runtime.scenariodoc import FORMAT
from runtime.vocabulary import BLOCKED_STATUSES, REFERRAL_OUTCOMES

SIMULATION_SEED = 1  # the seed of the Simulator page's random draws, saved with a recording so a replay draws the same


class RecordingError(ValueError):
    """Recorded steps that cannot become a scenario; the message says what to do."""


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
            raise RecordingError("Nothing to save yet: open a link first. The steps since the last reset of the "
                                     "sandbox become the scenario.")
        copies = {step.copy for step in self.steps}
        if len(copies) > 1:
            raise RecordingError("The steps ran both the draft and the published flows; a scenario runs one of "
                                     "them. Reset the sandbox and record the steps again with one copy.")
        steps = [step.step | ({"expect": expect} if (expect := [
            choice.expectation for index, choice in enumerate(step.choices) if (number, index) in chosen]) else {})
            for number, step in enumerate(self.steps)]
        people = self._people_named(json.dumps(steps, ensure_ascii=False))
        return {"format": FORMAT, "version": 1, "copy": copies.pop(), "seed": SIMULATION_SEED,
                "people": {person.key: person.profile() for person in people}, "steps": steps}

    def _people_named(self, steps_text: str) -> list[SimulatedPerson]:
        named = [person for person in self.people.values()
                 if re.search(rf'"(as|message_to|of)": "{person.key}"|\{{\{{{person.key}\.id\}}\}}', steps_text)]
        early = [person.name for person in named if person.known_before]
        if early:
            raise RecordingError(f"{', '.join(early)} existed before the recorded steps (simulated before the "
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
    if status not in REFERRAL_OUTCOMES or status == "no_entry_point":
        return []
    choices = [ExpectationChoice(f"The referral is {REFERRAL_OUTCOMES[status]}", {"referral": status}, chosen=True)]
    if status in BLOCKED_STATUSES:
        choices.append(ExpectationChoice("The referral is not counted (any reason)", {"referral": "blocked"}))
    return choices


def _short(text: str, limit: int = 70) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"
