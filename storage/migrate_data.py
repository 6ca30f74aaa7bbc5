"""Moving a workspace to another database (SQLite to PostgreSQL, or back): every table in foreign-key order, read from
one snapshot of the source and written in one transaction on the target, which commits only once every table holds as
many rows as the source. Ids are kept, and each id sequence continues after the highest id ever given out (a
`{{user_id}}` in a link already shared never points at someone new)."""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (registers the tables)
from storage.db import Database

# definitions_version is the target's own counter (one row made by the migrations); every other table is copied.
NOT_COPIED = frozenset({"definitions_version"})
BATCH = 2000


class DataMigrationError(Exception):
    """The move cannot be done or did not verify; nothing was written to the target."""


@dataclass(frozen=True)
class TableCount:
    table: str
    source: int
    target: int


def copied_tables() -> list[sa.Table]:
    return [table for table in SQLModel.metadata.sorted_tables if table.name not in NOT_COPIED]


def migrate_data(*, source: Database, target: Database) -> list[TableCount]:
    """Copy every row of `source` into the empty, migrated `target`; returns the verified counts per table."""
    if source.url == target.url:
        raise DataMigrationError("The source and the target are the same database.")
    refuse_unless_empty(target)
    writer = target.engine.execution_options(sqlite_begin="IMMEDIATE")
    with source.engine.connect() as reading, writer.connect() as writing, writing.begin():
        if target.is_postgres:  # a second migrate-data (or an instance already started) waits, then finds the data
            writing.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('referflow migrate-data'))"))
        refuse_unless_empty(target, connection=writing)
        for table in copied_tables():
            try:
                _copy_table(table, reading=reading, writing=writing, source_is_postgres=source.is_postgres,
                            target_is_postgres=target.is_postgres)
            except (sa.exc.DBAPIError, ValueError) as error:
                reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
                raise DataMigrationError(
                    f"Copying the table {table.name} failed, so nothing was kept: {reason}") from None
        _continue_sequences(reading=reading, writing=writing, source=source, target=target)
        counts = [TableCount(table.name, _count(reading, table), _count(writing, table)) for table in copied_tables()]
        wrong = [count for count in counts if count.source != count.target]
        if wrong:
            raise DataMigrationError("The copy did not verify, so nothing was kept: " + "; ".join(
                f"{count.table} has {count.source} rows in the source but {count.target} in the target"
                for count in wrong))
    return counts


def refuse_unless_empty(target: Database, *, connection: sa.Connection | None = None) -> None:
    if connection is None:
        with target.engine.connect() as reading:
            return refuse_unless_empty(target, connection=reading)
    held = [(table.name, rows) for table in copied_tables() if (rows := _count(connection, table))]
    if held:
        listed = ", ".join(f"{table} ({rows} {'row' if rows == 1 else 'rows'})" for table, rows in held[:5])
        more = f" and {len(held) - 5} more tables" if len(held) > 5 else ""
        raise DataMigrationError(
            f"The target database already holds data: {listed}{more}. migrate-data only fills an empty database "
            "(a new one, migrated by Referflow or not yet), so nothing was copied.")
    return None


def _copy_table(table: sa.Table, *, reading: sa.Connection, writing: sa.Connection, source_is_postgres: bool,
                target_is_postgres: bool) -> None:
    columns = list(table.columns)
    kinds = [_kind(column) for column in columns]
    # A contact may name as referrer a contact with a higher id: such links are written once every row is in.
    later = [i for i, column in enumerate(columns) if any(fk.column.table is table for fk in column.foreign_keys)]
    insert = _insert_statement(table, kinds, target_is_postgres)
    links = []
    for rows in _read(table, kinds, reading, source_is_postgres):
        batch = []
        for row in rows:
            values = [_value(kind, value, target_is_postgres) for kind, value in zip(kinds, row, strict=True)]
            for i in later:
                if values[i] is not None:
                    links.append({"id": row[0], "value": values[i], "column": columns[i].name})
                    values[i] = None
            batch.append({f"p{i}": value for i, value in enumerate(values)})
        writing.execute(insert, batch)
    for name in {link["column"] for link in links}:
        writing.execute(sa.text(f'UPDATE "{table.name}" SET "{name}" = :value WHERE id = :id'),
                        [{"id": link["id"], "value": link["value"]} for link in links if link["column"] == name])


def _kind(column: sa.Column) -> str:
    for kind, family in (("json", sa.JSON), ("datetime", sa.DateTime), ("boolean", sa.Boolean)):
        if isinstance(column.type, family):
            return kind
    return "plain"


def _read(table: sa.Table, kinds: Sequence[str], reading: sa.Connection, source_is_postgres: bool) -> Iterator[
        list[tuple]]:
    selected = ", ".join(f'"{column.name}"::text' if kind == "json" and source_is_postgres else f'"{column.name}"'
                         for column, kind in zip(table.columns, kinds, strict=True))
    order = ", ".join(f'"{column.name}"' for column in table.primary_key.columns)
    result = reading.exec_driver_sql(f'SELECT {selected} FROM "{table.name}" ORDER BY {order}')
    while rows := result.fetchmany(BATCH):
        yield rows


def _insert_statement(table: sa.Table, kinds: Sequence[str], target_is_postgres: bool) -> sa.TextClause:
    names = ", ".join(f'"{column.name}"' for column in table.columns)
    # JSON travels as the stored text, so SQL NULL stays NULL and JSON null stays JSON null
    values = ", ".join(f"CAST(:p{i} AS json)" if kind == "json" and target_is_postgres else f":p{i}"
                       for i, kind in enumerate(kinds))
    return sa.text(f'INSERT INTO "{table.name}" ({names}) VALUES ({values})')


def _value(kind: str, value: object, target_is_postgres: bool) -> object:
    if value is None:
        return None
    if kind == "datetime":
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        moment = moment.replace(tzinfo=UTC) if moment.utcoffset() is None else moment.astimezone(UTC)
        # SQLite keeps naive UTC text in SQLAlchemy's format, as the runtime writes it
        return moment if target_is_postgres else moment.replace(tzinfo=None).isoformat(" ", "microseconds")
    if kind == "boolean":
        return bool(value) if target_is_postgres else int(bool(value))
    return value


def _continue_sequences(*, reading: sa.Connection, writing: sa.Connection, source: Database,
                        target: Database) -> None:
    for table in copied_tables():
        if [column.name for column in table.primary_key.columns] != ["id"] or not isinstance(table.c.id.type,
                                                                                             sa.Integer):
            continue
        highest = max(_highest_id(reading, table.name, source), _highest_id(writing, table.name, target))
        if target.is_postgres:
            sequence = writing.execute(sa.text("SELECT pg_get_serial_sequence(:table, 'id')"),
                                       {"table": f'"{table.name}"'}).scalar()
            if sequence:
                writing.execute(sa.text("SELECT setval(:sequence, :value, :called)"),
                                {"sequence": sequence, "value": max(highest, 1), "called": highest > 0})
        elif table.dialect_options["sqlite"]["autoincrement"] and highest:
            writing.execute(sa.text("DELETE FROM sqlite_sequence WHERE name = :table"), {"table": table.name})
            writing.execute(sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES (:table, :seq)"),
                            {"table": table.name, "seq": highest})


def _highest_id(connection: sa.Connection, table: str, database: Database) -> int:
    highest = connection.execute(sa.text(f'SELECT coalesce(max(id), 0) FROM "{table}"')).scalar_one()
    if database.is_postgres:
        sequence = connection.execute(sa.text("SELECT pg_get_serial_sequence(:table, 'id')"),
                                      {"table": f'"{table}"'}).scalar()
        if sequence:  # ids given out and then deleted count too
            row = connection.execute(sa.text(f"SELECT last_value, is_called FROM {sequence}")).one()
            highest = max(highest, row[0] if row[1] else 0)
        return highest
    has_sequence = connection.execute(sa.text(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'")).scalar_one()
    if has_sequence:
        seq = connection.execute(sa.text("SELECT seq FROM sqlite_sequence WHERE name = :table"),
                                 {"table": table}).scalar()
        highest = max(highest, seq or 0)
    return highest


def _count(connection: sa.Connection, table: sa.Table) -> int:
    return connection.execute(sa.text(f'SELECT count(*) FROM "{table.name}"')).scalar_one()
