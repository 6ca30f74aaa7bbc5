"""One app process's live services, for the multi-process tests: `python -m tests.channels.worker_process DB LOG GO`
(DB: a SQLite file, or a PostgreSQL URL).

Says it is ready (the file GO.ready.PID), waits for the file GO, then delivers the outbox (each delivery appended to
LOG as "pid outbox-id") and runs the due delays, until nothing is pending or waiting, and exits. SIGTERM stops it as
the app stops: no new claims, deliveries under way finish and are recorded. SEND_DELAY (seconds per send) and LEASE
(seconds) in the environment slow it down or shorten its leases.
"""

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

from channels.delivery import DeliveryWorker, OutboxItem
from channels.scheduler import DelayScheduler
from runtime.service import Runtime
from storage.db import open_database


async def main(db: str, log: str, go: str) -> None:
    database = open_database(url=db if "://" in db else f"sqlite:///{db}")  # a SQLite file, or a PostgreSQL URL
    descriptor = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    delay = float(os.environ.get("SEND_DELAY", "0.002"))
    lease = float(os.environ.get("LEASE", "60"))

    async def deliver(item: OutboxItem) -> None:
        await asyncio.sleep(delay)  # a send takes a moment, so processes overlap
        os.write(descriptor, f"{os.getpid()} {item.id}\n".encode())

    worker = DeliveryWorker(database, poll_interval=0.05, batch=5, concurrency=4, lease=lease,
                            send_timeout=min(20.0, lease / 2))
    worker.register_sender("webchat", deliver)
    runtime = Runtime(database, outbox=True, on_outbox=worker.wake)
    scheduler = DelayScheduler(runtime, interval=0.05)
    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
    Path(f"{go}.ready.{os.getpid()}").touch()
    while not Path(go).exists():
        await asyncio.sleep(0.01)
    await worker.start()
    await scheduler.start()
    deadline = time.monotonic() + 60
    with database.raw_connection() as connection:
        while not stopping.is_set() and time.monotonic() < deadline and connection.execute(
                "SELECT (SELECT count(*) FROM outbox_message WHERE state = 'pending')"
                " + (SELECT count(*) FROM wake_up WHERE done = FALSE)").fetchone()[0]:
            await asyncio.sleep(0.05)
    await scheduler.stop()
    await worker.stop()
    runtime.close()
    os.close(descriptor)
    database.dispose()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
