"""The flow editor's Python side: the canvas's events arrive as the browser would send them."""

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from nicegui import ui
from nicegui.testing import User

from builder.flow_editor import SAVE_DELAY
from storage.db import Database, open_database
from storage.flows import create_flow
from storage.models import Flow
from storage.workspace_io import import_workspace

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "referral_program.json"


class AppData:
    """The app's database, seen from the test, and the ids the fixture's flows got there."""

    def __init__(self, db: Database, flow_ids: dict[str, int]) -> None:
        self.db, self.flow_ids = db, flow_ids

    def session(self):
        return self.db.session()

    def write_session(self):
        return self.db.write_session()


@pytest.fixture
def app_database(app_env: Path, admin: User) -> AppData:
    """The database of the app the `admin` user is signed in to, holding the referral program fixture."""
    db = open_database(url=f"sqlite:///{app_env}")
    with db.write_session() as session:
        report = import_workspace(session=session, document=json.loads(FIXTURE.read_text()))
    yield AppData(db, {name: report.ids["flows"][number] for number, name in ((1, "Share"), (2, "Check reward"))})
    db.dispose()


def stored(db: AppData, flow_id: int) -> Flow:
    with db.session() as session:
        return session.get(Flow, flow_id)


def drawn(user: User) -> dict[str, dict]:
    """The nodes the canvas was told to draw, by id."""
    canvas = user.find(marker="canvas").elements.pop()
    return {node["id"]: node for node in canvas.nodes}


def drawn_edges(user: User) -> set[tuple[str, str, str]]:
    canvas = user.find(marker="canvas").elements.pop()
    return {(edge["source"], edge["sourceHandle"], edge["target"]) for edge in canvas.edges}


async def eventually(check: Callable[[], bool], seconds: float = SAVE_DELAY + 2) -> None:
    for _ in range(int(seconds / 0.1)):
        if check():
            return
        await asyncio.sleep(0.1)
    assert check()


def make_flow(db: AppData, name: str, nodes: list[dict], edges: list[tuple[str, str, str]]) -> int:
    document = {"schema": 1, "nodes": [{"position": {"x": 260 * n, "y": 0}, "data": {}, **node}
                                       for n, node in enumerate(nodes)],
                "edges": [{"id": f"e{n}", "source": s, "source_handle": h, "target": t}
                          for n, (s, h, t) in enumerate(edges, 1)]}
    with db.write_session() as session:
        return create_flow(session=session, name=name, document=document).id


async def test_the_editor_draws_the_flow_with_summaries_and_exits(admin: User, app_database: AppData) -> None:
    await admin.open(f"/flows/{app_database.flow_ids['Check reward']}")
    await admin.should_see("Published")
    await admin.should_see("No problems: this flow is ready to publish.")
    nodes = drawn(admin)
    assert nodes["enough"]["data"]["summary"] == "referral_points is at least 3"
    assert [exit_["label"] for exit_ in nodes["enough"]["data"]["exits"]] == ["true", "false"]
    assert nodes["tag_rewarded"]["data"]["summary"] == "Add rewarded"
    assert nodes["start"]["data"]["target"] is False and nodes["end"]["data"]["exits"] == []
    assert ("enough", "false", "progress") in drawn_edges(admin)


async def test_an_inspector_edit_is_saved_as_the_draft(admin: User, app_database: AppData) -> None:
    flow_id = app_database.flow_ids["Check reward"]
    await admin.open(f"/flows/{flow_id}")
    admin.find(marker="canvas").trigger("selected", {"nodes": ["progress"], "edges": []})
    await admin.should_see(marker="node-text")
    admin.find(marker="node-text").clear().type("Almost there, {{first_name}}!")
    await admin.should_see("Saving…")
    await eventually(lambda: stored(app_database, flow_id).draft["nodes"][4]["data"]["text"]
                     == "Almost there, {{first_name}}!")
    await admin.should_see("Saved")
    await admin.should_see("Changed since publishing")
    assert drawn(admin)["progress"]["data"]["summary"] == "Almost there, {{first_name}}!"
    assert stored(app_database, flow_id).published["nodes"][4]["data"]["text"].startswith("{{referral_points}}")


async def test_a_template_that_counts_is_fine_and_a_broken_one_is_shown_while_editing(
        admin: User, app_database: AppData) -> None:
    await admin.open(f"/flows/{app_database.flow_ids['Check reward']}")
    admin.find(marker="canvas").trigger("selected", {"nodes": ["progress"], "edges": []})
    admin.find(marker="node-text").clear().type("{{ 3 - referral_points }} more to go")
    await admin.should_see("No problems: this flow is ready to publish.", retries=50)
    admin.find(marker="node-text").clear().type("{{ 3 - referal_points }} more to go {{ first_name }")
    await admin.should_see("The message template cannot be read: unexpected '}'", retries=50)
    admin.find(marker="node-text").clear().type("{{ 3 - referal_points }} more to go")
    await admin.should_see("It inserts {{referal_points}}, but there is no field called “referal_points”",
                           retries=50)


async def test_a_message_longer_than_messenger_allows_is_a_warning_on_the_canvas(admin: User,
                                                                                app_database: AppData) -> None:
    await admin.open(f"/flows/{app_database.flow_ids['Check reward']}")
    admin.find(marker="canvas").trigger("selected", {"nodes": ["progress"], "edges": []})
    admin.find(marker="node-text").clear().type("Read this. " * 201)
    await admin.should_see("the message has 2,211 characters, more than a message may have on Messenger 2,000",
                           retries=50)
    assert drawn(admin)["progress"]["data"]["badge"] == "warning"


async def test_double_braces_alone_offer_the_workspace_fields_first(admin: User, app_database: AppData) -> None:
    await admin.open(f"/flows/{app_database.flow_ids['Check reward']}")
    admin.find(marker="canvas").trigger("selected", {"nodes": ["reward"], "edges": []})
    admin.find(marker="node-text").clear().type("You have {{")
    await admin.should_see(kind=ui.chip, content="referral_points")
    await admin.should_see(kind=ui.chip, content="coupon_code")
    assert {"referral_points", "coupon_code", "first_name"} <= {chip.text for chip in
                                                                admin.find(marker="suggestion").elements}


async def test_typing_double_braces_offers_fields(admin: User, app_database: AppData) -> None:
    await admin.open(f"/flows/{app_database.flow_ids['Check reward']}")
    admin.find(marker="canvas").trigger("selected", {"nodes": ["reward"], "edges": []})
    admin.find(marker="node-text").clear().type("You have {{referral_p")
    await admin.should_see("referral_points")
    admin.find("referral_points").click()
    assert admin.find(marker="node-text").elements.pop().value == "You have {{referral_points}}"
    assert drawn(admin)["reward"]["data"]["summary"] == "You have {{referral_points}}"


async def test_palette_drop_connect_delete_undo_redo(admin: User, app_database: AppData) -> None:
    flow_id = make_flow(app_database, "Welcome", [{"id": "start", "type": "start"}], [])
    await admin.open(f"/flows/{flow_id}")
    canvas = admin.find(marker="canvas")
    canvas.trigger("node_dropped", {"type": "send_message", "x": 300, "y": 40})
    assert drawn(admin)["send_message_1"]["position"] == {"x": 300, "y": 40}
    await admin.should_see("Send message “No text yet” is not finished. Write the message text.")
    assert drawn(admin)["send_message_1"]["data"]["badge"] == "error"

    canvas.trigger("connected", {"source": "start", "source_handle": "next", "target": "send_message_1"})
    assert ("start", "next", "send_message_1") in drawn_edges(admin)
    canvas.trigger("connected", {"source": "send_message_1", "source_handle": "next", "target": "start"})
    await admin.should_see("Nothing can lead into the Start step")
    assert len(drawn_edges(admin)) == 1

    canvas.trigger("nodes_moved", {"moves": [{"id": "send_message_1", "x": 320, "y": 80}]})
    canvas.trigger("deleted", {"nodes": ["send_message_1"], "edges": []})
    assert set(drawn(admin)) == {"start"} and not drawn_edges(admin)
    admin.find(marker="undo").click()
    assert drawn(admin)["send_message_1"]["position"] == {"x": 320, "y": 80}
    assert ("start", "next", "send_message_1") in drawn_edges(admin)
    admin.find(marker="undo").click()
    assert drawn(admin)["send_message_1"]["position"] == {"x": 300, "y": 40}
    admin.find(marker="redo").click()
    admin.find(marker="redo").click()
    assert set(drawn(admin)) == {"start"}
    await eventually(lambda: [n["id"] for n in stored(app_database, flow_id).draft["nodes"]] == ["start"])


async def test_clicking_a_palette_item_adds_it_where_the_admin_looks(admin: User, app_database: AppData) -> None:
    await admin.open(f"/flows/{app_database.flow_ids['Share']}")
    admin.find(marker="canvas").trigger("viewport", {"zoom": 1, "new_node_at": {"x": 140, "y": 300}})
    admin.find(marker="palette-delay").click()
    assert drawn(admin)["delay_1"]["position"] == {"x": 140, "y": 300}
    await admin.should_see(marker="node-delay")  # the new step is selected and its form open


async def test_buttons_get_their_own_exits_and_keep_the_connection(admin: User, app_database: AppData) -> None:
    flow_id = make_flow(app_database, "Menu", [{"id": "start", "type": "start"},
                                               {"id": "hello", "type": "send_message", "data": {"text": "Hi"}},
                                               {"id": "end", "type": "end"}],
                        [("start", "next", "hello"), ("hello", "next", "end")])
    await admin.open(f"/flows/{flow_id}")
    admin.find(marker="canvas").trigger("selected", {"nodes": ["hello"], "edges": []})
    admin.find(marker="add-button").click()
    await admin.should_see(marker="button-title")
    admin.find(marker="button-title").clear().type("Yes please")
    assert [exit_["label"] for exit_ in drawn(admin)["hello"]["data"]["exits"]] == ["Yes please"]
    assert ("hello", "b1", "end") in drawn_edges(admin)  # the plain exit's connection moved to the first button
    assert drawn(admin)["hello"]["data"]["summary"] == "Hi · buttons: Yes please"


async def test_a_number_rule_given_text_or_nothing_is_an_error_on_the_canvas(admin: User,
                                                                             app_database: AppData) -> None:
    await admin.open(f"/flows/{app_database.flow_ids['Check reward']}")
    admin.find(marker="canvas").trigger("selected", {"nodes": ["enough"], "edges": []})
    admin.find(marker="rule-value").clear().type("five")
    value = admin.find(marker="rule-value").elements.pop()
    assert value.error == "Field 'referral_points' is a number; 'five' cannot be compared with it."
    assert value.value == "five"
    await admin.should_see("“five” is not a number, so the rule on referral_points can never hold as meant.",
                           retries=50)
    assert drawn(admin)["enough"]["data"]["summary"] == "referral_points is at least “five”"
    assert drawn(admin)["enough"]["data"]["badge"] == "error"
    admin.find(marker="rule-value").clear()
    await admin.should_see("Give every rule a value to compare with", retries=50)
    admin.find(marker="rule-value").type("5")
    assert value.error is None
    await admin.should_see("No problems: this flow is ready to publish.", retries=50)
    assert drawn(admin)["enough"]["data"]["summary"] == "referral_points is at least 5"
    assert drawn(admin)["enough"]["data"]["badge"] is None


async def test_publish_is_refused_with_the_reasons(admin: User, app_database: AppData) -> None:
    flow_id = make_flow(app_database, "Half done", [{"id": "start", "type": "start"},
                                                    {"id": "ask", "type": "ask", "data": {"text": "Your plan?"}}],
                        [("start", "next", "ask")])
    await admin.open(f"/flows/{flow_id}")
    await admin.should_see("Draft · never published")
    admin.find(marker="publish").click()
    await admin.should_see("This flow cannot be published yet")
    await admin.should_see("Choose the field to save the answer in.")
    assert stored(app_database, flow_id).published is None


async def test_a_loop_that_never_waits_cannot_be_published(admin: User, app_database: AppData) -> None:
    flow_id = make_flow(app_database, "Loop", [
        {"id": "start", "type": "start"},
        {"id": "bump", "type": "set_field", "data": {"field_id": 1, "op": "increase", "value": 1}},
        {"id": "check", "type": "condition", "data": {"rules": [{"field_id": 1, "op": ">=", "value": 10}]}},
        {"id": "end", "type": "end"}],
        [("start", "next", "bump"), ("bump", "next", "check"), ("check", "false", "bump"), ("check", "true", "end")])
    await admin.open(f"/flows/{flow_id}")
    await admin.should_see("can repeat forever without waiting for the contact")
    assert drawn(admin)["bump"]["data"]["badge"] == "error"
    admin.find(marker="problem").click()  # the problem's first step is selected and its form opens
    await admin.should_see("Increase by")
    admin.find(marker="publish").click()
    await admin.should_see("This flow cannot be published yet")
    assert stored(app_database, flow_id).published is None


async def test_publish_then_discard_a_later_draft(admin: User, app_database: AppData) -> None:
    flow_id = app_database.flow_ids["Share"]
    await admin.open(f"/flows/{flow_id}")
    admin.find(marker="canvas").trigger("nodes_moved", {"moves": [{"id": "end", "x": 600, "y": 80}]})
    admin.find(marker="publish").click()
    await admin.should_see("Published: the live bot now runs this version.")
    assert stored(app_database, flow_id).published["nodes"][2]["position"] == {"x": 600, "y": 80}

    admin.find(marker="canvas").trigger("deleted", {"nodes": ["end"], "edges": []})
    await eventually(lambda: len(stored(app_database, flow_id).draft["nodes"]) == 2)
    await admin.should_see("Changed since publishing")
    admin.find(marker="discard").click()
    await admin.should_see("Discard the draft?")
    admin.find(marker="confirm-discard").click()
    await admin.should_see("Draft discarded: back to the published version.")
    assert "end" in drawn(admin)
    assert stored(app_database, flow_id).draft == stored(app_database, flow_id).published


async def test_the_flow_is_renamed_in_the_header(admin: User, app_database: AppData) -> None:
    flow_id = app_database.flow_ids["Share"]
    await admin.open(f"/flows/{flow_id}")
    admin.find(marker="flow-name").clear().type("Check reward").trigger("keydown.enter")
    name = admin.find(marker="flow-name").elements.pop()
    assert name.error == "There is already a flow called 'Check reward' (names ignore upper and lower case)."
    assert stored(app_database, flow_id).name == "Share"
    admin.find(marker="flow-name").clear().type("Share your link").trigger("blur")
    await admin.should_see("Renamed to 'Share your link'.")
    assert stored(app_database, flow_id).name == "Share your link"


async def test_problems_name_the_flow_by_its_new_name_at_once(admin: User, app_database: AppData) -> None:
    flow_id = make_flow(app_database, "Loop", [
        {"id": "start", "type": "start"},
        {"id": "bump", "type": "set_field", "data": {"field_id": 1, "op": "increase", "value": 1}},
        {"id": "check", "type": "condition", "data": {"rules": [{"field_id": 1, "op": ">=", "value": 10}]}},
        {"id": "end", "type": "end"}],
        [("start", "next", "bump"), ("bump", "next", "check"), ("check", "false", "bump"), ("check", "true", "end")])
    await admin.open(f"/flows/{flow_id}")
    await admin.should_see("In flow “Loop”, these steps can repeat forever")
    admin.find(marker="flow-name").clear().type("Points pump").trigger("blur")
    await admin.should_see("Renamed to 'Points pump'.")
    await admin.should_see("In flow “Points pump”, these steps can repeat forever")
    await admin.should_not_see("In flow “Loop”")


async def test_undoing_back_to_the_published_flow_shows_published_again(admin: User,
                                                                      app_database: AppData) -> None:
    flow_id = app_database.flow_ids["Check reward"]
    await admin.open(f"/flows/{flow_id}")
    await admin.should_see("Published", marker="flow-status")
    admin.find(marker="canvas").trigger("selected", {"nodes": ["progress"], "edges": []})
    admin.find(marker="node-text").clear().type("Almost there!")
    await admin.should_see("Changed since publishing", retries=50)
    await eventually(lambda: stored(app_database, flow_id).draft != stored(app_database, flow_id).published)
    admin.find(marker="undo").click()
    await eventually(lambda: stored(app_database, flow_id).draft == stored(app_database, flow_id).published)
    await admin.should_see("Published", marker="flow-status", retries=50)
    await admin.should_not_see(marker="discard")


async def test_a_referral_link_step_without_entry_points_creates_one_in_place(admin: User, app_env: Path) -> None:
    db = open_database(url=f"sqlite:///{app_env}")
    with db.write_session() as session:
        flow_id = create_flow(session=session, name="Share", document={"schema": 1, "nodes": [
            {"id": "start", "type": "start", "position": {"x": 0, "y": 0}, "data": {}},
            {"id": "link", "type": "send_referral_link", "position": {"x": 260, "y": 0},
             "data": {"entry_point_id": None, "text": "Share: {{link}}"}}],
            "edges": [{"id": "e1", "source": "start", "source_handle": "next", "target": "link"}]}).id
    await admin.open(f"/flows/{flow_id}")
    admin.find(marker="canvas").trigger("selected", {"nodes": ["link"], "edges": []})
    await admin.should_see(marker="create-entry-point")
    admin.find(marker="create-entry-point").click()
    admin.find(marker="new-entry-name").type("Giveaway")
    admin.find(marker="new-entry-ref").type("give away")
    admin.find(marker="confirm-create-entry-point").click()
    await admin.should_see(marker="new-entry-dialog")  # refused, with the reason on the ref
    assert next(iter(admin.find(marker="new-entry-ref").elements)).error
    admin.find(marker="new-entry-ref").clear().type("giveaway")
    admin.find(marker="confirm-create-entry-point").click()
    await admin.should_see("Entry point “Giveaway” created")
    await eventually(lambda: stored_flow(db, flow_id).draft["nodes"][1]["data"]["entry_point_id"] is not None)
    assert drawn(admin)["link"]["data"]["summary"].startswith("giveaway")
    db.dispose()


def stored_flow(db: Database, flow_id: int) -> Flow:
    with db.session() as session:
        return session.get(Flow, flow_id)


async def test_a_missing_flow_says_so(admin: User) -> None:
    await admin.open("/flows/999")
    await admin.should_see("There is no flow with ID 999; it may have been deleted.")
