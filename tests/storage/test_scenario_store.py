"""Saved scenarios: save, list, rename, delete, and the seeded demo."""

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from runtime.opening import Inbound
from runtime.service import Runtime
from runtime.simulator.sandbox import open_sandbox
from runtime.simulator.scenarios import SimulatedClock, run_scenario
from storage.db import Database
from storage.scenarios import (
    ScenarioSave,
    ScenarioStoreError,
    delete_scenario,
    fresh_channel_user_id,
    get_scenario,
    list_scenarios,
    rename_scenario,
    save_scenario,
    seed_demo_scenario,
)
from storage.workspace_io import import_workspace

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
PEOPLE = {"ann": {"channel": "messenger", "first_name": "Ann"}}
STEPS = [{"open": "giveaway2025", "as": "ann"}]


def document(steps: list | None = None, **extra) -> dict:
    return {"format": "referflow-scenario", "version": 1, "people": PEOPLE, "steps": steps or STEPS, **extra}


def test_a_saved_scenario_is_listed_with_its_step_count(database: Database) -> None:
    with database.write_session() as session:
        save_scenario(session=session, data=ScenarioSave(name="  Ann joins ", description="first step",
                                                         document=document()))
    with database.session() as session:
        [summary] = list_scenarios(session=session)
        stored = get_scenario(session=session, scenario_id=summary.id).document
    assert (summary.name, summary.description, summary.steps) == ("Ann joins", "first step", 1)
    assert stored["name"] == "Ann joins" and stored["format"] == "referflow-scenario"


def test_a_saved_scenario_drops_the_workspace_and_settings_it_would_bring(database: Database) -> None:
    data = ScenarioSave(name="Demo", document=document(workspace="../x.json", settings={"page_id": "1"}))
    assert "workspace" not in data.document and "settings" not in data.document


@pytest.mark.parametrize(("name", "doc", "message"), [
    ("", document(), "Give the scenario a name."),
    ("x" * 81, document(), "Keep the scenario name under 80 characters."),
    ("Broken", document(steps=[{"open": "giveaway2025", "as": "zoe"}]),
     "Step 1: 'as' must name one of the scenario's people (ann)."),
    ("Broken", document(steps=[{"advance": "soon"}]), "Step 1: 'soon' is not a duration"),
])
def test_what_cannot_be_saved_is_explained(name: str, doc: dict, message: str) -> None:
    with pytest.raises(ValidationError) as error:
        ScenarioSave(name=name, document=doc)
    assert message in str(error.value)


def test_names_stay_unique_when_saving_and_renaming(database: Database) -> None:
    with database.write_session() as session:
        first = save_scenario(session=session, data=ScenarioSave(name="One", document=document()))
        save_scenario(session=session, data=ScenarioSave(name="Two", document=document()))
        with pytest.raises(ScenarioStoreError, match="A scenario called 'One' already exists"):
            save_scenario(session=session, data=ScenarioSave(name="One", document=document()))
        with pytest.raises(ScenarioStoreError, match="A scenario called 'Two' already exists"):
            rename_scenario(session=session, scenario_id=first.id, name="Two")
        renamed = rename_scenario(session=session, scenario_id=first.id, name=" Uno ")
    assert (renamed.name, renamed.document["name"]) == ("Uno", "Uno")


def test_delete_and_a_missing_scenario(database: Database) -> None:
    with database.write_session() as session:
        scenario = save_scenario(session=session, data=ScenarioSave(name="Gone soon", document=document()))
        delete_scenario(session=session, scenario_id=scenario.id)
        assert list_scenarios(session=session) == []
        with pytest.raises(ScenarioStoreError, match="There is no scenario with ID"):
            delete_scenario(session=session, scenario_id=scenario.id)


def test_the_demo_scenario_is_seeded_once_and_runs_green_in_the_demo_sandbox(database: Database) -> None:
    with database.write_session() as session:
        import_workspace(session=session, document=json.loads((FIXTURES / "referral_program.json").read_text()))
        assert seed_demo_scenario(session=session) is True
        assert seed_demo_scenario(session=session) is False
    with database.session() as session:
        [summary] = list_scenarios(session=session)
        saved = get_scenario(session=session, scenario_id=summary.id).document
    assert summary.name == "Classic referral program" and summary.steps == 6
    assert "workspace" not in saved and "settings" not in saved
    sandbox = open_sandbox(database)
    clock = SimulatedClock()
    with Runtime(sandbox, clock=clock) as runtime:
        report = run_scenario(runtime, clock, saved)
    sandbox.dispose()
    assert report.passed, report.to_text()


def test_fresh_channel_user_ids_follow_the_highest(database: Database) -> None:
    with database.session() as session:
        assert fresh_channel_user_id(session=session) == "sim-1"
    with Runtime(database) as runtime:
        for user in ("sim-1", "sim-7", "psid-99"):
            runtime.open_link(Inbound(text="hello", channel="messenger", channel_user_id=user))
    with database.session() as session:
        assert fresh_channel_user_id(session=session) == "sim-8"
