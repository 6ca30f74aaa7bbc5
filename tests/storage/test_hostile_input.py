"""Opening a link with whatever an attacker or a broken client sends (issue 10): nothing crashes, loses the contact,
holds the write lock, fills memory or hands one person another person's data."""

import base64
import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime import inbound, link_reading, opening
from runtime.opening import Inbound
from runtime.service import Runtime
from runtime.vocabulary import CHANNELS
from storage.db import Database, create_engine, open_database
from storage.migrate import upgrade
from storage.models import EntryPoint
from tests.storage.helpers import PAGE, count, define_workspace, open_as

CATASTROPHIC = r"(?P<referrer>(a+)+)$"  # a backtracking engine takes 2^n steps on "aaa…a!"


@pytest.fixture
def runtime(database: Database) -> Runtime:
    define_workspace(database)
    with Runtime(database) as runtime:
        yield runtime


def add_pattern(database: Database, ref: str, pattern: str) -> None:
    """Store a pattern as an older Referflow (or a hand-edited database) could have, past today's checks."""
    with database.write_session() as session:  # the table class checks nothing; the editor and import do
        session.add(EntryPoint(name=ref, ref=ref, whatsapp_pattern=pattern, referrer_match="phone"))


def stored_result_size(database: Database) -> int:
    size = "octet_length(CAST(result AS TEXT))" if database.is_postgres else "length(CAST(result AS BLOB))"
    return count(database, f"SELECT coalesce(max({size}), 0) FROM processed_event")


# ------------------------------------------------------------------------------------------------ 1. text patterns


def test_a_catastrophic_pattern_answers_a_long_message_at_once(runtime: Runtime, database: Database) -> None:
    """52 characters: Python's backtracking re needs years (it holds the GIL, so this test would never end);
    RE2 needs microseconds."""
    add_pattern(database, "wa-stuck", CATASTROPHIC)
    result = open_as(runtime, "15550003333", "a" * 51 + "!", "whatsapp")
    assert result["contact"]["is_new"] is True and result["entry"] is None


def test_the_pattern_runs_before_the_write_lock_is_taken(runtime: Runtime, database: Database,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """While a message is matched, every other writer can still write."""
    if database.is_postgres:
        pytest.skip("SQLite's one write lock: PostgreSQL has none to hold while matching (it locks rows)")
    original = link_reading.match_whatsapp_text
    other_writer_could_write: list[bool] = []

    def match_and_try_to_write(text: str, pattern: str) -> dict | None:
        other = sqlite3.connect(database.engine.url.database, isolation_level=None, timeout=0)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            other_writer_could_write.append(True)
        except sqlite3.OperationalError:  # "database is locked": the open holds the write lock while matching
            other_writer_could_write.append(False)
        finally:
            other.close()
        return original(text, pattern)

    for module in (inbound, link_reading, opening):
        monkeypatch.setattr(module, "match_whatsapp_text", match_and_try_to_write, raising=False)
    result = open_as(runtime, "15550002222", "You were recommended by +15550001111 Hello", "whatsapp")
    assert result["entry"] == "wa-friends"
    assert other_writer_could_write == [True]


def test_a_stored_pattern_re2_refuses_is_a_warning_and_the_person_still_gets_in(runtime: Runtime,
                                                                                database: Database) -> None:
    add_pattern(database, "wa-old", r"recommended by (?P<referrer>\d+)(?= Hello)")
    result = open_as(runtime, "15550004444", "/giveaway2025", "whatsapp")
    assert result["entry"] == "giveaway2025" and result["contact"]["is_new"] is True
    assert ("Entry point 'wa-old': The WhatsApp text pattern uses a lookahead, (?=...) or (?!...), which Referflow "
            "does not support") in " ".join(result["warnings"])


# ------------------------------------------------------------------------------------------------ 3. ASCII digits


@pytest.mark.parametrize("key", ["²", "٣", "３", "1²", "99999999999999999999999"])
def test_only_ascii_digits_name_a_field_id(runtime: Runtime, key: str) -> None:
    result = open_as(runtime, "ann", PAGE + f"giveaway2025--{key}--x")
    assert result["contact"]["is_new"] is True and result["entry"] == "giveaway2025"
    assert f"No custom field has the ID or name '{key}'; the value 'x' was not saved." in result["warnings"]
    assert result["contact"]["fields"] == {}  # '٣' is not field 3


def test_a_referrer_in_other_digits_names_nobody(runtime: Runtime) -> None:
    open_as(runtime, "ann", PAGE + "giveaway2025")  # contact 1
    result = open_as(runtime, "bob", PAGE + "giveaway2025-c١")  # ARABIC-INDIC DIGIT ONE
    assert result["referral"] is None and result["contact"]["is_new"] is True


# ------------------------------------------------------------------------------------------------ 4. unstorable text

HALF_AN_EMOJI = "\ud83d"  # what is left of 😀 (\ud83d\ude00) cut in the middle


@pytest.mark.parametrize("field", ["text", "first_name", "last_name", "channel_user_id", "event_id", "phone"])
def test_a_lone_surrogate_in_any_field_is_replaced_and_the_person_gets_in(runtime: Runtime, database: Database,
                                                                          field: str) -> None:
    values = {"text": PAGE + "giveaway2025--SAVE10", "channel": "messenger", "channel_user_id": "ann",
              "first_name": "Ann", "last_name": "Lee", "phone": "+1555", "event_id": "mid.1"}
    values[field] += HALF_AN_EMOJI + "\x00"
    result = runtime.open_link(Inbound(**values)).to_dict()
    assert result["contact"]["is_new"] is True and result["entry"] == "giveaway2025"
    with database.engine.connect() as connection:
        stored = connection.execute(sa.text("SELECT channel_user_id, first_name, last_name FROM contact")).one()
        event = connection.execute(sa.text("SELECT event_id FROM processed_event")).scalar_one()
    expected = {"channel_user_id": "ann", "first_name": "Ann", "last_name": "Lee", "event_id": "mid.1"}
    if field in expected:
        expected[field] += "\ufffd\ufffd"
    assert (*stored, event) == (expected["channel_user_id"], expected["first_name"], expected["last_name"],
                                expected["event_id"])
    if field == "text":
        assert result["contact"]["fields"] == {"coupon_code": "SAVE10\ufffd\ufffd"}


def test_two_halves_of_an_emoji_join_up_again(runtime: Runtime) -> None:
    result = open_as(runtime, "ann", PAGE + "giveaway2025", first_name="Ann \ud83d\ude00")
    assert result["messages"][0]["text"] == "Welcome Ann 😀!"


def test_a_reply_with_half_an_emoji_is_stored(runtime: Runtime, database: Database) -> None:
    open_as(runtime, "ann", PAGE + "giveaway2025", first_name="Ann")
    result = runtime.reply(channel="messenger", channel_user_id="ann", text="hi " + HALF_AN_EMOJI).to_dict()
    assert result["contact"]["id"] == 1
    assert count(database, "SELECT count(*) FROM message WHERE direction = 'in' AND text = 'hi \ufffd'") == 1


# ------------------------------------------------------------------------------------------------ 5. size


def test_a_megabyte_of_long_dashes_gives_a_few_warnings_and_a_small_stored_result(runtime: Runtime,
                                                                                  database: Database) -> None:
    result = open_as(runtime, "ann", PAGE + "giveaway2025" + "–" * 1_000_000, event_id="mid.1")
    assert result["contact"]["is_new"] is True and result["entry"] == "giveaway2025"
    warnings = result["warnings"]
    assert len(warnings) <= 4, warnings
    assert warnings.count("The text that came in is longer than the 2,083 characters Messenger delivers; only the "
                          "first 2,083 were read.") == 1
    assert any(re.search(r"was skipped\. \(1,\d{3} times\)$", w) for w in warnings), warnings
    assert stored_result_size(database) < 16_000


@pytest.mark.parametrize(("channel", "limit", "name"), [("whatsapp", 4096, "WhatsApp"), ("telegram", 4096, "Telegram"),
                                                        ("messenger", 2083, "Messenger"), ("viber", 7000, "Viber")])
def test_inbound_text_is_cut_at_the_channels_limit(runtime: Runtime, database: Database, channel: str, limit: int,
                                                   name: str) -> None:
    result = open_as(runtime, "ann", "giveaway2025--" + "x" * 10_000, channel, first_name="Ann")
    assert result["contact"]["fields"] == {"coupon_code": "x" * (limit - len("giveaway2025--"))}
    assert result["warnings"] == [f"The text that came in is longer than the {limit:,} characters {name} delivers; "
                                  f"only the first {limit:,} were read."]
    assert count(database, "SELECT max(length(ref)) FROM link_open") == limit


def test_a_text_within_the_limit_is_read_whole(runtime: Runtime) -> None:
    ref = "giveaway2025--" + "x" * (4096 - len("giveaway2025--"))
    result = open_as(runtime, "ann", "https://t.me/bot?start=" + ref.replace("x", "%78"), "telegram", first_name="Ann")
    assert result["contact"]["fields"] == {"coupon_code": ref.removeprefix("giveaway2025--")}
    assert result["warnings"] == []


# ------------------------------------------------------------------------------------------------ 6. event ids


def test_the_same_event_id_on_two_channels_is_two_opens(runtime: Runtime, database: Database) -> None:
    ann = open_as(runtime, "ann", PAGE + "giveaway2025--ANN", "messenger", event_id="1001", first_name="Ann")
    bob = open_as(runtime, "bob", "/start giveaway2025--BOB", "telegram", event_id="1001", first_name="Bob")
    assert bob["duplicate_event"] is False and bob["contact"]["is_new"] is True
    assert bob["contact"]["id"] != ann["contact"]["id"]
    assert bob["contact"]["fields"] == {"coupon_code": "BOB"}
    assert bob["messages"] == [{"contact_id": bob["contact"]["id"], "text": "Welcome Bob!"}]
    assert count(database, "SELECT count(*) FROM processed_event") == 2


def test_someone_else_replaying_an_event_id_learns_and_changes_nothing(runtime: Runtime, database: Database) -> None:
    ann = open_as(runtime, "ann", PAGE + "giveaway2025--SECRET", event_id="mid.7", first_name="Ann")
    replay = open_as(runtime, "mallory", PAGE + "giveaway2025", event_id="mid.7", first_name="Mallory")
    assert replay["duplicate_event"] is True
    assert replay["contact"] == {"id": None, "is_new": False, "fields": {}, "tags": []}
    assert replay["messages"] == [] and replay["events"] == [] and replay["referral"] is None
    assert "SECRET" not in json.dumps(replay) and "Ann" not in json.dumps(replay)
    assert replay["warnings"] == ["Event 'mid.7' was already processed for another person on messenger; event ids "
                                  "are unique per channel, so this open changed nothing."]
    assert count(database, "SELECT count(*) FROM contact") == 1
    retry = open_as(runtime, "ann", PAGE + "giveaway2025--SECRET", event_id="mid.7")
    assert retry["duplicate_event"] is True and retry["contact"]["id"] == ann["contact"]["id"]
    assert retry["contact"]["fields"] == {"coupon_code": "SECRET"}


def test_event_ids_stored_before_the_upgrade_still_stop_retries(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    upgrade(engine, "0005")
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO contact (id, channel, channel_user_id, first_name, last_name, phone, first_ref, last_ref,"
            " created_at, last_seen_at) VALUES (7, 'telegram', 'tg-ann', 'Ann', '', '', 'giveaway2025',"
            " 'giveaway2025', '2026-01-01 00:00:00', '2026-01-01 00:00:00')")
        result = {"contact": {"id": 7, "is_new": True}, "entry": "giveaway2025", "referral": None, "events": [],
                  "response": {"type": "none"}, "messages": [], "warnings": [], "duplicate_event": False}
        connection.exec_driver_sql("INSERT INTO processed_event (event_id, result, created_at) VALUES"
                                   " ('upd-1', ?, '2026-01-01 00:00:00'), ('orphan', '{}', '2026-01-01 00:00:00')",
                                   (json.dumps(result),))
    engine.dispose()
    database = open_database(url=url)
    assert count(database, "SELECT count(*) FROM processed_event") == 2
    with Runtime(database) as runtime:
        retry = open_as(runtime, "tg-ann", "/start giveaway2025", "telegram", event_id="upd-1")
        other = open_as(runtime, "ann", PAGE + "giveaway2025", "messenger", event_id="upd-1")
    assert retry["duplicate_event"] is True and retry["contact"]["id"] == 7
    assert other["duplicate_event"] is False and other["contact"]["is_new"] is True
    database.dispose()


# ------------------------------------------------------------------------------------------------ the command line

ROOT = Path(__file__).resolve().parents[2]


def open_link_command(database: Database, text: bytes, *options: bytes) -> subprocess.CompletedProcess:
    """`referflow open-link` in its own process; bytes that are not UTF-8 reach it as lone surrogates, as they do
    from any shell."""
    where = database.url if database.is_postgres else database.engine.url.database
    # `--` and `--option=value`: a text or a value starting with "-" is data, as a careful shell script passes it
    pairs = [options[i] + b"=" + options[i + 1] for i in range(0, len(options), 2)]
    return subprocess.run([sys.executable, str(ROOT / "app.py"), "--db", where, "open-link",
                           *pairs, "--", text], capture_output=True, cwd=ROOT, timeout=120)


@pytest.mark.parametrize("option", [b"url", b"--first-name", b"--last-name", b"--channel-user", b"--event-id"])
def test_the_command_line_takes_half_an_emoji_in_every_field(database: Database, option: bytes) -> None:
    define_workspace(database)
    half = "😀".encode()[:2]  # a name cut in the middle of an emoji
    values = {b"url": PAGE.encode() + b"giveaway2025--SAVE", b"--first-name": b"Ann", b"--last-name": b"Lee",
              b"--channel-user": b"psid-ann", b"--event-id": b"mid.1"}
    values[option] += half
    done = open_link_command(database, values.pop(b"url"), *[part for pair in values.items() for part in pair])
    assert done.returncode == 0, done.stderr.decode()
    result = json.loads(done.stdout)
    assert result["contact"]["is_new"] is True and result["entry"] == "giveaway2025"
    if option == b"url":
        assert result["contact"]["fields"] == {"coupon_code": "SAVE\ufffd\ufffd"}
    with database.engine.connect() as connection:
        names = connection.execute(sa.text("SELECT channel_user_id || first_name || last_name FROM contact")).one()[0]
    assert names == ("psid-ann" if option != b"--channel-user" else "psid-ann\ufffd\ufffd") + (
        "Ann\ufffd\ufffd" if option == b"--first-name" else "Ann") + ("Lee\ufffd\ufffd" if option == b"--last-name"
                                                                      else "Lee")


# ------------------------------------------------------------------------------------------------ anything at all

ANY_CHARACTER = st.one_of(st.characters(), st.characters(categories=["Cs"]))  # lone surrogates too
CONTROL_AND_DIRECTION = ("\x00\x01\x07\x08\x1b\x7f\x85\u200b\n\r\t"  # control characters
                         "\u200e\u200f\u202a\u202b\u202d\u202e\u2066\u2067\u2069\u061c\ufeff")  # direction marks
HUGE_UNITS = ["–", "—", "-", "--", "-c", "%", "%25", "a", "9", "\ud800", "😀", "{", "jsondata--", "\x00", " "]
PREFIXES = ["", "https://m.me/p?ref=", "https://ig.me/m/shop?ref=", "https://t.me/b?start=", "https://wa.me/1?text=/",
            "viber://pa?chatURI=x&context=", "https://x.example/?p=1?ref=", "/start ", "giveaway2025",
            "giveaway2025--", "giveaway2025jsondata--", "giveaway2025-c", "code "]
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(ANY_CHARACTER, max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(ANY_CHARACTER, max_size=8), inner, max_size=4),
    max_leaves=25)


def _encode_percent(text: str) -> str:
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


PIECES = st.one_of(
    st.text(ANY_CHARACTER, max_size=80),
    st.text(st.sampled_from(CONTROL_AND_DIRECTION), max_size=40),
    st.text(ANY_CHARACTER, max_size=40).map(_encode_percent),
    st.text(st.sampled_from("%0123456789ABCDEFGZ-"), max_size=40),  # broken and double percent-encoding
    st.binary(max_size=200).map(lambda data: base64.urlsafe_b64encode(data).decode()),
    JSON_VALUES.map(lambda value: json.dumps({"plan": value}, ensure_ascii=False)),
    JSON_VALUES.map(lambda value: base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")),
    st.integers(1, 3000).map(lambda depth: '{"a":' * depth + "1" + "}" * depth),
    st.integers(1, 3000).map(lambda depth: "[" * depth),
)
HUGE = st.sampled_from(HUGE_UNITS).map(lambda unit: unit * (1_000_000 // len(unit)))  # 1 MB strings
TEXTS = st.builds(lambda prefix, pieces: prefix + "".join(pieces), st.sampled_from(PREFIXES),
                  st.lists(st.one_of(PIECES, PIECES, PIECES, HUGE), max_size=3))
NAMES = st.text(ANY_CHARACTER, max_size=30)
INBOUNDS = st.builds(Inbound, text=TEXTS, channel=st.sampled_from(CHANNELS), channel_user_id=NAMES, first_name=NAMES,
                     last_name=NAMES, phone=NAMES, event_id=st.none() | st.text(ANY_CHARACTER, max_size=12))


def define_hostile_workspace(database: Database) -> None:
    define_workspace(database)
    add_pattern(database, "wa-stuck", CATASTROPHIC)
    add_pattern(database, "wa-code", r"code (?P<ref>\S+)(?: from (?P<referrer>\d+))?")
    add_pattern(database, "wa-old", r"(?P<referrer>\d+)\1")  # refused by RE2: a warning on every WhatsApp open


def assert_storable(result: dict) -> None:
    """The result names a person, and every text in it can be stored and printed."""
    assert isinstance(result["contact"]["id"], int) or result["duplicate_event"]
    json.dumps(result, ensure_ascii=False).encode("utf-8")
    assert len(result["warnings"]) <= 12, result["warnings"]


@settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck))
@given(inbound=INBOUNDS)
def test_no_inbound_text_breaks_an_open(tmp_path_factory: pytest.TempPathFactory, inbound: Inbound) -> None:
    folder = tmp_path_factory.getbasetemp() / "anything"
    fresh = not folder.exists()
    folder.mkdir(exist_ok=True)
    database = open_database(url=f"sqlite:///{folder / 'db.sqlite'}", migrate=fresh)
    if fresh:
        define_hostile_workspace(database)
    try:
        with Runtime(database) as runtime:
            assert_storable(runtime.open_link(inbound).to_dict())
    finally:
        database.dispose()


def _argument(text: str, limit: int = 100_000) -> bytes:
    """What a shell can pass: bytes without NUL, at most `limit` of them (Linux refuses longer arguments)."""
    return text.encode("utf-8", "surrogatepass").replace(b"\x00", b"")[:limit]


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(inbound=INBOUNDS)
def test_no_inbound_text_breaks_the_open_link_command(tmp_path_factory: pytest.TempPathFactory,
                                                       inbound: Inbound) -> None:
    folder = tmp_path_factory.getbasetemp() / "anything-cli"
    fresh = not folder.exists()
    folder.mkdir(exist_ok=True)
    database = open_database(url=f"sqlite:///{folder / 'db.sqlite'}", migrate=fresh)
    if fresh:
        define_hostile_workspace(database)
    options = [b"--channel", inbound.channel.encode(), b"--channel-user", _argument(inbound.channel_user_id),
               b"--first-name", _argument(inbound.first_name), b"--last-name", _argument(inbound.last_name)]
    if inbound.event_id is not None:
        options += [b"--event-id", _argument(inbound.event_id)]
    done = open_link_command(database, _argument(inbound.text), *options)
    database.dispose()
    assert done.returncode == 0, done.stderr.decode("utf-8", "replace")
    assert_storable(json.loads(done.stdout))

