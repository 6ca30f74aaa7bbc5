"""How builder pages reach the database that app.py opened at start-up, and the simulator's sandbox."""

from dataclasses import dataclass

from nicegui import app

from runtime.service import Runtime
from runtime.simulator.sandbox import open_sandbox, sync_definitions
from runtime.simulator.scenarios import SimulatedClock
from storage.db import Database


def database() -> Database:
    return app.state.referflow_database


@dataclass
class SimulatorBench:
    """The sandbox database, the runtime that works on it (the same code as live processing) and its clock."""

    database: Database
    runtime: Runtime
    clock: SimulatedClock
    synced_version: int | None = None

    def sync(self, live: Database) -> None:
        """Copy the live definitions in, when any changed since the last copy."""
        self.synced_version = sync_definitions(live=live, sandbox=self.database, known_version=self.synced_version)


def simulator() -> SimulatorBench:
    """The one sandbox of this app process, opened on first use (definitions copied from the live workspace)."""
    bench = getattr(app.state, "referflow_simulator", None)
    if bench is None:
        sandbox = open_sandbox(database())
        clock = SimulatedClock()
        bench = SimulatorBench(sandbox, Runtime(sandbox, clock=clock, seed=1, trace=True), clock)
        app.state.referflow_simulator = bench
        app.on_shutdown(lambda: _close(bench))
    return bench


def _close(bench: SimulatorBench) -> None:
    bench.runtime.close()
    bench.database.dispose()
    if getattr(app.state, "referflow_simulator", None) is bench:
        del app.state.referflow_simulator
