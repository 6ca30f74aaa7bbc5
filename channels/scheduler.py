"""The live clock: delays in published flows wake up by themselves while the app runs.

Every `interval` seconds a cheap read asks whether a delay is due; only then does the scheduler run `Runtime.tick()`,
which takes the write lock (BEGIN IMMEDIATE) and claims each wake-up with `UPDATE ... WHERE done = FALSE`: two app
processes (or instances on one PostgreSQL database) can both tick, and each delay still runs once.
"""

import asyncio

from channels.periodic import Periodic
from runtime.service import Runtime

BATCH = 50  # delays run per transaction


class DelayScheduler(Periodic):
    name = "delay scheduler"
    failure = "Running the due delays failed"

    def __init__(self, runtime: Runtime, *, interval: float = 1.0) -> None:
        super().__init__(interval=interval)
        self.runtime = runtime

    async def run_once(self) -> int:
        """Run the delays due now, BATCH at a time (each its own short transaction, so web chat turns get in between
        and a backlog after downtime never holds the write lock for long); returns how many contacts were woken.
        Nothing due: one read, no write lock."""
        woken = 0
        while await asyncio.to_thread(self.runtime.any_delay_due):
            woken += (await asyncio.to_thread(self.runtime.tick, limit=BATCH)).woken
        return woken
