"""Two processes opening links at once on one database never hand out one code twice (DOMAIN §10: every promise holds
across processes)."""

import multiprocessing
import sqlite3
from pathlib import Path

from runtime.opening import Inbound
from runtime.service import Runtime
from storage.coupons import add_codes, create_pool
from storage.db import open_database
from storage.workspace_io import import_workspace
from tests.helpers import coupon_workspace

OPENS_PER_PROCESS = 1_000
CODES = 1_500  # fewer than the 2,000 opens: the last ones race for the last codes and find the pool empty


def open_many(url: str, process: int, start: multiprocessing.Event) -> None:
    database = open_database(url=url, migrate=False)
    start.wait()
    with Runtime(database) as runtime:
        for number in range(OPENS_PER_PROCESS):
            runtime.open_link(Inbound(text="shop", channel="messenger", channel_user_id=f"p{process}-{number}",
                                      first_name="Racer"))
    database.dispose()


def test_two_processes_never_hand_out_one_code_twice(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'race.db'}"
    database = open_database(url=url)
    with database.write_session() as session:
        pool = create_pool(session=session, name="Race")
        add_codes(session=session, pool_id=pool.id, text="\n".join(f"RACE-{n:05d}" for n in range(CODES)))
        import_workspace(session=session, document=coupon_workspace())
    database.dispose()

    context = multiprocessing.get_context("spawn")
    start = context.Event()
    workers = [context.Process(target=open_many, args=(url, process, start)) for process in range(2)]
    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        worker.join(timeout=600)
        assert worker.exitcode == 0

    with sqlite3.connect(tmp_path / "race.db") as connection:
        given = connection.execute("SELECT v.value FROM field_value v JOIN custom_field f ON f.id = v.field_id"
                                   " WHERE f.name = 'coupon'").fetchall()
        claims = connection.execute("SELECT count(*), count(DISTINCT contact_id) FROM coupon_code"
                                    " WHERE claimed_at IS NOT NULL").fetchone()
        contacts = connection.execute("SELECT count(*) FROM contact").fetchone()[0]
        misses = connection.execute("SELECT misses FROM coupon_pool").fetchone()[0]
    codes = [row[0] for row in given]
    assert contacts == 2 * OPENS_PER_PROCESS
    assert len(codes) == CODES and len(set(codes)) == CODES  # every code went to exactly one person
    assert claims == (CODES, CODES)
    assert misses == 2 * OPENS_PER_PROCESS - CODES
