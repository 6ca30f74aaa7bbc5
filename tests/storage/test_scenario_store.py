"""Saved scenarios: save, list, rename, delete, the seeded demo, and the recording the Simulator page keeps."""

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
    ContactChange,
    Recording,
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
    with Runtime(sandbox, clock=clock, seed=1) as runtime:
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


# ---------------------------------------------------------------------------------------------- the recording


def record_referral(recording: Recording) -> None:
    ann = recording.add_person(contact_id=7, name="Ann", channel="messenger", channel_user_id="sim-1")
    recording.record({"open": "https://m.me/1?ref=giveaway2025", "as": ann.key}, "Ann opened", "draft",
                     {"messages": [{"contact_id": 7, "text": "Your link: https://m.me/1?ref=giveaway2025-c7"}]},
                     [ContactChange(7, {}, {}, [], ["giveaway"])], [7])
    bob = recording.add_person(contact_id=8, name="Bob", channel="messenger", channel_user_id="sim-2")
    recording.record({"open": "https://m.me/1?ref=giveaway2025-c7", "as": bob.key}, "Bob opened", "draft",
                     {"referral": {"status": "counted"}, "messages": [{"contact_id": 7, "text": "Bob joined!"}]},
                     [ContactChange(7, {"referral_points": 1}, {"referral_points": 2}, ["giveaway"], [])], [8, 7])


def test_recorded_steps_offer_what_happened_as_expectations() -> None:
    recording = Recording()
    record_referral(recording)
    first, second = recording.steps
    assert second.step == {"open": "https://m.me/1?ref=giveaway2025-c{{ann.id}}", "as": "bob"}
    assert [choice.label for choice in first.choices] == [
        "Ann receives “Your link: https://m.me/1?ref=giveaway2025-c7”", "Ann has the tag giveaway"]
    assert [(choice.expectation, choice.chosen) for choice in second.choices] == [
        ({"referral": "counted"}, True),
        ({"message_to": "ann", "contains": "Bob joined!"}, False),
        ({"message_to": "bob", "nothing": True}, False),
        ({"field": "referral_points", "of": "ann", "equals": 2}, False),
        ({"tag": "giveaway", "of": "ann", "present": False}, False)]


def test_the_chosen_expectations_become_a_scenario_that_names_people_by_key() -> None:
    recording = Recording()
    record_referral(recording)
    scenario = recording.to_document(chosen={(0, 0), (1, 0), (1, 3)})
    assert scenario["people"] == {"ann": {"channel": "messenger", "first_name": "Ann", "channel_user_id": "sim-1"},
                                  "bob": {"channel": "messenger", "first_name": "Bob", "channel_user_id": "sim-2"}}
    assert scenario["copy"] == "draft"
    assert scenario["steps"][0]["expect"] == [
        {"message_to": "ann", "contains": "Your link: https://m.me/1?ref=giveaway2025-c{{ann.id}}"}]
    assert scenario["steps"][1]["expect"] == [{"referral": "counted"},
                                              {"field": "referral_points", "of": "ann", "equals": 2}]
    ScenarioSave(name="Recorded", document=scenario)  # the runner accepts it


def test_two_people_with_one_name_get_two_keys() -> None:
    recording = Recording()
    keys = [recording.add_person(contact_id=n, name="Ann Lee", channel="messenger", channel_user_id=f"sim-{n}").key
            for n in (1, 2, 3)]
    assert keys == ["annlee", "annlee2", "annlee3"]


def test_what_a_recording_cannot_replay_is_refused() -> None:
    recording = Recording()
    with pytest.raises(ScenarioStoreError, match="Nothing to save yet"):
        recording.to_document(chosen=set())
    record_referral(recording)
    recording.steps[1].copy = "published"
    with pytest.raises(ScenarioStoreError, match="both the draft and the published flows"):
        recording.to_document(chosen=set())
    recording = Recording()
    recording.add_person(contact_id=3, name="Old", channel="messenger", channel_user_id="sim-3", known_before=True)
    recording.record({"reply": "hi", "as": "old"}, "Old replied", "draft", {}, [], [3])
    with pytest.raises(ScenarioStoreError, match="Old existed before the recorded steps"):
        recording.to_document(chosen=set())
