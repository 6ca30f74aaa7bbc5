"""Fixtures every suite can reuse: a temporary migrated database, and a configured app for NiceGUI's User."""

from pathlib import Path

import pytest

from storage.db import Database, open_database

pytest_plugins = ["nicegui.testing.user_plugin"]

ADMIN_PASSWORD = "correct-horse-battery"


@pytest.fixture
def database(tmp_path: Path) -> Database:
    """A fresh, fully migrated SQLite database in a temporary folder."""
    db = open_database(url=f"sqlite:///{tmp_path / 'referflow.db'}")
    yield db
    db.dispose()


@pytest.fixture
def app_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the app that the User fixture starts at a temporary database with a known admin password."""
    db_path = tmp_path / "app.db"
    monkeypatch.setenv("REFERFLOW_DB", str(db_path))
    monkeypatch.delenv("REFERFLOW_DATABASE_URL", raising=False)
    monkeypatch.setenv("REFERFLOW_ADMIN_PASSWORD", ADMIN_PASSWORD)
    monkeypatch.setenv("REFERFLOW_SEED_DEMO", "0")  # tests start from an empty workspace unless they import one
    return db_path
