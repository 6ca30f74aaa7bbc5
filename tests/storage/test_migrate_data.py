"""`referflow migrate-data` moves a live SQLite workspace to PostgreSQL: every contact, referral, message, outbox row
and admin session, with ids kept and verified by counts; it refuses a target that already holds data."""

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import select

from app import main
from runtime.opening import Inbound
from runtime.service import Runtime
from storage.auth import ensure_admin_account, issue_login_ticket, redeem_login_ticket, session_is_valid
from storage.db import Database, open_database
from storage.migrate_data import copied_tables
from storage.models import Contact, Flow, Tag
from storage.workspace_io import import_workspace

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "referral_program.json"
LINK = "https://m.me/1234567890?ref=giveaway2025"


@dataclass
class Live:
    database: Database
    session_token: str  # the signed-in admin's
    deleted_contact_id: int

    @property
    def url(self) -> str:
        return self.database.url


@pytest.fixture
def live(tmp_path: Path) -> Live:
    """A SQLite workspace that has been live for a while: a referral program, people who joined through Ann's link,
    an unpublished draft flow, queued messages, a signed-in admin, a contact who was deleted, and one whose referrer
    came later (a higher id)."""
    database = open_database(url=f"sqlite:///{tmp_path / 'live.db'}")
    with database.write_session() as session:
        import_workspace(session=session, document=json.loads(FIXTURE.read_text()))
        session.add(Flow(name="Draft only", draft={"nodes": [], "edges": []}))
        ensure_admin_account(session=session, password="correct-horse-battery")
    with Runtime(database, outbox=True) as runtime:
        ann = runtime.open_link(Inbound(text=LINK, channel="messenger", channel_user_id="psid-ann", first_name="Ann"))
        for name in ("Bob", "Cat", "Dan", "Eve"):
            runtime.open_link(Inbound(text=f"{LINK}-c{ann.contact_id}", channel="messenger",
                                      channel_user_id=f"psid-{name.lower()}", first_name=name, event_id=f"e-{name}"))
    with database.write_session() as session:
        token = issue_login_ticket(session=session, browser_id="browser-1", redirect_to="/")
    with database.write_session() as session:
        session_token = redeem_login_ticket(session=session, ticket=token, browser_id="browser-1")[0]
        eve = session.exec(select(Contact).where(Contact.first_name == "Eve")).one()
        session.delete(eve)
        dan = session.exec(select(Contact).where(Contact.first_name == "Dan")).one()
        session.exec(sa.update(Contact).where(Contact.id == ann.contact_id).values(referred_by_id=dan.id))
    yield Live(database, session_token, eve.id)
    database.dispose()


def dump(database: Database) -> dict[str, list[tuple]]:
    """Every row of every copied table, read through the models' types (so both databases read alike)."""
    with database.engine.connect() as connection:
        return {table.name: [tuple(row) for row in connection.execute(
                    sa.select(table).order_by(*table.primary_key.columns))]
                for table in copied_tables()}


def test_a_live_workspace_moves_to_postgresql_with_everything_it_holds(live: Live, postgres_url: str,
                                                                        capsys: pytest.CaptureFixture) -> None:
    before = dump(live.database)
    assert len(before["contact"]) == 4 and len(before["referral"]) == 3 and before["outbox_message"]

    assert main(["migrate-data", "--from", live.url, "--to", postgres_url]) == 0
    out = capsys.readouterr().out
    assert "every table holds as many rows as the source" in out
    assert any(line.split() == ["contact", "4", "rows"] for line in out.splitlines())

    moved = open_database(url=postgres_url)
    try:
        assert dump(moved) == before
        with moved.session() as session:
            draft = session.exec(select(Flow).where(Flow.name == "Draft only")).one()
            assert draft.published is None  # no published copy stays no published copy, not JSON null
            assert session_is_valid(session=session, token=live.session_token)  # the admin stays signed in
        with moved.write_session() as session:
            newcomer = Contact(channel="messenger", channel_user_id="psid-new")
            session.add(newcomer)
            session.add(Tag(name="after-the-move"))
        assert newcomer.id > live.deleted_contact_id  # Eve's id, maybe in a shared link, is never given again
    finally:
        moved.dispose()


def test_a_target_that_already_holds_data_is_refused_and_left_as_it_was(live: Live, postgres_url: str,
                                                                         capsys: pytest.CaptureFixture) -> None:
    assert main(["migrate-data", "--from", live.url, "--to", postgres_url]) == 0
    capsys.readouterr()
    target = open_database(url=postgres_url)
    try:
        with target.write_session() as session:
            session.add(Contact(channel="telegram", channel_user_id="only-here"))
        held = dump(target)

        assert main(["migrate-data", "--from", live.url, "--to", postgres_url]) == 2
        error = capsys.readouterr().err
        assert error.startswith("referflow: The target database already holds data: ")
        assert "contact (5 rows)" in error and "nothing was copied" in error
        assert dump(target) == held
    finally:
        target.dispose()


def test_a_moved_workspace_comes_back_to_sqlite_unchanged(live: Live, postgres_url: str, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture) -> None:
    back = f"sqlite:///{tmp_path / 'back.db'}"
    assert main(["migrate-data", "--from", live.url, "--to", postgres_url]) == 0
    assert main(["migrate-data", "--from", postgres_url, "--to", back]) == 0
    returned = open_database(url=back)
    try:
        assert dump(returned) == dump(live.database)
        with returned.write_session() as session:
            newcomer = Contact(channel="messenger", channel_user_id="psid-new")
            session.add(newcomer)
        assert newcomer.id > live.deleted_contact_id
    finally:
        returned.dispose()


def test_a_missing_source_file_is_named_and_nothing_is_created(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    missing = tmp_path / "nowhere.db"
    assert main(["migrate-data", "--from", str(missing), "--to", f"sqlite:///{tmp_path / 'new.db'}"]) == 2
    assert capsys.readouterr().err == f"referflow: there is no database at {missing} to copy from\n"
    assert not missing.exists() and not (tmp_path / "new.db").exists()


def test_copying_a_database_onto_itself_is_refused(live: Live, capsys: pytest.CaptureFixture) -> None:
    assert main(["migrate-data", "--from", live.url, "--to", live.url]) == 2
    assert capsys.readouterr().err == "referflow: The source and the target are the same database.\n"


def test_a_row_postgresql_cannot_hold_stops_the_move_with_the_table_named(live: Live, postgres_url: str,
                                                                           capsys: pytest.CaptureFixture) -> None:
    with live.database.write_session() as session:  # SQLite keeps a NUL character in text; PostgreSQL cannot
        session.exec(sa.update(Contact).where(Contact.first_name == "Bob").values(last_name="B\x00b"))
    assert main(["migrate-data", "--from", live.url, "--to", postgres_url]) == 2
    assert capsys.readouterr().err.startswith(
        "referflow: Copying the table contact failed, so nothing was kept: ")
    target = open_database(url=postgres_url)
    try:
        assert all(not rows for rows in dump(target).values())
    finally:
        target.dispose()
