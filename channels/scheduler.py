"""The live clock: delays in published flows wake up by themselves while the app runs.

Every `interval` seconds a cheap read asks whether a delay is due; only then does the scheduler run `Runtime.tick()`,
which takes the write lock (BEGIN IMMEDIATE) and claims each wake-up with `UPDATE ... WHERE done = FALSE`: two app
processes (or instances on one PostgreSQL database) can both tick, and each delay still runs once.
"""

import asyncio
import contextlib
import logging
import threading

from runtime import store
from runtime.service import Runtime
from storage.connection import connect_engine
from storage.db import Database
from storage.outbox import stamp

log = logging.getLogger(__name__)
BATCH = 50  # delays run per transaction


class DelayScheduler:
    def __init__(self, runtime: Runtime, database: Database, *, interval: float = 1.0) -> None:
        self.runtime = runtime
        self.database = database
        self.interval = interval
        self._task: asyncio.Task | None = None
        self._lock = threading.Lock()
        self._pooled = None

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="delay scheduler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with self._lock:
            if self._pooled is not None:
                self._pooled.close()
                self._pooled = None

    async def run_once(self) -> int:
        """Run the delays due now, BATCH at a time (each its own short transaction, so web chat turns get in between
        and a backlog after downtime never holds the write lock for long); returns how many contacts were woken.
        Nothing due: one read, no write lock."""
        woken = 0
        while await asyncio.to_thread(self._any_due):
            woken += (await asyncio.to_thread(self.runtime.tick, limit=BATCH)).woken
        return woken

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:  # a broken flow or a locked database must not stop the clock for everyone else
                log.exception("Running the due delays failed; the scheduler tries again in %.0f s", self.interval)
            await asyncio.sleep(self.interval)

    def _any_due(self) -> bool:
        with self._lock:
            if self._pooled is None:
                self._pooled = connect_engine(self.database)
            return store.any_wake_up_due(self._pooled.db, stamp(self.runtime.clock()))
