"""Saved simulator scenarios (the `scenario` table; docs/scenario-format.md) and the demo scenario seeded on a first
start. The Simulator's recording, which becomes a scenario, is runtime/simulator/recording.py.

Decisions where the brief was silent:
- A saved scenario never names a `workspace` or `settings`: in the builder it runs in the workspace's own sandbox.
- Scenario names are unique and at most 80 characters; saving under a taken name is refused, never overwritten.
"""

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, field_validator, model_validator
from sqlmodel import Session, func, select

from runtime.scenariodoc import FORMAT, check_scenario
from storage.models import Scenario, utcnow
from storage.names import Stripped

DEMO_SCENARIO = Path(__file__).resolve().parents[1] / "assets" / "scenarios" / "referral_program.json"
SANDBOX_ONLY = ("workspace", "settings")  # keys a saved scenario drops: it runs in the workspace's sandbox
NAME_LIMIT = 80


class ScenarioStoreError(ValueError):
    """A scenario that cannot be saved, renamed or found; the message is for the admin."""


class ScenarioSave(BaseModel):
    """A scenario as the Simulator page saves it; `document` is checked with the same rules the runner uses."""

    name: Stripped
    description: Stripped = ""
    document: dict[str, Any]

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
