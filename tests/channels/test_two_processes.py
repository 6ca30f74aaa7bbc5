"""Two app processes on one SQLite file (or one PostgreSQL database, in the PostgreSQL pass): every message is
delivered once and every delay wakes once."""

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
PEOPLE = 40


def test_two_processes_deliver_each_message_and_wake_each_delay_once(database: Database, tmp_path: Path) -> None:
    with database.write_session() as session:
        import_workspace(session=session, document=WORKSPACE)
    with Runtime(database, outbox=True) as runtime:
        for n in range(PEOPLE):
            runtime.open_link(Inbound(text="go", channel="webchat", channel_user_id=f"v{n}", first_name=f"P{n}"))
    with database.engine.begin() as connection:  # every delay is due as the processes start
        connection.execute(sa.text("UPDATE wake_up SET due_at = '2000-01-01 00:00:00.000000'"))

    log, go = tmp_path / "deliveries.log", tmp_path / "go"
    db = database.url.removeprefix("sqlite:///")  # or the PostgreSQL URL, in the PostgreSQL pass
    processes = [subprocess.Popen([sys.executable, "-m", "tests.channels.worker_process", db, str(log), str(go)],
                                  cwd=ROOT, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob("go.ready.*"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)  # both started up: they begin together
    go.touch()
    for process in processes:
        _, errors = process.communicate(timeout=90)
        assert process.returncode == 0, errors

    deliveries = [line.split() for line in log.read_text().splitlines()]
    per_message = Counter(outbox_id for _, outbox_id in deliveries)
    with database.engine.connect() as connection:
        states = Counter(connection.execute(sa.text("SELECT state FROM outbox_message")).scalars())
        later = Counter(connection.execute(sa.text(
            "SELECT contact_id FROM message WHERE text LIKE 'A minute later%'")).scalars())
        waiting = connection.execute(sa.text("SELECT count(*) FROM wake_up WHERE done = FALSE")).scalar()
    assert states == {"sent": PEOPLE * 3}  # hello, one more thing, and the message after the delay
    assert len(per_message) == PEOPLE * 3 and set(per_message.values()) == {1}, "a message was delivered twice"
    assert len(later) == PEOPLE and set(later.values()) == {1}, "a delay woke twice"
    assert waiting == 0
    assert len({pid for pid, _ in deliveries}) == 2, "one process did all the work: the test proved nothing"
