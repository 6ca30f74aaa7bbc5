"""Alembic migrations, applied in-process at start-up so an existing database upgrades without losing data."""

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

MIGRATIONS = Path(__file__).parent / "migrations"


def upgrade(engine: Engine, revision: str = "head") -> None:
    with engine.begin() as connection:
        hold_setup_lock(connection)
        config = _config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def hold_setup_lock(connection: Connection | Session) -> None:
    """On PostgreSQL, until the transaction ends: instances starting together migrate and set up one after another
    (the second finds the tables, the admin account and the demo already there). SQLite's BEGIN IMMEDIATE does this."""
    dialect = connection.get_bind().dialect if isinstance(connection, Session) else connection.dialect
    if dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('referflow setup'))"))


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config
