"""Several processes opening links at once on one PostgreSQL database keep every promise BEGIN IMMEDIATE keeps on
SQLite (runtime/store.py says how): no lost or double-counted referral, points equal to counted referrals, each event
id processed once however often it is replayed, and a process killed mid-run leaves nothing half-done."""

import json
import multiprocessing
import os
import random
import signal
import time
import traceback

import pytest
import sqlalchemy as sa

from runtime.opening import Inbound
from runtime.service import Runtime
from storage.db import Database, open_database
from tests.helpers import import_fixture

PAGE = "https://m.me/1234567890?ref=giveaway2025"
PROCESSES = 4
OPENS = 2_000  # per process
SHARED = 1_000  # of which this many are events every process replays (in its own order)
REFERRERS = 8
PEOPLE = 2_500  # referees: several events come from the same person, often naming another referrer
CONTEXT = multiprocessing.get_context("spawn")  # a forked child would share the parent's pooled connections


def plan(process: int, referrers: list[int]) -> list[tuple[str, str, int]]:
    """(event id, channel user id, referrer id) of one process's opens: the shared events, then its own, shuffled.
    An event id always comes from the same person with the same link, as a platform's retry would."""
    def event(number: int) -> tuple[str, str, int]:
        draw = random.Random(number)
        return f"mid.{number}", f"psid-{draw.randrange(PEOPLE)}", referrers[draw.randrange(len(referrers))]

    own = range(SHARED + process * (OPENS - SHARED), SHARED + (process + 1) * (OPENS - SHARED))
    events = [event(n) for n in range(SHARED)] + [event(n) for n in own]
    random.Random(f"order {process}").shuffle(events)
    return events


def open_planned(url: str, process: int, referrers: list[int], start: multiprocessing.Barrier,
                 done: multiprocessing.Value, results: multiprocessing.Queue) -> None:
    try:
        database = open_database(url=url, migrate=False)
        with Runtime(database) as runtime:
            start.wait(timeout=60)
            for event_id, user, referrer in plan(process, referrers):
                runtime.open_link(Inbound(text=f"{PAGE}-c{referrer}", channel="messenger", channel_user_id=user,
                                          first_name=user, event_id=event_id))
                with done.get_lock():
                    done.value += 1
        database.dispose()
        results.put((process, "ok"))
    except BaseException:
        results.put((process, traceback.format_exc()))


@pytest.fixture
def program(postgres_url: str) -> tuple[Database, list[int]]:
    database = open_database(url=postgres_url)
    import_fixture(database)
    with Runtime(database) as runtime:
        referrers = [runtime.open_link(Inbound(text=PAGE, channel="messenger", channel_user_id=f"referrer-{n}"))
                     .contact_id for n in range(REFERRERS)]
    database.dispose()  # the workers start with no connection of ours open
    yield database, referrers
    database.dispose()


def run_processes(url: str, referrers: list[int], kill_after: int | None = None) -> dict[int, str]:
    start, results = CONTEXT.Barrier(PROCESSES), CONTEXT.Queue()
    counters = [CONTEXT.Value("i", 0) for _ in range(PROCESSES)]
    workers = [CONTEXT.Process(target=open_planned, args=(url, n, referrers, start, counters[n], results))
               for n in range(PROCESSES)]
    for worker in workers:
        worker.start()
    if kill_after is not None:
        deadline = time.monotonic() + 300
        while counters[0].value < kill_after and workers[0].is_alive() and time.monotonic() < deadline:
            time.sleep(0.005)
        assert workers[0].is_alive(), "process 0 ended before it could be killed mid-run"
        os.kill(workers[0].pid, signal.SIGKILL)
    outcomes = dict(results.get(timeout=600) for _ in range(PROCESSES - (kill_after is not None)))
    for worker in workers:
        worker.join(timeout=60)
    if kill_after is not None:
        assert workers[0].exitcode == -signal.SIGKILL
        assert 0 < counters[0].value < OPENS
    return outcomes


def test_four_processes_replaying_events_count_each_referral_once(program: tuple[Database, list[int]]) -> None:
    database, referrers = program
    outcomes = run_processes(database.url, referrers)
    assert outcomes == {n: "ok" for n in range(PROCESSES)}, "\n".join(outcomes.values())

    planned = {event for n in range(PROCESSES) for event in plan(n, referrers)}
    assert len(planned) == SHARED + PROCESSES * (OPENS - SHARED)
    stats = consistency(database)
    assert stats["events"] == stats["opens"] == len(planned), "an event was lost or processed twice"
    assert stats["counted"] == len({user for _, user, _ in planned}), "a referral was lost or counted twice"
    assert stats["points"] == stats["counted"]


def test_a_process_killed_mid_run_leaves_everything_consistent(program: tuple[Database, list[int]]) -> None:
    database, referrers = program
    outcomes = run_processes(database.url, referrers, kill_after=OPENS // 4)
    assert outcomes == {n: "ok" for n in range(1, PROCESSES)}, "\n".join(outcomes.values())

    survivors = {event for n in range(1, PROCESSES) for event in plan(n, referrers)}
    stats = consistency(database)
    # everything the survivors opened is there, and at least one of the killed process's own events made it
    assert stats["events"] == stats["opens"] > len(survivors)
    assert stats["points"] == stats["counted"] >= len({user for _, user, _ in survivors})


def consistency(database: Database) -> dict[str, int]:
    """What every run must leave behind, whatever was processed; returns the totals for the caller's checks."""
    with database.engine.connect() as connection:
        def one(sql: str) -> int:
            return connection.execute(sa.text(sql)).scalar_one()

        # each processed event did its whole open, once: its result is stored and it has exactly one link_open
        assert one("SELECT count(*) FROM processed_event WHERE CAST(result AS TEXT) = '{}'") == 0, \
            "an event was claimed but its open not finished"
        assert one("SELECT count(*) FROM (SELECT event_id FROM link_open WHERE event_id IS NOT NULL"
                   " GROUP BY event_id HAVING count(*) > 1) AS twice") == 0
        assert one("SELECT count(*) FROM processed_event p WHERE NOT EXISTS"
                   " (SELECT 1 FROM link_open o WHERE o.event_id = p.event_id)") == 0
        # one contact per person; each referee counted once, for the referrer they are recorded as referred by
        assert one("SELECT count(*) FROM (SELECT 1 FROM contact GROUP BY channel, channel_user_id"
                   " HAVING count(*) > 1) AS twice") == 0
        assert one("SELECT count(*) FROM (SELECT 1 FROM referral WHERE status = 'counted'"
                   " GROUP BY entry_point_id, referee_id HAVING count(*) > 1) AS twice") == 0
        assert one("SELECT count(*) FROM contact c JOIN referral r ON r.referee_id = c.id AND r.status = 'counted'"
                   " WHERE c.referred_by_id IS DISTINCT FROM r.referrer_id") == 0
        assert one("SELECT count(*) FROM contact c WHERE c.channel_user_id LIKE 'psid-%' AND NOT EXISTS"
                   " (SELECT 1 FROM referral r WHERE r.referee_id = c.id AND r.status = 'counted')") == 0
        # every counted referral ran the points trigger once: each referrer's points are their counted referrals
        assert one("SELECT count(*) FROM referral WHERE status = 'counted'") == one(
            "SELECT count(*) FROM event_log WHERE type = 'referred_new_contact'")
        wrong = connection.execute(sa.text(
            "SELECT c.id, v.value, (SELECT count(*) FROM referral r WHERE r.referrer_id = c.id"
            " AND r.status = 'counted') AS counted FROM contact c"
            " LEFT JOIN field_value v ON v.contact_id = c.id AND v.field_id = 1"
            " WHERE c.channel_user_id LIKE 'referrer-%'")).all()
        assert [(contact, json.loads(value or "0")) for contact, value, _ in wrong] == [
            (contact, counted) for contact, _, counted in wrong], "points differ from counted referrals"
        return {
            "events": one("SELECT count(*) FROM processed_event"),
            "opens": one("SELECT count(*) FROM link_open WHERE event_id IS NOT NULL"),
            "counted": one("SELECT count(*) FROM referral WHERE status = 'counted'"),
            "points": round(sum(json.loads(value or "0") for _, value, _ in wrong)),
        }


def open_each_others_links(url: str, me: str, other_id: int, start: multiprocessing.Barrier,
                           results: multiprocessing.Queue) -> None:
    try:
        database = open_database(url=url, migrate=False)
        with Runtime(database) as runtime:
            start.wait(timeout=60)
            for _ in range(MUTUAL_OPENS):
                runtime.open_link(Inbound(text=f"{PAGE}-c{other_id}", channel="messenger", channel_user_id=me))
        database.dispose()
        results.put((me, "ok"))
    except BaseException:
        results.put((me, traceback.format_exc()))


MUTUAL_OPENS = 300


def test_two_people_opening_each_others_links_at_once_never_fail(program: tuple[Database, list[int]]) -> None:
    """A opening B's link while B opens A's: each turn locks both people, in id order, so the turns queue up instead
    of deadlocking (locking the opener and then the referrer made 204 deadlocks in 600 opens here, a second each
    before PostgreSQL broke them); both see ordinary results and each is counted once."""
    database, (ann, bob, *_) = program
    start, results = CONTEXT.Barrier(2), CONTEXT.Queue()
    workers = [CONTEXT.Process(target=open_each_others_links, args=(database.url, me, other, start, results))
               for me, other in (("referrer-0", bob), ("referrer-1", ann))]
    for worker in workers:
        worker.start()
    outcomes = dict(results.get(timeout=600) for _ in workers)
    for worker in workers:
        worker.join(timeout=60)
    assert outcomes == {"referrer-0": "ok", "referrer-1": "ok"}, "\n".join(outcomes.values())
    with database.engine.connect() as connection:
        opens = connection.execute(sa.text("SELECT count(*) FROM link_open")).scalar_one()
        counted = connection.execute(sa.text(
            "SELECT referee_id, referrer_id FROM referral WHERE status = 'counted' ORDER BY referee_id")).all()
        deadlocks = connection.execute(sa.text(
            "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")).scalar_one()
    assert opens == REFERRERS + 2 * MUTUAL_OPENS
    assert [tuple(row) for row in counted] == [(ann, bob), (bob, ann)]
    assert deadlocks == 0, f"{deadlocks} deadlocks: each cost a second before PostgreSQL broke it"
