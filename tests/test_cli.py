"""The `referflow` command line: JSON on stdout, one clear line and a non-zero exit on misuse, never a traceback."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from app import main
from storage.db import database_url, open_database

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "referral_program.json"


def run(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, dict | str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    try:
        return code, json.loads(out), err
    except json.JSONDecodeError:
        return code, out, err


@pytest.fixture
def db(database_target: str, capsys: pytest.CaptureFixture) -> str:
    """The imported workspace's --db: a SQLite file, or a PostgreSQL URL in the PostgreSQL pass."""
    assert run(capsys, "--db", database_target, "import", str(FIXTURE))[0] == 0
    return database_target


@pytest.mark.parametrize(
    ("link", "entries", "expected"),
    [
        ("https://m.me/PAGE?ref=giveaway--738--gold--514--7", ["giveaway"],
         {"channel": "messenger", "entry": "giveaway", "referrer": None,
          "payload": [{"key": "738", "value": "gold"}, {"key": "514", "value": "7"}], "json": None}),
        ("https://t.me/shop_bot?start=giveaway2025-c42--456", ["giveaway2025"],
         {"channel": "telegram", "entry": "giveaway2025", "referrer": "42",
          "payload": [{"key": None, "value": "456"}], "json": None}),
        ('giveawayjsondata--{"plan":"pro","seats":3}', ["giveaway"],
         {"channel": None, "entry": "giveaway", "referrer": None, "payload": [],
          "json": {"plan": "pro", "seats": 3}}),
        ("https://app.example.com/webchat/?p=acc-1?ref=giveaway2025-c7", ["giveaway2025"],
         {"channel": "webchat", "entry": "giveaway2025", "referrer": "7", "payload": [], "json": None}),
    ],
)
def test_parse_link_prints_the_breakdown(capsys, link: str, entries: list[str], expected: dict) -> None:
    code, out, _ = run(capsys, "parse-link", link, *[arg for ref in entries for arg in ("--entry", ref)])
    assert code == 0
    assert set(out) == {"channel", "ref", "entry", "referrer", "payload", "json", "warnings", "lint"}
    assert {key: out[key] for key in expected} == expected


def test_parse_link_resolves_against_the_database(capsys, db: str) -> None:
    code, out, _ = run(capsys, "--db", db, "parse-link", "https://m.me/1234567890?ref=giveaway2025-c3")
    assert code == 0 and out["entry"] == "giveaway2025" and out["referrer"] == "3"


def test_parse_link_explains_channel_limits(capsys) -> None:
    code, out, _ = run(capsys, "parse-link", "https://t.me/shop_bot?start=" + "a" * 70, "--entry", "a" * 70)
    assert code == 0
    assert out["lint"][0]["channel"] == "telegram" and "64" in out["lint"][0]["message"]


def test_export_gives_back_what_was_imported(capsys, db: str, tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    assert run(capsys, "--db", db, "export", "-o", str(target))[0] == 0
    exported = json.loads(target.read_text())
    original = json.loads(FIXTURE.read_text())
    assert [f["name"] for f in exported["fields"]] == [f["name"] for f in original["fields"]]
    assert [e["ref"] for e in exported["entry_points"]] == ["giveaway2025"]


def test_open_link_prints_what_happened(capsys, db: str) -> None:
    code, ann, _ = run(capsys, "--db", db, "open-link", "https://m.me/1234567890?ref=giveaway2025",
                       "--channel-user", "psid-ann", "--first-name", "Ann")
    assert code == 0
    assert ann["contact"]["is_new"] is True and ann["contact"]["tags"] == ["giveaway"]
    ann_id = ann["contact"]["id"]
    code, bob, _ = run(capsys, "--db", db, "open-link", f"https://m.me/1234567890?ref=giveaway2025-c{ann_id}--SAVE5",
                       "--channel-user", "psid-bob", "--first-name", "Bob", "--event-id", "evt-1")
    assert bob["referral"] == {"status": "counted", "kind": "new", "referrer_id": ann_id}
    assert bob["contact"]["fields"] == {"coupon_code": "SAVE5"}
    assert [e["type"] for e in bob["events"]][:3] == ["field_changed", "tag_added", "referred_new_contact"]
    code, retry, _ = run(capsys, "--db", db, "open-link", f"https://m.me/1234567890?ref=giveaway2025-c{ann_id}--SAVE5",
                         "--channel-user", "psid-bob", "--event-id", "evt-1")
    assert retry["duplicate_event"] is True and retry["referral"] == bob["referral"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["open-link", "giveaway2025", "--channel-user", "x"], "say which channel the person is on with --channel"),
        (["open-link", "https://m.me/1?ref=a"], "the following arguments are required: --channel-user"),
        (["import", "/no/such/file.json"], "cannot read /no/such/file.json"),
        (["import", str(ROOT / "README.md")], "is not valid JSON"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["open-link", "https://m.me/1?ref=a", "--channel-user", "x", "--channel", "fax"], "invalid choice: 'fax'"),
    ],
)
def test_misuse_is_one_clear_line(tmp_path: Path, args: list[str], message: str) -> None:
    """Run as a real process: exit code 2, one line on stderr, no traceback."""
    done = subprocess.run([sys.executable, str(ROOT / "app.py"), "--db", str(tmp_path / "x.db"), *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_a_bad_workspace_document_is_refused_with_the_element_named(capsys, tmp_path: Path) -> None:
    broken = json.loads(FIXTURE.read_text())
    broken["fields"][0]["type"] = "integer"
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken))
    code, _, err = run(capsys, "--db", str(tmp_path / "b.db"), "import", str(path))
    assert code == 2
    assert "fields[0] ('referral_points')" in err and "integer" in err


def test_the_classic_referral_program_through_the_command_line(capsys, db: str) -> None:
    def open_link(user: str, name: str, link: str) -> dict:
        code, out, _ = run(capsys, "--db", db, "open-link", link, "--channel-user", user, "--first-name", name)
        assert code == 0
        return out

    ann = open_link("psid-ann", "Ann", "https://m.me/1234567890?ref=giveaway2025")
    ann_id = ann["contact"]["id"]
    share = [m["text"] for m in ann["messages"] if m["contact_id"] == ann_id]
    link = f"https://m.me/1234567890?ref=giveaway2025-c{ann_id}"
    assert any(link in text for text in share)

    to_ann = []
    for user, name in [("psid-bob", "Bob"), ("psid-cat", "Cat"), ("psid-dan", "Dan")]:
        joined = open_link(user, name, link)
        assert joined["referral"]["status"] == "counted"
        to_ann.append([m["text"] for m in joined["messages"] if m["contact_id"] == ann_id])
    names = ["Bob", "Cat", "Dan"]
    assert all(f"{name} joined with your link!" in texts for name, texts in zip(names, to_ann, strict=True))
    assert any("FRIENDS3" in text for text in to_ann[2])
    assert not any("FRIENDS3" in text for texts in to_ann[:2] for text in texts)

    selfish = open_link("psid-ann", "Ann", link)
    assert selfish["referral"]["status"] == "self"
    assert selfish["contact"]["fields"]["referral_points"] == 3 and "rewarded" in selfish["contact"]["tags"]
    again = open_link("psid-bob", "Bob", link)
    assert again["referral"]["status"] == "duplicate"
    assert [m for m in again["messages"] if m["contact_id"] == ann_id] == []


def test_validate_reports_problems_and_fails_on_errors(capsys, db: str, tmp_path: Path) -> None:
    code, out, _ = run(capsys, "--db", db, "validate")
    assert code == 0 and out["errors"] == 0
    looping = json.loads(FIXTURE.read_text())
    looping["triggers"].append({"id": 9, "name": "Echo", "event": "field_changed", "field_id": 1,
                                "actions": [{"type": "set_field", "field_id": 1, "op": "increase", "value": 1}]})
    path = tmp_path / "loop.json"
    path.write_text(json.dumps(looping))
    run(capsys, "--db", db, "import", str(path))
    code, out, _ = run(capsys, "--db", db, "validate")
    assert code == 1
    assert any(p["code"] == "unguarded_cycle" and 9 in p["trigger_ids"] for p in out["problems"])


def test_reply_and_tick(capsys, tmp_path: Path, database_target: str) -> None:
    document = json.loads(FIXTURE.read_text())
    ask = {"schema": 1, "nodes": [
        {"id": "start", "type": "start", "position": {"x": 0, "y": 0}, "data": {}},
        {"id": "q", "type": "ask", "position": {"x": 200, "y": 0}, "data": {"text": "Your plan?", "field_id": 3}},
        {"id": "wait", "type": "delay", "position": {"x": 400, "y": 0}, "data": {"seconds": 600}},
        {"id": "bye", "type": "send_message", "position": {"x": 600, "y": 0}, "data": {"text": "Enjoy {{plan}}!"}}],
        "edges": [{"id": "a", "source": "start", "source_handle": "next", "target": "q"},
                  {"id": "b", "source": "q", "source_handle": "next", "target": "wait"},
                  {"id": "c", "source": "wait", "source_handle": "next", "target": "bye"}]}
    document["flows"][0]["draft"] = document["flows"][0]["published"] = ask
    path, db = tmp_path / "ask.json", database_target
    path.write_text(json.dumps(document))
    run(capsys, "--db", db, "import", str(path))
    _, opened, _ = run(capsys, "--db", db, "open-link", "https://t.me/giveaway_helper_bot?start=giveaway2025",
                       "--channel-user", "77")
    assert [m["text"] for m in opened["messages"]] == ["Your plan?"]
    code, replied, _ = run(capsys, "--db", db, "reply", "--channel-user", "77", "pro")
    assert code == 0 and replied["handled"] is True and replied["contact"]["fields"]["plan"] == "pro"
    _, early, _ = run(capsys, "--db", db, "tick", "--advance", "5m")
    assert early["woken"] == 0
    _, late, _ = run(capsys, "--db", db, "tick", "--advance", "11m")
    assert late["woken"] == 1 and [m["text"] for m in late["messages"]] == ["Enjoy pro!"]
    code, unknown, _ = run(capsys, "--db", db, "reply", "--channel-user", "77", "--channel", "viber", "hi")
    assert code == 1 and "must open a link first" in unknown["warnings"][0]


SCENARIO = ROOT / "tests" / "fixtures" / "scenarios" / "referral_program.json"


def test_scenario_run_passes_and_fails(capsys, tmp_path: Path) -> None:
    code = main(["--db", str(tmp_path / "s.db"), "scenario", "run", str(SCENARIO)])
    out = capsys.readouterr().out
    assert code == 0 and "Scenario 'Classic referral program': passed" in out and "6 passed, 0 failed" in out
    broken = json.loads(SCENARIO.read_text())
    broken["workspace"] = str(FIXTURE)
    broken["steps"][-1]["expect"].append({"message_to": "dan", "contains": "You won"})
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken))
    code = main(["--db", str(tmp_path / "s.db"), "scenario", "run", str(SCENARIO), str(path)])
    out = capsys.readouterr().out
    assert code == 1
    assert "✗ 6. dan opens" in out and "expected dan to receive a message containing 'You won'" in out


def test_scenario_run_against_the_workspace_sandbox(capsys, db: str, tmp_path: Path) -> None:
    scenario = json.loads(SCENARIO.read_text())
    del scenario["workspace"]
    path = tmp_path / "here.json"
    path.write_text(json.dumps(scenario))
    assert main(["--db", db, "scenario", "run", str(path)]) == 0
    assert main(["--db", db, "scenario", "run", str(path)]) == 0  # the sandbox is reset before each run
    capsys.readouterr()
    code, document, _ = run(capsys, "--db", db, "export")
    assert code == 0 and [e["ref"] for e in document["entry_points"]] == ["giveaway2025"]  # live workspace intact


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("REFERFLOW_TRUSTED_PROXIES", "10.0.0.1, proxy.local",
     "referflow: REFERFLOW_TRUSTED_PROXIES: 'proxy.local' is not an IP address or network; write e.g. 10.0.0.5, "
     "10.0.0.0/8 or ::1, separated by commas\n"),
    ("REFERFLOW_SECURE_COOKIES", "sometimes",
     "referflow: REFERFLOW_SECURE_COOKIES: 'sometimes' is not understood; use 1, 0 or auto\n"),
])
def test_serve_refuses_unreadable_network_settings(capsys, monkeypatch, tmp_path: Path, variable: str, value: str,
                                                   message: str) -> None:
    monkeypatch.setenv(variable, value)
    assert main(["--db", str(tmp_path / "x.db"), "serve"]) == 2
    assert capsys.readouterr().err == message
    assert not (tmp_path / "x.db").exists()  # refused before anything was opened


def test_what_the_bot_says_from_the_command_line_is_queued_for_the_running_app(capsys, db: str) -> None:
    """open-link, reply and tick are live processing: the app's delivery worker sends what they queued."""
    code, result, _ = run(capsys, "--db", db, "open-link", "https://m.me/1234567890?ref=giveaway2025",
                          "--channel-user", "psid-ann", "--first-name", "Ann")
    assert code == 0
    database = open_database(url=database_url(path=db, url=db if "://" in db else None))
    with database.engine.connect() as connection:
        queued = [tuple(row) for row in connection.execute(sa.text(
            "SELECT o.channel, m.text, o.state FROM outbox_message o JOIN message m ON m.id = o.message_id"
            " ORDER BY o.id"))]
    database.dispose()
    assert queued == [("messenger", message["text"], "pending") for message in result["messages"]]
    assert queued


def test_prune_forgets_event_ids_no_platform_can_retry_any_more(capsys, db: str) -> None:
    link = "https://m.me/1234567890?ref=giveaway2025"
    assert run(capsys, "--db", db, "open-link", link, "--channel-user", "psid-ann", "--event-id", "mid.1")[0] == 0
    database = open_database(url=database_url(path=db, url=db if "://" in db else None))
    with database.write_session() as session:  # that open was three weeks ago
        session.execute(sa.text("UPDATE processed_event SET created_at = created_at - INTERVAL '21 days'")
                        if database.is_postgres else
                        sa.text("UPDATE processed_event SET created_at = datetime(created_at, '-21 days')"))
    database.dispose()
    assert run(capsys, "--db", db, "open-link", link, "--channel-user", "psid-bob", "--event-id", "mid.2")[0] == 0
    code, out, _ = run(capsys, "--db", db, "prune")
    assert code == 0
    assert out == {"removed": {"processed_events": 1, "hook_events": 0, "wake_ups": 0}}
    assert run(capsys, "--db", db, "prune")[1] == {"removed": {"processed_events": 0, "hook_events": 0,
                                                              "wake_ups": 0}}
