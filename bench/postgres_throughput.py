"""Open-link throughput on PostgreSQL: the runtime's public entry point against plain psycopg doing the same writes
per event, and the runtime's total throughput with 1, 2 and 4 processes sharing one database.

The same events as bench/runtime_throughput.py (new joiners, repeat clicks, referrals, payloads), against existing
contacts, in the two workspaces (links only; the classic referral program with its trigger and flows). Baseline and
runtime run in this process on copies of one database, in alternating blocks. Ends with `runtime/raw ratio: X.XX`
(links only); the line before gives the same with triggers and flows. Then 1, 2 and 4 processes open the events of the
links-only workspace split between them, each with its own Runtime, on a fresh copy: total opens per second.

The server: REFERFLOW_BENCH_POSTGRES_URL, else REFERFLOW_TEST_POSTGRES_URL, else postgresql://postgres@127.0.0.1:5432/
postgres; when none answers, the benchmark says why and stops.
"""

import argparse
import json
import multiprocessing
import os
import random
import secrets
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import sqlalchemy as sa

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))

import runtime_throughput as sqlite_bench  # noqa: E402  (same events, workspaces and report)

from bench.support.app_process import percentile_ms  # noqa: E402
from runtime.opening import Inbound  # noqa: E402
from runtime.service import Runtime  # noqa: E402
from storage.db import database_url, open_database  # noqa: E402
from storage.workspace_io import import_workspace  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PAGE = sqlite_bench.PAGE


def main() -> None:
    options = _options()
    server = _server_url()
    try:
        _execute(server, "SELECT 1")
    except psycopg.Error as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        print(f"skipped: no PostgreSQL answers at {_shown(server)} ({reason}); set REFERFLOW_BENCH_POSTGRES_URL")
        return
    events = sqlite_bench.make_events(options.events, options.contacts, random.Random(7))
    ratios = {}
    for program in (True, False):
        with _template(server, options.contacts, program) as template:
            with _copy(server, template) as raw_url, _copy(server, template) as runtime_url:
                raw, ours = run_interleaved(raw_url, runtime_url, events, program)
            ratios[program] = report(options, raw, ours, program)
            if not program:
                scale(options, server, template, events)
    print(f"runtime/raw ratio with triggers and flows: {ratios[True]:.2f}")
    print(f"runtime/raw ratio: {ratios[False]:.2f}")


def _options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--events", type=int, default=4_000)
    return parser.parse_args()


# ------------------------------------------------------------------------------------------------ the two sides


def run_interleaved(raw_url: str, runtime_url: str, events: list[dict], program: bool, blocks: int = 20
                    ) -> tuple[list[float], list[float]]:
    """Alternate blocks of baseline and runtime events, so that anything else the machine does hits both alike."""
    raw_db = psycopg.connect(_libpq(raw_url), autocommit=True, options="-c timezone=UTC")
    database = open_database(url=runtime_url, migrate=False)
    raw, ours = [], []
    size = -(-len(events) // blocks)
    with Runtime(database) as runtime:
        for start in range(0, len(events), size):
            block = events[start:start + size]
            raw += run_baseline(raw_db, block, program)
            ours += sqlite_bench.run_runtime(runtime, block)
    raw_db.close()
    database.dispose()
    return raw, ours


def run_baseline(db: psycopg.Connection, events: list[dict], program: bool) -> list[float]:
    """The same rows per event, written with plain psycopg by code that already knows the answers."""
    latencies = []
    for event in events:
        started = time.perf_counter()
        now = sqlite_bench._now()
        db.execute("BEGIN")
        contact, is_new = db.execute(
            "INSERT INTO contact (channel, channel_user_id, first_name, last_name, phone, first_ref, last_ref,"
            " created_at, last_seen_at) VALUES ('messenger', %s, '', '', '', %s, %s, %s, %s)"
            " ON CONFLICT (channel, channel_user_id) DO UPDATE SET last_ref = excluded.last_ref,"
            " last_seen_at = excluded.last_seen_at RETURNING id, xmax = 0",
            (event["user"], event["ref"], event["ref"], now, now),
        ).fetchone()
        for field_id, value in event["fields"]:
            db.execute("INSERT INTO field_value (contact_id, field_id, value, updated_at) VALUES (%s, %s, %s, %s)"
                       " ON CONFLICT (contact_id, field_id) DO UPDATE SET value = excluded.value,"
                       " updated_at = excluded.updated_at", (contact, field_id, value, now))
        db.execute("INSERT INTO contact_tag (contact_id, tag_id, created_at) VALUES (%s, 1, %s)"
                   " ON CONFLICT DO NOTHING", (contact, now))
        db.execute("INSERT INTO link_open (entry_point_id, contact_id, channel, ref, is_new_contact, created_at)"
                   " VALUES (1, %s, 'messenger', %s, %s, %s)", (contact, event["ref"], is_new, now))
        if event["referrer"] is not None and event["referrer"] != contact:
            db.execute("SELECT 1 FROM contact WHERE id = %s FOR NO KEY UPDATE", (event["referrer"],))
            counted = db.execute(
                "INSERT INTO referral (entry_point_id, referrer_id, referrer_ref, referee_id, kind, status,"
                " created_at) VALUES (1, %s, %s, %s, %s, 'counted', %s)"
                " ON CONFLICT (entry_point_id, referee_id) WHERE status = 'counted' DO NOTHING",
                (event["referrer"], str(event["referrer"]), contact, "new" if is_new else "existing", now),
            ).rowcount
            if counted:
                db.execute("INSERT INTO event_log (type, contact_id, other_contact_id, entry_point_id, data, depth,"
                           " handled, created_at) VALUES ('referred_new_contact', %s, %s, 1, '{}', 0, TRUE, %s)",
                           (event["referrer"], contact, now))
                if program:
                    _write_reward_trigger(db, event["referrer"], 1 if is_new else 0.5, now)
        if is_new:
            db.execute("INSERT INTO event_log (type, contact_id, entry_point_id, data, depth, handled, created_at)"
                       " VALUES ('contact_created', %s, 1, '{}', 0, TRUE, %s)", (contact, now))
        db.execute("INSERT INTO event_log (type, contact_id, entry_point_id, data, depth, handled, created_at)"
                   " VALUES ('entry_point_opened', %s, 1, '{}', 0, TRUE, %s)", (contact, now))
        text = f"Share your link: {PAGE}giveaway2025-c{contact}" if program else "Welcome!"
        db.execute("INSERT INTO message (contact_id, direction, text, buttons, created_at)"
                   " VALUES (%s, 'out', %s, '[]', %s)", (contact, text, now))
        db.execute("COMMIT")
        latencies.append(time.perf_counter() - started)
    return latencies


def _write_reward_trigger(db: psycopg.Connection, referrer: int, points: float, now: str) -> None:
    """What the referral trigger and the "Check reward" flow write, by code that knows the outcome."""
    db.execute("INSERT INTO trigger_run (trigger_id, contact_id, runs, last_run_at) VALUES (1, %s, 1, %s)"
               " ON CONFLICT (trigger_id, contact_id) DO UPDATE SET runs = trigger_run.runs + 1,"
               " last_run_at = excluded.last_run_at", (referrer, now))
    db.execute("INSERT INTO field_value (contact_id, field_id, value, updated_at) VALUES (%s, 1, %s, %s)"
               " ON CONFLICT (contact_id, field_id) DO UPDATE"
               " SET value = CAST(CAST(field_value.value AS NUMERIC) + %s AS TEXT), updated_at = excluded.updated_at",
               (referrer, str(points), now, points))
    db.execute("INSERT INTO event_log (type, contact_id, field_id, data, depth, handled, created_at)"
               " VALUES ('field_changed', %s, 1, '{}', 1, TRUE, %s)", (referrer, now))
    with db.cursor() as cursor:
        cursor.executemany("INSERT INTO message (contact_id, direction, text, buttons, created_at)"
                           " VALUES (%s, 'out', %s, '[]', %s)",
                           [(referrer, "Someone joined with your link!", now),
                            (referrer, "2 of 3 friends joined", now)])


# ------------------------------------------------------------------------------------------------ several processes


def scale(options: argparse.Namespace, server: str, template: str, events: list[dict]) -> None:
    print(f"{options.events:,} opens (links only) split between processes, one Runtime each")
    print(f"{'processes':28} {'opens/s':>10} {'vs 1':>8}")
    single = None
    for processes in (1, 2, 4):
        with _copy(server, template) as url:
            rate = _run_processes(url, events, processes)
        single = single or rate
        print(f"{processes:<28} {rate:>10,.0f} {rate / single:>8.2f}")
    print()


def _run_processes(url: str, events: list[dict], processes: int) -> float:
    context = multiprocessing.get_context("spawn")
    ready, results = context.Barrier(processes + 1), context.Queue()
    workers = [context.Process(target=_open_share, args=(url, events[n::processes], ready, results))
               for n in range(processes)]
    for worker in workers:
        worker.start()
    ready.wait()
    started = time.perf_counter()
    opened = sum(results.get(timeout=1800) for _ in workers)
    elapsed = time.perf_counter() - started
    for worker in workers:
        worker.join()
    return opened / elapsed


def _open_share(url: str, events: list[dict], ready: multiprocessing.Barrier, results: multiprocessing.Queue) -> None:
    database = open_database(url=url, migrate=False)
    with Runtime(database) as runtime:
        runtime.definitions()  # connected and warm before the clock starts
        ready.wait()
        for event in events:
            runtime.open_link(Inbound(text=PAGE + event["ref"], channel="messenger", channel_user_id=event["user"]))
    database.dispose()
    results.put(len(events))


# ------------------------------------------------------------------------------------------------ the databases


@contextmanager
def _template(server: str, contacts: int, program: bool) -> Iterator[str]:
    name = f"referflow_bench_{secrets.token_hex(4)}"
    _execute(server, f'CREATE DATABASE "{name}"')
    try:
        url = _database(server, name)
        database = open_database(url=url)
        if program:
            with database.write_session() as session:
                import_workspace(session=session, document=json.loads(sqlite_bench.FIXTURE.read_text()))
        database.dispose()
        with psycopg.connect(_libpq(url), options="-c timezone=UTC") as db:
            if not program:
                _links_only(db)
            _add_contacts(db, contacts)
        yield name
    finally:
        _execute(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def _copy(server: str, template: str) -> Iterator[str]:
    name = f"{template}_{secrets.token_hex(3)}"
    _execute(server, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield _database(server, name)
    finally:
        _execute(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _links_only(db: psycopg.Connection) -> None:
    now = sqlite_bench._now()
    with db.cursor() as cursor:
        cursor.executemany("INSERT INTO custom_field (id, name, type, description, created_at)"
                           " VALUES (%s, %s, %s, '', %s)",
                           [(1, "referral_points", "number", now), (2, "coupon_code", "text", now),
                            (3, "plan", "text", now), (4, "seats", "number", now)])
    db.execute("INSERT INTO tag (id, name, description, created_at) VALUES (1, 'giveaway', '', %s)", (now,))
    db.execute(
        "INSERT INTO entry_point (id, name, ref, active, response_type, response_message, default_field_id,"
        " payload_mapping, json_mapping, segment_tag_id, referrals_enabled, referral_policy, whatsapp_pattern,"
        " referrer_match, created_at) VALUES (1, 'Giveaway', 'giveaway2025', TRUE, 'message', 'Welcome!', 2, '[]',"
        " %s, 1, TRUE, 'first_only', '', 'id', %s)",
        (json.dumps([{"path": "plan", "field_id": 3}, {"path": "seats", "field_id": 4}]), now),
    )
    for table in ("custom_field", "tag", "entry_point"):
        db.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")


def _add_contacts(db: psycopg.Connection, contacts: int) -> None:
    now = sqlite_bench._now()
    with db.cursor() as cursor:
        with cursor.copy("COPY contact (id, channel, channel_user_id, first_name, last_name, phone, first_ref,"
                         " last_ref, created_at, last_seen_at) FROM STDIN") as copy:
            for i in range(1, contacts + 1):
                copy.write_row((i, "messenger", f"psid{i}", f"Person {i}", "", "", "giveaway2025", "giveaway2025",
                                now, now))
        with cursor.copy("COPY field_value (contact_id, field_id, value, updated_at) FROM STDIN") as copy:
            for i in range(1, contacts + 1):
                copy.write_row((i, 1, str(i % 2), now))
    db.execute("SELECT setval(pg_get_serial_sequence('contact', 'id'), (SELECT max(id) FROM contact))")
    db.execute("ANALYZE")


def _server_url() -> str:
    chosen = os.environ.get("REFERFLOW_BENCH_POSTGRES_URL") or os.environ.get("REFERFLOW_TEST_POSTGRES_URL")
    return database_url(url=(chosen or "").strip() or DEFAULT_URL)


def _database(server: str, name: str) -> str:
    return sa.engine.make_url(server).set(database=name).render_as_string(hide_password=False)


def _libpq(url: str) -> str:
    return sa.engine.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _shown(url: str) -> str:
    return sa.engine.make_url(url).render_as_string(hide_password=True)


def _execute(server: str, statement: str) -> None:
    with psycopg.connect(_libpq(server), autocommit=True, connect_timeout=5) as connection:
        connection.execute(statement)


def report(options: argparse.Namespace, raw: list[float], ours: list[float], program: bool) -> float:
    workspace = "referral program: triggers + flows" if program else "links only"
    print(f"PostgreSQL: {options.events:,} opens against {options.contacts:,} existing contacts — {workspace}")
    print(f"{'':28} {'opens/s':>10} {'p50 ms':>8} {'p99 ms':>8}")
    for name, latencies in (("plain psycopg (baseline)", raw), ("Runtime.open_link", ours)):
        print(f"{name:28} {len(latencies) / sum(latencies):>10,.0f} {percentile_ms(latencies, 50):>8.3f}"
              f" {percentile_ms(latencies, 99):>8.3f}")
    ratio = sum(raw) / sum(ours)
    print(f"{'ratio':28} {ratio:>10.2f}\n")
    return ratio


if __name__ == "__main__":
    main()
