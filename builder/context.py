"""How builder pages reach the database that app.py opened at start-up, and the process's one simulator sandbox."""

from collections.abc import Callable
from typing import Any

from nicegui import app

from runtime.service import Runtime
from runtime.simulator.simulation import SimulatorBench
from storage.db import Database


def database() -> Database:
    return app.state.referflow_database


def read(query: Callable[..., Any], **arguments: Any) -> Any:
    """`query(session=..., **arguments)` in a read session; handlers call it through `run.io_bound`, so that the
    database work never holds the event loop every admin's page shares."""
    with database().session() as session:
        return query(session=session, **arguments)


def write(change: Callable[..., Any], **arguments: Any) -> Any:
    """`change(session=..., **arguments)` in a write session (committed when it returns), through `run.io_bound`."""
    with database().write_session() as session:
        return change(session=session, **arguments)


def live_runtime() -> Runtime | None:
    """The runtime the app's channels run on (None in a process that serves no channels)."""
    return getattr(app.state, "referflow_runtime", None)


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
