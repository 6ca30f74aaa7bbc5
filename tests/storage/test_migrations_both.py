"""Alembic creates the same schema on SQLite and PostgreSQL, and PostgreSQL keeps the rules SQLite keeps."""

import secrets
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel

from storage.db import Database, DatabaseError, database_url, open_database
from storage.migrate import current_revision, head_revision
from storage.models import Contact, EntryPoint, Referral, Tag
from tests.postgres import PostgresServer


def describe_schema(database: Database) -> dict[str, dict]:
    """What a person reading the schema would compare: columns, keys, uniqueness, indexes and foreign keys."""
    inspector = sa.inspect(database.engine)
    tables = {}
    for table in sorted(set(inspector.get_table_names()) - {"alembic_version"}):
        tables[table] = {
            "columns": [(c["name"], c["nullable"], _kind(c["type"])) for c in inspector.get_columns(table)],
            "primary key": inspector.get_pk_constraint(table)["constrained_columns"],
            "unique": sorted(tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)),
            "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]))
                              for i in inspector.get_indexes(table) if not i.get("duplicates_constraint")),
            "foreign keys": sorted((tuple(f["constrained_columns"]), f["referred_table"],
                                    (f.get("options") or {}).get("ondelete", "").upper())
                                   for f in inspector.get_foreign_keys(table)),
            "checks": sorted(c["name"] for c in inspector.get_check_constraints(table)),
        }
    return tables


def _kind(column_type: sa.types.TypeEngine) -> str:
    # Compared by what the column holds: SQLite spells JSON and booleans its own way.
    for kind, family in (("boolean", sa.Boolean), ("integer", sa.Integer), ("datetime", sa.DateTime),
                         ("json", sa.JSON)):
        if isinstance(column_type, family):
            return kind
    return "text"


def test_alembic_creates_the_same_schema_on_both(tmp_path: Path, postgres_database: Database) -> None:
    sqlite = open_database(url=f"sqlite:///{tmp_path / 'same.db'}")
    try:
        on_sqlite, on_postgres = describe_schema(sqlite), describe_schema(postgres_database)
    finally:
        sqlite.dispose()
    assert sorted(on_postgres) == sorted(on_sqlite)
    for table, shape in on_sqlite.items():
        assert on_postgres[table] == shape, f"table {table} differs"
    assert current_revision(postgres_database.engine) == head_revision()


def test_the_models_match_the_migrations_on_postgresql(postgres_database: Database) -> None:
    with postgres_database.engine.connect() as connection:
        drift = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert drift == [], "the migrations build on PostgreSQL a schema the models do not describe"


def test_opening_a_migrated_postgresql_database_again_is_harmless(postgres_url: str) -> None:
    open_database(url=postgres_url).dispose()
    again = open_database(url=postgres_url)
    assert current_revision(again.engine) == head_revision()
    again.dispose()


def test_postgresql_keeps_the_rules_of_the_schema(postgres_database: Database) -> None:
    with postgres_database.write_session() as session:
        ann, bob = Contact(channel="telegram", channel_user_id="1"), Contact(channel="telegram", channel_user_id="2")
        entry = EntryPoint(name="Giveaway", ref="giveaway2025")
        session.add_all([ann, bob, entry])
    with pytest.raises(IntegrityError, match="one_contact_per_channel_user"), \
            postgres_database.write_session() as session:
        session.add(Contact(channel="telegram", channel_user_id="1"))
    with pytest.raises(IntegrityError, match="ref_grammar"), postgres_database.write_session() as session:
        session.add(EntryPoint(name="Bad", ref="give--away"))
    counted = {"entry_point_id": entry.id, "referrer_id": ann.id, "referee_id": bob.id, "referrer_ref": str(ann.id)}
    with postgres_database.write_session() as session:
        session.add(Referral(**counted, kind="new", status="counted"))
        session.add(Referral(**counted, kind="existing", status="duplicate"))  # only counted ones are unique
    with pytest.raises(IntegrityError, match="ux_referral_counted_once"), \
            postgres_database.write_session() as session:
        session.add(Referral(**counted, kind="existing", status="counted"))


def test_a_definition_saved_on_one_instance_changes_the_version_every_instance_reads(postgres_url: str) -> None:
    first, second = open_database(url=postgres_url), open_database(url=postgres_url)
    try:
        before = _definitions_version(second)
        with first.write_session() as session:
            session.add(Tag(name="vip"))
        assert _definitions_version(second) > before
        with first.write_session() as session:
            session.add(Contact(channel="telegram", channel_user_id="9"))  # a contact is not a definition
        changed = _definitions_version(second)
        assert _definitions_version(second) == changed
        with first.write_session() as session:
            session.exec(sa.delete(Tag))
        assert _definitions_version(second) > changed
    finally:
        first.dispose()
        second.dispose()


def _definitions_version(database: Database) -> int:
    with database.engine.connect() as connection:
        return connection.execute(sa.text("SELECT version FROM definitions_version WHERE id = 1")).scalar_one()


@pytest.mark.parametrize(("given", "expected"), [
    ("postgresql+psycopg://rf:secret@db:5432/referflow", "postgresql+psycopg://rf:secret@db:5432/referflow"),
    ("postgresql://rf@db/referflow", "postgresql+psycopg://rf@db/referflow"),
    ("postgres://rf@db/referflow", "postgresql+psycopg://rf@db/referflow"),
    (" sqlite:///data/referflow.db ", "sqlite:///data/referflow.db"),
])
def test_database_urls_for_sqlite_and_postgresql(given: str, expected: str) -> None:
    assert database_url(url=given) == expected


def test_another_database_is_refused_without_showing_its_password() -> None:
    with pytest.raises(DatabaseError) as refused:
        database_url(url="mysql://rf:hunter2@db/referflow")
    assert "hunter2" not in str(refused.value)
    assert "SQLite (sqlite:///path/to/file.db) or PostgreSQL" in str(refused.value)


def test_an_unreachable_postgresql_server_is_one_clear_sentence() -> None:
    with pytest.raises(DatabaseError, match=r"^Cannot open the database postgresql\+psycopg://rf:\*\*\*@127.0.0.1:9/"):
        open_database(url="postgresql://rf:hunter2@127.0.0.1:9/referflow")


def test_rows_written_with_their_own_ids_move_the_postgresql_sequence_past_them(postgres_database: Database) -> None:
    with postgres_database.write_session() as session:
        session.add_all([Contact(id=41, channel="telegram", channel_user_id="41"), Tag(id=7, name="imported")])
    with postgres_database.write_session() as session:
        contact, tag = Contact(channel="telegram", channel_user_id="new"), Tag(name="made here")
        session.add_all([contact, tag])
    assert (contact.id, tag.id) == (42, 8)


def test_instances_starting_together_on_an_empty_postgresql_database_migrate_it_once(
        postgres_server: PostgresServer) -> None:
    name = f"referflow_test_{secrets.token_hex(6)}"
    postgres_server.execute(f'CREATE DATABASE "{name}"')  # empty: not copied from the migrated template
    url, opened, failures = postgres_server.url_of(name), [], []

    def start() -> None:
        try:
            opened.append(open_database(url=url))
        except Exception as error:  # the test reports what an instance would have died of
            failures.append(error)

    try:
        starting = [threading.Thread(target=start) for _ in range(3)]
        for thread in starting:
            thread.start()
        for thread in starting:
            thread.join(timeout=120)
        assert failures == [] and len(opened) == 3
        assert {current_revision(database.engine) for database in opened} == {head_revision()}
    finally:
        for database in opened:
            database.dispose()
        postgres_server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
