"""The Flows page in Chromium: the template in one click, a tidy list at 1280x800, a real download and upload."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import LiveApp, screenshot, visit


@pytest.fixture(scope="module", autouse=True)
def no_demo_seed() -> Iterator[None]:
    """Start this module's app on an empty workspace (autouse: set before `live_app` starts the server)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REFERFLOW_SEED_DEMO", "0")
        yield


def test_the_template_fills_a_tidy_list_then_a_flow_travels_as_a_file(
        admin_page: Page, live_app: LiveApp, tmp_path: Path) -> None:
    page = admin_page
    visit(page, f"{live_app.url}/flows")
    expect(page.get_by_text("No flows yet — create one or add the Referral program template")).to_be_visible()
    screenshot(page, "flows-empty")

    page.get_by_role("button", name="Add the Referral program").click()
    expect(page.get_by_role("link", name="Check reward")).to_be_visible()
    expect(page.get_by_text("Referral program: Created 2 fields")).to_be_visible()
    expect(page.get_by_text("Published", exact=True)).to_have_count(2)
    page.wait_for_timeout(300)
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280  # nothing sticks out sideways
    screenshot(page, "flows")

    with page.expect_download() as download:
        row(page, "Check reward").get_by_role("button", name="Export as JSON").click()
    saved = tmp_path / "check-reward.flow.json"
    download.value.save_as(saved)
    assert download.value.suggested_filename == "check-reward.flow.json"
    assert json.loads(saved.read_text())["name"] == "Check reward"

    page.get_by_role("button", name="Import flow").click()
    page.locator(".q-dialog .q-uploader input[type=file]").set_input_files(saved)
    expect(page.get_by_text("Imported flow 'Check reward (2)'.")).to_be_visible()
    expect(page.get_by_role("link", name="Check reward (2)")).to_be_visible()

    row(page, "Check reward").get_by_role("button", name="Delete").click()
    expect(page.get_by_text("Trigger 'Referred a new contact'")).to_be_visible()
    page.wait_for_timeout(300)
    screenshot(page, "flows-delete")
    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_text("Delete flow 'Check reward'?")).to_be_hidden()


def test_a_bad_file_is_explained_in_the_import_dialog(admin_page: Page, live_app: LiveApp, tmp_path: Path) -> None:
    page = admin_page
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": "referflow-flow", "name": "X", "flow": {"nodes": [{"id": "a"}], "edges": []}}')
    visit(page, f"{live_app.url}/flows")
    page.get_by_role("button", name="Import flow").click()
    page.locator(".q-dialog .q-uploader input[type=file]").set_input_files(broken)
    expect(page.get_by_text("Node 'a': 'type' is missing.", exact=False)).to_be_visible()
    page.wait_for_timeout(300)
    screenshot(page, "flows-import-error")


def row(page: Page, flow_name: str):
    return page.locator("div.grid").filter(has=page.get_by_role("link", name=flow_name, exact=True))
