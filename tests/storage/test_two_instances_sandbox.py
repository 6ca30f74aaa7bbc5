"""With the live workspace on PostgreSQL, each instance's simulator works in an embedded SQLite file of its own, synced
from the live definitions (no ATTACH across servers) and holding only simulated people."""

import json
from pathlib import Path

import sqlalchemy as sa

from runtime.opening import Inbound
from runtime.service import Runtime
from runtime.simulator.sandbox import open_sandbox, sandbox_url, sync_definitions
from storage.db import Database
from storage.models import Contact, CustomField, EntryPoint
from storage.workspace_io import import_workspace

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "referral_program.json"


def names(database: Database, model: type) -> list[str]:
    with database.session() as session:
        return sorted(session.exec(sa.select(model.name)).scalars())


def test_a_live_postgresql_workspace_gets_a_sqlite_sandbox_file_on_each_machine(tmp_path: Path) -> None:
    url = "postgresql+psycopg://rf:secret@db.internal:5433/referflow"
    assert sandbox_url(url, folder=tmp_path) == f"sqlite:///{tmp_path.resolve()}/db.internal_5433_referflow.sandbox.db"


def test_the_sandbox_mirrors_the_postgresql_definitions_and_follows_their_changes(postgres_database: Database,
                                                                                  tmp_path: Path) -> None:
    live = postgres_database
    with live.write_session() as session:
        import_workspace(session=session, document=json.loads(FIXTURE.read_text()))
        session.add(Contact(channel="messenger", channel_user_id="real-person", first_name="Real"))
    first, second = open_sandbox(live, folder=tmp_path / "one"), open_sandbox(live, folder=tmp_path / "two")
    try:
        assert first.engine.dialect.name == second.engine.dialect.name == "sqlite"
        for sandbox in (first, second):
            assert names(sandbox, CustomField) == names(live, CustomField)
            with sandbox.session() as session:
                assert session.get(EntryPoint, 1).ref == "giveaway2025"  # ids kept: the canvas lights nodes by id
                assert session.exec(sa.select(sa.func.count()).select_from(Contact)).one()[0] == 0

        with Runtime(first) as runtime:  # the simulator runs the same runtime on its own file
            opened = runtime.open_link(Inbound(text="giveaway2025", channel="messenger", channel_user_id="sim-ann"))
        assert opened.entry == "giveaway2025" and opened.is_new
        with live.session() as session:
            assert [c.channel_user_id for c in session.exec(sa.select(Contact)).scalars()] == ["real-person"]

        version = sync_definitions(live=live, sandbox=first)
        assert sync_definitions(live=live, sandbox=first, known_version=version) == version  # nothing changed
        with live.write_session() as session:
            session.get(CustomField, 2).name = "voucher"
            session.add(CustomField(name="newsletter", type="boolean"))
        with live.write_session() as session:
            session.delete(session.get(CustomField, 4))
        assert sync_definitions(live=live, sandbox=first, known_version=version) > version
        assert names(first, CustomField) == names(live, CustomField) == [
            "newsletter", "plan", "referral_points", "voucher"]
    finally:
        first.dispose()
        second.dispose()
