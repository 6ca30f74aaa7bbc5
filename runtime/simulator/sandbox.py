"""The simulator's sandbox: a separate SQLite file that mirrors the workspace's definitions and holds only simulated
contacts. Live contacts are never read or written: the sandbox has its own contact tables, and syncing copies only
definition tables from the live file.
"""

import re
import sqlite3
import tempfile
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import SQLModel

from storage.db import Database, open_database

# Definition tables in foreign-key order (parents first).
DEFINITIONS = ("workspace_settings", "custom_field", "tag", "flow", "entry_point", "trigger", "coupon_pool",
               "coupon_code")
# Columns the simulation owns: simulated people claim the sandbox's copy of each code, so trying a flow in the
# simulator never uses up a live code, and a reset hands every code out afresh.
SIMULATED_COLUMNS = {"coupon_pool": {"misses": "0", "last_miss_at": "NULL"},
                     "coupon_code": {"contact_id": "NULL", "claimed_at": "NULL"}}
# What simulated people leave behind; emptied by a reset (contacts cascade to their values, tags, messages...).
SIMULATED = ("processed_event", "hook_event", "wake_up", "flow_position", "event_log", "link_open", "referral",
             "referral_score", "message", "trigger_run", "contact_tag", "field_value", "contact")


def sandbox_url(live_url: str, *, folder: Path | None = None) -> str:
    """`data/referflow.db` → `data/referflow.sandbox.db`, next to the live file. A live PostgreSQL database gets a
    SQLite file on this machine (in `folder`, by default the system's temporary folder), named after the server and
    database: each instance simulates in its own embedded file."""
    if live_url.startswith("postgresql"):
        url = sa.engine.make_url(live_url)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{url.host or 'local'}_{url.port or 5432}_{url.database}")
        folder = folder or Path(tempfile.gettempdir()) / "referflow-sandboxes"
        return f"sqlite:///{(folder / f'{name}.sandbox.db').resolve()}"
    if not live_url.startswith("sqlite:///") or live_url.endswith(":memory:"):
        raise ValueError("The simulator needs the workspace in a SQLite file or a PostgreSQL database.")
    path = Path(live_url.removeprefix("sqlite:///"))
    return f"sqlite:///{path.with_name(path.stem + '.sandbox' + path.suffix)}"


def open_sandbox(live: Database, *, folder: Path | None = None) -> Database:
    """The sandbox database next to the live one (for a live PostgreSQL database: in `folder`, see sandbox_url),
    migrated and with the live definitions copied in."""
    sandbox = open_database(url=sandbox_url(live.url, folder=folder))
    sync_definitions(live=live, sandbox=sandbox)
    return sandbox


def sync_definitions(*, live: Database, sandbox: Database, known_version: int | None = None) -> int:
    """Make the sandbox's definitions equal to the live ones, keeping every id (the canvas lights nodes by id) and the
    simulated contacts (their values for a deleted field go with the field). Returns the live definitions version;
    given the version of the last sync, nothing is copied when no definition changed since."""
    if live.is_postgres:
        return _sync_from_postgres(live=live, sandbox=sandbox, known_version=known_version)
    with live.raw_connection() as connection:
        version = connection.execute("SELECT version FROM definitions_version WHERE id = 1").fetchone()[0]
    if version == known_version:
        return version
    live_path = live.url.removeprefix("sqlite:///")
    with sandbox.raw_connection() as connection:
        connection.execute("ATTACH DATABASE ? AS live", (live_path,))
        try:
            connection.execute("BEGIN IMMEDIATE")
            for table in reversed(DEFINITIONS):
                connection.execute(f'DELETE FROM main."{table}" WHERE id NOT IN (SELECT id FROM live."{table}")')
            for table in DEFINITIONS:
                _upsert_all(connection, table)
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        finally:
            connection.execute("DETACH DATABASE live")
    return version


def _sync_from_postgres(*, live: Database, sandbox: Database, known_version: int | None) -> int:
    # No ATTACH across servers: the definitions are read in one snapshot and upserted into the sandbox file.
    tables = [SQLModel.metadata.tables[name] for name in DEFINITIONS]
    with live.engine.connect().execution_options(isolation_level="REPEATABLE READ") as reading:
        version = reading.execute(sa.text("SELECT version FROM definitions_version WHERE id = 1")).scalar_one()
        if version == known_version:
            return version
        rows = {table.name: [dict(row._mapping) for row in reading.execute(sa.select(table))] for table in tables}
    with sandbox.engine.execution_options(sqlite_begin="IMMEDIATE").begin() as writing:
        for table in reversed(tables):
            writing.execute(sa.delete(table).where(table.c.id.not_in([row["id"] for row in rows[table.name]])))
        for table in tables:
            simulated = {column: None if value == "NULL" else int(value)
                         for column, value in SIMULATED_COLUMNS.get(table.name, {}).items()}
            if rows[table.name]:
                upsert = sqlite_insert(table)
                writing.execute(upsert.on_conflict_do_update(
                    index_elements=["id"],
                    set_={column.name: upsert.excluded[column.name] for column in table.columns
                          if column.name != "id" and column.name not in simulated},
                ), [row | simulated for row in rows[table.name]])
    return version


def reset_sandbox(sandbox: Database) -> None:
    """Forget every simulated person and everything that happened to them; definitions stay."""
    with sandbox.raw_connection() as connection:
        connection.execute("BEGIN IMMEDIATE")
        for table in SIMULATED:
            connection.execute(f'DELETE FROM "{table}"')
        for table, columns in SIMULATED_COLUMNS.items():
            connection.execute(f'UPDATE "{table}" SET ' + ", ".join(f'"{c}" = {v}' for c, v in columns.items()))
        connection.execute("COMMIT")


def _upsert_all(connection: sqlite3.Connection, table: str) -> None:
    columns = [row[1] for row in connection.execute(f'PRAGMA main.table_info("{table}")')]
    simulated = SIMULATED_COLUMNS.get(table, {})
    names = ", ".join(f'"{column}"' for column in columns)
    values = ", ".join(simulated.get(column, f'"{column}"') for column in columns)
    updates = ", ".join(f'"{column}" = excluded."{column}"' for column in columns
                        if column != "id" and column not in simulated)
    connection.execute(
        f'INSERT INTO main."{table}" ({names}) SELECT {values} FROM live."{table}" WHERE true'
        f" ON CONFLICT (id) DO UPDATE SET {updates}"
    )
