"""What a serving app runs beside its pages: the live runtime, the delivery worker, the live clock and the
housekeeping."""

from dataclasses import dataclass

from channels.delivery import DeliveryWorker
from channels.housekeeping import Housekeeper
from channels.scheduler import DelayScheduler
from runtime.service import Runtime
from storage.db import Database


@dataclass
class LiveServices:
    runtime: Runtime  # Runtime(outbox=True): its calls block, so pages and channels call it from a thread
    delivery: DeliveryWorker
    scheduler: DelayScheduler
    housekeeper: Housekeeper

    @classmethod
    def create(cls, database: Database) -> "LiveServices":
        delivery = DeliveryWorker(database)
        runtime = Runtime(database, outbox=True, on_outbox=delivery.wake)
        return cls(runtime, delivery, DelayScheduler(runtime), Housekeeper(database))

    async def start(self) -> None:
        await self.delivery.start()
        await self.scheduler.start()
        await self.housekeeper.start()

    async def stop(self) -> None:
        await self.housekeeper.stop()
        await self.scheduler.stop()
        await self.delivery.stop()
        self.runtime.close()
