from collections.abc import Iterator
from pathlib import Path

import pytest
from nicegui import app
from nicegui.testing import User

from storage.db import Database, open_database
from tests.helpers import ADMIN_PASSWORD


@pytest.fixture
async def admin(app_env, user: User) -> User:
    """A User signed in as the admin."""
    await user.open("/login")
    user.find(marker="password").type(ADMIN_PASSWORD)
    user.find(marker="sign-in").click()
    await user.should_see(marker="navigation", retries=50)  # signing in hashes a password: slow on a busy machine
    return user


@pytest.fixture
def app_database(app_env: Path, admin: User) -> Iterator[Database]:
    """The database of the app the admin is signed in to (opened after the app created it)."""
    database = open_database(url=f"sqlite:///{app_env}")
    yield database
    database.dispose()


@pytest.fixture(autouse=True)
def fresh_sandbox() -> None:
    """NiceGUI keeps `app.state` between User tests, but each test starts its own app with its own database."""
    for name in ("referflow_simulator", "referflow_simulator_recording"):
        if hasattr(app.state, name):
            delattr(app.state, name)
