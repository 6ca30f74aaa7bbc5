"""My referrals and leaderboards (issue 16 items 1-2): ranks with ties, periods and entry points, masked names,
`{{referrals.*}}` in any template, read through a real runtime from the referral-program workspace."""

import copy
import json
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from runtime.opening import Inbound
from runtime.referral_stats import mask_name
from runtime.service import Runtime
from runtime.simulator.scenarios import SimulatedClock, run_scenario
from storage.db import Database
from storage.entry_points import delete_entry_point
from storage.workspace_io import import_workspace

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "referral_program.json"
MONDAY = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _flow(flow_id: int, name: str, *steps: dict) -> dict:
    nodes = [{"id": "start", "type": "start", "data": {}}]
    nodes += [{"id": f"s{number}", **step} for number, step in enumerate(steps, 1)]
    edges = [{"id": f"e{n}", "source": a["id"], "target": b["id"]} for n, (a, b) in enumerate(pairwise(nodes))]
    document = {"schema": 1, "nodes": nodes, "edges": edges}
    return {"id": flow_id, "name": name, "draft": document, "published": copy.deepcopy(document), "version": 1}


def _workspace() -> dict:
    document = json.loads(FIXTURE.read_text())
    spring = {**copy.deepcopy(document["entry_points"][0]), "id": 2, "name": "Spring", "ref": "spring",
              "response_type": "message", "response_message": "Welcome!", "response_flow_id": None}
    board = {**spring, "id": 3, "name": "Board", "ref": "board", "response_type": "flow", "response_flow_id": 10}
    mine = {**board, "id": 4, "name": "Mine", "ref": "mine", "response_flow_id": 11}
    document["entry_points"] += [spring, board, mine]
    document["flows"] += [
        _flow(10, "Board", {"type": "leaderboard", "data": {"entry_point_id": 1, "period": "week", "limit": 3,
              "text": "Top {{period}}:\n{{referrals.top}}\nYou: {{referrals.rank|not on the board yet}}"}}),
        _flow(11, "Mine", {"type": "my_referrals", "data": {"entry_point_id": None, "limit": 10,
              "text": "{{referrals.count}} counted:\n{{referrals.list}}"}}),
    ]
    return document


class Clock:
    def __init__(self) -> None:
        self.now = MONDAY

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def runtime(database: Database, clock: Clock) -> Runtime:
    with database.write_session() as session:
        import_workspace(session=session, document=_workspace())
    with Runtime(database, clock=clock) as runtime:
        yield runtime


def open_as(runtime: Runtime, user: str, link: str, first: str = "", last: str = ""):
    return runtime.open_link(Inbound(text=link, channel="messenger", channel_user_id=user, first_name=first,
                                     last_name=last))


def texts_for(result, contact_id: int) -> list[str]:
    return [m["text"] for m in result.messages if m["contact_id"] == contact_id]


def refer(runtime: Runtime, referrer_id: int, friends: int, *, ref: str = "giveaway2025", tag: str = "") -> None:
    for number in range(friends):
        result = open_as(runtime, f"friend-{referrer_id}-{ref}-{tag}{number}", f"m.me/1?ref={ref}-c{referrer_id}",
                         f"Friend{number}", "Zed")
        assert result.referral["status"] == "counted"


def test_the_board_ranks_ties_together_and_shows_the_contacts_own_place(runtime: Runtime) -> None:
    ann = open_as(runtime, "ann", "m.me/1?ref=giveaway2025", "Ann", "Rivers").contact_id
    bob = open_as(runtime, "bob", "m.me/1?ref=giveaway2025", "Bob", "Stone").contact_id
    cat = open_as(runtime, "cat", "m.me/1?ref=giveaway2025", "Cat", "").contact_id
    dan = open_as(runtime, "dan", "m.me/1?ref=giveaway2025", "Dan", "Ode").contact_id
    refer(runtime, ann, 3)
    refer(runtime, bob, 2)
    refer(runtime, cat, 2)
    refer(runtime, dan, 1)

    board = open_as(runtime, "dan", "m.me/1?ref=board", "Dan", "Ode")
    assert texts_for(board, dan)[-1] == "Top this week:\n1. Ann R. — 3\n2. Bob S. — 2\n2. Cat — 2\nYou: 4"
    newcomer = open_as(runtime, "eve", "m.me/1?ref=board", "Eve")
    assert texts_for(newcomer, newcomer.contact_id)[-1].endswith("You: not on the board yet")


def test_weeks_and_months_start_again_while_all_time_keeps_counting(runtime: Runtime, clock: Clock) -> None:
    ann = open_as(runtime, "ann", "m.me/1?ref=giveaway2025", "Ann").contact_id
    bob = open_as(runtime, "bob", "m.me/1?ref=giveaway2025", "Bob").contact_id
    refer(runtime, ann, 3)
    clock.now = MONDAY + timedelta(days=7)  # the next week, still December
    refer(runtime, bob, 1, tag="w2")
    board = open_as(runtime, "bob", "m.me/1?ref=board", "Bob")
    assert texts_for(board, bob)[-1] == "Top this week:\n1. Bob — 1\nYou: 1"
    assert runtime_value(runtime, bob, "{{referrals.rank}}/{{referrals.count}}") == "2/1"  # all time: Ann leads


def test_a_board_counts_only_its_own_entry_point(runtime: Runtime) -> None:
    ann = open_as(runtime, "ann", "m.me/1?ref=giveaway2025", "Ann").contact_id
    bob = open_as(runtime, "bob", "m.me/1?ref=giveaway2025", "Bob").contact_id
    refer(runtime, ann, 1)
    refer(runtime, bob, 4, ref="spring")  # Bob's friends came through another entry point
    board = open_as(runtime, "bob", "m.me/1?ref=board", "Bob")
    assert texts_for(board, bob)[-1] == "Top this week:\n1. Ann — 1\nYou: not on the board yet"
    assert runtime_value(runtime, bob, "{{referrals.rank}}: {{referrals.count}}") == "1: 4"  # every entry point


def test_my_referrals_lists_masked_names_with_dates_and_what_counted(runtime: Runtime, clock: Clock) -> None:
    ann = open_as(runtime, "ann", "m.me/1?ref=giveaway2025", "Ann", "Rivers").contact_id
    open_as(runtime, "bob", f"m.me/1?ref=giveaway2025-c{ann}", "Bob", "Stone")
    clock.now = MONDAY + timedelta(days=2)
    open_as(runtime, "cat", f"m.me/1?ref=spring-c{ann}", "Cat", "king")
    open_as(runtime, "old", "m.me/1?ref=giveaway2025", "Olga", "Vance")
    open_as(runtime, "old", f"m.me/1?ref=giveaway2025-c{ann}", "Olga", "Vance")  # an existing contact counts too
    open_as(runtime, "bob", f"m.me/1?ref=giveaway2025-c{ann}", "Bob", "Stone")  # a repeat click: Bob once
    mine = open_as(runtime, "ann", "m.me/1?ref=mine", "Ann", "Rivers")
    assert texts_for(mine, ann)[-1] == ("3 counted:\nOlga V. · 2 Dec 2026\nCat K. · 2 Dec 2026\n"
                                       "Bob S. · 30 Nov 2026")


def test_a_person_blocked_as_a_duplicate_shows_as_not_counted(runtime: Runtime) -> None:
    ann = open_as(runtime, "ann", "m.me/1?ref=giveaway2025", "Ann").contact_id
    bob = open_as(runtime, "bob", "m.me/1?ref=giveaway2025", "Bob").contact_id
    open_as(runtime, "cat", f"m.me/1?ref=giveaway2025-c{bob}", "Cat", "Lee")
    late = open_as(runtime, "cat", f"m.me/1?ref=giveaway2025-c{ann}", "Cat", "Lee")
    assert late.referral["status"] == "duplicate"
    mine = open_as(runtime, "ann", "m.me/1?ref=mine", "Ann")
    assert texts_for(mine, ann)[-1] == f"0 counted:\nCat L. · {MONDAY:%-d %b %Y} (not counted)"


@pytest.mark.parametrize(("first", "last", "shown"), [
    ("Ann", "Rivers", "Ann R."), ("Ann", "", "Ann"), ("", "Rivers", "Someone R."), ("", "", "Someone"),
    ("  Mary  Jane ", " de la Cruz", "Mary Jane D."), ("Zoë", "ørsted", "Zoë Ø."),
])
def test_names_are_masked(first: str, last: str, shown: str) -> None:
    assert mask_name(first, last) == shown


def runtime_value(runtime: Runtime, contact_id: int, text: str) -> str:
    return runtime._run(lambda turn: turn.render(text, contact_id), write=False)  # the render every message gets


def test_deleting_an_entry_point_takes_its_referrals_off_every_board(runtime: Runtime, database: Database) -> None:
    ann = open_as(runtime, "ann", "m.me/1?ref=giveaway2025", "Ann").contact_id
    bob = open_as(runtime, "bob", "m.me/1?ref=giveaway2025", "Bob").contact_id
    refer(runtime, ann, 2, ref="spring")
    refer(runtime, ann, 1)
    refer(runtime, bob, 2)
    assert runtime_value(runtime, ann, "{{referrals.rank}}: {{referrals.count}}") == "1: 3"
    with database.write_session() as session:
        delete_entry_point(session=session, entry_point_id=2)
    with Runtime(database) as fresh:  # definitions as they are now
        assert runtime_value(fresh, ann, "{{referrals.rank}}: {{referrals.count}}") == "2: 1"
        assert runtime_value(fresh, bob, "{{referrals.rank}}: {{referrals.count}}") == "1: 2"


def test_scenarios_can_expect_ranks_and_counts_and_say_what_differed(database: Database) -> None:
    with database.write_session() as session:
        import_workspace(session=session, document=_workspace())
    people = {name: {"first_name": name.title()} for name in ("ann", "bob", "cat", "dan")}
    link = "https://m.me/1234567890?ref=giveaway2025"
    scenario = {"format": "referflow-scenario", "version": 1, "name": "Board", "people": people, "steps": [
        {"open": link, "as": "ann"},
        {"open": link, "as": "bob"},
        {"open": f"{link}-c{{{{ann.id}}}}", "as": "cat"},
        {"open": "https://m.me/1234567890?ref=board", "as": "ann", "expect": [
            {"rank_of": "ann", "equals": 1, "period": "week", "entry_point": "giveaway2025"},
            {"referrals_of": "ann", "equals": 1},
            {"rank_of": "bob", "equals": None},
            {"message_to": "ann", "contains": "1. Ann — 1"},
        ]},
        {"advance": "8d"},
        {"open": f"{link}-c{{{{bob.id}}}}", "as": "dan", "expect": [
            {"rank_of": "ann", "equals": 1, "period": "week"},  # wrong: a new week, Ann has no referral in it
            {"rank_of": "bob", "equals": 1, "period": "week", "entry_point": "nowhere"},
            {"rank_of": "bob", "equals": 1, "period": "year"},
        ]},
    ]}
    clock = SimulatedClock(MONDAY)
    with Runtime(database, clock=clock) as runtime:
        report = run_scenario(runtime, clock, scenario)
    assert [step.failures for step in report.steps[:5]] == [[]] * 5
    assert report.steps[5].failures == [
        "expected ann's rank this week to be 1, got not on the board",
        "there is no entry point with the ref 'nowhere'",
        "'year' is not a leaderboard period; use week, month or all",
    ]


def test_the_simulator_trace_says_where_the_contact_stands(runtime: Runtime, database: Database,
                                                          clock: Clock) -> None:
    ann = open_as(runtime, "ann", "m.me/1?ref=giveaway2025", "Ann").contact_id
    refer(runtime, ann, 2)
    with Runtime(database, clock=clock, trace=True) as simulator:
        board = open_as(simulator, "ann", "m.me/1?ref=board", "Ann")
    [step] = [step for step in board.trace if step["kind"] == "referral_board"]
    assert (step["contact_id"], step["entry_point_id"], step["period"], step["rank"], step["count"]) == (
        ann, 1, "this week", 1, 2)
