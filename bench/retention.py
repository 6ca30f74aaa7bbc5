"""Housekeeping: how fast a backlog of old webhook event ids goes, and what live opens see meanwhile.

The demo workspace (tests/fixtures/referral_program.json) is live with 200,000 event ids older than two weeks (what
a busy bot keeps after a few weeks without pruning) and 20,000 recent ones. A second process opens `giveaway2025`
links through Runtime.open_link, one after another, as new people with event ids. First the opener runs alone (the
baseline); then this process prunes (storage/retention.py, 5,000 rows per transaction) while the opener keeps going.
Ends with `prune rows/s: X`, `open p99 during prune/alone ratio: X` and `worst open during prune/alone p99 ratio: X`.
"""

import argparse
import json
import multiprocessing
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.support.app_process import percentile_ms
from storage.db import open_database
from storage.retention import prune
from tests.helpers import import_fixture

LINK = "https://m.me/1234567890?ref=giveaway2025"


def main() -> None:
    options = _options()
    with tempfile.TemporaryDirectory(prefix="referflow-bench-") as folder:
        path = Path(folder) / "live.db"
        database = open_database(url=f"sqlite:///{path}")
        import_fixture(database)  # the demo workspace
        fill(path, old=options.old, recent=options.old // 10)
        context = multiprocessing.get_context("spawn")
        samples, go, stop = context.Queue(), context.Event(), context.Event()
        opener = context.Process(target=open_links, args=(str(path), go, stop, samples), daemon=True)
        opener.start()
        go.set()
        time.sleep(1.0)  # the opener is warm before anything is measured
        alone_from = time.time()
        time.sleep(options.baseline_seconds)
        prune_from = time.time()
        pruned = prune(database).processed_events
        prune_to = time.time()
        stop.set()
        opens = samples.get(timeout=60)
        opener.join(timeout=10)
        database.dispose()
    took = prune_to - prune_from
    alone = [latency for at, latency in opens if alone_from <= at < prune_from]
    during = [latency for at, latency in opens if prune_from <= at < prune_to]
    alone_p99, during_p99 = percentile_ms(alone, 99), percentile_ms(during, 99)
    print(f"{'old event ids pruned':34} {pruned:>10,}   in {took:.2f} s")
    print(f"{'open alone':34} p50 {percentile_ms(alone, 50):7.2f} ms   p99 {alone_p99:7.2f} ms   ({len(alone)} opens)")
    print(f"{'open during prune':34} p50 {percentile_ms(during, 50):7.2f} ms   p99 {during_p99:7.2f} ms   "
          f"max {max(during) * 1000:7.2f} ms   ({len(during)} opens)")
    print(f"prune rows/s: {pruned / took:,.0f}")
    print(f"open p99 during prune/alone ratio: {during_p99 / alone_p99:.2f}")
    print(f"worst open during prune/alone p99 ratio: {max(during) * 1000 / alone_p99:.2f}")


def fill(path: Path, *, old: int, recent: int) -> None:
    """Event ids as the runtime stores them (its DATETIME text), with a small stored result each."""
    now = datetime.now(UTC).replace(tzinfo=None)
    result = json.dumps({"contact_id": 1, "is_new": False, "entry": "giveaway2025", "warnings": []})
    old_stamp = (now - timedelta(days=20)).isoformat(" ", "microseconds")
    recent_stamp = (now - timedelta(hours=1)).isoformat(" ", "microseconds")
    rows = [("messenger", "", f"old.{n}", f"psid-{n}", result, old_stamp) for n in range(old)]
    rows += [("messenger", "", f"new.{n}", f"psid-{n}", result, recent_stamp) for n in range(recent)]
    with sqlite3.connect(path) as connection:
        connection.executemany("INSERT INTO processed_event (channel, bot, event_id, channel_user_id, result,"
                               " created_at) VALUES (?, ?, ?, ?, ?, ?)", rows)


def open_links(path: str, go, stop, samples) -> None:
    """Open links one after another from `go` to `stop`; puts (when each started, how long it took) on `samples`."""
    from runtime.opening import Inbound
    from runtime.service import Runtime

    database = open_database(url=f"sqlite:///{path}")
    opens, number = [], 0
    with Runtime(database) as runtime:
        go.wait()
        while not stop.is_set():
            number += 1
            at, started = time.time(), time.perf_counter()
            runtime.open_link(Inbound(text=LINK, channel="messenger", channel_user_id=f"bench-{number}",
                                      first_name="Bench", event_id=f"mid.bench.{number}"))
            opens.append((at, time.perf_counter() - started))
    samples.put(opens)
    database.dispose()


def _options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", type=int, default=200_000, help="event ids older than two weeks")
    parser.add_argument("--baseline-seconds", type=float, default=3.0)
    return parser.parse_args()


if __name__ == "__main__":
    main()
