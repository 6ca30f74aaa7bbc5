"""Opening a link end to end against a real SQLite database (DOMAIN §4)."""

import base64
import json
import multiprocessing
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.opening import Inbound, find_referrer
from runtime.service import Runtime
from storage.db import Database, open_database
from tests.storage.helpers import PAGE, count, define_workspace, open_as


@pytest.fixture
def runtime(database: Database) -> Runtime:
    define_workspace(database)
    with Runtime(database) as runtime:
        yield runtime


# ------------------------------------------------------------------------------------------------ joining


def test_a_new_person_joins_through_an_entry_link(runtime: Runtime, database: Database) -> None:
    result = open_as(runtime, "ann", PAGE + "giveaway2025", first_name="Ann")
    assert result["contact"]["is_new"] is True
    assert result["contact"]["tags"] == ["giveaway"]
    assert result["entry"] == "giveaway2025"
    assert [e["type"] for e in result["events"]] == ["tag_added", "contact_created", "entry_point_opened"]
    assert result["response"] == {"type": "message", "text": "Welcome Ann!"}
    assert result["warnings"] == []
    assert count(database, "SELECT count(*) FROM link_open WHERE is_new_contact") == 1
    assert count(database, "SELECT count(*) FROM message WHERE direction = 'out'") == 1


def test_opening_again_finds_the_same_contact(runtime: Runtime, database: Database) -> None:
    first = open_as(runtime, "ann", PAGE + "giveaway2025", first_name="Ann")
    again = open_as(runtime, "ann", PAGE + "giveaway2025")
    assert again["contact"]["id"] == first["contact"]["id"]
    assert again["contact"]["is_new"] is False
    assert [e["type"] for e in again["events"]] == ["entry_point_opened"]  # the tag was already there
    assert again["response"]["text"] == "Welcome Ann!"  # the stored name, though this click carried none
    assert count(database, "SELECT count(*) FROM contact") == 1


def test_an_unknown_ref_still_lets_the_person_in(runtime: Runtime, database: Database) -> None:
    result = open_as(runtime, "ann", PAGE + "nosuchthing-c1--5", first_name="Ann")
    assert result["entry"] is None
    assert result["contact"]["is_new"] is True
    assert result["response"] == {"type": "message", "text": "Hi Ann! How can I help?"}
    assert any("nosuchthing" in w for w in result["warnings"])
    assert result["contact"]["fields"] == {}


def test_a_switched_off_entry_point_gives_the_default_reply(runtime: Runtime) -> None:
    result = open_as(runtime, "ann", PAGE + "summer", first_name="Ann")
    assert result["entry"] is None
    assert "'summer' is switched off" in " ".join(result["warnings"])


# ------------------------------------------------------------------------------------------------ payloads


@pytest.mark.parametrize(
    ("ref", "fields", "warning"),
    [
        ("giveaway2025--SAVE10", {"coupon_code": "SAVE10"}, None),
        ("giveaway2025--3--gold--seats--2", {"plan": "gold", "seats": 2}, None),
        ("giveaway2025--SAVE10--plan--pro", {"coupon_code": "SAVE10", "plan": "pro"}, None),
        ("giveaway2025--gold--yes", {"vip": True}, None),  # the entry point's own key → field mapping
        ("giveaway2025--seats--abc--plan--pro", {"plan": "pro"}, "Field 'seats' is a number; 'abc' was not saved."),
        ("giveaway2025--birthday--31.02.2020", {},
         "Field 'birthday' is a date (YYYY-MM-DD); '31.02.2020' was not saved."),
        ("giveaway2025--color--red--plan--pro", {"plan": "pro"}, "No custom field has the ID or name 'color'"),
        ('giveaway2025jsondata--{"plan":"pro","seats":3}', {"plan": "pro", "seats": 3},
         "The JSON has nothing at 'order.items[0].sku'. Field 'sku' was left as it was."),
        ('giveaway2025jsondata--{"order":{"items":[{"sku":"A-1"}]},"plan":"team"}', {"sku": "A-1", "plan": "team"},
         "The JSON has nothing at 'seats'"),
        ('giveaway2025jsondata--{"plan":"pro","seats":"many"}', {"plan": "pro"}, "Field 'seats' is a number"),
    ],
)
def test_the_payload_lands_in_fields(runtime: Runtime, ref: str, fields: dict, warning: str | None) -> None:
    result = open_as(runtime, "ann", PAGE + ref, first_name="Ann")
    assert result["contact"]["fields"] == fields
    assert result["contact"]["is_new"] is True  # bad payloads never keep the person out
    if warning:
        assert any(warning in w for w in result["warnings"]), result["warnings"]
    else:
        assert result["warnings"] == []


def test_base64_json_lands_like_raw_json(runtime: Runtime) -> None:
    encoded = base64.urlsafe_b64encode(json.dumps({"plan": "pro", "seats": 3}).encode()).decode().rstrip("=")
    result = open_as(runtime, "ann", PAGE + "giveaway2025jsondata--" + encoded)
    assert result["contact"]["fields"] == {"plan": "pro", "seats": 3}


def test_malformed_json_is_a_warning(runtime: Runtime) -> None:
    result = open_as(runtime, "ann", PAGE + 'giveaway2025jsondata--{"plan":')
    assert result["contact"]["is_new"] is True
    assert result["warnings"]


def test_a_bad_value_does_not_erase_a_stored_one(runtime: Runtime) -> None:
    open_as(runtime, "ann", PAGE + "giveaway2025--seats--5")
    result = open_as(runtime, "ann", PAGE + "giveaway2025--seats--five")
    assert result["contact"]["fields"]["seats"] == 5


def test_field_changes_are_events_only_when_the_value_changes(runtime: Runtime) -> None:
    first = open_as(runtime, "ann", PAGE + "giveaway2025--SAVE10")
    same = open_as(runtime, "ann", PAGE + "giveaway2025--SAVE10")
    assert "field_changed" in [e["type"] for e in first["events"]]
    assert "field_changed" not in [e["type"] for e in same["events"]]


# ------------------------------------------------------------------------------------------------ referrals


def test_every_referral_outcome(runtime: Runtime, database: Database) -> None:
    ann = open_as(runtime, "ann", PAGE + "giveaway2025", first_name="Ann")["contact"]["id"]
    open_as(runtime, "carl", PAGE + "newsletter", first_name="Carl")  # exists before being referred

    def referral(user: str, ref: str) -> dict:
        return open_as(runtime, user, PAGE + ref)["referral"]

    assert referral("bob", f"giveaway2025-c{ann}") == {"status": "counted", "kind": "new", "referrer_id": ann}
    assert referral("carl", f"giveaway2025-c{ann}") == {"status": "counted", "kind": "existing", "referrer_id": ann}
    assert referral("bob", f"giveaway2025-c{ann}")["status"] == "duplicate"
    assert referral("ann", f"giveaway2025-c{ann}")["status"] == "self"
    assert referral("dora", "giveaway2025-c999999") == {"status": "unknown_referrer", "kind": "new",
                                                          "referrer_id": None}
    assert referral("emil", f"newsletter-c{ann}")["status"] == "disabled"
    assert referral("bob", f"giveaway-c{ann}")["status"] == "counted"  # another entry point counts on its own
    assert referral("bob", f"giveaway-c{ann}")["status"] == "repeat"  # "count every open"
    assert referral("fay", "giveaway2025") is None

    with database.engine.connect() as connection:
        statuses = dict(connection.execute(sa.text("SELECT status, count(*) FROM referral GROUP BY status")).all())
    assert statuses == {"counted": 3, "duplicate": 1, "self": 1, "unknown_referrer": 1, "disabled": 1, "repeat": 1}
    with database.engine.connect() as connection:
        referred_by = dict(connection.execute(sa.text("SELECT channel_user_id, referred_by_id FROM contact")).all())
    assert referred_by == {"ann": None, "carl": ann, "bob": ann, "dora": None, "emil": None, "fay": None}


def test_referral_events_run_in_the_referrers_context(runtime: Runtime) -> None:
    ann = open_as(runtime, "ann", PAGE + "giveaway2025", first_name="Ann")["contact"]["id"]
    result = open_as(runtime, "bob", PAGE + f"giveaway2025-c{ann}--SAVE10", first_name="Bob")
    bob = result["contact"]["id"]
    referred = next(e for e in result["events"] if e["type"] == "referred_new_contact")
    assert referred["contact_id"] == ann and referred["other_contact_id"] == bob
    assert [e["type"] for e in result["events"]] == [
        "field_changed", "tag_added", "referred_new_contact", "contact_created", "entry_point_opened"]
    assert result["contact"]["fields"] == {"coupon_code": "SAVE10"}  # payload and referral in one link


def test_a_self_referral_fires_nothing(runtime: Runtime, database: Database) -> None:
    ann = open_as(runtime, "ann", PAGE + "giveaway2025")["contact"]["id"]
    result = open_as(runtime, "ann", PAGE + f"giveaway2025-c{ann}")
    assert [e["type"] for e in result["events"]] == ["entry_point_opened"]
    assert count(database, "SELECT count(*) FROM contact WHERE referred_by_id IS NOT NULL") == 0


def test_the_referrer_is_found_by_id_by_phone_or_by_either(runtime: Runtime, database: Database) -> None:
    ann = open_as(runtime, "15550001111", "wa-friends", channel="whatsapp", first_name="Ann")["contact"]["id"]
    bob = open_as(runtime, "bob", PAGE + "giveaway2025", phone="+1 (555) 000-2222")["contact"]["id"]
    cases = [(str(ann), "id", ann), (str(bob), "id_or_phone", bob), ("+1 555 000 1111", "phone", ann),
             ("15550002222", "id_or_phone", bob), ("15550002222", "id", None), (str(ann), "phone", None),
             ("٣", "id", None), ("999999", "id_or_phone", None)]
    with database.raw_connection() as connection:
        for referrer, match, expected in cases:
            assert find_referrer(connection, referrer, match) == expected, (referrer, match)


def test_whatsapp_text_pattern_finds_the_referrer_by_phone(runtime: Runtime) -> None:
    ann = open_as(runtime, "15550001111", "wa-friends", channel="whatsapp", first_name="Ann")["contact"]["id"]
    result = open_as(runtime, "15550002222", "You were recommended by +15550001111 Hello", channel="whatsapp")
    assert result["entry"] == "wa-friends"
    assert result["referral"] == {"status": "counted", "kind": "new", "referrer_id": ann}


def test_whatsapp_draft_text_with_a_slash_ref(runtime: Runtime) -> None:
    ann = open_as(runtime, "15550001111", "/giveaway2025", channel="whatsapp")["contact"]["id"]
    result = open_as(runtime, "15550002222", f"/giveaway2025-c{ann}", channel="whatsapp")
    assert result["entry"] == "giveaway2025"
    assert result["referral"]["status"] == "counted"


# ------------------------------------------------------------------------------------------------ idempotency


def test_a_retried_event_changes_nothing(runtime: Runtime, database: Database) -> None:
    ann = open_as(runtime, "ann", PAGE + "giveaway2025")["contact"]["id"]
    link = PAGE + f"giveaway2025-c{ann}--SAVE10"
    first = open_as(runtime, "bob", link, event_id="mid.1")
    retry = open_as(runtime, "bob", link, event_id="mid.1")
    assert retry["duplicate_event"] is True
    assert retry["contact"] == first["contact"] and retry["referral"] == first["referral"]
    assert count(database, "SELECT count(*) FROM link_open") == 2
    assert count(database, "SELECT count(*) FROM referral") == 1
    assert count(database, "SELECT count(*) FROM event_log WHERE type = 'referred_new_contact'") == 1


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from("abcdef"), st.sampled_from(["giveaway2025", "giveaway"]),
                          st.sampled_from("abcdefx")), min_size=1, max_size=25))
def test_referral_counts_stay_consistent(tmp_path_factory: pytest.TempPathFactory, opens: list) -> None:
    """Whatever the order of clicks: a referee is counted once per first-only entry point, every counted referral
    fired exactly one referral event for its referrer, and referred_by points at the first referrer."""
    database = open_database(url=f"sqlite:///{tmp_path_factory.mktemp('inv') / 'db.sqlite'}")
    define_workspace(database)
    ids: dict[str, int] = {}
    with Runtime(database) as runtime:
        for user, entry, referrer in opens:
            suffix = f"-c{ids[referrer]}" if referrer in ids else ("-c999999" if referrer == "x" else "")
            ids[user] = open_as(runtime, user, PAGE + entry + suffix)["contact"]["id"]
    assert count(database, "SELECT count(*) FROM (SELECT 1 FROM referral WHERE status = 'counted'"
                           " GROUP BY entry_point_id, referee_id HAVING count(*) > 1)") == 0
    assert count(database, "SELECT count(*) FROM referral WHERE status IN ('counted', 'repeat')") == count(
        database, "SELECT count(*) FROM event_log WHERE type LIKE 'referred_%'")
    assert count(database, "SELECT count(*) FROM referral WHERE status = 'self' AND referrer_id <> referee_id") == 0
    assert count(database, "SELECT count(*) FROM contact c WHERE referred_by_id IS NOT NULL AND referred_by_id <>"
                           " (SELECT referrer_id FROM referral r WHERE r.referee_id = c.id AND status IN"
                           " ('counted', 'repeat') ORDER BY id LIMIT 1)") == 0
    assert count(database, "SELECT count(*) FROM contact c WHERE referred_by_id IS NULL AND EXISTS (SELECT 1 FROM"
                           " referral r WHERE r.referee_id = c.id AND status IN ('counted', 'repeat'))") == 0
    database.dispose()


# ------------------------------------------------------------------------------------------------ concurrency


def _open_many(url: str, link: str, start: multiprocessing.Barrier, results: multiprocessing.Queue) -> None:
    database = open_database(url=url, migrate=False)
    outcomes = []
    with Runtime(database) as runtime:
        start.wait()
        for attempt in range(40):
            result = runtime.open_link(Inbound(text=link, channel="messenger", channel_user_id="bob"))
            outcomes.append((result.contact_id, result.referral["status"], attempt))
    results.put(outcomes)


def test_two_processes_opening_for_one_person_make_one_contact_and_one_referral(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'race.db'}"
    database = open_database(url=url)
    define_workspace(database)
    with Runtime(database) as runtime:
        ann = runtime.open_link(Inbound(text="giveaway2025", channel="messenger", channel_user_id="ann")).contact_id
    context = multiprocessing.get_context("fork")
    start, results = context.Barrier(2), context.Queue()
    workers = [context.Process(target=_open_many, args=(url, PAGE + f"giveaway2025-c{ann}", start, results))
               for _ in range(2)]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0  # a "database is locked" error would have crashed the worker
    everything = [o for worker_outcomes in outcomes for o in worker_outcomes]
    assert len({contact for contact, _, _ in everything}) == 1
    assert [status for _, status, _ in everything].count("counted") == 1
    assert count(database, "SELECT count(*) FROM contact WHERE channel_user_id = 'bob'") == 1
    assert count(database, "SELECT count(*) FROM referral WHERE status = 'counted'") == 1
    assert count(database, "SELECT count(*) FROM link_open") == 81
    database.dispose()
