"""The one database engine: SQLite tuned for many small writes, migrated by Alembic when opened."""

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session

PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=5000",
)


class DatabaseError(Exception):
    """A database that cannot be opened or used, with a message for the person running Referflow."""


def database_url(*, path: str | Path | None = None, url: str | None = None) -> str:
    """The SQLAlchemy URL for a file path or an explicit `sqlite:///` URL (only SQLite is supported)."""
    if url:
        if not url.startswith("sqlite:"):
            raise DatabaseError(f"Referflow stores its data in SQLite; '{url}' is not a sqlite:/// URL.")
        return url
    if path is None:
        raise DatabaseError("No database given: set REFERFLOW_DB to a file path or REFERFLOW_DATABASE_URL to a URL.")
    return f"sqlite:///{Path(path).expanduser().resolve()}"


@dataclass
class Database:
    engine: Engine

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=False)

    def session(self) -> Session:
        """An ORM session for reading (deferred transactions; WAL readers never block the writer)."""
        return Session(self.engine, expire_on_commit=False)

    @contextmanager
    def write_session(self) -> Iterator[Session]:
        """An ORM session whose transaction starts with BEGIN IMMEDIATE; committed on success, rolled back on error."""
        with Session(self.engine.execution_options(sqlite_begin="IMMEDIATE"), expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def raw_connection(self) -> Iterator[sqlite3.Connection]:
        """A pooled plain sqlite3 connection in autocommit mode, for the runtime's hot path (it issues its own
        BEGIN IMMEDIATE / COMMIT)."""
        pooled = self.engine.raw_connection()
        try:
            yield pooled.driver_connection
        finally:
            pooled.close()

    def dispose(self) -> None:
        self.engine.dispose()


def create_engine(url: str) -> Engine:
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 5})
    event.listen(engine, "connect", _configure_connection)
    event.listen(engine, "begin", _begin)
    return engine


def open_database(*, url: str, migrate: bool = True) -> Database:
    """Open (and by default migrate to the newest schema) the database at `url`."""
    database = Database(create_engine(url))
    if migrate:
        from storage.migrate import upgrade

        upgrade(database.engine)
    return database


def _configure_connection(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    # Autocommit at the driver level: transactions are begun explicitly in _begin (pysqlite's own handling would
    # start deferred transactions late, which makes two writers fail with "database is locked").
    dbapi_connection.isolation_level = None
    for pragma in PRAGMAS:
        dbapi_connection.execute(pragma)


def _begin(connection: sa.Connection) -> None:
    mode = connection.get_execution_options().get("sqlite_begin", "")
    connection.exec_driver_sql(f"BEGIN {mode}".strip())
