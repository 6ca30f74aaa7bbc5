"""The engine store's connection provider: SQL written with `?` runs on SQLite and PostgreSQL alike, inside the
runtime's turns, and the runtime's PostgreSQL connection goes back to the pool as the ORM expects it."""

import pytest
from sqlmodel import select

from runtime.opening import Inbound
from runtime.service import Runtime
from runtime.turn import Turn
from storage.connection import translate_placeholders
from storage.db import Database
from storage.models import EntryPoint, Flow
from tests.helpers import import_fixture

PAGE = "https://m.me/1234567890?ref=giveaway2025"  # the demo workspace's giveaway on Messenger


@pytest.mark.parametrize(("sql", "translated"), [
    ("SELECT id FROM contact WHERE id = ?", "SELECT id FROM contact WHERE id = %s"),
    ("SELECT ? || '?' || \"a?b\" || ?", "SELECT %s || '?' || \"a?b\" || %s"),  # literals and quoted names stay
    ("SELECT count(*) FROM contact WHERE first_name LIKE 'A%' AND phone LIKE ? || '%'",
     "SELECT count(*) FROM contact WHERE first_name LIKE 'A%%' AND phone LIKE %s || '%%'"),
    ("SELECT 'it''s ?', ?", "SELECT 'it''s ?', %s"),
])
def test_question_marks_become_psycopg_placeholders(sql: str, translated: str) -> None:
    assert translate_placeholders(sql) == translated


def test_numbered_placeholders_are_refused_before_they_run_differently() -> None:
    with pytest.raises(ValueError, match=r"Numbered placeholders \(\?1\) do not run on PostgreSQL"):
        translate_placeholders("SELECT * FROM contact WHERE id = ?1 OR referred_by_id = ?1")


@pytest.fixture
def program(database: Database) -> Database:
    import_fixture(database)
    return database


def test_code_in_a_turn_runs_question_mark_sql_on_either_database(program: Database) -> None:
    """What a feature module does through `turn.db.execute(sql, params)` (referral stats, coupons) works the same on
    SQLite and (with --database=postgresql) PostgreSQL, '%' in literals included."""
    with Runtime(program) as runtime:
        ann = runtime.open_link(Inbound(text=PAGE, channel="messenger", channel_user_id="psid-ann", first_name="Ann"))
        for user in ("psid-bob", "psid-cat"):
            runtime.open_link(Inbound(text=f"{PAGE}-c{ann.contact_id}", channel="messenger", channel_user_id=user,
                                      first_name=user.removeprefix("psid-").title()))

        def referred_names(turn: Turn) -> list[tuple[str, int]]:
            return turn.db.execute(
                "SELECT c.first_name, count(*) FROM referral r JOIN contact c ON c.id = r.referee_id"
                " WHERE r.referrer_id = ? AND r.status = 'counted' AND c.channel_user_id LIKE 'psid-%'"
                " GROUP BY c.first_name ORDER BY c.first_name", (ann.contact_id,)).fetchall()

        assert [tuple(row) for row in runtime._run(referred_names)] == [("Bob", 1), ("Cat", 1)]
        assert runtime.contact_data(ann.contact_id) == ({"referral_points": 2}, ["giveaway"])


def test_the_orm_reads_json_after_a_runtime_gave_its_connection_back(postgres_database: Database) -> None:
    """The runtime reads JSON as text on its own connection; the ORM that gets the connection next reads documents."""
    import_fixture(postgres_database)
    with Runtime(postgres_database) as runtime:
        opened = runtime.open_link(Inbound(text=PAGE, channel="messenger", channel_user_id="psid-ann"))
        assert opened.entry == "giveaway2025"
    assert postgres_database.engine.pool.checkedin() == 1  # the import's connection, then the runtime's
    with postgres_database.session() as session:
        flow = session.exec(select(Flow).where(Flow.name == "Check reward")).one()
        entry = session.exec(select(EntryPoint)).one()
    assert isinstance(flow.draft, dict) and flow.draft["nodes"]
    assert entry.json_mapping == [{"path": "plan", "field_id": 3}, {"path": "seats", "field_id": 4}]
