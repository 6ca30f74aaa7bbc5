"""Fixtures every suite can reuse: a temporary migrated database, and a configured app for NiceGUI's User.

The `database` fixture is SQLite by default. `pytest --database=postgresql` (or REFERFLOW_TEST_DATABASE=postgresql)
runs the same tests against PostgreSQL, each in a fresh database copied from a migrated template; when no server
answers, they are reported as skipped with the reason. Tests that need PostgreSQL whatever the mode take
`postgres_url` or `postgres_database`.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest

from storage.db import Database, open_database
from tests.helpers import ADMIN_PASSWORD
from tests.postgres import PostgresServer, find_postgres_server

pytest_plugins = ["nicegui.testing.user_plugin"]

DATABASE_FIXTURES = frozenset({"database", "database_target", "postgres_url", "postgres_database", "postgres_server"})


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--database", choices=("sqlite", "postgresql"), default=None,
        help="the database behind the `database` fixture (default: $REFERFLOW_TEST_DATABASE, else sqlite); "
             "postgresql uses $REFERFLOW_TEST_POSTGRES_URL, else postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
    )


def pytest_report_header(config: pytest.Config) -> str:
    return f"referflow test database: {database_kind(config)}"


def database_kind(config: pytest.Config) -> str:
    import os

    return config.getoption("--database") or os.environ.get("REFERFLOW_TEST_DATABASE", "").strip() or "sqlite"


@pytest.fixture(scope="session")
def postgres_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[
        PostgresServer]:
    """The PostgreSQL server the tests may use, with a migrated template database (made once per run)."""
    server = find_postgres_server()
    if isinstance(server, str):
        pytest.skip(server)
    yield server
    server.close()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """The URL of a fresh, migrated PostgreSQL database of its own, dropped after the test."""
    with postgres_server.fresh_database() as url:
        yield url


@pytest.fixture
def postgres_database(postgres_url: str) -> Iterator[Database]:
    db = open_database(url=postgres_url)
    yield db
    db.dispose()


@pytest.fixture
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A fresh, fully migrated database: a SQLite file in a temporary folder, or a PostgreSQL database of its own."""
    if database_kind(request.config) == "postgresql":
        db = open_database(url=request.getfixturevalue("postgres_url"))
    else:
        db = open_database(url=f"sqlite:///{tmp_path / 'referflow.db'}")
    yield db
    db.dispose()


@pytest.fixture
def database_target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """What `referflow --db` is given in this pass: a new SQLite file's path, or a fresh PostgreSQL database's URL."""
    if database_kind(request.config) == "postgresql":
        return request.getfixturevalue("postgres_url")
    return str(tmp_path / "cli.db")


@pytest.fixture
def app_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the app that the User fixture starts at a temporary database with a known admin password."""
    db_path = tmp_path / "app.db"
    monkeypatch.setenv("REFERFLOW_DB", str(db_path))
    monkeypatch.delenv("REFERFLOW_DATABASE_URL", raising=False)
    monkeypatch.setenv("REFERFLOW_ADMIN_PASSWORD", ADMIN_PASSWORD)
    monkeypatch.setenv("REFERFLOW_SEED_DEMO", "0")  # tests start from an empty workspace unless they import one
    return db_path


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In the PostgreSQL pass, run only the tests that touch a database: the others already ran in the SQLite pass."""
    if database_kind(config) != "postgresql":
        return
    keep, drop = [], []
    for item in items:
        (keep if set(getattr(item, "fixturenames", ())) & DATABASE_FIXTURES else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
