"""The outbox's cost and the delivery worker's speed, against bare `Runtime.open_link` in the same run.

The classic referral program (tests/fixtures/referral_program.json): people open the giveaway link, every second one
through the previous person's personal link (so referrers are notified too). Three measurements on copies of one
database, in alternating blocks:
- opens per second without the outbox (the simulator's runtime: the baseline),
- opens per second with the outbox (live: every message also queued in the same transaction),
- messages per second through the delivery worker (claim, a sender that accepts at once, record), after the opens.
Ends with `live/bare open_link ratio: X.XX` and `delivered messages/bare opens ratio: X.XX`.
"""

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from channels.delivery import DeliveryWorker, OutboxItem
from runtime.opening import Inbound
from runtime.service import Runtime
from storage.db import open_database
from storage.workspace_io import import_workspace

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "referral_program.json"


def main() -> None:
    options = _options()
    folder = Path(tempfile.mkdtemp(prefix="referflow-outbox-bench-"))
    try:
        template = folder / "template.db"
        database = open_database(url=f"sqlite:///{template}")
        with database.write_session() as session:
            import_workspace(session=session, document=json.loads(FIXTURE.read_text()))
        database.dispose()
        measure_opens(folder, template, "warm-up", options.opens // 4, outbox=True)  # imports, caches, the disk
        bare, live, delivered = [], [], []
        for block in range(options.blocks):
            bare.append(measure_opens(folder, template, f"bare{block}", options.opens, outbox=False)[0])
            opens, path = measure_opens(folder, template, f"live{block}", options.opens, outbox=True)
            live.append(opens)
            delivered.append(measure_delivery(path))
        for name, rates, unit in (("open_link, no outbox", bare, "opens/s"), ("open_link, live outbox", live,
                                                                               "opens/s"),
                                  ("delivery worker", delivered, "messages/s")):
            print(f"{name:24} {statistics.median(rates):>10,.0f} {unit}  (blocks: "
                  f"{', '.join(f'{rate:,.0f}' for rate in rates)})")
        print(f"live/bare open_link ratio: {statistics.median(live) / statistics.median(bare):.2f}")
        print(f"delivered messages/bare opens ratio: {statistics.median(delivered) / statistics.median(bare):.2f}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--opens", type=int, default=1500, help="opens per block (default 1500)")
    parser.add_argument("--blocks", type=int, default=5, help="alternating blocks per side (default 5)")
    return parser.parse_args()


def measure_opens(folder: Path, template: Path, name: str, count: int, *, outbox: bool) -> tuple[float, Path]:
    path = folder / f"{name}.db"
    shutil.copy(template, path)
    database = open_database(url=f"sqlite:///{path}")
    with Runtime(database, outbox=outbox) as runtime:
        started = time.perf_counter()
        previous = None
        for n in range(count):
            ref = "giveaway2025" if previous is None or n % 2 == 0 else f"giveaway2025-c{previous}"
            previous = runtime.open_link(Inbound(text=ref, channel="webchat", channel_user_id=f"v{n}",
                                                 first_name=f"P{n}")).contact_id
        elapsed = time.perf_counter() - started
    database.dispose()
    return count / elapsed, path


def measure_delivery(path: Path) -> float:
    database = open_database(url=f"sqlite:///{path}")

    async def accept(item: OutboxItem) -> None:
        return None

    async def deliver_all() -> tuple[int, float]:
        worker = DeliveryWorker(database)
        worker.register_sender("webchat", accept)
        started, total = time.perf_counter(), 0
        while claimed := await worker.run_once():
            total += claimed
        elapsed = time.perf_counter() - started
        await worker.stop()
        return total, elapsed

    total, elapsed = asyncio.run(deliver_all())
    database.dispose()
    return total / elapsed


if __name__ == "__main__":
    main()
