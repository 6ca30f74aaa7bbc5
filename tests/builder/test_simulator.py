"""The Simulator page through NiceGUI's User: open links as simulated people, build links, reply and press buttons,
fast-forward, reset, and save and run scenarios — all in the sandbox, on the demo workspace."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from nicegui.testing import User

from storage.db import Database, open_database
from storage.flows import save_draft
from storage.models import Flow
from storage.scenarios import ScenarioSave, list_scenarios, save_scenario, seed_demo_scenario
from storage.workspace_io import import_workspace
from tests.builder.helpers import choose, element

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "referral_program.json"
GIVEAWAY = "https://m.me/1234567890?ref=giveaway2025"
QUIZ = "https://m.me/1234567890?ref=quiz"


@pytest.fixture
def demo(app_env: Path, admin: User) -> Database:
    """The demo workspace, plus a 'quiz' entry point whose flow has buttons, a question and a delay."""
    database = open_database(url=f"sqlite:///{app_env}")
    document = json.loads(FIXTURE.read_text())
    document["flows"].append({"id": 3, "name": "Quiz", "version": 1, "draft": QUIZ_FLOW, "published": QUIZ_FLOW})
    document["entry_points"].append({"id": 2, "name": "Quiz", "ref": "quiz", "response_type": "flow",
                                     "response_flow_id": 3})
    with database.write_session() as session:
        import_workspace(session=session, document=document)
    yield database
    database.dispose()


def node(node_id: str, kind: str, x: int, **data) -> dict:
    return {"id": node_id, "type": kind, "position": {"x": x, "y": 0}, "data": data}


def edge(edge_id: str, source: str, target: str, handle: str = "next") -> dict:
    return {"id": edge_id, "source": source, "source_handle": handle, "target": target}


QUIZ_FLOW = {"schema": 1, "nodes": [
    node("start", "start", 0),
    node("offer", "send_message", 200, text="Want a tip?",
         buttons=[{"id": "yes", "title": "Yes please"}, {"id": "no", "title": "No thanks"}]),
    node("ask", "ask", 400, text="What is your code?", field_id=2),
    node("thanks", "send_message", 600, text="Thanks, {{coupon_code}}!", buttons=[]),
    node("wait", "delay", 800, seconds=3600),
    node("later", "send_message", 1000, text="An hour later: still there?", buttons=[]),
    node("bye", "send_message", 400, text="Maybe next time.", buttons=[]),
], "edges": [edge("e1", "start", "offer"), edge("e2", "offer", "ask", "yes"), edge("e3", "ask", "thanks"),
             edge("e4", "thanks", "wait"), edge("e5", "wait", "later"), edge("e6", "offer", "bye", "no")]}


async def open_as_new(user: User, name: str, link: str | None = None) -> None:
    if link is not None:
        user.find(marker="link").clear().type(link)
    user.find(marker="person-name").clear().type(name)
    user.find(marker="open").click()
    await user.should_see(f"{name} opened ")


async def refer(user: User, *names: str) -> None:
    """Ann opens the giveaway link, then each name opens the link built with Ann as the referrer."""
    await open_as_new(user, "Ann", GIVEAWAY)
    choose(user, "referrer", "Ann · #1 · Messenger")
    for name in names:
        await open_as_new(user, name)


def count(database: Database, table: str) -> int:
    with database.engine.connect() as connection:
        return connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()


async def test_a_new_person_opens_a_link_and_sees_everything_that_happened(admin: User, demo: Database) -> None:
    await admin.open("/simulator")
    await admin.should_see("Open a link to see what the bot does.")
    assert element(admin, "link").value == GIVEAWAY  # built from the first entry point and channel
    await open_as_new(admin, "Ann", GIVEAWAY)
    await admin.should_see(marker="parse")
    await admin.should_see("Giveaway 2025 (giveaway2025)")
    await admin.should_see("Invite your friends with your personal link: https://m.me/1234567890?ref=giveaway2025-c1"
                           "\nThree friends who join get you a coupon!")
    await admin.should_see("Ann is a new contact · entered through giveaway2025")
    await admin.should_see("Flow “Share” starts for Ann")
    await admin.should_see("Flow “Share” · ran for Ann")
    await admin.should_see("2. Send referral link — giveaway2025")
    await admin.should_see("Start → Send referral link", marker="path-steps-1")
    await admin.should_see("Send referral link → End", marker="path-steps-1")
    await admin.should_see("+ giveaway")
    await admin.should_see("1 step recorded")
    assert count(demo, "contact") == 0  # the live workspace never sees simulated people


async def test_a_referral_shows_the_joiner_and_the_referrer_side_by_side(admin: User, demo: Database) -> None:
    await admin.open("/simulator")
    await refer(admin, "Bob")
    assert element(admin, "link").value == "https://m.me/1234567890?ref=giveaway2025-c1"
    await admin.should_see("Referral counted", marker="referral-status")
    await admin.should_see("1 → Ann (contact #1 on messenger)")
    await admin.should_see(marker="chat-2")
    await admin.should_see("referrer", marker="role-1")
    await admin.should_see("Bob joined with your link!")
    await admin.should_see("— → 1", marker="changes-1")  # Ann's referral_points, before → after
    await admin.should_see("Trigger “Referred a new contact” runs for Ann")
    await admin.should_see("Flow “Check reward” · ran for Ann")
    await admin.should_see("3. Send message — {{referral_points}} of 3 friends joined so far.")
    canvas = element(admin, "canvas-2")  # Check reward, read-only, its path lit
    assert canvas.props["editable"] is False
    assert [node["id"] for node in canvas.nodes if node["data"]["lit"]] == ["start", "enough", "progress", "end"]
    assert [edge["id"] for edge in canvas.edges if edge.get("animated")] == ["e1", "e5", "e6"]


async def test_the_third_friend_earns_the_reward_and_a_self_referral_is_blocked(admin: User, demo: Database) -> None:
    await admin.open("/simulator")
    await refer(admin, "Bob", "Cat", "Dan")
    await admin.should_see("You did it, Ann! Three friends joined. Your coupon: FRIENDS3")
    await admin.should_see("+ rewarded", marker="changes-1")
    choose(admin, "open-as", "A simulated contact")
    choose(admin, "contact", "Ann · #1 · Messenger")
    admin.find(marker="open").click()
    await admin.should_see("Referral blocked (self-referral)")
    await admin.should_see("A person cannot refer themselves; the self-referral was blocked.")


async def test_payload_values_build_the_link_and_land_in_fields(admin: User, demo: Database) -> None:
    await admin.open("/simulator")
    admin.find(marker="default-value").type("GOLD")
    admin.find(marker="add-payload").click()
    admin.find(marker="payload-key-1").type("seats")
    admin.find(marker="payload-value-1").type("3")
    assert element(admin, "link").value == GIVEAWAY + "--GOLD--seats--3"
    await admin.should_see("Built: " + GIVEAWAY + "--GOLD--seats--3")
    admin.find(marker="payload-value-1").type("--x")
    await admin.should_see("No link: ")
    admin.find(marker="remove-payload-1").click()
    assert element(admin, "link").value == GIVEAWAY + "--GOLD"
    await open_as_new(admin, "Ann")
    await admin.should_see("— → GOLD", marker="changes-1")


async def test_pressing_the_second_of_two_buttons_into_one_step_lights_its_own_connection(
        admin: User, demo: Database) -> None:
    with demo.write_session() as session:
        draft = json.loads(json.dumps(QUIZ_FLOW))
        draft["edges"][-1]["target"] = "ask"  # "No thanks" (e6) now leads to the question too, like "Yes please" (e2)
        save_draft(session=session, flow_id=3, document=draft)
    await admin.open("/simulator")
    await open_as_new(admin, "Ann", QUIZ)
    admin.find(marker="press-1-1").click()
    await admin.should_see("Ann pressed “No thanks”")
    canvas = element(admin, "canvas-3")
    assert [node["id"] for node in canvas.nodes if node["data"]["lit"]] == ["offer", "ask"]
    assert [edge["id"] for edge in canvas.edges if edge.get("animated")] == ["e6"]
    await admin.should_see("Send message (No thanks) → Ask a question", marker="path-steps-3")


async def test_buttons_replies_and_fast_forward_continue_the_flow(admin: User, demo: Database) -> None:
    await admin.open("/simulator")
    await open_as_new(admin, "Ann", QUIZ)
    await admin.should_see("Want a tip?")
    await admin.should_see("Ann waits for a button press")
    admin.find(marker="press-1-0").click()
    await admin.should_see("Ann pressed “Yes please”")
    await admin.should_see("What is your code?")
    await admin.should_see("1. Send message — Want a tip? · buttons: Yes please, No thanks")  # resumed where it waited
    admin.find(marker="reply-1").type("SPRING")
    admin.find(marker="send-1").click()
    await admin.should_see("Ann replied “SPRING”")
    await admin.should_see("Thanks, SPRING!")
    await admin.should_see("Ann waits for the delay to pass")
    admin.find(marker="duration").clear().type("soon")
    admin.find(marker="fast-forward").click()
    await admin.should_see("'soon' is not a duration; write e.g. 30s, 15m, 2h, 1d or 1h30m.")
    admin.find(marker="duration").clear().type("2h")
    admin.find(marker="fast-forward").click()
    await admin.should_see("The clock moved 2h: 1 waiting flow went on")
    await admin.should_see("An hour later: still there?")
    await admin.should_see("Clock: 2h ahead")
    await admin.should_see("4 steps recorded")


async def test_the_clock_label_says_how_far_it_was_moved_while_real_time_goes_on(
        admin: User, demo: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    await admin.open("/simulator")
    await open_as_new(admin, "Ann", QUIZ)
    await admin.should_see("Clock: real time")
    later = datetime.now(UTC) + timedelta(minutes=2)  # the admin read the page for two minutes
    monkeypatch.setattr("builder.simulator.datetime", type("Later", (datetime,), {"now": staticmethod(
        lambda tz=None: later)}), raising=False)
    admin.find(marker="duration").clear().type("1d")
    admin.find(marker="fast-forward").click()
    await admin.should_see("The clock moved 1d")
    await admin.should_see("Clock: 1d ahead")
    admin.find(marker="duration").clear().type("1h30m")
    admin.find(marker="fast-forward").click()
    await admin.should_see("Clock: 1d1h30m ahead")


async def test_draft_edits_show_up_at_once_and_the_published_copy_stays(admin: User, demo: Database) -> None:
    with demo.write_session() as session:
        flow = session.get(Flow, 1)
        draft = json.loads(json.dumps(flow.draft))
        draft["nodes"][1]["data"]["text"] = "Brand new wording: {{link}}"
        save_draft(session=session, flow_id=1, document=draft)
    await admin.open("/simulator")
    await open_as_new(admin, "Ann", GIVEAWAY)
    await admin.should_see("Brand new wording: https://m.me/1234567890?ref=giveaway2025-c1")
    choose(admin, "copy", "Published flows")
    await open_as_new(admin, "Bob", GIVEAWAY)
    await admin.should_see("Invite your friends with your personal link: https://m.me/1234567890?ref=giveaway2025-c2"
                           "\nThree friends who join get you a coupon!")


async def test_reset_empties_the_sandbox_after_asking(admin: User, demo: Database) -> None:
    await admin.open("/simulator")
    await refer(admin, "Bob")
    admin.find(marker="reset-sandbox").click()
    await admin.should_see("Reset the sandbox?")
    admin.find(marker="confirm-reset").click()
    await admin.should_see("The sandbox is empty again.")
    await admin.should_see("Open a link to see what the bot does.")
    await admin.should_see("0 steps recorded")
    assert element(admin, "referrer").options == {0: "No referrer"} and element(admin, "referrer").value == 0
    assert element(admin, "person-name").value == "Ann"


async def test_opening_needs_a_link_and_a_chosen_contact(admin: User, demo: Database) -> None:
    await admin.open("/simulator")
    admin.find(marker="link").clear()
    admin.find(marker="open").click()
    assert element(admin, "link").error == "Paste a link or a ref, or build one below."
    admin.find(marker="link").type("giveaway2025")
    choose(admin, "open-as", "A simulated contact")
    admin.find(marker="open").click()
    assert element(admin, "contact").error == "Choose a simulated contact, or open the link as a new person."


async def test_recorded_steps_are_saved_as_a_scenario_and_run_green(admin: User, demo: Database) -> None:
    await admin.open("/simulator")
    admin.find(marker="save-scenario").click()
    await admin.should_see("Nothing to save yet: the steps since the last reset become the scenario.")
    await refer(admin, "Bob")
    admin.find(marker="save-scenario").click()
    await admin.should_see(marker="save-dialog")
    await admin.should_see("2. Bob opened https://m.me/1234567890?ref=giveaway2025-c1")
    assert element(admin, "expect-2-1").value is True  # the referral outcome is ticked already
    admin.find(marker="expect-2-2").click()  # Ann receives “Bob joined with your link!”
    admin.find(marker="confirm-save-scenario").click()
    await admin.should_see("Give the scenario a name.")
    admin.find(marker="scenario-name").type("Bob joins")
    admin.find(marker="confirm-save-scenario").click()
    await admin.should_see("Scenario “Bob joins” saved with 2 steps.")
    with demo.session() as session:
        [saved] = list_scenarios(session=session)
    await admin.should_see(marker=f"run-scenario-{saved.id}")
    admin.find(marker=f"run-scenario-{saved.id}").click()  # asks first: the session's work would go
    await admin.should_see("A scenario starts from an empty sandbox: the 2 simulated contacts and the 2 recorded "
                           "steps of this session go. To keep the steps, save them as a scenario first.")
    assert count(demo, "scenario") == 1
    admin.find(marker="confirm-run-scenario").click()
    await admin.should_see("“Bob joins” passed: all 2 steps")
    await admin.should_see("ran the draft flows", marker="scenario-copy")  # as it was recorded
    await admin.should_see(marker="scenario-step-2-passed")
    await admin.should_see("0 steps recorded")  # a run starts from a reset sandbox
    admin.find(marker=f"run-scenario-{saved.id}").click()  # the scenario's own contacts: asked again
    await admin.should_see("the 2 simulated contacts of this session go")


async def test_a_failing_scenario_shows_red_with_the_difference(admin: User, demo: Database) -> None:
    document = {"format": "referflow-scenario", "people": {"ann": {}, "bob": {}}, "steps": [
        {"open": GIVEAWAY, "as": "ann"},
        {"open": GIVEAWAY + "-c{{ann.id}}", "as": "bob",
         "expect": [{"referral": "counted"}, {"field": "referral_points", "of": "ann", "equals": 5}]}]}
    with demo.write_session() as session:
        scenario = save_scenario(session=session, data=ScenarioSave(name="Too hopeful", document=document))
    await admin.open("/simulator")
    await admin.should_see("Too hopeful")
    admin.find(marker=f"run-scenario-{scenario.id}").click()
    await admin.should_see("“Too hopeful” failed: 1 of 2 steps")  # an empty sandbox: nothing to ask
    await admin.should_see("ran the published flows", marker="scenario-copy")
    await admin.should_see(marker="scenario-step-1-passed")
    await admin.should_see(marker="scenario-step-2-failed")
    await admin.should_see("expected ann's referral_points to be 5, got 1", marker="scenario-failure-2")


async def test_the_seeded_demo_scenario_runs_green_and_can_be_deleted(admin: User, demo: Database) -> None:
    with demo.write_session() as session:
        seed_demo_scenario(session=session)
        [demo_scenario] = list_scenarios(session=session)
    await admin.open("/simulator")
    admin.find(marker=f"run-scenario-{demo_scenario.id}").click()
    await admin.should_see("“Classic referral program” passed: all 6 steps")
    admin.find(marker=f"delete-scenario-{demo_scenario.id}").click()
    admin.find(marker="confirm-delete-scenario").click()
    await admin.should_see("Scenario “Classic referral program” deleted.")
    await admin.should_see(marker="no-scenarios")


async def test_without_entry_points_links_can_still_be_pasted(admin: User, app_env: Path) -> None:
    await admin.open("/simulator")
    await admin.should_see("To build links here, add an entry point (Entry points page). You can still paste any "
                           "link or ref.")
    await open_as_new(admin, "Ann", "/start hello")
    await admin.should_see("No entry point has the ref 'hello'.")
    await admin.should_see("Hi Ann! How can I help?")  # the default reply


async def test_a_whatsapp_person_is_known_by_their_number(admin: User, demo: Database) -> None:
    await admin.open("/simulator")
    admin.find(marker="link").clear().type("https://wa.me/15551234567?text=/giveaway2025")
    assert element(admin, "person-channel").value == "whatsapp"  # follows the link's channel
    admin.find(marker="person-phone").type("+1 555 000 1111")
    await open_as_new(admin, "Wes")
    await admin.should_see("#1 · whatsapp · 15550001111")
    await admin.should_see("https://wa.me/15551234567?text=/giveaway2025-c1")
