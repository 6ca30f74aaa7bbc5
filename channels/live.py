"""What a serving app runs beside its pages: the live runtime, the delivery worker and the live clock."""

from dataclasses import dataclass

from channels.delivery import DeliveryWorker
from channels.scheduler import DelayScheduler
from runtime.service import Runtime
from storage.db import Database


@dataclass
class LiveServices:
    runtime: Runtime  # Runtime(outbox=True): its calls block, so pages and channels call it from a thread
    delivery: DeliveryWorker
    scheduler: DelayScheduler

    @classmethod
    def create(cls, database: Database) -> "LiveServices":
        delivery = DeliveryWorker(database)
        runtime = Runtime(database, outbox=True, on_outbox=delivery.wake)
        return cls(runtime, delivery, DelayScheduler(runtime))

    async def start(self) -> None:
        await self.delivery.start()
        await self.scheduler.start()

    async def stop(self) -> None:
        await self.scheduler.stop()
        await self.delivery.stop()
        self.runtime.close()
