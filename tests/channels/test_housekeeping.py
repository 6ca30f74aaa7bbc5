"""The serving app's housekeeping: it prunes as soon as it starts and keeps going every few hours, and a database
that fails one round does not stop it."""

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from channels.housekeeping import Housekeeper
from channels.live import LiveServices
from storage.db import Database
from storage.models import HookEvent


def hook_events(database: Database) -> list[str]:
    with database.session() as session:
        return list(session.execute(sa.text("SELECT event_id FROM hook_event ORDER BY event_id")).scalars())


def add_hook_events(database: Database, **ages: timedelta) -> None:
    with database.write_session() as session:
        session.add_all([HookEvent(channel="telegram", bot="42", event_id=name, received_at=datetime.now(UTC) - age)
                         for name, age in ages.items()])


async def until(condition, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "the housekeeping did not get there in time"
        await asyncio.sleep(0.02)


async def test_the_live_app_prunes_on_start(database: Database) -> None:
    add_hook_events(database, old=timedelta(days=20), recent=timedelta(hours=1))
    live = LiveServices.create(database)
    await live.start()
    try:
        await until(lambda: hook_events(database) == ["recent"])
    finally:
        await live.stop()


async def test_a_failed_round_is_logged_and_the_next_one_runs(database: Database, monkeypatch: pytest.MonkeyPatch,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    import channels.housekeeping as housekeeping

    real, calls = housekeeping.prune, []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise sa.exc.OperationalError("DELETE", {}, Exception("database is locked"))
        return real(*args, **kwargs)

    monkeypatch.setattr(housekeeping, "prune", flaky)
    add_hook_events(database, old=timedelta(days=20))
    keeper = Housekeeper(database, interval=0.05)
    with caplog.at_level(logging.INFO, logger="channels.housekeeping"):
        await keeper.start()
        try:
            await until(lambda: "Housekeeping removed 1 hook events" in caplog.text)
        finally:
            await keeper.stop()
    assert "Housekeeping failed; it is tried again in 0.05 seconds" in caplog.text
    assert hook_events(database) == []
