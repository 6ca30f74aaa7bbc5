"""The Flows page through NiceGUI's User: list, create, rename, duplicate, delete, import/export, templates."""

import asyncio
import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from nicegui import ui
from nicegui.elements.upload_files import SmallFileUpload
from nicegui.testing import User

from builder.flows import describe_age
from storage.db import Database
from storage.flows import create_flow, export_flow, import_flow, list_flows, save_draft
from storage.models import Flow
from storage.settings import SettingsUpdate, save_settings
from tests.helpers import import_fixture

# The page reads and writes through run.io_bound: on a busy machine that takes longer than the User's 0.3 s of retries.
WAITS = 50


@pytest.fixture
def demo(app_database: Database) -> Database:
    import_fixture(app_database)
    return app_database


def flow_names(database: Database) -> list[str]:
    with database.session() as session:
        return [flow.name for flow in list_flows(session=session)]


async def arrive_at(admin: User, path: str) -> None:
    for _ in range(50):
        if admin.back_history[-1] == path:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the page did not open {path}; it is on {admin.back_history[-1]}")


async def test_an_empty_workspace_offers_to_create_or_add_the_template(admin: User) -> None:
    await admin.open("/flows")
    await admin.should_see("No flows yet — create one or add the Referral program template", retries=WAITS)
    admin.find(marker="empty-template").click()
    await admin.should_see(marker="flow-list", retries=WAITS)
    await admin.should_see("Referral program added; the Templates card lists what changed.", retries=WAITS)
    assert report_text(admin).startswith("Referral program: Created 2 fields ('referral_points', 'coupon_code'), ")
    await admin.should_see("Check reward", retries=WAITS)
    await admin.should_not_see("No flows yet — create one or add the Referral program template", retries=WAITS)
    assert len(admin.find("Published").elements) == 2
    # Referflow's own web chat builds the personal links: nothing to fill in first
    assert "Fill in your bot's channels" not in report_text(admin)


async def test_the_template_report_skips_the_channel_hint_once_a_channel_is_set(
    admin: User, app_database: Database
) -> None:
    with app_database.write_session() as session:
        save_settings(session=session, update=SettingsUpdate(bot_name="Shop", telegram_bot="shop_helper_bot"))
    await admin.open("/flows")
    admin.find(marker="template-referral-program").click()
    await admin.should_see(marker="flow-list", retries=WAITS)
    assert report_text(admin).endswith("2 triggers ('Referred a new contact', 'Referred an existing contact').")


async def test_the_list_shows_status_problems_and_last_edit(admin: User, demo: Database) -> None:
    with demo.write_session() as session:
        edited = json.loads(json.dumps(session.get(Flow, 1).draft))
        edited["nodes"][-1]["position"]["x"] += 40
        save_draft(session=session, flow_id=1, document=edited)  # edited after publishing
        create_flow(session=session, name="Welcome", document={"nodes": [
            {"id": "start", "type": "start", "position": {"x": 0, "y": 0}, "data": {}},
            {"id": "hi", "type": "send_message", "position": {"x": 260, "y": 0}, "data": {"text": ""}}],
            "edges": [{"id": "e1", "source": "start", "target": "hi"}]})
    await admin.open("/flows")
    with admin.scope(marker="flow-row-1"):
        await admin.should_see("Share", retries=WAITS)
        await admin.should_see("Changed since publishing", retries=WAITS)
        await admin.should_see("just now", retries=WAITS)
    with admin.scope(marker="flow-row-2"):
        await admin.should_see("Published", retries=WAITS)
        await admin.should_see("None", retries=WAITS)
    with admin.scope(marker="flow-row-3"):
        await admin.should_see("Draft", retries=WAITS)
        await admin.should_see("1 error")  # the message has no text
        await admin.should_not_see("1 warning")  # a last step: the flow ends there, nothing to warn about
    admin.find(marker="open-3").click()
    await arrive_at(admin, "/flows/3")


async def test_create_asks_for_a_name_then_opens_the_flow(admin: User, app_database: Database) -> None:
    await admin.open("/flows")
    admin.find(marker="new-flow").click()
    await admin.should_see(marker="name-dialog", retries=WAITS)
    admin.find(marker="save-name").click()
    await admin.should_see("Give the flow a name.", retries=WAITS)
    admin.find(marker="flow-name").type("Welcome")
    admin.find(marker="save-name").click()
    await arrive_at(admin, "/flows/1")
    assert flow_names(app_database) == ["Welcome"]


async def test_rename_keeps_a_taken_name_to_fix(admin: User, demo: Database) -> None:
    await admin.open("/flows")
    admin.find(marker="rename-1").click()
    await admin.should_see(marker="name-dialog", retries=WAITS)
    admin.find(marker="flow-name").clear().type("Check reward")
    admin.find(marker="save-name").click()
    await admin.should_see("There is already a flow called 'Check reward' (names ignore upper and lower case).",
                           retries=WAITS)
    assert admin.find(marker="flow-name").elements.pop().value == "Check reward"
    admin.find(marker="flow-name").clear().type("Share your link")
    admin.find(marker="save-name").click()
    await admin.should_see("Renamed to 'Share your link'.", retries=WAITS)
    with admin.scope(marker="flow-row-1"):
        await admin.should_see("Share your link", retries=WAITS)
    assert flow_names(demo) == ["Check reward", "Share your link"]


async def test_duplicate_adds_a_draft_copy(admin: User, demo: Database) -> None:
    await admin.open("/flows")
    admin.find(marker="duplicate-2").click()
    await admin.should_see("Created 'Check reward (copy)', a copy of the draft of 'Check reward'.", retries=WAITS)
    await admin.should_see(marker="flow-row-3", retries=WAITS)
    with admin.scope(marker="flow-row-3"):
        await admin.should_see("Check reward (copy)", retries=WAITS)
        await admin.should_see("Draft", retries=WAITS)


async def test_delete_lists_what_uses_the_flow_before_deleting(admin: User, demo: Database) -> None:
    await admin.open("/flows")
    admin.find(marker="delete-2").click()
    await admin.should_see(marker="delete-dialog", retries=WAITS)
    with admin.scope(marker="delete-dialog"):
        await admin.should_see("Delete flow 'Check reward'?", retries=WAITS)
        await admin.should_see("Trigger 'Referred a new contact'", retries=WAITS)
        await admin.should_see("Trigger 'Referred an existing contact'", retries=WAITS)
    admin.find(marker="cancel-delete").click()
    await admin.should_not_see(marker="delete-dialog", retries=WAITS)
    assert flow_names(demo) == ["Check reward", "Share"]

    admin.find(marker="delete-2").click()
    await admin.should_see(marker="delete-dialog", retries=WAITS)
    admin.find(marker="confirm-delete").click()
    await admin.should_see("Deleted 'Check reward'. 2 places no longer point at it.", retries=WAITS)
    await admin.should_not_see(marker="flow-row-2", retries=WAITS)
    with admin.scope(marker="flow-row-1"):
        await admin.should_see("Share", retries=WAITS)
    assert flow_names(demo) == ["Share"]


async def test_deleting_an_unused_flow_says_nothing_uses_it(admin: User, app_database: Database) -> None:
    with app_database.write_session() as session:
        create_flow(session=session, name="Scratch")
    await admin.open("/flows")
    admin.find(marker="delete-1").click()
    await admin.should_see(marker="delete-dialog", retries=WAITS)
    await admin.should_see("Nothing uses this flow.", retries=WAITS)
    admin.find(marker="confirm-delete").click()
    await admin.should_see("Deleted 'Scratch'.", retries=WAITS)
    await admin.should_see("No flows yet — create one or add the Referral program template", retries=WAITS)


async def test_export_downloads_the_flow_as_json(admin: User, demo: Database) -> None:
    await admin.open("/flows")
    admin.find(marker="export-2").click()
    response = await admin.download.next()
    document = json.loads(response.content)
    assert (document["format"], document["name"]) == ("referflow-flow", "Check reward")
    assert [node["id"] for node in document["flow"]["nodes"]][:2] == ["start", "enough"]


async def upload(admin: User, name: str, content: bytes) -> None:
    admin.find(marker="import-flow").click()
    [element] = admin.find(marker="import-upload").elements
    assert isinstance(element, ui.upload)
    await element.handle_uploads([SmallFileUpload(name, "application/json", content)])


async def test_import_adds_an_exported_flow_under_a_free_name(admin: User, demo: Database) -> None:
    with demo.session() as session:
        exported = json.dumps(export_flow(session=session, flow_id=1)).encode()
    await admin.open("/flows")
    await upload(admin, "share.flow.json", exported)
    await admin.should_see("Imported flow 'Share (2)'.", retries=WAITS)
    await admin.should_not_see(marker="import-dialog", retries=WAITS)
    with admin.scope(marker="flow-row-3"):
        await admin.should_see("Share (2)", retries=WAITS)
        await admin.should_see("Draft", retries=WAITS)


async def test_a_slow_import_leaves_the_event_loop_free_for_other_admins(
        admin: User, demo: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """The import waits until a timer on the event loop releases it: that timer only fires if the import runs off
    the loop (through run.io_bound); run on the loop, it would hold every admin's page until it finished."""
    with demo.session() as session:
        exported = json.dumps(export_flow(session=session, flow_id=1)).encode()
    release, released = threading.Event(), []

    def slow_import(**arguments: object) -> Flow:
        released.append(release.wait(timeout=2))
        return import_flow(**arguments)

    monkeypatch.setattr("builder.flows.import_flow", slow_import)
    await admin.open("/flows")
    asyncio.get_running_loop().call_later(0.2, release.set)
    await upload(admin, "share.flow.json", exported)
    await admin.should_see("Imported flow 'Share (2)'.", retries=WAITS)
    assert released == [True], "the import held the event loop: the timer that releases it never ran"


@pytest.mark.parametrize(("content", "message"), [
    (b'{"format": "referflow-flow", ', "'bad.json' is not valid JSON (line 1, column 30: Expecting property name"),
    (b"\xff\xfe\x00", "'bad.json' is not a text file"),
    (b'{"format": "referflow-workspace", "version": 1}',
     "'bad.json' was not imported. This file is not a Referflow flow export (its 'format' should be"),
    (b'{"format": "referflow-flow", "name": "X", "flow": {"nodes": [{"id": "a"}], "edges": []}}',
     "Node 'a': 'type' is missing."),
])
async def test_import_explains_a_bad_file(admin: User, app_database: Database, content: bytes, message: str) -> None:
    await admin.open("/flows")
    await upload(admin, "bad.json", content)
    with admin.scope(marker="import-dialog"):
        await admin.should_see(message, retries=WAITS)
    assert flow_names(app_database) == []


async def test_the_template_asks_before_replacing_a_flow_with_the_same_name(
    admin: User, app_database: Database
) -> None:
    with app_database.write_session() as session:
        create_flow(session=session, name="Share")
    await admin.open("/flows")
    admin.find(marker="template-referral-program").click()
    await admin.should_see(marker="overwrite-dialog", retries=WAITS)
    with admin.scope(marker="overwrite-dialog"):
        await admin.should_see("Flow 'Share'", retries=WAITS)
    admin.find(marker="cancel-overwrite").click()
    await admin.should_not_see(marker="overwrite-dialog", retries=WAITS)
    assert flow_names(app_database) == ["Share"]

    admin.find(marker="template-referral-program").click()
    await admin.should_see(marker="overwrite-dialog", retries=WAITS)
    admin.find(marker="confirm-overwrite").click()
    await admin.should_see("Referral program added; the Templates card lists what changed.", retries=WAITS)
    assert "; updated 1 flow ('Share')." in report_text(admin)
    assert flow_names(app_database) == ["Check reward", "Share"]

    admin.find(marker="template-referral-program").click()  # a second time: nothing to replace, nothing doubled
    await admin.should_see("Referral program: everything was already in place.", retries=WAITS)
    assert report_text(admin).startswith("Referral program: Everything was already in place; nothing changed.")
    assert flow_names(app_database) == ["Check reward", "Share"]


def report_text(admin: User) -> str:
    [label] = admin.find(marker="template-report-referral-program").elements
    return label.text


@pytest.mark.parametrize(("ago", "shown"), [
    (timedelta(seconds=30), "just now"), (timedelta(minutes=1), "1 minute ago"),
    (timedelta(minutes=59), "59 minutes ago"),
    (timedelta(hours=2), "2 hours ago"), (timedelta(days=1), "yesterday"), (timedelta(days=6), "6 days ago"),
    (timedelta(days=8), "May 2, 2025"),
])
def test_last_edited_reads_like_a_person_would_say_it(ago: timedelta, shown: str) -> None:
    now = datetime(2025, 5, 10, 12, 0, tzinfo=UTC)
    assert describe_age((now - ago).replace(tzinfo=None), now) == shown  # SQLite gives naive UTC times
