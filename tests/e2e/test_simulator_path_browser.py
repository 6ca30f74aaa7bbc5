"""The Simulator's read-only canvas in real Chromium lights the very connection the engine followed: of two buttons
that lead to one step, pressing the second lights the second connection, not the first."""

import json
import re
from pathlib import Path

from playwright.sync_api import Page, expect

from storage.db import open_database
from storage.workspace_io import import_workspace
from tests.e2e.helpers import LiveApp, screenshot, visit

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "referral_program.json"
QUIZ = "https://m.me/1234567890?ref=quiz"


def node(node_id: str, kind: str, x: int, y: int, **data) -> dict:
    return {"id": node_id, "type": kind, "position": {"x": x, "y": y}, "data": data}


def edge(edge_id: str, source: str, target: str, handle: str = "next") -> dict:
    return {"id": edge_id, "source": source, "source_handle": handle, "target": target}


TWO_WAYS_IN = {"schema": 1, "nodes": [
    node("start", "start", 0, 0),
    node("offer", "send_message", 260, 0, text="Want a tip?",
         buttons=[{"id": "yes", "title": "Yes please"}, {"id": "no", "title": "No thanks"}]),
    node("tip", "send_message", 560, 0, text="Here is the tip anyway.", buttons=[]),
], "edges": [edge("by-start", "start", "offer"), edge("by-yes", "offer", "tip", "yes"),
             edge("by-no", "offer", "tip", "no")]}


def import_quiz(live_app: LiveApp) -> None:
    document = json.loads(FIXTURE.read_text())
    document["flows"].append({"id": 3, "name": "Quiz", "version": 1, "draft": TWO_WAYS_IN,
                              "published": TWO_WAYS_IN})
    document["entry_points"].append({"id": 2, "name": "Quiz", "ref": "quiz", "response_type": "flow",
                                     "response_flow_id": 3})
    database = open_database(url=f"sqlite:///{live_app.db_path}")
    with database.write_session() as session:
        import_workspace(session=session, document=document)
    database.dispose()


def test_the_second_button_lights_its_own_connection(admin_page: Page, live_app: LiveApp) -> None:
    import_quiz(live_app)
    page = admin_page
    visit(page, f"{live_app.url}/simulator")
    link = page.get_by_label("Link or ref")
    expect(link).to_have_value(re.compile("giveaway2025"))  # the page has put its first built link in: type over it
    expect(page.get_by_text("Built: https://m.me/1234567890?ref=giveaway2025")).to_be_visible()
    link.fill(QUIZ)
    page.get_by_label("Name").fill("Ann")
    expect(link).to_have_value(QUIZ)
    # The page has the typed link (not only the browser): it drops the "Built:" line of a link the admin replaced.
    # Under load the page's connection can come up after the typing, so this waits for the server's answer.
    expect(page.get_by_text("Built: ")).to_have_count(0)
    page.get_by_role("button", name="Open the link").click()
    expect(page.get_by_text("Want a tip?").first).to_be_visible()
    page.get_by_role("button", name="No thanks").click()
    expect(page.get_by_text("Ann pressed “No thanks”")).to_be_visible()
    quiz = page.locator(".nicegui-card", has=page.get_by_text("Flow “Quiz” · ran for Ann"))
    expect(quiz.locator(".rf-node--lit")).to_have_count(2)  # where Ann waited, and the tip
    expect(quiz.locator('.vue-flow__edge.rf-edge--lit[data-id="by-no"]')).to_have_count(1)
    expect(quiz.locator(".vue-flow__edge.rf-edge--lit")).to_have_count(1)
    page.wait_for_timeout(800)  # let the canvas fit its flow before the picture
    quiz.scroll_into_view_if_needed()
    screenshot(page, "simulator-second-button-lit")
