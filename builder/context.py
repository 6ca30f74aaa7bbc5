"""How builder pages reach the database that app.py opened at start-up, and the simulator's sandbox."""

from dataclasses import dataclass

from nicegui import app

from runtime.scenarios import SimulatedClock
from runtime.service import Runtime
from storage.db import Database
from storage.sandbox import open_sandbox


def database() -> Database:
    return app.state.referflow_database


@dataclass
class SimulatorBench:
    """The sandbox database, the runtime that works on it (the same code as live processing) and its clock."""

    database: Database
    runtime: Runtime
    clock: SimulatedClock


def simulator() -> SimulatorBench:
    """The one sandbox of this app process, opened on first use (definitions copied from the live workspace)."""
    bench = getattr(app.state, "referflow_simulator", None)
    if bench is None:
        sandbox = open_sandbox(database())
        clock = SimulatedClock()
        bench = SimulatorBench(sandbox, Runtime(sandbox, clock=clock, seed=1), clock)
        app.state.referflow_simulator = bench
        app.on_shutdown(lambda: (bench.runtime.close(), sandbox.dispose()))
    return bench
