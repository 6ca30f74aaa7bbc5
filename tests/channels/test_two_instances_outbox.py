"""Several instances on one PostgreSQL database: an instance claiming due messages takes the ones no other instance is
claiming at that moment, without waiting for it (FOR UPDATE SKIP LOCKED), and never one another instance holds."""

import threading
from datetime import timedelta

import sqlalchemy as sa

from runtime.opening import Inbound
from runtime.service import Runtime
from storage.db import Database
from storage.outbox import claim_due
from storage.workspace_io import import_workspace
from tests.channels.helpers import WORKSPACE, Clock


def test_a_claim_skips_the_messages_another_instance_is_claiming(postgres_database: Database) -> None:
    database, clock = postgres_database, Clock()
    with database.write_session() as session:
        import_workspace(session=session, document=WORKSPACE)
    with Runtime(database, outbox=True, clock=clock) as runtime:
        for n in range(3):
            runtime.open_link(Inbound(text="go", channel="webchat", channel_user_id=f"v{n}", first_name=f"P{n}"))
    with database.engine.connect() as connection:
        pending = list(connection.execute(sa.text(
            "SELECT id FROM outbox_message WHERE state = 'pending' ORDER BY id")).scalars())
    with database.engine.connect() as connection:
        contact_of = dict(connection.execute(sa.text("SELECT id, contact_id FROM outbox_message")).all())
        first_of = dict(connection.execute(sa.text(
            "SELECT contact_id, min(id) FROM outbox_message GROUP BY contact_id")).all())

    with database.raw_connection() as connection:  # another instance, in the middle of claiming the oldest message
        busy = PausedBeforeCommit(connection)
        taken = claim_due(connection=busy, worker="there", channels=["webchat"], now=clock.now,
                          lease=timedelta(minutes=1), limit=1)
        locked = taken[0].id
        claimed: list = []

        def claim() -> None:
            with database.raw_connection() as connection:
                claimed.extend(claim_due(connection=connection, worker="here", channels=["webchat"], now=clock.now,
                                         lease=timedelta(minutes=1)))

        claiming = threading.Thread(target=claim, daemon=True)
        claiming.start()
        claiming.join(timeout=20)  # without SKIP LOCKED it waits for the other instance's transaction to end
        waited = claiming.is_alive()
        connection.execute("ROLLBACK")
        claiming.join(timeout=20)
    assert not waited, "the claim waited for another instance's claim instead of taking other messages"
    ids = {item.id for item in claimed}
    busy_contact = next(contact for contact, first in first_of.items() if first == locked)
    assert locked == pending[0]
    # every message of the other people; none of the person whose first message is being claimed elsewhere (theirs
    # come after it, in order)
    assert ids == {outbox_id for outbox_id, contact in contact_of.items() if contact != busy_contact}


class PausedBeforeCommit:
    """A connection whose claim stops just before COMMIT: its locks are held, as in an instance mid-claim."""

    def __init__(self, connection) -> None:
        self.connection = connection

    def execute(self, sql: str, parameters=()):
        return None if sql == "COMMIT" else self.connection.execute(sql, parameters)
