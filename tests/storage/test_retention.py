"""What the app forgets by itself (storage/retention.py): webhook event ids once no platform can retry them, delays
that have run; never what a retry, a waiting contact or the admin still needs."""

from datetime import UTC, datetime, timedelta

from sqlmodel import select

from runtime.opening import Inbound
from runtime.service import Runtime
from storage.channel_connections import claim_hook_event
from storage.db import Database
from storage.models import Contact, Flow, HookEvent, WakeUp
from storage.retention import Retention, prune
from tests.helpers import import_fixture
from tests.storage.helpers import count

START = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
GIVEAWAY = "https://m.me/1234567890?ref=giveaway2025"


def rows(database: Database, table: str) -> int:
    return count(database, f"SELECT count(*) FROM {table}")


def test_a_retry_within_two_weeks_still_changes_nothing_and_then_its_event_id_goes(database: Database) -> None:
    import_fixture(database)
    now = [START]
    open_ann = Inbound(text=GIVEAWAY, channel="messenger", channel_user_id="psid-ann", first_name="Ann",
                       event_id="mid.1")
    with Runtime(database, clock=lambda: now[0]) as runtime:
        assert runtime.open_link(open_ann).is_new
        now[0] = START + timedelta(days=13)
        assert prune(database, now=now[0]).processed_events == 0
        retry = runtime.open_link(open_ann)  # Meta retries for up to 7 days: well inside the two weeks kept
        assert retry.duplicate_event
        assert rows(database, "link_open") == 1
        now[0] = START + timedelta(days=15)
        assert prune(database, now=now[0]).processed_events == 1
    assert rows(database, "processed_event") == 0
    assert rows(database, "contact") == 1  # the contact, their open and their messages stay
    assert rows(database, "link_open") == 1


def test_reply_and_button_event_ids_go_after_two_weeks(database: Database) -> None:
    assert claim_hook_event(database=database, channel="telegram", bot="42", event_id="update-1")
    with database.write_session() as session:
        session.add(HookEvent(channel="telegram", bot="42", event_id="update-0",
                              received_at=datetime.now(UTC) - timedelta(days=15)))
    assert prune(database).hook_events == 1
    assert not claim_hook_event(database=database, channel="telegram", bot="42", event_id="update-1")  # still known
    assert claim_hook_event(database=database, channel="telegram", bot="42", event_id="update-0")  # forgotten


def test_only_delays_that_have_run_go_and_a_delay_still_due_stays(database: Database) -> None:
    with database.write_session() as session:
        contact, flow = Contact(channel="telegram", channel_user_id="1"), Flow(name="Wait", draft={})
        session.add_all([contact, flow])
        session.flush()
        long_ago = START - timedelta(days=30)
        session.add_all([
            WakeUp(contact_id=contact.id, flow_id=flow.id, node_id="ran", due_at=long_ago, done=True),
            WakeUp(contact_id=contact.id, flow_id=flow.id, node_id="ran-yesterday", due_at=START - timedelta(days=1),
                   done=True),
            WakeUp(contact_id=contact.id, flow_id=flow.id, node_id="overdue", due_at=long_ago, done=False),
        ])
    assert prune(database, now=START).wake_ups == 1
    with database.session() as session:
        left = session.exec(select(WakeUp.node_id).order_by(WakeUp.node_id)).all()
    assert left == ["overdue", "ran-yesterday"]  # the app was down: that delay still runs when it is back


def test_a_backlog_goes_in_batches_and_the_shorter_retention_is_honoured(database: Database) -> None:
    with database.write_session() as session:
        session.add_all([HookEvent(channel="viber", bot="pa", event_id=f"e{n}", received_at=START - timedelta(hours=n))
                         for n in range(1, 8)])
    pruned = prune(database, now=START, keep=Retention(events=timedelta(hours=3)), batch=2)
    assert pruned.hook_events == 4  # 4, 5, 6 and 7 hours old, two per transaction
    assert pruned.total == 4
    assert rows(database, "hook_event") == 3
