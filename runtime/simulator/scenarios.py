"""Scenarios: saved simulator steps with expectations, re-run as regression tests (docs/scenario-format.md).

A scenario runs through the same `Runtime` entry points as live processing, with its own copy of the flows and seed
(RunOptions), against a sandbox: the caller's, or for a scenario file one made from the file's workspace.
"""

import json
import re
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session

from runtime.opening import Inbound
from runtime.referral_stats import PERIOD_NAMES
from runtime.scenariodoc import check_scenario
from runtime.service import RunOptions, Runtime
from runtime.simulator.sandbox import open_sandbox, reset_sandbox
from runtime.vocabulary import BLOCKED_STATUSES, parse_duration
from storage.coupons import add_codes, list_pools
from storage.db import open_database
from storage.workspace_io import WorkspaceImportError, import_workspace

_PERSON_ID = re.compile(r"\{\{\s*(\w+)\.id\s*\}\}")


class ScenarioError(ValueError):
    """A scenario that cannot be run as written; the message names the step."""


class SimulatedClock:
    """The simulator's clock: starts at the real time and only moves when a step advances it."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = self.start = start or datetime.now(UTC)

    def restart(self) -> None:
        """Back to the real time, with nothing fast-forwarded."""
        self.now = self.start = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class StepReport:
    number: int
    description: str
    failures: list[str] = field(default_factory=list)
    result: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not self.failures


@dataclass
class ScenarioReport:
    name: str
    steps: list[StepReport]
    copy: str = "published"  # which flows ran: the published copies the live bot runs, or the drafts

    @property
    def copy_words(self) -> str:
        return "draft flows" if self.copy == "draft" else "published flows"

    @property
    def passed(self) -> bool:
        return all(step.passed for step in self.steps)

    def to_text(self) -> str:
        lines = [f"Scenario '{self.name}': {'passed' if self.passed else 'FAILED'} (ran the {self.copy_words})"]
        for step in self.steps:
            lines.append(f"  {'✓' if step.passed else '✗'} {step.number}. {step.description}")
            lines.extend(f"      {failure}" for failure in step.failures)
        failed = sum(not step.passed for step in self.steps)
        lines.append(f"  {len(self.steps) - failed} passed, {failed} failed")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "copy": self.copy, "passed": self.passed, "steps": [
            {"number": s.number, "description": s.description, "passed": s.passed, "failures": s.failures}
            for s in self.steps]}




def run_scenario(runtime: Runtime, clock: SimulatedClock, scenario: dict) -> ScenarioReport:
    """Run every step in order against the runtime's (sandbox) database, with the scenario's copy of the flows and
    seed (default 1), and check its expectations."""
    problems = check_scenario(scenario)
    if problems:
        raise ScenarioError(" ".join(problems))
    run = _Run(runtime, clock, scenario)
    return ScenarioReport(scenario.get("name", "Scenario"),
                          [run.step(number, step) for number, step in enumerate(scenario["steps"], 1)],
                          "draft" if scenario.get("copy") == "draft" else "published")


def _options_of(scenario: dict) -> RunOptions:
    """The copy of the flows and the seed a scenario runs with."""
    return RunOptions(use_draft=scenario.get("copy") == "draft", seed=scenario.get("seed", 1))


class _Run:
    def __init__(self, runtime: Runtime, clock: SimulatedClock, scenario: dict) -> None:
        self.runtime, self.clock = runtime, clock
        self.options = _options_of(scenario)
        self.people: dict[str, dict] = scenario.get("people", {})
        self.ids: dict[str, int] = {}

    def step(self, number: int, step: dict) -> StepReport:
        description, result = self.perform(step)
        report = StepReport(number, description, result=result)
        for expectation in step.get("expect", []):
            failure = self.check(expectation, result)
            if failure:
                report.failures.append(failure)
        return report

    def perform(self, step: dict) -> tuple[str, dict]:
        if "advance" in step:
            self.clock.now += parse_duration(str(step["advance"]))
            return f"advance the clock {step['advance']}", self.runtime.tick(options=self.options).to_dict()
        person = step["as"]
        profile = self.people[person]
        if "open" in step:
            link = self.fill(str(step["open"]))
            result = self.runtime.open_link(Inbound(
                text=link, channel=profile.get("channel", "messenger"), channel_user_id=self.channel_user(person),
                first_name=profile.get("first_name", person.title()), last_name=profile.get("last_name", ""),
                phone=profile.get("phone", ""), event_id=step.get("event_id")), self.options)
            self.ids[person] = result.contact_id
            return f"{person} opens {link}", result.to_dict()
        text = str(step.get("reply", step.get("press")))
        verb = "replies" if "reply" in step else "presses"
        result = self.runtime.reply(channel=profile.get("channel", "messenger"),
                                    channel_user_id=self.channel_user(person), text=text, options=self.options)
        return f"{person} {verb} '{text}'", result.to_dict()

    def check(self, expectation: dict, result: dict) -> str | None:
        if "message_to" in expectation:
            return self.check_message(expectation, result)
        if "referral" in expectation:
            status = (result.get("referral") or {}).get("status")
            wanted = expectation["referral"]
            ok = status in BLOCKED_STATUSES if wanted == "blocked" else status == wanted
            return None if ok else f"expected the referral to be {wanted}, but it was {status or 'not attempted'}"
        if "field" in expectation or "tag" in expectation:
            return self.check_contact(expectation)
        if "warning" in expectation:
            found = any(expectation["warning"].lower() in w.lower() for w in result.get("warnings", []))
            return None if found else f"expected a warning containing '{expectation['warning']}'"
        if "rank_of" in expectation or "referrals_of" in expectation:
            return self.check_board(expectation)
        if "codes_left" in expectation:
            left = self.runtime.codes_left(str(expectation["codes_left"]))
            if left is None:
                return f"there is no coupon pool called '{expectation['codes_left']}'"
            return None if left == expectation.get("equals") else \
                f"expected {expectation.get('equals')!r} codes left in '{expectation['codes_left']}', got {left}"
        if "event" in expectation:
            return self.check_event(expectation, result)
        return f"unknown expectation {expectation}"

    def check_event(self, expectation: dict, result: dict) -> str | None:
        """`{"event": "referred_second_level", "for": "zoe", "about": "ben"}`: the step fired that event in Zoe's
        context (about Ben); `"fired": false` expects it not to fire for her."""
        for key in ("for", "about"):
            if key in expectation and expectation[key] not in self.ids:
                return f"'{expectation[key]}' has not opened a link yet in this scenario"
        fired = any(event["type"] == expectation["event"]
                    and ("for" not in expectation or event["contact_id"] == self.ids[expectation["for"]])
                    and ("about" not in expectation or event.get("other_contact_id") == self.ids[expectation["about"]])
                    for event in result.get("events", []))
        if fired == expectation.get("fired", True):
            return None
        whom = f" for {expectation['for']}" if "for" in expectation else ""
        found = sorted({event["type"] for event in result.get("events", [])}) or "no events"
        return f"expected {expectation['event']}{whom} {'to' if expectation.get('fired', True) else 'not to'} " \
               f"fire in this step; the step fired: {found}"

    def check_board(self, expectation: dict) -> str | None:
        """`{"rank_of": "ann", "equals": 1}` or `{"referrals_of": "ann", "equals": 3}`, optionally with
        `"period"` (week, month, all: the default) and `"entry_point"` (a ref; default every entry point)."""
        what = "rank" if "rank_of" in expectation else "referrals"
        person = expectation.get("rank_of", expectation.get("referrals_of"))
        if person not in self.ids:
            return f"'{person}' has not opened a link yet in this scenario"
        period, ref = expectation.get("period", "all"), expectation.get("entry_point")
        if period not in PERIOD_NAMES:
            return f"'{period}' is not a leaderboard period; use week, month or all"
        entry = self.runtime.definitions().entries_by_ref.get(ref) if ref is not None else None
        if ref is not None and entry is None:
            return f"there is no entry point with the ref '{ref}'"
        rank, count = self.runtime.referral_standing(self.ids[person], entry_point_id=entry.id if entry else None,
                                                     period=period)
        actual = rank if what == "rank" else count
        if actual != expectation.get("equals"):
            board = f"{PERIOD_NAMES[period]}{f' on {ref}' if ref else ''}"
            shown = "not on the board" if actual is None else actual
            return f"expected {person}'s {what} {board} to be {expectation.get('equals')!r}, got {shown}"
        return None

    def check_message(self, expectation: dict, result: dict) -> str | None:
        person = expectation["message_to"]
        texts = [m["text"] for m in result.get("messages", []) if m["contact_id"] == self.ids.get(person)]
        if "contains" in expectation:
            wanted = self.fill(str(expectation["contains"]))
            if not any(wanted in text for text in texts):
                return f"expected {person} to receive a message containing '{wanted}'; got {texts or 'nothing'}"
        if expectation.get("nothing") and texts:
            return f"expected no message to {person}; got {texts}"
        return None

    def check_contact(self, expectation: dict) -> str | None:
        person = expectation.get("of")
        if person not in self.ids:
            return f"'{person}' has not opened a link yet in this scenario"
        fields, tags = self.runtime.contact_data(self.ids[person])
        if "field" in expectation:
            actual = fields.get(expectation["field"])
            if actual != expectation.get("equals"):
                return f"expected {person}'s {expectation['field']} to be {expectation.get('equals')!r}, got {actual!r}"
            return None
        present = expectation["tag"] in tags
        if present != expectation.get("present", True):
            return f"expected {person} {'to have' if expectation.get('present', True) else 'not to have'} " \
                   f"tag '{expectation['tag']}'; their tags: {tags or 'none'}"
        return None

    def channel_user(self, person: str) -> str:
        return str(self.people[person].get("channel_user_id", f"sim-{person}"))

    def fill(self, text: str) -> str:
        """`{{ann.id}}` becomes Ann's contact id once Ann exists."""
        return _PERSON_ID.sub(lambda m: str(self.ids.get(m[1], m[0])), text)


def run_scenario_file(path: Path, *, live_url: str) -> ScenarioReport:
    """Run one scenario file: in a fresh sandbox made from the scenario's own `workspace` file when it names one,
    else in the (reset) sandbox of the workspace at `live_url`."""
    scenario = _read_scenario(path)
    with tempfile.TemporaryDirectory(prefix="referflow-scenario-") as folder:
        if scenario.get("workspace"):
            sandbox = open_database(url=f"sqlite:///{Path(folder) / 'sandbox.db'}")
            document = _read_scenario(path.parent / scenario["workspace"], what="workspace")
            if scenario.get("settings"):
                document = {**document, "settings": {**document.get("settings", {}), **scenario["settings"]}}
            try:
                with sandbox.write_session() as session:
                    import_workspace(session=session, document=document)
                    _add_scenario_codes(session, scenario.get("coupon_codes") or {})
            except WorkspaceImportError as error:
                raise ScenarioError(f"its workspace {scenario['workspace']} cannot be imported: {error}") from None
        else:
            live = open_database(url=live_url)
            sandbox = open_sandbox(live)
            live.dispose()
            reset_sandbox(sandbox)
        clock = SimulatedClock()
        try:
            with Runtime(sandbox, clock=clock) as runtime:
                return run_scenario(runtime, clock, scenario)
        finally:
            sandbox.dispose()


def _add_scenario_codes(session: Session, codes: object) -> None:
    """A scenario's `coupon_codes` ({"pool name": ["CODE", ...]}): codes never travel in a workspace file, so a
    scenario made from one brings the codes its pools start with."""
    if not isinstance(codes, dict):
        raise ScenarioError("'coupon_codes' must map pool names to lists of codes.")
    pools = {pool.name: pool.id for pool in list_pools(session=session)}
    for name, listed in codes.items():
        if name not in pools:
            raise ScenarioError(f"'coupon_codes' names the pool '{name}', which its workspace does not have.")
        if not isinstance(listed, list) or not all(isinstance(code, str) for code in listed):
            raise ScenarioError(f"'coupon_codes' of '{name}' must be a list of codes.")
        add_codes(session=session, pool_id=pools[name], text="\n".join(listed))


def _read_scenario(path: Path, what: str = "scenario") -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ScenarioError(f"cannot read the {what} file {path}: {error.strerror}") from None
    except json.JSONDecodeError as error:
        raise ScenarioError(f"the {what} file {path} is not valid JSON (line {error.lineno}: {error.msg})") from None
