"""One app process's live services, for the two-process test: `python -m tests.channels.worker_process DB LOG GO`.

Says it is ready (the file GO.ready.PID), waits for the file GO, then delivers the outbox (each delivery appended to
LOG as "pid outbox-id") and runs the due delays, until nothing is pending or waiting, and exits.
"""

import asyncio
import os
import sys
import time
from pathlib import Path

from channels.delivery import DeliveryWorker, OutboxItem
from channels.scheduler import DelayScheduler
from runtime.service import Runtime
from storage.db import open_database


async def main(db: str, log: str, go: str) -> None:
    database = open_database(url=f"sqlite:///{db}")
    descriptor = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)

    async def deliver(item: OutboxItem) -> None:
        await asyncio.sleep(0.002)  # a send takes a moment, so the two processes overlap
        os.write(descriptor, f"{os.getpid()} {item.id}\n".encode())

    worker = DeliveryWorker(database, poll_interval=0.05, batch=5, concurrency=4)
    worker.register_sender("webchat", deliver)
    runtime = Runtime(database, outbox=True, on_outbox=worker.wake)
    scheduler = DelayScheduler(runtime, database, interval=0.05)
    Path(f"{go}.ready.{os.getpid()}").touch()
    while not Path(go).exists():
        await asyncio.sleep(0.01)
    await worker.start()
    await scheduler.start()
    deadline = time.monotonic() + 60
    with database.raw_connection() as connection:
        while time.monotonic() < deadline and connection.execute(
                "SELECT (SELECT count(*) FROM outbox_message WHERE state = 'pending')"
                " + (SELECT count(*) FROM wake_up WHERE done = 0)").fetchone()[0]:
            await asyncio.sleep(0.1)
    await scheduler.stop()
    await worker.stop()
    runtime.close()
    os.close(descriptor)
    database.dispose()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
