"""Work the serving app repeats while it runs (the live clock, the housekeeping): started and stopped with the app,
and a round that fails is logged and tried again on the next one, so it never stops for everyone else."""

import asyncio
import contextlib
import logging

from runtime.vocabulary import format_duration


class Periodic:
    """`run_once` every `interval` seconds, the first time at start; `failure` names the work in the log."""

    name = "periodic work"
    failure = "This work failed"

    def __init__(self, *, interval: float) -> None:
        self.interval = interval
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run_once(self) -> object:
        raise NotImplementedError

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:  # a broken flow or a locked database must not stop the work for everyone else
                logging.getLogger(type(self).__module__).exception(  # the log of the module doing the work
                    "%s; it is tried again in %s", self.failure, format_duration(self.interval))
            await asyncio.sleep(self.interval)
