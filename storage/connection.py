"""The runtime's connection provider: one transaction at a time on SQLite (sqlite3) or PostgreSQL (psycopg 3).

`Runtime` asks for transactions through `EngineConnection` instead of reaching into the SQLAlchemy engine; the
statements themselves live in runtime/store.py, written once for both. Code that runs inside a turn executes SQL
through `turn.db.execute(sql, params)` with `?` placeholders on either backend: on SQLite `db` is the sqlite3
connection itself (the hot path pays nothing), on PostgreSQL an adapter that rewrites each statement once (cached).

How PostgreSQL keeps the promises BEGIN IMMEDIATE keeps on SQLite is explained in runtime/store.py.
"""

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from storage.db import Database

RETRIES = 8  # a turn that lost a deadlock or a serialization check runs again this many times before giving up
_CACHE_LIMIT = 1024  # translated statements kept; the runtime has a few dozen, other modules a few more


class Cursor(Protocol):
    rowcount: int

    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


class Executor(Protocol):
    """What `turn.db` offers: sqlite3's own `execute` / `executemany`, `?` placeholders."""

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Any: ...
    def executemany(self, sql: str, rows: Iterable[Sequence[Any]], /) -> Any: ...


class EngineConnection(Protocol):
    dialect: str
    db: Executor

    def begin_write(self) -> None: ...
    def begin_read(self) -> None: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> Any: ...
    def lock_contact(self, contact_id: int, person: tuple[str, str] | None = None) -> None: ...
    def is_retryable(self, error: BaseException) -> bool: ...
    def close(self) -> None: ...


def connect_engine(database: Database) -> EngineConnection:
    """A connection of the database's own kind, taken from its engine's pool (returned on close)."""
    dialect = database.engine.dialect.name
    if dialect == "sqlite":
        return SqliteConnection(database.engine.raw_connection())
    if dialect == "postgresql":
        return PostgresConnection(database.engine.raw_connection())
    raise ValueError(f"Referflow's runtime runs on SQLite or PostgreSQL; this database is {dialect}.")


def as_executor(driver_connection: Any) -> Executor:
    """`?`-placeholder execution on a driver connection someone else manages (e.g. an ORM session's)."""
    if isinstance(driver_connection, sqlite3.Connection):
        return driver_connection
    return PostgresExecutor(driver_connection)


def inserted_id(db: Executor, sql: str, parameters: Sequence[Any]) -> int:
    """Run an INSERT of one row and give the new row's id: sqlite3's lastrowid there (RETURNING costs SQLite about
    twice the time of the insert itself), `RETURNING id` on PostgreSQL."""
    if isinstance(db, sqlite3.Connection):
        return db.execute(sql, parameters).lastrowid
    return db.execute(sql + " RETURNING id", parameters).fetchone()[0]


class SqliteConnection:
    """BEGIN IMMEDIATE takes the database's one write lock: a write turn runs alone, whatever it reads and writes."""

    dialect = "sqlite"

    def __init__(self, pooled: Any) -> None:
        self._pooled = pooled
        self.db: sqlite3.Connection = pooled.driver_connection

    def begin_write(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def begin_read(self) -> None:
        self.db.execute("BEGIN")

    def commit(self) -> None:
        self.db.execute("COMMIT")

    def rollback(self) -> None:
        self.db.execute("ROLLBACK")

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self.db.execute(sql, parameters)

    def lock_contact(self, contact_id: int, person: tuple[str, str] | None = None) -> None:
        pass  # the write lock covers every contact

    def is_retryable(self, error: BaseException) -> bool:
        return False  # busy_timeout already waits for the lock; nothing is ever half-done

    def close(self) -> None:
        self._pooled.close()


class PostgresConnection:
    """READ COMMITTED transactions begun explicitly (the driver runs in autocommit otherwise, like sqlite3 here).
    Lost deadlocks and serialization failures are reported as retryable: the caller rolls back and runs the turn
    again."""

    dialect = "postgresql"

    def __init__(self, pooled: Any) -> None:
        self._pooled = pooled
        self._driver = pooled.driver_connection
        self._driver.autocommit = True
        self._loaders = _read_as_text(self._driver.adapters)
        self.db = PostgresExecutor(self._driver)

    def begin_write(self) -> None:
        self._driver.execute("BEGIN")

    def begin_read(self) -> None:
        self._driver.execute("BEGIN READ ONLY")

    def commit(self) -> None:
        self._driver.execute("COMMIT")

    def rollback(self) -> None:
        self._driver.execute("ROLLBACK")

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> Any:
        return self.db.execute(sql, parameters)

    def lock_contact(self, contact_id: int, person: tuple[str, str] | None = None) -> None:
        """Row-lock a contact (and the one with this (channel, channel user id), if they exist) until the turn ends:
        the turns that change one contact run one after another. Two rows are locked in id order, so that A opening
        B's link while B opens A's wait for each other in line, not in a circle (a deadlock PostgreSQL breaks only
        after a second). NO KEY UPDATE is the lock an UPDATE of the row takes; unlike FOR UPDATE it does not wait for
        the key-share locks other turns' inserts referring to the contact take (a new referee's referred_by_id, a
        message to the contact), so two turns crediting the same referrer never deadlock on it."""
        if person is None:
            self._driver.execute("SELECT 1 FROM contact WHERE id = %s FOR NO KEY UPDATE", (contact_id,))
        else:
            self._driver.execute("SELECT 1 FROM contact WHERE id = %s OR (channel = %s AND channel_user_id = %s)"
                                 " ORDER BY id FOR NO KEY UPDATE", (contact_id, *person)).fetchall()

    def is_retryable(self, error: BaseException) -> bool:
        import psycopg.errors

        return isinstance(error, psycopg.errors.DeadlockDetected | psycopg.errors.SerializationFailure)

    def close(self) -> None:
        try:
            if not self._driver.closed:
                self._driver.autocommit = False  # as the pool handed it out, for the ORM sessions that get it next
                for oid, loader in self._loaders.items():
                    self._driver.adapters.register_loader(oid, loader)
        finally:
            self._pooled.close()


_TEXT_TYPES = ("json", "jsonb", "timestamp", "timestamptz")


def _read_as_text(adapters: Any) -> dict[int, Any]:
    """JSON documents and timestamps come back as the text SQLite gives (the runtime decodes JSON itself and shows
    stored times as text); returns the loaders replaced, to put back when the connection goes back to the pool."""
    from psycopg.pq import Format
    from psycopg.types.string import TextLoader

    replaced = {}
    for name in _TEXT_TYPES:
        oid = adapters.types[name].oid
        replaced[oid] = adapters.get_loader(oid, Format.TEXT)
        adapters.register_loader(oid, TextLoader)
    return replaced


class PostgresExecutor:
    """sqlite3's `execute(sql, params)` on a psycopg connection: `?` becomes `%s` (and `%` becomes `%%`) once per
    statement text, outside quoted literals."""

    def __init__(self, driver_connection: Any) -> None:
        self._connection = driver_connection
        self._translated: dict[str, str] = {}

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Any:
        return self._connection.execute(self._translate(sql), parameters or None)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]], /) -> Any:
        rows = list(rows)
        cursor = self._connection.cursor()
        if rows:
            cursor.executemany(self._translate(sql), rows)
        return cursor

    def _translate(self, sql: str) -> str:
        translated = self._translated.get(sql)
        if translated is None:
            if len(self._translated) >= _CACHE_LIMIT:
                self._translated.clear()
            translated = self._translated[sql] = translate_placeholders(sql)
        return translated


def translate_placeholders(sql: str) -> str:
    """`?` placeholders to psycopg's `%s`, leaving string literals and quoted names alone; `?1`-style numbered
    placeholders are refused (PostgreSQL's driver has no equivalent), so a statement that would run differently on
    the two backends fails loudly on the first try."""
    out: list[str] = []
    quote = ""
    for index, char in enumerate(sql):
        if quote:
            out.append("%%" if char == "%" else char)
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
            out.append(char)
        elif char == "?":
            if sql[index + 1:index + 2].isdigit():
                raise ValueError(f"Numbered placeholders (?1) do not run on PostgreSQL: {sql}")
            out.append("%s")
        else:
            out.append("%%" if char == "%" else char)
    return "".join(out)
