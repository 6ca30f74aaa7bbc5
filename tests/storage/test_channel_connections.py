"""A connected bot's row and the webhook bookkeeping beside it, on SQLite and on PostgreSQL alike: connecting,
hearing from the platform, its errors, a retried webhook event taken once, a message handed to the webhook's answer
once."""

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from runtime.opening import Inbound
from runtime.service import Runtime
from storage import channel_connections as store
from storage.db import Database
from storage.secrets import load_secret_box
from tests.helpers import import_fixture


@pytest.fixture
def box(database: Database):
    return load_secret_box(database_url=database.url, env={"REFERFLOW_SECRET_KEY": Fernet.generate_key().decode()})


def test_connecting_hearing_and_erring_are_kept_per_bot(database: Database, box) -> None:
    store.save_connection(database=database, box=box, channel="telegram", bot_id="42",
                          settings={"username": "shop_bot"}, secrets={"bot_token": "42:secret-token"},
                          webhook_secret="hook-secret-1234")
    store.record_event(database=database, channel="telegram", bot_id="42")
    store.record_error(database=database, channel="telegram", bot_id="42", error="Unauthorized")
    found = store.get_connection(database=database, box=box, channel="telegram")
    assert found.bot_id == "42" and found.secrets == {"bot_token": "42:secret-token"}
    assert found.last_event_at is not None and found.last_error == "Unauthorized"
    store.save_connection(database=database, box=box, channel="telegram", bot_id="43", settings={},
                          secrets={"bot_token": "43:other"})  # a new bot replaces the old one
    assert [c.bot_id for c in store.list_connections(database=database, box=box)] == ["43"]
    assert store.delete_connections(database=database, channel="telegram") == 1
    assert store.get_connection(database=database, box=box, channel="telegram") is None


def test_a_retried_webhook_event_is_taken_once_and_a_failed_one_again(database: Database) -> None:
    claim = dict(database=database, channel="telegram", bot="42", event_id="update-7")
    assert store.claim_hook_event(**claim)
    assert not store.claim_hook_event(**claim)  # the platform's retry
    assert store.claim_hook_event(database=database, channel="telegram", bot="43", event_id="update-7")  # other bot
    store.release_hook_event(**claim)  # processing failed: the next retry is processed
    assert store.claim_hook_event(**claim)


def test_each_pending_message_goes_into_a_webhook_answer_once(database: Database) -> None:
    import_fixture(database)
    with Runtime(database, outbox=True) as runtime:
        ann = runtime.open_link(Inbound(text="viber://pa?chatURI=giveawaybot&context=giveaway2025", channel="viber",
                                        channel_user_id="viber-ann", first_name="Ann")).contact_id
    with database.session() as session:
        pending = session.execute(sa.text("SELECT count(*) FROM outbox_message WHERE contact_id = :id"
                                          " AND state = 'pending'"), {"id": ann}).scalar_one()
    assert pending >= 1  # the giveaway's welcome
    taken = []
    while (body := store.take_for_response(database=database, contact_id=ann)) is not None:
        taken.append(body)
    assert len(taken) == pending
    with database.session() as session:
        states = session.execute(sa.text("SELECT state, attempts FROM outbox_message WHERE contact_id = :id"),
                                 {"id": ann}).all()
    assert set(states) == {("sent", 1)}  # none left for the delivery worker to send a second time
