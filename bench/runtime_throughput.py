"""Open-link throughput: the runtime's public entry point against plain sqlite3 doing the same writes per event.

100,000 existing contacts; a mix of new joiners, repeat clicks, referrals (new and existing people, duplicates,
self-referrals) and payloads (values, pairs, JSON). Both sides run in this process on copies of one database file,
in alternating blocks. Two workspaces: links only (an entry point answering with a message), and the classic referral
program (tests/fixtures/referral_program.json: a "Share" flow answers, and each counted referral runs a trigger that
increases the referrer's points, notifies them and runs the "Check reward" flow) — there the baseline also writes
what the trigger and flows write. Ends with `runtime/raw ratio: X.XX` (opens per second, runtime over baseline, links
only); the line before gives the same with triggers and flows.
"""

import argparse
import json
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.support.app_process import percentile_ms
from runtime.link_reading import parse_link
from runtime.opening import Inbound
from runtime.service import Runtime
from storage.db import open_database
from storage.workspace_io import import_workspace

EXISTING = 100_000
PAGE = "https://m.me/1234567890?ref="


FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "referral_program.json"


def main() -> None:
    options = _options()
    folder = Path(tempfile.mkdtemp(prefix="referflow-bench-"))
    try:
        events = make_events(options.events, options.contacts, random.Random(7))
        ratios = {}
        for program in (True, False):
            template = folder / f"template-{program}.db"
            build_database(template, options.contacts, program=program)
            shutil.copy(template, folder / "raw.db")
            shutil.copy(template, folder / "runtime.db")
            raw, ours = run_interleaved(folder, events, program)
            ratios[program] = report(options, raw, ours, program)
        print(f"{'parse_link':28} {measure_parser(events):>10,.0f} parses/s")
        print(f"runtime/raw ratio with triggers and flows: {ratios[True]:.2f}")
        print(f"runtime/raw ratio: {ratios[False]:.2f}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=EXISTING)
    parser.add_argument("--events", type=int, default=20_000)
    return parser.parse_args()


# ------------------------------------------------------------------------------------------------ the data


def build_database(path: Path, contacts: int, *, program: bool) -> None:
    database = open_database(url=f"sqlite:///{path}")
    if program:
        with database.write_session() as session:
            import_workspace(session=session, document=json.loads(FIXTURE.read_text()))
        _add_contacts(database, contacts)
        database.dispose()
        return
    with database.raw_connection() as db:
        db.execute("BEGIN IMMEDIATE")
        db.executemany("INSERT INTO custom_field (id, name, type, description, created_at) VALUES (?, ?, ?, '', ?)",
                       [(1, "referral_points", "number", _now()), (2, "coupon_code", "text", _now()),
                        (3, "plan", "text", _now()), (4, "seats", "number", _now())])
        db.execute("INSERT INTO tag (id, name, description, created_at) VALUES (1, 'giveaway', '', ?)", (_now(),))
        db.execute(
            "INSERT INTO entry_point (id, name, ref, active, response_type, response_message, default_field_id,"
            " payload_mapping, json_mapping, segment_tag_id, referrals_enabled, referral_policy, whatsapp_pattern,"
            " referrer_match, created_at) VALUES (1, 'Giveaway', 'giveaway2025', 1, 'message', 'Welcome!', 2, '[]',"
            " ?, 1, 1, 'first_only', '', 'id', ?)",
            (json.dumps([{"path": "plan", "field_id": 3}, {"path": "seats", "field_id": 4}]), _now()),
        )
        db.execute("COMMIT")
    _add_contacts(database, contacts)
    database.dispose()


def _add_contacts(database, contacts: int) -> None:
    with database.raw_connection() as db:
        db.execute("BEGIN IMMEDIATE")
        db.executemany(
            "INSERT INTO contact (id, channel, channel_user_id, first_name, last_name, phone, first_ref, last_ref,"
            " created_at, last_seen_at) VALUES (?, 'messenger', ?, ?, '', '', 'giveaway2025', 'giveaway2025', ?, ?)",
            ((i, f"psid{i}", f"Person {i}", _now(), _now()) for i in range(1, contacts + 1)),
        )
        db.executemany("INSERT INTO field_value (contact_id, field_id, value, updated_at) VALUES (?, 1, ?, ?)",
                       ((i, str(i % 2), _now()) for i in range(1, contacts + 1)))
        db.execute("COMMIT")


def make_events(n: int, contacts: int, rng: random.Random) -> list[dict]:
    """Each event: what the runtime receives (text, user) and what the baseline writes (precomputed)."""
    events, newcomer = [], 0
    for _ in range(n):
        roll = rng.random()
        existing = rng.randint(1, contacts)
        if roll < 0.30:  # a new person through the plain entry link
            newcomer += 1
            events.append({"user": f"new{newcomer}", "ref": "giveaway2025", "referrer": None, "fields": []})
        elif roll < 0.50:  # a repeat click by a known person
            events.append({"user": f"psid{existing}", "ref": "giveaway2025", "referrer": None, "fields": []})
        elif roll < 0.75:  # a new person referred by a known one
            newcomer += 1
            events.append({"user": f"new{newcomer}", "ref": f"giveaway2025-c{existing}", "referrer": existing,
                           "fields": []})
        elif roll < 0.82:  # a known person referred (sometimes again, sometimes by themselves)
            referee = rng.randint(1, 2000)
            referrer = referee if rng.random() < 0.1 else existing
            events.append({"user": f"psid{referee}", "ref": f"giveaway2025-c{referrer}", "referrer": referrer,
                           "fields": []})
        elif roll < 0.92:  # a payload: default value and a pair
            code = f"SAVE{rng.randint(1, 99)}"
            events.append({"user": f"psid{existing}", "ref": f"giveaway2025--{code}--plan--pro", "referrer": None,
                           "fields": [(2, json.dumps(code)), (3, '"pro"')]})
        else:  # JSON data
            seats = rng.randint(1, 9)
            events.append({"user": f"psid{existing}", "referrer": None,
                           "ref": 'giveaway2025jsondata--{"plan":"team","seats":' + str(seats) + "}",
                           "fields": [(3, '"team"'), (4, str(seats))]})
    return events


# ------------------------------------------------------------------------------------------------ the two sides


def run_interleaved(folder: Path, events: list[dict], program: bool, blocks: int = 20
                    ) -> tuple[list[float], list[float]]:
    """Alternate blocks of baseline and runtime events, so that anything else the machine does hits both alike."""
    raw_db = sqlite3.connect(folder / "raw.db", isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=5000"):
        raw_db.execute(f"PRAGMA {pragma}")
    database = open_database(url=f"sqlite:///{folder / 'runtime.db'}", migrate=False)
    raw, ours = [], []
    size = -(-len(events) // blocks)
    with Runtime(database) as runtime:
        for start in range(0, len(events), size):
            block = events[start:start + size]
            raw += run_baseline(raw_db, block, program)
            ours += run_runtime(runtime, block)
    raw_db.close()
    database.dispose()
    return raw, ours


def run_runtime(runtime: Runtime, events: list[dict]) -> list[float]:
    latencies = []
    for event in events:
        started = time.perf_counter()
        runtime.open_link(Inbound(text=PAGE + event["ref"], channel="messenger", channel_user_id=event["user"]))
        latencies.append(time.perf_counter() - started)
    return latencies


def run_baseline(db: sqlite3.Connection, events: list[dict], program: bool) -> list[float]:
    """The same rows per event, written with plain sqlite3 by code that already knows the answers."""
    latencies = []
    for event in events:
        started = time.perf_counter()
        now = _now()
        db.execute("BEGIN IMMEDIATE")
        row = db.execute(
            "INSERT INTO contact (channel, channel_user_id, first_name, last_name, phone, first_ref, last_ref,"
            " created_at, last_seen_at) VALUES ('messenger', ?, '', '', '', ?, ?, ?, ?)"
            " ON CONFLICT DO UPDATE SET last_ref = excluded.last_ref, last_seen_at = excluded.last_seen_at"
            " RETURNING id, created_at = ?",
            (event["user"], event["ref"], event["ref"], now, now, now),
        ).fetchone()
        contact, is_new = row
        for field_id, value in event["fields"]:
            db.execute("INSERT INTO field_value (contact_id, field_id, value, updated_at) VALUES (?, ?, ?, ?)"
                       " ON CONFLICT DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                       (contact, field_id, value, now))
        db.execute("INSERT INTO contact_tag (contact_id, tag_id, created_at) VALUES (?, 1, ?) ON CONFLICT DO NOTHING",
                   (contact, now))
        db.execute("INSERT INTO link_open (entry_point_id, contact_id, channel, ref, is_new_contact, created_at)"
                   " VALUES (1, ?, 'messenger', ?, ?, ?)", (contact, event["ref"], is_new, now))
        if event["referrer"] is not None and event["referrer"] != contact:
            counted = db.execute(
                "INSERT INTO referral (entry_point_id, referrer_id, referrer_ref, referee_id, kind, status,"
                " created_at) VALUES (1, ?, ?, ?, ?, 'counted', ?)"
                " ON CONFLICT (entry_point_id, referee_id) WHERE status = 'counted' DO NOTHING",
                (event["referrer"], str(event["referrer"]), contact, "new" if is_new else "existing", now),
            ).rowcount
            if counted:
                db.execute("INSERT INTO event_log (type, contact_id, other_contact_id, entry_point_id, data, depth,"
                           " handled, created_at) VALUES ('referred_new_contact', ?, ?, 1, '{}', 0, 0, ?)",
                           (event["referrer"], contact, now))
                if program:
                    _write_reward_trigger(db, event["referrer"], 1 if is_new else 0.5, now)
        if is_new:
            db.execute("INSERT INTO event_log (type, contact_id, entry_point_id, data, depth, handled, created_at)"
                       " VALUES ('contact_created', ?, 1, '{}', 0, 0, ?)", (contact, now))
        db.execute("INSERT INTO event_log (type, contact_id, entry_point_id, data, depth, handled, created_at)"
                   " VALUES ('entry_point_opened', ?, 1, '{}', 0, 0, ?)", (contact, now))
        text = f"Share your link: {PAGE}giveaway2025-c{contact}" if program else "Welcome!"
        db.execute("INSERT INTO message (contact_id, direction, text, buttons, created_at)"
                   " VALUES (?, 'out', ?, '[]', ?)", (contact, text, now))
        db.execute("COMMIT")
        latencies.append(time.perf_counter() - started)
    return latencies


def _write_reward_trigger(db: sqlite3.Connection, referrer: int, points: float, now: str) -> None:
    """What the referral trigger and the "Check reward" flow write, by code that knows the outcome."""
    db.execute("INSERT INTO trigger_run (trigger_id, contact_id, runs, last_run_at) VALUES (1, ?, 1, ?)"
               " ON CONFLICT DO UPDATE SET runs = runs + 1, last_run_at = excluded.last_run_at", (referrer, now))
    db.execute("INSERT INTO field_value (contact_id, field_id, value, updated_at) VALUES (?, 1, ?, ?)"
               " ON CONFLICT DO UPDATE SET value = CAST(CAST(value AS NUMERIC) + ? AS TEXT),"
               " updated_at = excluded.updated_at", (referrer, str(points), now, points))
    db.execute("INSERT INTO event_log (type, contact_id, field_id, data, depth, handled, created_at)"
               " VALUES ('field_changed', ?, 1, '{}', 1, 1, ?)", (referrer, now))
    db.executemany("INSERT INTO message (contact_id, direction, text, buttons, created_at)"
                   " VALUES (?, 'out', ?, '[]', ?)",
                   [(referrer, "Someone joined with your link!", now), (referrer, "2 of 3 friends joined", now)])


def measure_parser(events: list[dict]) -> float:
    links = [PAGE + event["ref"] for event in events[:5000]]
    refs = ["giveaway2025", "giveaway", "black-friday", "summer"]
    started = time.perf_counter()
    for link in links:
        parse_link(link, refs)
    return len(links) / (time.perf_counter() - started)


# ------------------------------------------------------------------------------------------------ the report


def report(options: argparse.Namespace, raw: list[float], ours: list[float], program: bool) -> float:
    rows = [("plain sqlite3 (baseline)", raw), ("Runtime.open_link", ours)]
    workspace = "referral program: triggers + flows" if program else "links only"
    print(f"{options.events:,} opens against {options.contacts:,} existing contacts — {workspace}")
    print(f"{'':28} {'opens/s':>10} {'p50 ms':>8} {'p99 ms':>8}")
    for name, latencies in rows:
        print(f"{name:28} {len(latencies) / sum(latencies):>10,.0f} {percentile_ms(latencies, 50):>8.3f}"
              f" {percentile_ms(latencies, 99):>8.3f}")
    ratio = sum(raw) / sum(ours)
    print(f"{'ratio':28} {ratio:>10.2f}\n")
    return ratio



def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


if __name__ == "__main__":
    main()
