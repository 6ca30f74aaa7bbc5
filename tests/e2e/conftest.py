"""The browser suite: the real app in a subprocess, driven by Playwright in Debian's Chromium."""

import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page

from tests.e2e.helpers import LiveApp, visit
from tests.helpers import ADMIN_PASSWORD, running_app, subprocess_env

CHROMIUM_ARGS = ["--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--no-sandbox", "--disable-dev-shm-usage"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict:
    return {"executable_path": os.environ.get("REFERFLOW_CHROMIUM", "/usr/bin/chromium"), "headless": True,
            "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict) -> dict:
    return {**browser_context_args, "viewport": {"width": 1280, "height": 800}}


@pytest.fixture(scope="module")
def live_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    """`referflow serve` on a free port with its own data folder, as a user would start it."""
    data_dir = tmp_path_factory.mktemp("live")
    env = subprocess_env(REFERFLOW_ADMIN_PASSWORD=ADMIN_PASSWORD, REFERFLOW_STORAGE_SECRET="e2e-secret",
                  REFERFLOW_SEED_DEMO=os.environ.get("REFERFLOW_SEED_DEMO", "0"))
    with running_app(env=env, log_path=data_dir / "server.log", db=data_dir / "referflow.db") as app:
        yield LiveApp(app.url, data_dir)


@pytest.fixture
def admin_page(page: Page, live_app: LiveApp) -> Page:
    """A page signed in as the admin."""
    visit(page, f"{live_app.url}/login")
    page.get_by_label("Admin password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Log out").wait_for()
    return page
