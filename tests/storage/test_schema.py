"""The schema keeps bad data out, the pragmas are in force, and migrations upgrade old databases in place."""

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel

from storage.db import Database, create_engine, open_database
from storage.migrate import current_revision, head_revision, upgrade
from storage.models import Contact, CustomField, EntryPoint, Referral

# what SQLite and PostgreSQL say when a rule of the schema refuses a row
UNIQUE = "UNIQUE|unique constraint"
CHECK = "CHECK|check constraint"
FOREIGN_KEY = "FOREIGN KEY|foreign key constraint"


def add_all(database: Database, *rows: SQLModel) -> None:
    with database.write_session() as session:
        session.add_all(rows)


def test_two_contacts_cannot_share_a_channel_user_id(database: Database) -> None:
    add_all(database, Contact(channel="telegram", channel_user_id="777"))
    with pytest.raises(IntegrityError, match=UNIQUE):
        add_all(database, Contact(channel="telegram", channel_user_id="777"))
    add_all(database, Contact(channel="messenger", channel_user_id="777"))  # another channel is another person


def test_two_entry_points_cannot_share_a_ref(database: Database) -> None:
    add_all(database, EntryPoint(name="Giveaway", ref="giveaway2025"))
    with pytest.raises(IntegrityError, match=UNIQUE):
        add_all(database, EntryPoint(name="Copy", ref="giveaway2025"))


def test_an_entry_ref_cannot_contain_a_double_hyphen(database: Database) -> None:
    with pytest.raises(IntegrityError, match="ref_grammar"):
        add_all(database, EntryPoint(name="Bad", ref="give--away"))


def test_a_referee_is_counted_once_per_entry_point(database: Database) -> None:
    add_all(database, EntryPoint(id=1, name="A", ref="a"), EntryPoint(id=2, name="B", ref="b"))
    add_all(database, Contact(id=1, channel="webchat", channel_user_id="1"),
            Contact(id=2, channel="webchat", channel_user_id="2"))
    add_all(database, Referral(entry_point_id=1, referrer_id=1, referee_id=2, kind="new", status="counted"))
    with pytest.raises(IntegrityError, match=UNIQUE):
        add_all(database, Referral(entry_point_id=1, referrer_id=1, referee_id=2, kind="existing", status="counted"))
    # blocked attempts and another entry point are recorded freely
    add_all(database, Referral(entry_point_id=1, referrer_id=1, referee_id=2, kind="existing", status="duplicate"),
            Referral(entry_point_id=2, referrer_id=1, referee_id=2, kind="existing", status="counted"))


@pytest.mark.parametrize(
    "row",
    [
        Contact(channel="myspace", channel_user_id="1"),
        CustomField(name="points", type="integer"),
        EntryPoint(name="X", ref="x", response_type="video"),
    ],
    ids=["unknown channel", "unknown field type", "unknown response"],
)
def test_unknown_kinds_are_refused(database: Database, row: SQLModel) -> None:
    with pytest.raises(IntegrityError, match=CHECK):
        add_all(database, row)


def test_foreign_keys_are_enforced(database: Database) -> None:
    with pytest.raises(IntegrityError, match=FOREIGN_KEY):
        add_all(database, Referral(entry_point_id=99, referrer_id=1, referee_id=2, kind="new", status="counted"))


def test_pragmas_are_in_force_on_every_connection(database: Database) -> None:
    if database.is_postgres:
        pytest.skip("SQLite's pragmas: PostgreSQL has none to check")
    for _ in range(2):
        with database.raw_connection() as connection:
            assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert connection.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
            assert connection.execute("PRAGMA foreign_keys").fetchone()[0] == 1
            assert connection.execute("PRAGMA busy_timeout").fetchone()[0] == 5000


def test_write_sessions_begin_immediate(database: Database) -> None:
    """A write session holds the write lock from its first statement, so a second writer waits instead of failing
    later with "database is locked"."""
    if database.is_postgres:
        pytest.skip("SQLite's BEGIN IMMEDIATE: PostgreSQL locks the rows written instead")
    with database.write_session() as session:
        session.exec(sa.select(1))
        with database.raw_connection() as other:
            other.execute("PRAGMA busy_timeout=0")
            with pytest.raises(Exception, match="locked"):
                other.execute("BEGIN IMMEDIATE")


def test_a_field_id_is_never_reused(database: Database) -> None:
    add_all(database, CustomField(name="a"), CustomField(name="b"))
    with database.write_session() as session:
        session.delete(session.get(CustomField, 2))
    add_all(database, CustomField(name="c"))
    with database.session() as session:
        assert session.exec(sa.select(CustomField.id).where(CustomField.name == "c")).one()[0] == 3


def test_a_database_from_the_first_migration_upgrades_without_losing_data(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    upgrade(engine, "0001")
    assert current_revision(engine) == "0001"
    with engine.begin() as connection:
        connection.exec_driver_sql("INSERT INTO contact (channel, channel_user_id, first_name, last_name, phone,"
                                   " first_ref, last_ref, created_at, last_seen_at) VALUES ('telegram', '42', 'Ann',"
                                   " '', '', '', '', '2025-01-01 00:00:00', '2025-01-01 00:00:00')")
    engine.dispose()

    database = open_database(url=url)
    assert current_revision(database.engine) == head_revision()
    with database.session() as session:
        assert session.exec(sa.select(Contact.first_name)).one()[0] == "Ann"
    with database.engine.connect() as connection:
        drift = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert drift == [], "the models changed without a migration"
    database.dispose()


def test_opening_twice_is_harmless(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'twice.db'}"
    open_database(url=url).dispose()
    database = open_database(url=url)
    assert current_revision(database.engine) == head_revision()
    database.dispose()
