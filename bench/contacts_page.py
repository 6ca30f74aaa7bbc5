"""The contacts page with 100,000 contacts: server-side time to produce what the page shows, against a bare query.

Builds a database (the referral program workspace, 100,000 contacts on every channel, about a third of them referred,
skewed so that a few people bring in thousands, number and text field values, blocked referral attempts, link opens)
with plain sqlite3, then times storage.contacts for page 1 (newest first, with referral counts and number-field
columns) — best of 5 — against `SELECT ... FROM contact ORDER BY created_at DESC LIMIT 25` on the same file in the
same process. Also times search, the other sorts, a deep page, a contact's referral tree and the analytics summary.
Ends with `contacts page first render: X ms` and `contacts page/baseline ratio: X.XX`.
"""

import argparse
import json
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from runtime.vocabulary import CHANNELS
from storage.analytics import AnalyticsQuery, summarise
from storage.contacts import ContactQuery, build_referral_tree, list_contacts
from storage.db import open_database
from storage.workspace_io import import_workspace

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "referral_program.json"
FIRST = ("Ann", "Bob", "Cat", "Dan", "Eve", "Finn", "Gus", "Hana", "Ivan", "Jo", "Kim", "Lea", "Max", "Nia", "Omar",
         "Pia", "Quinn", "Rosa", "Sam", "Tess", "Uma", "Vik", "Wen", "Xia", "Yara", "Zoe", "")
LAST = ("Smith", "Garcia", "Müller", "Rossi", "Dubois", "Kowalski", "Tanaka", "Silva", "Novak", "Jensen", "")
START = datetime(2025, 1, 1)
REPEATS = 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=100_000)
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="referflow-contacts-bench-"))
    try:
        path = folder / "contacts.db"
        started = time.perf_counter()
        top_referrer = build_database(path, options.contacts, random.Random(11))
        print(f"built {options.contacts:,} contacts in {time.perf_counter() - started:.1f} s")
        report(path, top_referrer)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def report(path: Path, top_referrer: int) -> None:
    raw = sqlite3.connect(path)
    baseline = best_of(lambda: raw.execute("SELECT id, channel, channel_user_id, first_name, last_name, created_at"
                                           " FROM contact ORDER BY created_at DESC LIMIT 25").fetchall())
    database = open_database(url=f"sqlite:///{path}", migrate=False)

    def page(**query: object) -> Callable[[], object]:
        def run() -> object:
            with database.session() as session:
                return list_contacts(session=session, query=ContactQuery(**query))
        return run

    def tree() -> object:
        with database.session() as session:
            return build_referral_tree(session=session, contact_id=top_referrer)

    def analytics() -> object:
        with database.session() as session:
            return summarise(session=session, query=AnalyticsQuery(period="30d"), now=START + timedelta(days=345))

    first = best_of(page())
    timings = [
        ("baseline: bare ORDER BY created_at LIMIT 25", baseline),
        ("page 1, newest first (first render)", first),
        ("page 1, 50 rows", best_of(page(page_size=50))),
        ("page 2,000 (deep OFFSET)", best_of(page(page=2000))),
        ("sorted by name", best_of(page(sort="name", descending=False))),
        ("sorted by referrals", best_of(page(sort="referrals"))),
        ("search 'rossi' (name)", best_of(page(search="rossi"))),
        ("search '4477' (phone)", best_of(page(search="4477"))),
        ("search 'u7777' (channel user id)", best_of(page(search="u7777"))),
        ("referral tree of the top referrer", best_of(tree)),
        ("analytics, last 30 days", best_of(analytics)),
    ]
    database.dispose()
    raw.close()
    print(f"{'query':48} {'best of 5':>10} {'/baseline':>10}")
    for label, seconds in timings:
        print(f"{label:48} {seconds * 1000:>8.2f} ms {seconds / baseline:>9.1f}x")
    print(f"contacts page search: {timings[6][1] * 1000:.2f} ms")
    print(f"contacts page first render: {first * 1000:.2f} ms")
    print(f"contacts page/baseline ratio: {first / baseline:.2f}")


def best_of(run: Callable[[], object], repeats: int = REPEATS) -> float:
    run()  # warm the page cache and the statement caches, as a running server has
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


# ------------------------------------------------------------------------------------------------ the data


def build_database(path: Path, contacts: int, rng: random.Random) -> int:
    """The database file; returns the id of the contact who brought in the most people."""
    database = open_database(url=f"sqlite:///{path}")
    with database.write_session() as session:
        import_workspace(session=session, document=json.loads(FIXTURE.read_text()))
    database.dispose()
    people = [_person(i, rng) for i in range(1, contacts + 1)]
    referrals, opens, blocked = _activity(people, rng)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("BEGIN")
    db.executemany("INSERT INTO contact (id, channel, channel_user_id, first_name, last_name, phone, referred_by_id,"
                   " first_ref, last_ref, created_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", people)
    db.executemany("INSERT INTO referral (entry_point_id, referrer_id, referrer_ref, referee_id, kind, status,"
                   " created_at) VALUES (1, ?, ?, ?, ?, ?, ?)", referrals + blocked)
    db.executemany("INSERT INTO link_open (entry_point_id, contact_id, channel, ref, is_new_contact, created_at)"
                   " VALUES (1, ?, ?, ?, ?, ?)", opens)
    made: dict[int, int] = {}
    for referrer, *_ in referrals:
        made[referrer] = made.get(referrer, 0) + 1
    db.executemany("INSERT INTO field_value (contact_id, field_id, value, updated_at) VALUES (?, 1, ?, ?)",
                   [(referrer, str(count), _stamp(START)) for referrer, count in made.items()])
    db.executemany("INSERT INTO field_value (contact_id, field_id, value, updated_at) VALUES (?, ?, ?, ?)",
                   [(p[0], field_id, value, p[9]) for p in people if rng.random() < 0.3
                    for field_id, value in ((2, json.dumps(f"SAVE{p[0] % 50}")), (4, str(p[0] % 9 + 1)))])
    db.execute("COMMIT")  # no ANALYZE: the app never runs it, so the plans measured are the ones it gets
    db.close()
    return max(made, key=made.get)


def _person(i: int, rng: random.Random) -> tuple:
    channel = CHANNELS[i % len(CHANNELS)]
    created = START + timedelta(minutes=i * 5 + rng.randint(0, 4))
    phone = f"1555{i:07d}" if channel == "whatsapp" or i % 4 == 0 else ""
    referrer = int((i - 1) * rng.random() ** 3) + 1 if i > 50 and rng.random() < 0.35 else None
    ref = f"giveaway2025-c{referrer}" if referrer else "giveaway2025"
    return (i, channel, phone if channel == "whatsapp" else f"u{i}", rng.choice(FIRST), rng.choice(LAST), phone,
            referrer, ref, ref, _stamp(created), _stamp(created + timedelta(days=rng.randint(0, 30))))


def _activity(people: list[tuple], rng: random.Random) -> tuple[list[tuple], list[tuple], list[tuple]]:
    referrals, opens, blocked = [], [], []
    for i, channel, _, _, _, _, referrer, ref, _, created, _ in people:
        opens.append((i, channel, ref, 1, created))
        if rng.random() < 0.4:
            opens.append((i, channel, "giveaway2025", 0, created))
        if referrer:
            referrals.append((referrer, str(referrer), i, "new", "counted", created))
            if rng.random() < 0.1:
                blocked.append((referrer, str(referrer), i, "existing", "duplicate", created))
        if rng.random() < 0.02:
            blocked.append((i, str(i), i, "existing", "self", created))
    return referrals, opens, blocked


def _stamp(moment: datetime) -> str:
    return moment.isoformat(" ", "microseconds")


if __name__ == "__main__":
    main()
