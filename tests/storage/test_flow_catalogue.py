"""The flow catalogue: list, create, rename, duplicate, delete (saying who used the flow), drafts, one-flow files."""

import json

import pytest

from runtime.flowdoc import FlowDocumentError
from runtime.publishing import publish_flow
from storage.db import Database
from storage.flows import (
    EMPTY_FLOW,
    FLOW_FORMAT,
    DraftConflict,
    FlowError,
    create_flow,
    delete_flow,
    duplicate_flow,
    export_flow,
    flow_status,
    flow_users,
    import_flow,
    list_flows,
    rename_flow,
    save_draft,
)
from storage.models import EntryPoint, Flow
from tests.helpers import import_fixture

HELLO = {"schema": 1, "nodes": [
    {"id": "start", "type": "start", "position": {"x": 0, "y": 0}, "data": {}},
    {"id": "hi", "type": "send_message", "position": {"x": 260, "y": 0}, "data": {"text": "Hi!", "buttons": []}}],
    "edges": [{"id": "e1", "source": "start", "source_handle": "next", "target": "hi"}]}


@pytest.fixture
def demo(database: Database) -> Database:
    import_fixture(database)
    return database


def test_a_new_flow_starts_as_an_unpublished_draft_with_a_start_node(database: Database) -> None:
    with database.write_session() as session:
        flow = create_flow(session=session, name="  Welcome  ")
    assert flow.name == "Welcome"
    assert [node["type"] for node in flow.draft["nodes"]] == ["start"]
    assert flow.draft == EMPTY_FLOW
    with database.session() as session:
        [summary] = list_flows(session=session)
    assert (summary.id, summary.name, summary.status, summary.version) == (flow.id, "Welcome", "draft", 1)


def test_flows_are_listed_by_name_with_their_publishing_status(demo: Database) -> None:
    with demo.write_session() as session:
        create_flow(session=session, name="Abandoned cart")
        save_draft(session=session, flow_id=1, document=HELLO)  # Share: published, then edited
    with demo.session() as session:
        statuses = {flow.name: flow.status for flow in list_flows(session=session)}
        names = [flow.name for flow in list_flows(session=session)]
    assert names == ["Abandoned cart", "Check reward", "Share"]
    assert statuses == {"Abandoned cart": "draft", "Check reward": "published", "Share": "changed"}


def test_publishing_the_edited_draft_makes_it_published_again(demo: Database) -> None:
    with demo.write_session() as session:
        edited = json.loads(json.dumps(session.get(Flow, 2).draft))
        edited["nodes"][-1]["position"]["x"] += 40
        save_draft(session=session, flow_id=2, document=edited)
        assert flow_status(session.get(Flow, 2)) == "changed"
        publish_flow(session=session, flow_id=2)
        assert flow_status(session.get(Flow, 2)) == "published"


def test_a_draft_edited_back_to_the_published_copy_is_published(demo: Database) -> None:
    with demo.write_session() as session:
        published = json.loads(json.dumps(session.get(Flow, 2).published))
        edited = json.loads(json.dumps(published))
        edited["nodes"][-1]["position"]["x"] += 40
        save_draft(session=session, flow_id=2, document=edited)
        assert flow_status(session.get(Flow, 2)) == "changed"
        save_draft(session=session, flow_id=2, document=published)  # undone
        assert flow_status(session.get(Flow, 2)) == "published"


@pytest.mark.parametrize(("name", "message"), [
    ("", "Give the flow a name."),
    ("   ", "Give the flow a name."),
    ("x" * 81, "Keep the flow name under 80 characters."),
    ("Share", "There is already a flow called 'Share' (names ignore upper and lower case)."),
    (" Share ", "There is already a flow called 'Share' (names ignore upper and lower case)."),
    ("sHARE", "There is already a flow called 'Share' (names ignore upper and lower case)."),
])
def test_names_must_be_given_short_and_free(demo: Database, name: str, message: str) -> None:
    with demo.write_session() as session, pytest.raises(FlowError) as caught:
        create_flow(session=session, name=name)
    assert str(caught.value) == message
    with demo.write_session() as session, pytest.raises(FlowError) as caught:
        rename_flow(session=session, flow_id=2, name=name)
    assert str(caught.value) == message


def test_rename_keeps_the_flow_and_may_keep_its_own_name(demo: Database) -> None:
    with demo.write_session() as session:
        assert rename_flow(session=session, flow_id=1, name="Share").name == "Share"
        renamed = rename_flow(session=session, flow_id=1, name="Share your link")
    assert (renamed.id, renamed.name) == (1, "Share your link")
    with demo.session() as session:
        assert session.get(EntryPoint, 1).response_flow_id == 1  # the entry point still answers with it


def test_a_missing_flow_is_explained(database: Database) -> None:
    with database.write_session() as session, pytest.raises(FlowError, match="There is no flow with ID 9"):
        rename_flow(session=session, flow_id=9, name="x")


def test_duplicates_copy_the_draft_under_a_free_name(demo: Database) -> None:
    with demo.write_session() as session:
        save_draft(session=session, flow_id=1, document=HELLO)
        first = duplicate_flow(session=session, flow_id=1)
        second = duplicate_flow(session=session, flow_id=1)
        third = duplicate_flow(session=session, flow_id=1)
    assert [first.name, second.name, third.name] == ["Share (copy)", "Share (copy 2)", "Share (copy 3)"]
    assert first.draft == HELLO and first.published is None and flow_status(first) == "draft"


def test_delete_reports_what_used_the_flow(demo: Database) -> None:
    with demo.write_session() as session:
        jumper = create_flow(session=session, name="Jump", document={"nodes": [
            {"id": "start", "type": "start", "position": {"x": 0, "y": 0}, "data": {}},
            {"id": "go", "type": "go_to_flow", "position": {"x": 260, "y": 0}, "data": {"flow_id": 2}}],
            "edges": [{"id": "e1", "source": "start", "target": "go"}]})
    with demo.session() as session:
        before = flow_users(session=session, flow_id=2)
        assert flow_users(session=session, flow_id=jumper.id) == []
    assert before == ["trigger 'Referred a new contact'", "trigger 'Referred an existing contact'", "flow 'Jump'"]
    with demo.write_session() as session:
        assert delete_flow(session=session, flow_id=2) == before
    with demo.write_session() as session:
        assert delete_flow(session=session, flow_id=1) == ["entry point 'giveaway2025'"]
    with demo.session() as session:
        assert [flow.name for flow in list_flows(session=session)] == ["Jump"]
        assert session.get(EntryPoint, 1).response_flow_id is None


def test_drafts_are_saved_with_a_new_version_and_conflicts_refused(demo: Database) -> None:
    with demo.write_session() as session:
        saved = save_draft(session=session, flow_id=1, document=HELLO, base_version=1)
    assert (saved.version, saved.draft) == (2, HELLO)
    with demo.write_session() as session, pytest.raises(DraftConflict) as caught:
        save_draft(session=session, flow_id=1, document=EMPTY_FLOW, base_version=1)
    assert "Flow 'Share' was changed elsewhere (version 2, this editor has 1)" in str(caught.value)
    with demo.session() as session:
        assert session.get(Flow, 1).draft == HELLO


def test_a_broken_draft_is_refused_with_its_broken_parts_named(database: Database) -> None:
    with database.write_session() as session:
        flow = create_flow(session=session, name="Main")
    broken = {"nodes": [{"id": "start", "type": "start"}, {"id": "start", "type": "end"}, {"type": "end"}],
              "edges": [{"id": "e1", "source": "start"}]}
    with database.write_session() as session, pytest.raises(FlowDocumentError) as caught:
        save_draft(session=session, flow_id=flow.id, document=broken)
    assert "Node #3: 'id' is missing." in caught.value.problems
    assert "Connection 'e1': 'target' is missing." in caught.value.problems
    with database.session() as session:
        assert session.get(Flow, flow.id).version == 1


def test_export_then_import_makes_an_equal_flow_under_a_free_name(demo: Database) -> None:
    with demo.session() as session:
        exported = export_flow(session=session, flow_id=2)
    assert (exported["format"], exported["version"], exported["name"]) == (FLOW_FORMAT, 1, "Check reward")
    text = json.dumps(exported)  # what travels in the file
    with demo.write_session() as session:
        first = import_flow(session=session, document=json.loads(text))
        second = import_flow(session=session, document=json.loads(text))
    assert [first.name, second.name] == ["Check reward (2)", "Check reward (3)"]
    assert first.draft == exported["flow"] and flow_status(first) == "draft"


@pytest.mark.parametrize("document", [
    [], "flow", {"name": "x", "flow": EMPTY_FLOW}, {"format": "referflow-workspace", "version": 1}])
def test_import_refuses_what_is_not_a_flow_export(database: Database, document: object) -> None:
    with database.write_session() as session, pytest.raises(FlowError, match="not a Referflow flow export"):
        import_flow(session=session, document=document)


def test_import_names_the_broken_parts_of_a_flow(database: Database) -> None:
    document = {"format": FLOW_FORMAT, "version": 1, "name": "Bad", "flow": {
        "nodes": [{"id": "a", "type": "start", "position": {"x": "left"}}], "edges": "none"}}
    with database.write_session() as session, pytest.raises(FlowDocumentError) as caught:
        import_flow(session=session, document=document)
    assert caught.value.problems == ["Node 'a': 'position.x' must be a number.", "The flow: 'edges' must be a list."]
    with database.session() as session:
        assert list_flows(session=session) == []


def test_import_without_a_name_uses_a_placeholder(database: Database) -> None:
    with database.write_session() as session:
        flow = import_flow(session=session, document={"format": FLOW_FORMAT, "flow": HELLO})
    assert flow.name == "Imported flow"


def test_a_node_without_a_position_is_placed_at_the_origin(database: Database) -> None:
    with database.write_session() as session:
        flow = create_flow(session=session, name="Bare", document={"nodes": [{"id": "start", "type": "start"}],
                                                                   "edges": []})
    assert flow.draft["nodes"][0]["position"] == {"x": 0, "y": 0}
