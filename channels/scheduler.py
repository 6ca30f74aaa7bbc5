"""The live clock: delays in published flows wake up by themselves while the app runs.

Every `interval` seconds a cheap read asks whether a delay is due; only then does the scheduler run `Runtime.tick()`,
which takes the write lock (BEGIN IMMEDIATE) and claims each wake-up with `UPDATE ... WHERE done = FALSE`: two app
processes (or instances on one PostgreSQL database) can both tick, and each delay still runs once.
"""

import asyncio
import contextlib
import logging

from runtime.service import Runtime

log = logging.getLogger(__name__)
BATCH = 50  # delays run per transaction


class DelayScheduler:
    def __init__(self, runtime: Runtime, *, interval: float = 1.0) -> None:
        self.runtime = runtime
        self.interval = interval
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="delay scheduler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run_once(self) -> int:
        """Run the delays due now, BATCH at a time (each its own short transaction, so web chat turns get in between
        and a backlog after downtime never holds the write lock for long); returns how many contacts were woken.
        Nothing due: one read, no write lock."""
        woken = 0
        while await asyncio.to_thread(self.runtime.any_delay_due):
            woken += (await asyncio.to_thread(self.runtime.tick, limit=BATCH)).woken
        return woken

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:  # a broken flow or a locked database must not stop the clock for everyone else
                log.exception("Running the due delays failed; the scheduler tries again in %.0f s", self.interval)
            await asyncio.sleep(self.interval)

