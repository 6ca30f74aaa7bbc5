"""The live clock: due delays run by themselves, once, and what they send is queued and delivered."""

import asyncio
from datetime import timedelta

import sqlalchemy as sa

from channels.delivery import DeliveryWorker, OutboxItem
from channels.scheduler import DelayScheduler
from runtime.opening import Inbound
from runtime.service import Runtime
from storage.db import Database
from storage.workspace_io import import_workspace
from tests.channels.helpers import WORKSPACE, Clock


def transcript(database: Database) -> list[str]:
    with database.engine.connect() as connection:
        return list(connection.execute(sa.text("SELECT text FROM message WHERE direction = 'out' ORDER BY id"))
                    .scalars())


async def test_a_due_delay_runs_once_and_its_message_is_delivered(database: Database) -> None:
    with database.write_session() as session:
        import_workspace(session=session, document=WORKSPACE)
    clock = Clock()
    delivered: list[str] = []

    async def deliver(item: OutboxItem) -> None:
        delivered.append(item.text)

    worker = DeliveryWorker(database, clock=clock, poll_interval=30)
    worker.register_sender("webchat", deliver)
    await worker.start()
    with Runtime(database, outbox=True, on_outbox=worker.wake, clock=clock) as runtime:
        scheduler = DelayScheduler(runtime, interval=0.02)
        await asyncio.to_thread(runtime.open_link, Inbound(text="go", channel="webchat", channel_user_id="v1",
                                                           first_name="Ann"))
        assert await scheduler.run_once() == 0  # the minute has not passed
        clock.now += timedelta(seconds=61)
        await scheduler.start()  # from here on the scheduler runs by itself
        for _ in range(300):
            if len(delivered) == 3:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)  # a few more ticks: nothing runs twice
        await scheduler.stop()
    await worker.stop()
    assert transcript(database) == ["Hello Ann", "One more thing", "A minute later, Ann"]
    assert delivered == ["Hello Ann", "One more thing", "A minute later, Ann"]


async def test_a_failing_tick_does_not_stop_the_clock(database: Database, caplog) -> None:
    with database.write_session() as session:
        import_workspace(session=session, document=WORKSPACE)
    calls = []

    class Flaky(Runtime):
        def tick(self, advance=timedelta(0), limit=-1):
            calls.append(True)
            if len(calls) == 1:
                raise RuntimeError("database is locked")
            return super().tick(advance, limit)

    clock = Clock()
    with Flaky(database, outbox=True, clock=clock) as runtime:
        runtime.open_link(Inbound(text="go", channel="webchat", channel_user_id="v1", first_name="Ann"))
        clock.now += timedelta(minutes=2)
        scheduler = DelayScheduler(runtime, interval=0.01)
        await scheduler.start()
        for _ in range(300):
            if "A minute later, Ann" in transcript(database):
                break
            await asyncio.sleep(0.01)
        await scheduler.stop()
    assert transcript(database)[-1] == "A minute later, Ann"
    assert "Running the due delays failed" in caplog.text


async def test_a_backlog_of_delays_is_worked_through_in_short_transactions(database: Database) -> None:
    with database.write_session() as session:
        import_workspace(session=session, document=WORKSPACE)
    clock = Clock()
    ticks = []

    class Counting(Runtime):
        def tick(self, advance=timedelta(0), limit=-1):
            result = super().tick(advance, limit)
            ticks.append(result.woken)
            return result

    with Counting(database, outbox=True, clock=clock) as runtime:
        for n in range(120):
            runtime.open_link(Inbound(text="go", channel="webchat", channel_user_id=f"v{n}", first_name=f"P{n}"))
        clock.now += timedelta(hours=1)  # the app was down: every delay is overdue
        assert await DelayScheduler(runtime).run_once() == 120
    assert ticks == [50, 50, 20]
    assert transcript(database).count("A minute later, P7") == 1
