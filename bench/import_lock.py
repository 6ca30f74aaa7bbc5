"""Import lock: how long a 100k-element workspace import holds the write lock, and what live opens see meanwhile.

The demo workspace (tests/fixtures/referral_program.json) is live; a second process opens `giveaway2025` links
through Runtime.open_link, one after another, as new people. First the opener runs alone (the baseline: how long an
open takes when nothing else writes); then this process imports a document of 100,000 elements (fields, tags, entry
points, flows and triggers) the way the CLI and the Settings page do, while the opener keeps going. Measured: the
time from the import's BEGIN IMMEDIATE to its COMMIT (the write lock is held all that time), the whole import, the
worst open latency during the import and the opens that failed. Ends with `import lock/open ratio: X` (the write
lock's hold over the baseline's median open) and `worst open during import/open ratio: X`.
"""

import argparse
import json
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import event

from storage.db import open_database
from storage.workspace_io import import_workspace

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "referral_program.json"
LINK = "https://m.me/1234567890?ref=giveaway2025"


def main() -> None:
    options = _options()
    with tempfile.TemporaryDirectory(prefix="referflow-bench-") as folder:
        url = f"sqlite:///{Path(folder) / 'live.db'}"
        database = open_database(url=url)
        with database.write_session() as session:
            import_workspace(session=session, document=json.loads(FIXTURE.read_text()))
        document = make_document(options.elements)
        context = multiprocessing.get_context("spawn")
        latencies, failures = context.Queue(), context.Queue()
        go, stop = context.Event(), context.Event()
        opener = context.Process(
            target=open_links, args=(url, go, stop, latencies, failures), daemon=True)
        opener.start()
        baseline = _phase(go, stop, latencies, failures, lambda: time.sleep(options.baseline_seconds))
        held: list[float] = []
        _watch_write_lock(database, held)
        started = time.perf_counter()
        during = _phase(go, stop, latencies, failures, lambda: run_import(database, document))
        total = time.perf_counter() - started
        opener.terminate()
        database.dispose()
    base_median = statistics.median(baseline[0])
    lock = max(held) if held else 0.0
    worst = max(during[0]) if during[0] else float("inf")
    print(f"{'elements imported':34} {options.elements:>10,}")
    print(f"{'import, total':34} {total:>10.2f} s")
    print(f"{'write lock held (longest)':34} {lock:>10.3f} s   ({len(held)} write transaction(s))")
    print(f"{'open, median alone':34} {base_median * 1000:>10.2f} ms  ({len(baseline[0])} opens)")
    print(f"{'open, worst alone':34} {max(baseline[0]) * 1000:>10.2f} ms  ({len(baseline[1])} failed)")
    print(f"{'open, worst during the import':34} {worst * 1000:>10.2f} ms  ({len(during[0])} opens)")
    print(f"{'opens failed during the import':34} {len(during[1]):>10}" +
          (f"   first: {during[1][0]}" if during[1] else ""))
    print(f"import lock/open ratio: {lock / base_median:.0f}")
    print(f"worst open during import/open ratio: {worst / base_median:.0f}")


def _options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--elements", type=int, default=100_000, help="elements in the document (default 100,000)")
    parser.add_argument("--baseline-seconds", type=float, default=2.0)
    return parser.parse_args()


def make_document(elements: int) -> dict:
    """A workspace document of `elements` elements: 40% fields, 30% tags, 10% each entry points, flows, triggers."""
    counts = {"fields": elements * 4 // 10, "tags": elements * 3 // 10, "entry_points": elements // 10,
              "flows": elements // 10}
    counts["triggers"] = elements - sum(counts.values())
    return {
        "format": "referflow-workspace", "version": 1,
        "fields": [{"id": 1000 + n, "name": f"bulk_field_{n}", "type": "number"} for n in range(counts["fields"])],
        "tags": [{"id": 1000 + n, "name": f"bulk tag {n}"} for n in range(counts["tags"])],
        "flows": [{"id": 1000 + n, "name": f"Bulk flow {n}"} for n in range(counts["flows"])],
        "entry_points": [{"id": 1000 + n, "name": f"Bulk {n}", "ref": f"bulk-{n}", "response_message": "Hi",
                          "default_field_id": 1000 + n, "segment_tag_id": 1000 + n}
                         for n in range(counts["entry_points"])],
        "triggers": [{"name": f"Bulk trigger {n}", "event": "entry_point_opened",
                      "entry_point_id": 1000 + n % max(counts["entry_points"], 1),
                      "actions": [{"type": "add_tag", "tag_id": 1000 + n % max(counts["tags"], 1)}]}
                     for n in range(counts["triggers"])],
    }


def run_import(database, document: dict) -> None:
    """What `referflow import` does: the check and the plan outside the write, when this Referflow can."""
    try:
        from storage.workspace_io import import_document
    except ImportError:  # a Referflow from before the import was split: everything inside one write transaction
        with database.write_session() as session:
            import_workspace(session=session, document=document)
        return
    import_document(database=database, document=document)


def _watch_write_lock(database, held: list[float]) -> None:
    began: list[float] = []

    @event.listens_for(database.engine, "begin")
    def _began(connection) -> None:
        if connection.get_execution_options().get("sqlite_begin") == "IMMEDIATE":
            began.append(time.perf_counter())

    @event.listens_for(database.engine, "commit")
    def _committed(connection) -> None:
        if began:
            held.append(time.perf_counter() - began.pop())

    event.listen(database.engine, "rollback", _committed)


def _phase(go, stop, latencies, failures, work) -> tuple[list[float], list[str]]:
    """Run `work` while the opener opens links; the latencies and failures it saw meanwhile."""
    stop.clear()
    go.set()
    work()
    go.clear()
    stop.set()
    seen, failed = latencies.get(), failures.get()
    return seen, failed


def open_links(url: str, go, stop, latencies, failures) -> None:
    """The opener process: while `go` is set, open links as new people; report each phase when `stop` is set."""
    from runtime.opening import Inbound
    from runtime.service import Runtime
    from storage.db import open_database

    runtime = Runtime(open_database(url=url, migrate=False))
    number = 0
    while True:
        go.wait()
        seen: list[float] = []
        failed: list[str] = []
        while go.is_set():
            number += 1
            started = time.perf_counter()
            try:
                runtime.open_link(Inbound(text=LINK, channel="messenger", channel_user_id=f"bench-{number}"))
            except Exception as error:  # "database is locked" is what the benchmark counts
                failed.append(f"{type(error).__name__}: {error}")
            seen.append(time.perf_counter() - started)
        stop.wait()
        latencies.put(seen)
        failures.put(failed)


if __name__ == "__main__":
    main()
