"""The runtime's public entry point: live processing and the simulator both go through `Runtime`."""

import sqlite3
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from runtime.definitions import DefinitionCache, Definitions
from runtime.opening import Inbound, OpenResult, process_open
from storage.db import Database


def utcnow() -> datetime:
    return datetime.now(UTC)


class Runtime:
    """One database connection, a definition cache and a clock. Safe to share between threads (calls are
    serialised); use one per process, or one per sandbox in the simulator."""

    def __init__(self, database: Database, *, clock: Callable[[], datetime] = utcnow) -> None:
        self._pooled = database.engine.raw_connection()
        self._connection: sqlite3.Connection = self._pooled.driver_connection
        self._definitions = DefinitionCache()
        self._lock = threading.Lock()
        self.clock = clock

    def open_link(self, inbound: Inbound) -> OpenResult:
        """Process one inbound open in one BEGIN IMMEDIATE transaction (DOMAIN §4)."""
        with self._lock:
            connection = self._connection
            connection.execute("BEGIN IMMEDIATE")
            try:
                result = process_open(connection, self._definitions.get(connection), inbound, self.clock())
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
            return result

    def definitions(self) -> Definitions:
        with self._lock:
            return self._definitions.get(self._connection)

    def close(self) -> None:
        with self._lock:
            self._pooled.close()

    def __enter__(self) -> "Runtime":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
