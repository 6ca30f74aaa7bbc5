"""The workspace import/export card: export, upload with a preview, import, and files that cannot be imported."""

import json
from pathlib import Path

import pytest
from nicegui import ui
from nicegui.elements.upload_files import SmallFileUpload
from nicegui.testing import User

from builder import workspace_transfer
from builder.frame import frame
from storage.db import Database, open_database
from storage.settings import get_settings
from storage.workspace_io import export_workspace
from tests.helpers import import_fixture

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "referral_program.json"
PAGE = "/test/workspace-transfer"


@pytest.fixture
async def card_page(admin: User, app_env: Path) -> User:
    """A page holding just the card, as Settings shows it."""
    @ui.page(PAGE)
    def page() -> None:
        with frame("Settings"):
            workspace_transfer.card()

    await admin.open(PAGE)
    return admin


@pytest.fixture
def app_database(app_env: Path) -> Database:
    database = open_database(url=f"sqlite:///{app_env}")
    yield database
    database.dispose()


async def upload(user: User, name: str, content: bytes) -> None:
    element = user.find(marker="import-upload").elements.pop()
    await element.handle_uploads([SmallFileUpload(name=name, content_type="application/json", _data=content)])


def preview_rows(user: User) -> dict[str, dict]:
    return {row["kind"]: row for row in user.find(marker="import-preview").elements.pop().rows}


async def test_a_file_is_previewed_then_imported(card_page: User, app_database: Database) -> None:
    await upload(card_page, "program.json", FIXTURE.read_bytes())
    await card_page.should_see("What importing program.json changes:")
    rows = preview_rows(card_page)
    assert rows["Fields"]["created"] == "referral_points, coupon_code, plan, seats"
    assert rows["Entry points"]["created"] == "giveaway2025" and rows["Triggers"]["unchanged"] == 0
    with app_database.session() as session:
        assert export_workspace(session=session)["fields"] == []  # a preview writes nothing

    card_page.find(marker="apply-import").click()
    await card_page.should_see("Workspace imported: 11 new, 9 changed.")  # the notice survives the reload
    await card_page.should_not_see(marker="import-preview")  # the reloaded page shows the imported settings
    with app_database.session() as session:
        assert get_settings(session=session).bot_name == "Giveaway bot"
        assert [field["name"] for field in export_workspace(session=session)["fields"]][:1] == ["referral_points"]

    await upload(card_page, "program.json", FIXTURE.read_bytes())
    await card_page.should_see("Nothing would change: the workspace already matches this file.")
    await card_page.should_not_see(marker="apply-import")


async def test_an_import_without_settings_stays_on_the_page(card_page: User, app_database: Database) -> None:
    document = json.loads(FIXTURE.read_text())
    del document["settings"]
    document["tags"].append({"id": 3, "name": "vip", "description": ""})
    await upload(card_page, "tags.json", json.dumps(document).encode())
    await card_page.should_see("What importing tags.json changes:")
    card_page.find(marker="apply-import").click()
    await card_page.should_see(marker="import-done")
    await card_page.should_see("Workspace imported: 12 new, 0 changed.")


async def test_bad_files_say_what_is_wrong(card_page: User, app_database: Database) -> None:
    await upload(card_page, "broken.json", b'{"format": "referflow-workspace",\n "version": 1,,}')
    await card_page.should_see("broken.json cannot be imported:")
    await card_page.should_see("It is not valid JSON (line 2, column 15: Expecting property name enclosed in double")

    await upload(card_page, "photo.json", b"\x89PNG\r\n\x1a\n\xff\xfe")
    await card_page.should_see("It is not a text file; choose the .json file Referflow exported")
    await card_page.should_not_see("broken.json cannot be imported:")

    document = json.loads(FIXTURE.read_text())
    document["fields"][0]["type"] = "money"
    document["triggers"][0]["entry_point_id"] = 42
    await upload(card_page, "wrong.json", json.dumps(document).encode())
    await card_page.should_see("wrong.json cannot be imported:")
    await card_page.should_see("Fields[0] ('referral_points'): type 'money' is not one of text, number, boolean")
    await card_page.should_see("entry_point_id 42 is not an entry point in this document or the workspace")
    await card_page.should_not_see(marker="apply-import")

    await upload(card_page, "list.json", b"[1, 2]")
    await card_page.should_see("A workspace document must be a JSON object, not a list")


async def test_export_downloads_the_workspace(card_page: User, app_database: Database) -> None:
    import_fixture(app_database)
    card_page.find(marker="export-workspace").click()
    response = await card_page.download.next()
    document = json.loads(response.content)
    assert document["format"] == "referflow-workspace" and document["settings"]["bot_name"] == "Giveaway bot"
    assert [entry["ref"] for entry in document["entry_points"]] == ["giveaway2025"]
