"""The simulator's sandbox mirrors definitions, holds only simulated people, and runs scenarios."""

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from runtime.opening import Inbound
from runtime.service import Runtime
from runtime.simulator.sandbox import open_sandbox, reset_sandbox, sandbox_url, sync_definitions
from runtime.simulator.scenarios import ScenarioError, SimulatedClock, run_scenario
from storage.db import Database, open_database
from storage.models import CustomField, EntryPoint
from storage.workspace_io import import_workspace

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
SCENARIO = json.loads((FIXTURES / "scenarios" / "referral_program.json").read_text())


@pytest.fixture
def live(database: Database) -> Database:
    with database.write_session() as session:
        import_workspace(session=session, document=json.loads((FIXTURES / "referral_program.json").read_text()))
    with Runtime(database) as runtime:
        runtime.open_link(Inbound(text="giveaway2025", channel="messenger", channel_user_id="real-person"))
    return database


def count(database: Database, table: str) -> int:
    with database.engine.connect() as connection:
        return connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()


def test_the_sandbox_sits_next_to_the_live_file() -> None:
    assert sandbox_url("sqlite:////srv/data/referflow.db") == "sqlite:////srv/data/referflow.sandbox.db"


def test_definitions_are_mirrored_with_their_ids_but_no_live_contact(live: Database) -> None:
    sandbox = open_sandbox(live)
    for table in ("custom_field", "tag", "flow", "entry_point", "trigger", "workspace_settings"):
        assert count(sandbox, table) == count(live, table) > 0
    assert count(sandbox, "contact") == 0 and count(live, "contact") == 1
    with sandbox.session() as session:
        assert session.get(EntryPoint, 1).ref == "giveaway2025"
    sandbox.dispose()


def test_simulated_people_never_reach_the_live_database(live: Database) -> None:
    sandbox = open_sandbox(live)
    with Runtime(sandbox) as runtime:
        runtime.open_link(Inbound(text="giveaway2025", channel="messenger", channel_user_id="sim-ann"))
    assert count(sandbox, "contact") == 1 and count(live, "contact") == 1
    assert count(live, "link_open") == 1
    reset_sandbox(sandbox)
    assert count(sandbox, "contact") == 0 and count(sandbox, "custom_field") == 4
    assert count(live, "contact") == 1
    sandbox.dispose()


def test_resyncing_follows_edits_and_deletions(live: Database) -> None:
    sandbox = open_sandbox(live)
    with live.write_session() as session:
        session.get(CustomField, 2).name = "voucher"
        session.add(CustomField(name="newsletter", type="boolean"))
    with live.write_session() as session:
        session.delete(session.get(CustomField, 4))
    sync_definitions(live=live, sandbox=sandbox)
    with sandbox.session() as session:
        names = sorted(session.exec(sa.select(CustomField.name)).scalars())
    assert names == ["newsletter", "plan", "referral_points", "voucher"]
    sandbox.dispose()


def test_the_demo_scenario_passes_in_the_sandbox(live: Database) -> None:
    sandbox = open_sandbox(live)
    clock = SimulatedClock()
    with Runtime(sandbox, clock=clock) as runtime:
        report = run_scenario(runtime, clock, SCENARIO)
    assert report.passed, report.to_text()
    assert len(report.steps) == 6
    sandbox.dispose()


def test_a_failing_expectation_shows_the_difference(live: Database) -> None:
    scenario = json.loads(json.dumps(SCENARIO))
    scenario["steps"][1]["expect"] = [{"field": "referral_points", "of": "ann", "equals": 5},
                                      {"referral": "blocked"}]
    sandbox = open_sandbox(live)
    clock = SimulatedClock()
    with Runtime(sandbox, clock=clock) as runtime:
        report = run_scenario(runtime, clock, scenario)
    assert not report.passed
    assert report.steps[1].failures == ["expected ann's referral_points to be 5, got 1",
                                        "expected the referral to be blocked, but it was counted"]
    assert "✗ 2. bob opens" in report.to_text()
    sandbox.dispose()


@pytest.mark.parametrize(
    ("scenario", "message"),
    [
        ({"format": "nope"}, "\"format\": \"referflow-scenario\""),
        ({"format": "referflow-scenario", "steps": []}, "no steps"),
        ({"format": "referflow-scenario", "people": {"ann": {}}, "steps": [{"open": "x", "as": "bob"}]},
         "Step 1: 'as' must name one of the scenario's people (ann)."),
        ({"format": "referflow-scenario", "steps": [{"advance": "soon"}]}, "Step 1: 'soon' is not a duration"),
    ],
)
def test_broken_scenarios_are_refused(tmp_path: Path, scenario: dict, message: str) -> None:
    database = open_database(url=f"sqlite:///{tmp_path / 'x.db'}")
    with Runtime(database) as runtime, pytest.raises(ScenarioError) as refused:
        run_scenario(runtime, SimulatedClock(), scenario)
    assert message in str(refused.value)
    database.dispose()
