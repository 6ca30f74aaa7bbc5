"""Simulator latency: server time from "Open" to the view the page draws, for a referral that runs a trigger and flows.

The demo workspace (tests/fixtures/referral_program.json); Ann holds a referral link and each round a new person opens
it: the referral is counted, the trigger increases Ann's points, notifies her and runs "Check reward", and "Share"
answers the joiner. Measured: what the Simulator page's Open button runs (runtime/simulator Simulation.open: copy the
live definitions into the sandbox, explain the link, read the people involved before, Runtime.open_link, read them
after, narrate the trace, find the flow paths, record the scenario step) against the bare Runtime.open_link of the
same kind of click on the same sandbox, in alternating rounds in this process. Best of N for each; ends with
`simulator/open_link ratio: X.X`.
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from runtime.opening import Inbound
from runtime.service import RunOptions
from runtime.simulator.recording import SIMULATION_SEED, Recording
from runtime.simulator.simulation import Opener, Simulation, SimulatorBench
from storage.db import open_database
from storage.workspace_io import import_workspace

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "referral_program.json"
GIVEAWAY = "https://m.me/1234567890?ref=giveaway2025"


def main() -> None:
    options = _options()
    with tempfile.TemporaryDirectory(prefix="referflow-bench-") as folder:
        live = open_database(url=f"sqlite:///{Path(folder) / 'live.db'}")
        with live.write_session() as session:
            import_workspace(session=session, document=json.loads(FIXTURE.read_text()))
        bench = SimulatorBench.open(live)
        simulation = Simulation(live, bench, Recording())
        ann = simulation.open(GIVEAWAY, Opener(name="Ann"), use_draft=True).people[0].contact.id
        link = f"{GIVEAWAY}-c{ann}"
        page, bare = measure(simulation, link, options.rounds)
        bench.close()
        live.dispose()
    print(f"{'Runtime.open_link':30} best {bare * 1000:8.2f} ms")
    print(f"{'simulator Open (page handler)':30} best {page * 1000:8.2f} ms")
    print(f"simulator/open_link ratio: {page / bare:.1f}")


def _options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=200, help="opens measured on each side (default 200)")
    return parser.parse_args()


def measure(simulation: Simulation, link: str, rounds: int) -> tuple[float, float]:
    """Best seconds per open: the page's handler, and the bare runtime, alternating on the same sandbox."""
    page, bare = float("inf"), float("inf")
    runtime = simulation.bench.runtime
    draft = RunOptions(use_draft=True, seed=SIMULATION_SEED)  # what the page's open runs with
    for number in range(rounds):
        people = simulation.recording.people
        keep = dict(list(people.items())[:1])  # a session of a few people, as an admin's would be
        people.clear()
        people.update(keep)
        simulation.recording.steps.clear()
        started = time.perf_counter()
        simulation.open(link, Opener(name=f"Page {number}"), use_draft=True)
        page = min(page, time.perf_counter() - started)
        started = time.perf_counter()
        runtime.open_link(Inbound(text=link, channel="messenger", channel_user_id=f"bare-{number}",
                                  first_name=f"Bare {number}"), draft)
        bare = min(bare, time.perf_counter() - started)
    return page, bare


if __name__ == "__main__":
    main()
