"""The one database engine, migrated by Alembic when opened: SQLite tuned for many small writes (the embedded
default), or PostgreSQL through psycopg 3 (`postgresql+psycopg://...`) for several app instances sharing one database.
"""

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


POSTGRES_SCHEMES = ("postgresql+psycopg://", "postgresql://", "postgres://")


def database_url(*, path: str | Path | None = None, url: str | None = None) -> str:
    """The SQLAlchemy URL for a file path, an explicit `sqlite:///` URL or a PostgreSQL URL (`postgresql://` and
    `postgres://` are read as `postgresql+psycopg://`, the driver Referflow ships with)."""
    if url:
        url = url.strip()
        if url.startswith("sqlite:"):
            return url
        for scheme in POSTGRES_SCHEMES:
            if url.startswith(scheme):
                return "postgresql+psycopg://" + url.removeprefix(scheme)
        shown = sa.engine.make_url(url).render_as_string(hide_password=True) if "://" in url else url
        raise DatabaseError(
            f"Referflow stores its data in SQLite (sqlite:///path/to/file.db) or PostgreSQL "
            f"(postgresql+psycopg://user:password@host:5432/database); '{shown}' is neither."
        )
    if path is None:
        raise DatabaseError("No database given: set REFERFLOW_DB to a file path or REFERFLOW_DATABASE_URL to a URL.")
    return f"sqlite:///{Path(path).expanduser().resolve()}"


def is_postgres_url(url: str) -> bool:
    return url.startswith(POSTGRES_SCHEMES)


@dataclass
class Database:
    engine: Engine

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=False)

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def session(self) -> Session:
        """An ORM session for reading (deferred transactions; WAL readers never block the writer)."""
        return Session(self.engine, expire_on_commit=False)

    @contextmanager
    def write_session(self) -> Iterator[Session]:
        """An ORM session for writing, committed on success, rolled back on error. On SQLite its transaction starts
        with BEGIN IMMEDIATE (one writer at a time); on PostgreSQL it is an ordinary READ COMMITTED transaction whose
        rows are locked as they are written."""
        engine = self.engine if self.is_postgres else self.engine.execution_options(sqlite_begin="IMMEDIATE")
        with Session(engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def raw_connection(self) -> Iterator[sqlite3.Connection]:
        """A pooled plain connection in autocommit mode, for code that writes SQL like the runtime's (it begins and
        commits its own transactions): sqlite3 itself on SQLite; on PostgreSQL, psycopg behind the runtime's executor,
        which takes the same `?` statements and reads JSON and times as the same text."""
        if self.is_postgres:
            from storage.connection import connect_engine

            connection = connect_engine(self)
            try:
                yield connection.db
            finally:
                connection.close()
            return
        pooled = self.engine.raw_connection()
        try:
            yield pooled.driver_connection
        finally:
            pooled.close()

    def dispose(self) -> None:
        self.engine.dispose()


def create_engine(url: str) -> Engine:
    if is_postgres_url(url):
        return _create_postgres_engine(url)
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 5})
    event.listen(engine, "connect", _configure_connection)
    event.listen(engine, "begin", _begin)
    return engine


def open_database(*, url: str, migrate: bool = True) -> Database:
    """Open (and by default migrate to the newest schema) the database at `url`."""
    database = Database(create_engine(database_url(url=url)))
    if migrate:
        from storage.migrate import upgrade

        try:
            upgrade(database.engine)
        except sa.exc.OperationalError as error:
            if not database.is_postgres:
                raise
            database.dispose()
            raise DatabaseError(_unreachable(database_url(url=url), error)) from None
    return database


def _create_postgres_engine(url: str) -> Engine:
    # pre_ping: an instance keeps working after PostgreSQL restarts or a proxy drops idle connections.
    # The pool holds the runtime's connection, the delivery worker's and scheduler's, and the admin pages' sessions.
    return sa.create_engine(
        url, pool_pre_ping=True, pool_size=8, max_overflow=8,
        # UTC sessions: timestamps written as plain text (the runtime's) mean UTC, as they do on SQLite
        connect_args={"connect_timeout": 5, "application_name": "referflow", "options": "-c timezone=UTC"},
    )


def _unreachable(url: str, error: sa.exc.OperationalError) -> str:
    shown = sa.engine.make_url(url).render_as_string(hide_password=True)
    reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
    return f"Cannot open the database {shown}: {reason}"


def _configure_connection(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    # Autocommit at the driver level: transactions are begun explicitly in _begin (pysqlite's own handling would
    # start deferred transactions late, which makes two writers fail with "database is locked").
    dbapi_connection.isolation_level = None
    for pragma in PRAGMAS:
        dbapi_connection.execute(pragma)


def _begin(connection: sa.Connection) -> None:
    mode = connection.get_execution_options().get("sqlite_begin", "")
    connection.exec_driver_sql(f"BEGIN {mode}".strip())
