"""The live app's housekeeping: once at start and then every few hours, the rows that have outlived their use go
(storage/retention.py says which and when). It runs off the event loop, in short transactions."""

import asyncio
import logging

from channels.periodic import Periodic
from storage.db import Database
from storage.retention import Pruned, Retention, prune

log = logging.getLogger(__name__)
INTERVAL = 6 * 3600.0  # seconds between two rounds


class Housekeeper(Periodic):
    name = "housekeeping"
    failure = "Housekeeping failed"

    def __init__(self, database: Database, *, interval: float = INTERVAL, keep: Retention = Retention()) -> None:
        super().__init__(interval=interval)
        self.database = database
        self.keep = keep

    async def run_once(self) -> Pruned:
        pruned = await asyncio.to_thread(prune, self.database, keep=self.keep)
        if pruned.total:
            log.info("Housekeeping removed %s", ", ".join(f"{count} {what.replace('_', ' ')}"
                                                          for what, count in pruned.to_dict().items() if count))
        return pruned
