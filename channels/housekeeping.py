"""The live app's housekeeping: once at start and then every few hours, the rows that have outlived their use go
(storage/retention.py says which and when). It runs off the event loop, in short transactions."""

import asyncio
import contextlib
import logging

from runtime.vocabulary import format_duration
from storage.db import Database
from storage.retention import Pruned, Retention, prune

log = logging.getLogger(__name__)
INTERVAL = 6 * 3600.0  # seconds between two rounds


class Housekeeper:
    def __init__(self, database: Database, *, interval: float = INTERVAL, keep: Retention = Retention()) -> None:
        self.database = database
        self.interval = interval
        self.keep = keep
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="housekeeping")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run_once(self) -> Pruned:
        pruned = await asyncio.to_thread(prune, self.database, keep=self.keep)
        if pruned.total:
            log.info("Housekeeping removed %s", ", ".join(f"{count} {what.replace('_', ' ')}"
                                                          for what, count in pruned.to_dict().items() if count))
        return pruned

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:  # a locked or unreachable database: try again next round, never stop the app
                log.exception("Housekeeping failed; it tries again in %s", format_duration(self.interval))
            await asyncio.sleep(self.interval)
