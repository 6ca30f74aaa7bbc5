"""The flow canvas in real Chromium: drawing, dragging from the palette, connecting handles with the mouse, live
validation badges, publishing, and what survives a reload."""

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from storage.db import open_database
from storage.flows import create_flow
from storage.workspace_io import import_workspace
from tests.e2e.helpers import LiveApp, screenshot, visit

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "referral_program.json"
SAVE_WAIT = 1200  # ms: more than the editor's save delay


@pytest.fixture(scope="module")
def flows(live_app: LiveApp) -> Iterator[dict[str, int]]:
    """Flow ids by name in the live app: the referral program's two flows, a new flow and one with a bad loop."""
    db = open_database(url=f"sqlite:///{live_app.db_path}")
    with db.write_session() as session:
        report = import_workspace(session=session, document=json.loads(FIXTURE.read_text()))
        ids = {"Share": report.ids["flows"][1], "Check reward": report.ids["flows"][2]}
        ids["Welcome"] = create_flow(session=session, name="Welcome").id
        ids["Counting"] = create_flow(session=session, name="Counting", document=_loop_document()).id
    db.dispose()
    yield ids


def _loop_document() -> dict:
    nodes = [("start", "start", {}), ("bump", "set_field", {"field_id": 1, "op": "increase", "value": 1}),
             ("check", "condition", {"rules": [{"field_id": 1, "op": ">=", "value": 10}]}), ("end", "end", {})]
    edges = [("start", "next", "bump"), ("bump", "next", "check"), ("check", "false", "bump"), ("check", "true", "end")]
    return {"schema": 1,
            "nodes": [{"id": i, "type": t, "position": {"x": 260 * n, "y": 40 * (n % 2)}, "data": d}
                      for n, (i, t, d) in enumerate(nodes)],
            "edges": [{"id": f"e{n}", "source": s, "source_handle": h, "target": t}
                      for n, (s, h, t) in enumerate(edges, 1)]}


def open_flow(page: Page, live_app: LiveApp, flow_id: int, nodes: int) -> None:
    visit(page, f"{live_app.url}/flows/{flow_id}")
    expect(page.locator(".vue-flow__node")).to_have_count(nodes)
    page.wait_for_timeout(400)  # the first fit of the view


def node(page: Page, node_id: str) -> Locator:
    return page.locator(f'.vue-flow__node[data-id="{node_id}"]')


def drag(page: Page, source: Locator, target: Locator) -> None:
    """Press on the middle of `source`, move in small steps (Vue Flow follows the pointer), release on `target`."""
    start, end = _middle(source), _middle(target)
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(start[0] + 12, start[1] + 6, steps=4)
    page.mouse.move(*end, steps=10)
    page.mouse.up()


def _middle(locator: Locator) -> tuple[float, float]:
    box = locator.bounding_box()
    assert box is not None
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def overlapping(page: Page) -> list[tuple[str, str]]:
    boxes = {n.get_attribute("data-id"): n.bounding_box() for n in page.locator(".vue-flow__node").all()}
    ids = sorted(boxes)
    return [(a, b) for i, a in enumerate(ids) for b in ids[i + 1:] if _intersect(boxes[a], boxes[b])]


def _intersect(a: dict, b: dict) -> bool:
    return (a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"]
            and a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"])


@pytest.mark.parametrize(("name", "nodes", "edges", "texts"), [
    ("Share", 3, 2, ["Send referral link", "giveaway2025"]),
    ("Check reward", 6, 6, ["referral_points is at least 3", "true", "false", "Add rewarded",
                            "You did it, {{first_name}}!"]),
])
def test_the_demo_flows_read_well(admin_page: Page, live_app: LiveApp, flows: dict, name: str, nodes: int,
                                  edges: int, texts: list[str]) -> None:
    page = admin_page
    open_flow(page, live_app, flows[name], nodes)
    expect(page.locator(".vue-flow__edge")).to_have_count(edges)
    for text in texts:
        expect(page.locator(".vue-flow__node").get_by_text(text).first).to_be_visible()
    expect(page.get_by_text("No problems: this flow is ready to publish.")).to_be_visible()
    assert overlapping(page) == []
    zoom = page.locator(".vue-flow__transformationpane").evaluate("e => new DOMMatrix(getComputedStyle(e).transform).a")
    assert zoom >= 0.7, f"the whole flow fits only at zoom {zoom:.2f}: too small to read"
    expect(page.locator(".vue-flow__minimap")).to_have_count(0)  # everything is in view: no map needed
    screenshot(page, f"canvas-{name.lower().replace(' ', '-')}")
    page.locator(".vue-flow__controls-zoomin").click()
    page.locator(".vue-flow__controls-zoomin").click()
    expect(page.locator(".vue-flow__minimap")).to_be_visible()  # part of the flow is out of view now


def test_build_a_flow_with_the_mouse_publish_and_reload(admin_page: Page, live_app: LiveApp, flows: dict) -> None:
    page = admin_page
    open_flow(page, live_app, flows["Welcome"], 1)
    expect(page.get_by_text("Draft · never published")).to_be_visible()

    start = node(page, "start").bounding_box()
    pane = page.locator(".vue-flow__pane")
    pane_box = pane.bounding_box()
    page.locator(".q-card").get_by_text("Send message", exact=True).drag_to(pane, target_position={
        "x": start["x"] - pane_box["x"] + 360, "y": start["y"] - pane_box["y"] + 120})
    expect(page.locator(".vue-flow__node")).to_have_count(2)
    message = node(page, "send_message_1")
    expect(message.locator('[data-badge="error"]')).to_be_visible()  # no text yet

    drag(page, node(page, "start").locator(".vue-flow__handle.source"), message.locator(".vue-flow__handle.target"))
    expect(page.locator(".vue-flow__edge")).to_have_count(1)

    page.get_by_label("Message text").fill("Welcome, {{first_name}}! Glad you came.")
    expect(message.get_by_text("Welcome, {{first_name}}! Glad you came.")).to_be_visible()
    expect(message.locator(".rf-node__badge")).to_have_count(0)  # a last step: the flow ends there, nothing to say

    page.locator(".q-card").get_by_text("End", exact=True).click()  # added in the middle of the view
    expect(page.locator(".vue-flow__node")).to_have_count(3)
    end = node(page, "end_1")
    drag(page, message.locator(".vue-flow__handle.source"), end.locator(".rf-node__head"))  # onto the node's body
    expect(page.locator(".vue-flow__edge")).to_have_count(2)
    expect(page.locator(".rf-node__badge")).to_have_count(0)
    expect(page.get_by_text("No problems: this flow is ready to publish.")).to_be_visible()

    end.click()
    page.keyboard.press("Delete")
    expect(page.locator(".vue-flow__node")).to_have_count(2)
    page.locator(".vue-flow__pane").click(position={"x": 60, "y": 60})
    page.keyboard.press("Control+z")
    expect(page.locator(".vue-flow__node")).to_have_count(3)
    expect(page.locator(".vue-flow__edge")).to_have_count(2)
    screenshot(page, "canvas-built-by-hand")

    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_text("Published: the live bot now runs this version.")).to_be_visible()
    expect(page.get_by_text("Published", exact=True)).to_be_visible()

    page.reload()
    expect(page.locator(".vue-flow__node")).to_have_count(3)
    expect(page.locator(".vue-flow__edge")).to_have_count(2)
    expect(node(page, "send_message_1").get_by_text("Welcome, {{first_name}}! Glad you came.")).to_be_visible()
    expect(page.get_by_text("Published", exact=True)).to_be_visible()


def test_a_loop_that_never_waits_is_refused_and_shown(admin_page: Page, live_app: LiveApp, flows: dict) -> None:
    page = admin_page
    open_flow(page, live_app, flows["Counting"], 4)
    expect(node(page, "bump").locator('[data-badge="error"]')).to_be_visible()
    problem = page.get_by_text("can repeat forever without waiting for the contact")
    expect(problem).to_be_visible()
    problem.click()  # focuses the first step of the loop
    expect(node(page, "bump")).to_have_class(re.compile(r"\bselected\b"))
    expect(page.get_by_label("Field", exact=True)).to_be_visible()  # its inspector form

    page.get_by_role("button", name="Publish").click()
    dialog = page.locator(".q-dialog")
    expect(dialog.get_by_text("This flow cannot be published yet")).to_be_visible()
    expect(dialog.get_by_text("can repeat forever without waiting for the contact")).to_be_visible()
    screenshot(page, "canvas-publish-refused")
    dialog.get_by_role("button", name="OK").click()
    page.reload()
    expect(page.get_by_text("Draft · never published")).to_be_visible()


def test_canvas_undo_never_reaches_the_flow_name_and_an_inputs_undo_never_reaches_the_canvas(
        admin_page: Page, live_app: LiveApp, flows: dict) -> None:
    page = admin_page
    open_flow(page, live_app, flows["Counting"], 4)
    name = page.get_by_role("textbox").first
    name.fill("Counting up")
    name.press("Enter")
    expect(page.get_by_text("Renamed to 'Counting up'.")).to_be_visible()
    end = node(page, "end")
    before = end.bounding_box()
    page.mouse.move(*_middle(end))
    page.mouse.down()
    page.mouse.move(before["x"] + before["width"] / 2 + 20, before["y"] + 150, steps=8)
    page.mouse.up()
    expect(page.get_by_text("Saved", exact=True)).to_be_visible()
    page.locator(".vue-flow__pane").click(position={"x": 30, "y": 30})  # the canvas, away from the steps
    page.keyboard.press("Control+z")
    expect(name).to_have_value("Counting up")  # the browser's own undo of the name box is not replayed
    page.wait_for_timeout(SAVE_WAIT)
    assert abs(end.bounding_box()["y"] - before["y"]) < 2  # the canvas undid the move
    page.reload()
    expect(page.get_by_role("textbox").first).to_have_value("Counting up")

    node(page, "check").click()  # an input's own undo stays in the input
    value = page.get_by_label("Value", exact=True)
    expect(value).to_have_value("10")
    value.click()
    value.press("End")
    value.press_sequentially("0")
    expect(node(page, "check")).to_contain_text("referral_points is at least 100")
    start = node(page, "start")  # then a canvas edit: moving Start down
    start_before = start.bounding_box()
    page.mouse.move(*_middle(start))
    page.mouse.down()
    page.mouse.move(start_before["x"] + start_before["width"] / 2, start_before["y"] + 200, steps=8)
    page.mouse.up()
    page.wait_for_timeout(SAVE_WAIT)
    moved = start.bounding_box()
    assert moved["y"] > start_before["y"] + 100
    node(page, "check").click()
    value.click()
    value.press("Control+z")  # in the box: not the canvas's undo, which would put Start back
    page.wait_for_timeout(SAVE_WAIT)
    assert start.bounding_box() == moved
    expect(node(page, "check")).to_contain_text("referral_points is at least 100")
    screenshot(page, "canvas-undo-stays-in-its-place")


def test_a_dropped_step_is_not_under_the_settings_panel_and_the_view_stays_put(
        admin_page: Page, live_app: LiveApp, flows: dict) -> None:
    page = admin_page
    open_flow(page, live_app, flows["Check reward"], 6)
    pane = page.locator(".vue-flow__pane")
    pane_box = pane.bounding_box()
    before = node(page, "start").bounding_box()
    page.locator(".q-card").get_by_text("Send message", exact=True).drag_to(pane, target_position={
        "x": pane_box["width"] - 120, "y": pane_box["height"] / 2})  # where the settings panel opens
    added = node(page, "send_message_1")
    expect(added).to_be_visible()
    panel = page.locator(".q-card").filter(has_text="Message text")
    expect(panel).to_be_visible()
    page.wait_for_timeout(1500)  # the pan, the save and the problems list that grows under the canvas
    assert not _intersect(added.bounding_box(), panel.bounding_box())
    moved = node(page, "start").bounding_box()
    shift = moved["x"] - before["x"]
    assert abs(moved["y"] - before["y"]) < 2 and shift < 0  # panned left, not zoomed or refitted
    assert abs(moved["width"] - before["width"]) < 1
    screenshot(page, "canvas-dropped-beside-the-panel")


def test_the_minimap_shows_while_moving_around_and_then_gets_out_of_the_way(
        admin_page: Page, live_app: LiveApp, flows: dict) -> None:
    page = admin_page
    open_flow(page, live_app, flows["Share"], 3)
    minimap = page.locator(".vue-flow__minimap")
    expect(minimap).to_have_count(0)  # everything is in view
    box = page.locator(".vue-flow__pane").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, -600)  # zoom in: part of the flow leaves the view
    expect(minimap).to_have_count(1)
    screenshot(page, "canvas-minimap-while-moving")
    page.mouse.move(box["x"] + box["width"] / 2 + 80, box["y"] + 40)  # away from the minimap
    expect(minimap).to_have_count(0, timeout=5000)  # resting, it would cover the steps in its corner
