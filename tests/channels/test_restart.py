"""Restarts with messages pending, with real processes on one SQLite file: a stopped app's messages are each delivered
once after the next start; a crashed app's leased messages are taken over when the lease expires."""

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import sqlalchemy as sa

from runtime.opening import Inbound
from runtime.service import Runtime
from storage.db import Database
from storage.workspace_io import import_workspace
from tests.channels.helpers import WORKSPACE

ROOT = Path(__file__).resolve().parents[2]
PEOPLE = 30  # two messages each before the delay


def test_messages_pending_at_a_stop_are_each_delivered_once_after_the_next_start(database: Database,
                                                                                   tmp_path: Path) -> None:
    queue_messages(database)
    log = tmp_path / "deliveries.log"
    first = start(database, tmp_path / "first", log, SEND_DELAY="0.02")
    wait_for_lines(log, 6)
    first.send_signal(signal.SIGTERM)  # the app stops while messages are pending
    assert first.wait(timeout=30) == 0, first.stderr.read()
    stopped_with = pending(database)
    assert stopped_with > 0, "everything was delivered before the stop: the restart proved nothing"

    second = start(database, tmp_path / "second", log)
    assert second.wait(timeout=60) == 0, second.stderr.read()
    by_process = Counter(pid for pid, _ in deliveries(log))
    assert len(by_process) == 2  # both did part of the work
    per_message = Counter(outbox_id for _, outbox_id in deliveries(log))
    assert len(per_message) == PEOPLE * 2 and set(per_message.values()) == {1}, "a message was delivered twice"
    assert pending(database) == 0


def test_a_crashed_apps_leased_messages_are_taken_over_after_the_lease(database: Database, tmp_path: Path) -> None:
    queue_messages(database)
    log = tmp_path / "deliveries.log"
    crashed = start(database, tmp_path / "crashed", log, SEND_DELAY="0.05", LEASE="2")
    wait_for_lines(log, 4)
    crashed.kill()  # no clean-up at all: its leases stay in the database
    crashed.wait(timeout=10)
    with database.engine.connect() as connection:
        sent_before = set(connection.execute(sa.text(
            "SELECT id FROM outbox_message WHERE state = 'sent'")).scalars())
        leased = connection.execute(sa.text(
            "SELECT count(*) FROM outbox_message WHERE state = 'pending' AND claimed_by IS NOT NULL")).scalar()
    assert leased > 0, "the crash left no lease behind: the test proved nothing"

    restarted = start(database, tmp_path / "restarted", log, LEASE="2")
    assert restarted.wait(timeout=60) == 0, restarted.stderr.read()
    assert pending(database) == 0  # the dead process's leased messages too, once their leases expired
    again = [outbox_id for pid, outbox_id in deliveries(log) if pid == str(restarted.pid)]
    assert not sent_before & {int(outbox_id) for outbox_id in again}, "a message confirmed sent was sent again"


def queue_messages(database: Database) -> None:
    with database.write_session() as session:
        import_workspace(session=session, document=WORKSPACE)
    with Runtime(database, outbox=True) as runtime:
        for n in range(PEOPLE):
            runtime.open_link(Inbound(text="go", channel="webchat", channel_user_id=f"v{n}", first_name=f"P{n}"))
    with database.engine.begin() as connection:  # the delays are not what these tests are about
        connection.execute(sa.text("DELETE FROM wake_up"))


def start(database: Database, folder: Path, log: Path, **environment: str) -> subprocess.Popen:
    folder.mkdir()
    go = folder / "go"
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.channels.worker_process", database.url.removeprefix("sqlite:///"), str(log),
         str(go)], cwd=ROOT, stderr=subprocess.PIPE, text=True, env={**os.environ, **environment})
    deadline = time.monotonic() + 60
    while not list(folder.glob("go.ready.*")) and time.monotonic() < deadline:
        time.sleep(0.02)
    go.touch()
    return process


def wait_for_lines(log: Path, count: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (not log.exists() or len(log.read_text().splitlines()) < count):
        time.sleep(0.01)


def deliveries(log: Path) -> list[tuple[str, str]]:
    return [tuple(line.split()) for line in log.read_text().splitlines()]


def pending(database: Database) -> int:
    with database.engine.connect() as connection:
        return connection.execute(sa.text("SELECT count(*) FROM outbox_message WHERE state = 'pending'")).scalar()
