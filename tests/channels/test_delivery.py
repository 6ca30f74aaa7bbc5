"""The outbox and its delivery worker: what a live turn queues, delivery once and in order, backoff, failure, and
a restart with messages pending."""

import asyncio
from datetime import timedelta

import pytest
import sqlalchemy as sa

from channels.delivery import DeliveryWorker, OutboxItem, PermanentFailure, RetryPolicy, TemporaryFailure
from runtime.opening import Inbound
from runtime.service import Runtime
from storage.db import Database
from storage.outbox import claim_due
from storage.workspace_io import import_workspace
from tests.channels.helpers import WORKSPACE, Clock


class FakeSender:
    """Records what it delivered; `script` says, per text, the failures to raise before accepting."""

    def __init__(self, script: dict[str, list[Exception]] | None = None) -> None:
        self.delivered: list[tuple[str, str]] = []
        self.script = script or {}

    async def __call__(self, item: OutboxItem) -> None:
        failures = self.script.get(item.text)
        if failures:
            raise failures.pop(0)
        self.delivered.append((item.channel_user_id, item.text))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def live(database: Database, clock: Clock) -> Runtime:
    with database.write_session() as session:
        import_workspace(session=session, document=WORKSPACE)
    with Runtime(database, outbox=True, clock=clock) as runtime:
        yield runtime


def join(runtime: Runtime, user: str, name: str = "Ann") -> int:
    return runtime.open_link(Inbound(text="go", channel="webchat", channel_user_id=user, first_name=name)).contact_id


def outbox(database: Database) -> list[dict]:
    with database.engine.connect() as connection:
        rows = connection.execute(sa.text(
            "SELECT o.id, o.state, o.attempts, o.last_error, o.next_attempt_at, o.body, m.text AS transcript"
            " FROM outbox_message o JOIN message m ON m.id = o.message_id ORDER BY o.id")).mappings().all()
    return [dict(row) for row in rows]


def worker_for(database: Database, clock: Clock, sender, policy: RetryPolicy | None = None, **options):
    worker = DeliveryWorker(database, clock=clock, **options)
    worker.register_sender("webchat", sender, policy)
    return worker


def test_a_live_turn_queues_every_message_it_sends_and_the_simulator_none(database: Database, live: Runtime) -> None:
    woken = []
    live.on_outbox = lambda: woken.append(True)
    join(live, "ann")
    assert [(row["state"], row["transcript"]) for row in outbox(database)] == [
        ("pending", "Hello Ann"), ("pending", "One more thing")]
    assert woken == [True]  # once per turn, after its commit

    with Runtime(database) as sandbox_like:  # the simulator's kind of runtime (outbox off)
        join(sandbox_like, "bob", "Bob")
    assert len(outbox(database)) == 2


async def test_each_message_is_delivered_once_in_order(database: Database, live: Runtime, clock: Clock) -> None:
    join(live, "ann")
    join(live, "bob", "Bob")
    sender = FakeSender()
    worker = worker_for(database, clock, sender)
    assert await worker.run_once() == 4
    assert await worker.run_once() == 0  # sent means sent: never again
    await worker.stop()
    # contacts are served side by side; each one's messages arrive in the order they were sent
    assert [text for user, text in sender.delivered if user == "ann"] == ["Hello Ann", "One more thing"]
    assert [text for user, text in sender.delivered if user == "bob"] == ["Hello Bob", "One more thing"]
    assert len(sender.delivered) == 4
    assert {row["state"] for row in outbox(database)} == {"sent"}
    assert {row["attempts"] for row in outbox(database)} == {1}


async def test_temporary_failures_back_off_and_hold_the_contacts_later_messages(
        database: Database, live: Runtime, clock: Clock) -> None:
    join(live, "ann")
    sender = FakeSender({"Hello Ann": [TemporaryFailure("503 Service Unavailable"), TemporaryFailure("timeout")]})
    worker = worker_for(database, clock, sender, RetryPolicy(max_attempts=5, base_delay=2, max_delay=600))

    await worker.run_once()
    first, second = outbox(database)
    assert (first["state"], first["attempts"], first["last_error"]) == ("pending", 1, "503 Service Unavailable")
    assert str(first["next_attempt_at"]).startswith("2026-01-01 12:00:02")  # 2 s after the first failure
    assert (second["state"], second["attempts"]) == ("pending", 0)  # not sent ahead of the first
    assert sender.delivered == []

    assert await worker.run_once() == 0  # backing off: nothing is due
    clock.now += timedelta(seconds=2)
    await worker.run_once()
    first, _ = outbox(database)
    assert (first["attempts"], first["last_error"]) == (2, "timeout")
    assert str(first["next_attempt_at"]).startswith("2026-01-01 12:00:06")  # then 4 s

    clock.now += timedelta(seconds=4)
    await worker.run_once()
    await worker.stop()
    assert sender.delivered == [("ann", "Hello Ann"), ("ann", "One more thing")]
    assert [(row["state"], row["attempts"]) for row in outbox(database)] == [("sent", 3), ("sent", 1)]


async def test_a_platforms_refusal_is_kept_and_the_next_message_still_goes(
        database: Database, live: Runtime, clock: Clock) -> None:
    join(live, "ann")
    sender = FakeSender({"Hello Ann": [PermanentFailure("Forbidden: bot was blocked by the user")]})
    worker = worker_for(database, clock, sender)
    await worker.run_once()
    await worker.stop()
    failed, sent = outbox(database)
    assert (failed["state"], failed["attempts"], failed["last_error"]) == (
        "failed", 1, "Forbidden: bot was blocked by the user")
    assert sent["state"] == "sent"
    assert sender.delivered == [("ann", "One more thing")]


async def test_retries_stop_at_the_policys_limit(database: Database, live: Runtime, clock: Clock) -> None:
    join(live, "ann")
    sender = FakeSender({"Hello Ann": [TemporaryFailure("502 Bad Gateway") for _ in range(9)]})
    worker = worker_for(database, clock, sender, RetryPolicy(max_attempts=3, base_delay=1, max_delay=1))
    for _ in range(3):
        await worker.run_once()
        clock.now += timedelta(seconds=1)
    await worker.run_once()
    await worker.stop()
    failed, sent = outbox(database)
    assert (failed["state"], failed["attempts"]) == ("failed", 3)
    assert failed["last_error"] == "502 Bad Gateway (gave up after 3 attempts)"
    assert sent["state"] == "sent"


async def test_a_sender_that_hangs_is_a_temporary_failure(database: Database, live: Runtime, clock: Clock) -> None:
    join(live, "ann")

    async def hangs(item: OutboxItem) -> None:
        await asyncio.sleep(10)

    worker = worker_for(database, clock, hangs, send_timeout=0.05, lease=1)
    await worker.run_once()
    await worker.stop()
    first, _ = outbox(database)
    assert (first["state"], first["attempts"]) == ("pending", 1)
    assert first["last_error"] == "No answer from webchat within 0.05 s"


async def test_pending_messages_survive_a_restart_and_are_delivered_once(
        database: Database, live: Runtime, clock: Clock) -> None:
    join(live, "ann")
    join(live, "bob", "Bob")
    live.close()
    # a process claimed Bob's messages and died before sending: its lease holds them until it expires
    with database.raw_connection() as connection:
        dead = claim_due(connection=connection, worker="dead", channels=["webchat"], now=clock.now,
                         lease=timedelta(seconds=60), limit=2)
    assert [item.channel_user_id for item in dead] == ["ann", "ann"]

    sender = FakeSender()
    restarted = worker_for(database, clock, sender)
    await restarted.run_once()
    assert sender.delivered == [("bob", "Hello Bob"), ("bob", "One more thing")]
    clock.now += timedelta(seconds=61)
    await restarted.run_once()
    await restarted.run_once()
    await restarted.stop()
    assert sorted(sender.delivered) == sorted([("ann", "Hello Ann"), ("ann", "One more thing"), ("bob", "Hello Bob"),
                                               ("bob", "One more thing")])
    assert {row["state"] for row in outbox(database)} == {"sent"}


async def test_a_started_worker_delivers_when_woken(database: Database, live: Runtime, clock: Clock) -> None:
    sender = FakeSender()
    worker = worker_for(database, clock, sender, poll_interval=30)  # no polling within the test: only wake() works
    live.on_outbox = worker.wake
    await worker.start()
    await asyncio.to_thread(join, live, "ann")
    for _ in range(200):
        if len(sender.delivered) == 2:
            break
        await asyncio.sleep(0.01)
    await worker.stop()
    assert sender.delivered == [("ann", "Hello Ann"), ("ann", "One more thing")]


async def test_retry_now_makes_a_contacts_backed_off_messages_due(
        database: Database, live: Runtime, clock: Clock) -> None:
    ann = join(live, "ann")
    sender = FakeSender({"Hello Ann": [TemporaryFailure("visitor away")]})
    worker = worker_for(database, clock, sender, RetryPolicy(base_delay=3600))
    await worker.run_once()
    assert sender.delivered == []
    assert await worker.retry_now(ann) == 2
    await worker.run_once()
    await worker.stop()
    assert sender.delivered == [("ann", "Hello Ann"), ("ann", "One more thing")]


async def test_channels_without_a_sender_stay_pending(database: Database, live: Runtime, clock: Clock) -> None:
    live.open_link(Inbound(text="go", channel="telegram", channel_user_id="77", first_name="Tim"))
    worker = worker_for(database, clock, FakeSender())
    assert await worker.run_once() == 0
    await worker.stop()
    assert {row["state"] for row in outbox(database)} == {"pending"}


async def test_a_long_delivery_renews_its_lease_so_no_other_worker_takes_the_rest(
        database: Database, live: Runtime, clock: Clock) -> None:
    join(live, "ann")
    taken_by_rival = []

    async def slow(item: OutboxItem) -> None:
        clock.now += timedelta(seconds=50)  # each send takes most of a 60 s lease
        with database.raw_connection() as connection:  # meanwhile another process looks for due messages
            taken_by_rival.extend(claim_due(connection=connection, worker="rival", channels=["webchat"],
                                            now=clock.now, lease=timedelta(seconds=60)))

    worker = worker_for(database, clock, slow, lease=60, send_timeout=20)
    await worker.run_once()
    await worker.stop()
    assert taken_by_rival == []
    assert [(row["state"], row["attempts"]) for row in outbox(database)] == [("sent", 1), ("sent", 1)]


async def test_a_channel_whose_people_are_connected_to_one_process_is_delivered_there(
        database: Database, live: Runtime, clock: Clock) -> None:
    ann, bob = join(live, "ann"), join(live, "bob", "Bob")
    cat = join(live, "cat", "Cat")  # Cat has no chat open anywhere
    here, there = FakeSender(), FakeSender()
    on_here, on_there = {ann}, {bob}
    first = DeliveryWorker(database, clock=clock)
    first.register_sender("webchat", here, reachable=lambda: on_here)
    second = DeliveryWorker(database, clock=clock)
    second.register_sender("webchat", there, reachable=lambda: on_there)
    await first.run_once()
    await second.run_once()
    assert [user for user, _ in here.delivered] == ["ann", "ann"]
    assert [user for user, _ in there.delivered] == ["bob", "bob"]
    cats = [row for row in outbox(database) if row["transcript"] in ("Hello Cat",)]
    assert [(row["state"], row["attempts"], row["last_error"]) for row in cats] == [("pending", 0, "")]

    on_there.add(cat)  # Cat opens the chat on the second process
    assert await second.run_once() == 2
    await first.stop()
    await second.stop()
    assert [user for user, _ in there.delivered] == ["bob", "bob", "cat", "cat"]


async def test_a_message_queued_during_a_backoff_waits_for_the_earlier_ones(
        database: Database, live: Runtime, clock: Clock) -> None:
    join(live, "ann")
    sender = FakeSender({"Hello Ann": [TemporaryFailure("503 Service Unavailable")]})
    worker = worker_for(database, clock, sender, RetryPolicy(base_delay=2))
    await worker.run_once()  # the first message backs off 2 s, the second waits with it
    clock.now += timedelta(seconds=1)
    live.reply(channel="webchat", channel_user_id="ann", text="hello?")  # due now, sooner than the other two
    clock.now += timedelta(seconds=2)
    with database.raw_connection() as connection:  # a claim of one takes the oldest message, not the soonest due
        first = claim_due(connection=connection, worker="other", channels=["webchat"], now=clock.now,
                          lease=timedelta(seconds=1), limit=1)
    assert [item.text for item in first] == ["Hello Ann"]
    clock.now += timedelta(seconds=2)  # that lease runs out
    while await worker.run_once():
        pass
    await worker.stop()
    assert [text for _, text in sender.delivered] == ["Hello Ann", "One more thing", "Hi Ann! How can I help?"]
