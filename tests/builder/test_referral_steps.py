"""The flow editor's Leaderboard and My referrals steps: their summaries on the canvas, their forms, the problems."""

import asyncio
import json
from pathlib import Path

import pytest
from nicegui.testing import User

from storage.db import open_database
from storage.flows import create_flow
from storage.models import Flow
from storage.workspace_io import import_workspace

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "referral_program.json"


@pytest.fixture
def flow_id(app_env: Path, admin: User) -> int:
    db = open_database(url=f"sqlite:///{app_env}")
    with db.write_session() as session:
        import_workspace(session=session, document=json.loads(FIXTURE.read_text()))
        nodes = [{"id": "start", "type": "start", "position": {"x": 0, "y": 0}, "data": {}},
                 {"id": "board", "type": "leaderboard", "position": {"x": 260, "y": 0},
                  "data": {"entry_point_id": 1, "period": "week", "limit": 5, "text": "{{referrals.top}}"}},
                 {"id": "mine", "type": "my_referrals", "position": {"x": 520, "y": 0},
                  "data": {"entry_point_id": None, "limit": 10, "text": "{{referrals.list}}"}}]
        edges = [{"id": "e1", "source": "start", "target": "board"}, {"id": "e2", "source": "board", "target": "mine"}]
        flow = create_flow(session=session, name="Boards", document={"schema": 1, "nodes": nodes, "edges": edges})
        flow_id = flow.id
    yield flow_id
    db.dispose()


def drawn(user: User) -> dict[str, dict]:
    return {node["id"]: node for node in user.find(marker="canvas").elements.pop().nodes}


def draft(app_env: Path, flow_id: int) -> dict:
    db = open_database(url=f"sqlite:///{app_env}", migrate=False)
    try:
        with db.session() as session:
            return {node["id"]: node["data"] for node in session.get(Flow, flow_id).draft["nodes"]}
    finally:
        db.dispose()


async def eventually(check, seconds: float = 4.0) -> None:
    for _ in range(int(seconds / 0.1)):
        if check():
            return
        await asyncio.sleep(0.1)
    assert check()


async def test_the_steps_say_what_they_send(admin: User, flow_id: int) -> None:
    await admin.open(f"/flows/{flow_id}")
    nodes = drawn(admin)
    assert nodes["board"]["data"]["summary"] == "Top 5 this week · giveaway2025"
    assert nodes["mine"]["data"]["summary"] == "Up to 10 people who joined with the link · every entry point"
    await admin.should_see("No problems: this flow is ready to publish.")


async def test_the_leaderboard_form_changes_the_period_and_refuses_a_wrong_value(admin: User, flow_id: int,
                                                                                 app_env: Path) -> None:
    await admin.open(f"/flows/{flow_id}")
    admin.find(marker="canvas").trigger("selected", {"nodes": ["board"], "edges": []})
    await admin.should_see(marker="node-period")
    with admin.client:
        admin.find(marker="node-period").elements.pop().set_value("month")
    await eventually(lambda: draft(app_env, flow_id)["board"]["period"] == "month")
    admin.find(marker="node-text").clear().type("You have {{referrals.points}}")
    await admin.should_see("but referrals only have {{referrals.count}}", retries=50)
    with admin.client:
        admin.find(marker="node-limit").elements.pop().set_value(0)
    await admin.should_see("List from 1 to 50 people.")
    assert draft(app_env, flow_id)["board"]["limit"] == 5  # a wrong number is not saved


async def test_typing_braces_offers_the_referral_values(admin: User, flow_id: int) -> None:
    await admin.open(f"/flows/{flow_id}")
    admin.find(marker="canvas").trigger("selected", {"nodes": ["mine"], "edges": []})
    admin.find(marker="node-text").clear().type("So far: {{referrals.l")
    await admin.should_see("referrals.list", marker="suggestions-text")

