"""What the Channels page reads per channel: contacts, the last event received, pending and failed messages and the
last delivery error."""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from runtime.opening import Inbound
from runtime.service import Runtime
from storage.channel_status import channel_activity
from storage.db import Database
from storage.workspace_io import import_workspace
from tests.channels.helpers import WORKSPACE, Clock


def test_a_reply_after_the_open_is_the_last_event_and_errors_are_kept(database: Database) -> None:
    with database.write_session() as session:
        import_workspace(session=session, document=WORKSPACE)
    clock = Clock(datetime(2026, 1, 1, 12, 0, tzinfo=UTC))
    with Runtime(database, outbox=True, clock=clock) as runtime:
        runtime.open_link(Inbound(text="go", channel="telegram", channel_user_id="77", first_name="Tim"))
        clock.now += timedelta(hours=3)
        runtime.reply(channel="telegram", channel_user_id="77", text="hello?")
    with database.engine.begin() as connection:
        connection.execute(sa.text("UPDATE outbox_message SET state = 'failed', attempts = 8,"
                                   " last_error = 'Bad Request: chat not found' WHERE id = 1"))
    with database.session() as session:
        activity = channel_activity(session=session)
    assert set(activity) == {"telegram"}
    telegram = activity["telegram"]
    assert telegram.contacts == 1
    assert telegram.last_received_at == datetime(2026, 1, 1, 15, 0, tzinfo=UTC)  # the reply, not the open
    assert (telegram.pending, telegram.failed) == (2, 1)  # the default reply is pending too
    assert (telegram.last_error.text, telegram.last_error.state, telegram.last_error.attempts) == (
        "Bad Request: chat not found", "failed", 8)
