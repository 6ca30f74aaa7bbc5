"""Draft and published copies: publishing refuses a flow with errors, and says why."""

import json
from pathlib import Path

import pytest

from runtime.publishing import FlowChecks, discard_draft, names_of, publish_flow, workspace_problems
from runtime.validation import InvalidFlowError
from storage.db import Database
from storage.fields_tags import load_choices
from storage.models import Flow
from tests.helpers import import_fixture

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "referral_program.json"


@pytest.fixture
def demo(database: Database) -> Database:
    import_fixture(database)
    return database


def edit_draft(database: Database, flow_id: int, change) -> None:
    with database.write_session() as session:
        flow = session.get(Flow, flow_id)
        draft = json.loads(json.dumps(flow.draft))
        change(draft)
        flow.draft = draft
        flow.version += 1
        session.add(flow)


def test_a_valid_draft_is_published(demo: Database) -> None:
    edit_draft(demo, 2, lambda d: d["nodes"][2]["data"].update(text="Well done! Code: FRIENDS3"))
    with demo.write_session() as session:
        flow = publish_flow(session=session, flow_id=2)
    assert flow.published["nodes"][2]["data"]["text"] == "Well done! Code: FRIENDS3"
    assert flow.published_version == flow.version


def test_publishing_a_loop_that_never_waits_is_refused(demo: Database) -> None:
    def loop(draft: dict) -> None:  # the reward message leads back to the condition
        draft["edges"].append({"id": "back", "source": "tag_rewarded", "source_handle": "next", "target": "enough"})
        draft["edges"] = [e for e in draft["edges"] if e["id"] != "e4"]

    edit_draft(demo, 2, loop)
    with demo.write_session() as session, pytest.raises(InvalidFlowError) as refused:
        publish_flow(session=session, flow_id=2)
    assert [issue.code for issue in refused.value.issues] == ["unguarded_cycle"]
    assert "never waits" in str(refused.value) or "wait" in refused.value.issues[0].message
    with demo.session() as session:
        assert session.get(Flow, 2).published["edges"] == json.loads(FIXTURE.read_text())["flows"][1]["published"][
            "edges"]  # the live copy is untouched


def test_publishing_a_flow_with_a_missing_setting_is_refused(demo: Database) -> None:
    edit_draft(demo, 1, lambda d: d["nodes"][1]["data"].pop("entry_point_id"))
    with demo.write_session() as session, pytest.raises(InvalidFlowError) as refused:
        publish_flow(session=session, flow_id=1)
    assert {issue.code for issue in refused.value.issues} == {"missing_setting"}


def test_problems_of_other_flows_do_not_block_publishing(demo: Database) -> None:
    edit_draft(demo, 1, lambda d: d["nodes"][1]["data"].pop("entry_point_id"))
    with demo.write_session() as session:
        publish_flow(session=session, flow_id=2)
        assert any(p.code == "missing_setting" for p in workspace_problems(session=session))
        assert not [p for p in workspace_problems(session=session, use_draft=False) if p.severity == "error"]


def test_discarding_a_draft_brings_back_the_published_copy(demo: Database) -> None:
    edit_draft(demo, 1, lambda d: d["nodes"].append(
        {"id": "x", "type": "end", "position": {"x": 0, "y": 0}, "data": {}}))
    with demo.write_session() as session:
        flow = discard_draft(session=session, flow_id=1)
        assert flow.draft == flow.published


def go_to(flow_id: int) -> dict:
    return {"schema": 1, "nodes": [{"id": "start", "type": "start", "position": {"x": 0, "y": 0}, "data": {}},
                                   {"id": "jump", "type": "go_to_flow", "position": {"x": 260, "y": 0},
                                    "data": {"flow_id": flow_id}}],
            "edges": [{"id": "e1", "source": "start", "source_handle": "next", "target": "jump"}]}


def test_an_editors_checks_see_what_another_admin_changed_meanwhile(demo: Database) -> None:
    checks = FlowChecks(1)  # flow "Share" open in an editor: it jumps to "Check reward"
    with demo.session() as session:
        index = names_of(load_choices(session=session))
        assert checks.problems(session=session, document=go_to(2), index=index) == []
        assert checks.problems(session=session, document=go_to(2), index=index) == []  # the same on the next edit
    edit_draft(demo, 2, lambda draft: draft.update(go_to(1)))  # someone makes "Check reward" jump back
    with demo.session() as session:
        problems = checks.problems(session=session, document=go_to(2), index=index)
    assert [problem.code for problem in problems] == ["unguarded_cycle"]
    assert set(problems[0].node_ids) == {"start", "jump"}  # this flow's steps, marked on its canvas
