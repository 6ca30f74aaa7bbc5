"""A PostgreSQL server for the tests: found once per run, one migrated template database, and a fresh database per test
copied from it (CREATE DATABASE ... TEMPLATE takes a few milliseconds; migrating takes about a second)."""

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import sqlalchemy as sa

from runtime.simulator.sandbox import sandbox_url
from storage.db import database_url, open_database

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def postgres_test_url() -> str:
    return database_url(url=os.environ.get("REFERFLOW_TEST_POSTGRES_URL", "").strip() or DEFAULT_URL)


@dataclass
class PostgresServer:
    url: sa.URL  # the maintenance database the test databases are created from
    template: str

    def libpq(self, database: str | None = None) -> str:
        url = self.url.set(drivername="postgresql", database=database or self.url.database)
        return url.render_as_string(hide_password=False)

    def url_of(self, database: str) -> str:
        return self.url.set(database=database).render_as_string(hide_password=False)

    @contextmanager
    def fresh_database(self) -> Iterator[str]:
        name = f"referflow_test_{secrets.token_hex(6)}"
        self.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        try:
            yield self.url_of(name)
        finally:
            self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            sandbox = Path(sandbox_url(self.url_of(name)).removeprefix("sqlite:///"))  # the simulator's, if opened
            for leftover in (sandbox, *(sandbox.with_name(sandbox.name + end) for end in ("-wal", "-shm"))):
                leftover.unlink(missing_ok=True)

    def execute(self, statement: str) -> None:
        with psycopg.connect(self.libpq(), autocommit=True, connect_timeout=5) as connection:
            connection.execute(statement)

    def close(self) -> None:
        self.execute(f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)')


def find_postgres_server() -> PostgresServer | str:
    """The server at REFERFLOW_TEST_POSTGRES_URL (else the local default), ready with a migrated template; or the
    reason why the PostgreSQL tests are skipped."""
    url = sa.engine.make_url(postgres_test_url())
    server = PostgresServer(url=url, template=f"referflow_template_{os.getpid()}_{secrets.token_hex(3)}")
    shown = url.render_as_string(hide_password=True)
    try:
        server.execute(f'CREATE DATABASE "{server.template}"')
    except psycopg.Error as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return f"no PostgreSQL answers at {shown} (set REFERFLOW_TEST_POSTGRES_URL): {reason}"
    template = open_database(url=server.url_of(server.template))
    template.dispose()  # a template must have no open connection when it is copied
    return server
