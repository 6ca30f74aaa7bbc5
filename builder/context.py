"""How builder pages reach the database that app.py opened at start-up, and the process's one simulator sandbox."""

from nicegui import app

from runtime.simulator.simulation import SimulatorBench
from storage.db import Database


def database() -> Database:
    return app.state.referflow_database


def simulator() -> SimulatorBench:
    """The one sandbox of this app process, opened on first use (definitions copied from the live workspace)."""
    bench = getattr(app.state, "referflow_simulator", None)
    if bench is None:
        bench = app.state.referflow_simulator = SimulatorBench.open(database())
        app.on_shutdown(lambda: _close(bench))
    return bench


def _close(bench: SimulatorBench) -> None:
    bench.close()
    if getattr(app.state, "referflow_simulator", None) is bench:
        del app.state.referflow_simulator
