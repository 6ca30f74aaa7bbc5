"""Two admins simulating at once on the app's one sandbox: each action runs the copy of the flows and the seed it was
given, whatever the other admin does meanwhile; and the path the Simulator lights is the one the engine took."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from runtime.opening import Inbound
from runtime.service import RunOptions, Runtime
from runtime.simulator.recording import Recording
from runtime.simulator.sandbox import open_sandbox
from runtime.simulator.simulation import Opener, Simulation, SimulatorBench
from storage.db import Database
from storage.workspace_io import import_workspace

MESSENGER = "https://m.me/1234567890?ref=go"
TELEGRAM = "https://t.me/test_helper_bot?start=go"
COIN = {"branches": [{"id": "heads", "weight": 1}, {"id": "tails", "weight": 1}]}
NOON = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def node(node_id: str, node_type: str, data: dict, x: int = 0) -> dict:
    return {"id": node_id, "type": node_type, "position": {"x": x, "y": 0}, "data": data}


def edge(edge_id: str, source: str, handle: str, target: str) -> dict:
    return {"id": edge_id, "source": source, "source_handle": handle, "target": target}


def coin_flow(greeting: str) -> dict:
    """Greets, then tosses a coin: which side comes up depends on the seed."""
    return {"schema": 1, "nodes": [
        node("start", "start", {}), node("hello", "send_message", {"text": greeting}, 200),
        node("coin", "randomizer", COIN, 400), node("h", "send_message", {"text": "heads"}, 600),
        node("t", "send_message", {"text": "tails"}, 600)],
        "edges": [edge("e1", "start", "next", "hello"), edge("e2", "hello", "next", "coin"),
                  edge("e3", "coin", "heads", "h"), edge("e4", "coin", "tails", "t")]}


def menu_flow() -> dict:
    """Two buttons with one title, both leading to the same thanks."""
    buttons = [{"id": "first", "title": "Yes"}, {"id": "second", "title": "Yes!"}]
    return {"schema": 1, "nodes": [
        node("start", "start", {}), node("menu", "send_message", {"text": "Sure?", "buttons": buttons}, 200),
        node("thanks", "send_message", {"text": "Thanks"}, 400)],
        "edges": [edge("e1", "start", "next", "menu"), edge("by-first", "menu", "first", "thanks"),
                  edge("by-second", "menu", "second", "thanks")]}


def workspace(flow: dict, draft: dict | None = None) -> dict:
    return {"format": "referflow-workspace", "version": 1,
            "settings": {"bot_name": "Test bot", "page_id": "1234567890", "telegram_bot": "test_helper_bot"},
            "fields": [], "tags": [], "triggers": [],
            "flows": [{"id": 1, "name": "Welcome", "draft": draft or flow, "published": flow}],
            "entry_points": [{"id": 1, "name": "Go", "ref": "go", "response_type": "flow", "response_flow_id": 1}]}


@pytest.fixture
def live(database: Database) -> Database:
    with database.write_session() as session:
        import_workspace(session=session, document=workspace(coin_flow("Published hello"),
                                                             draft=coin_flow("Draft hello")))
    return database


@pytest.fixture
def bench(live: Database):
    bench = SimulatorBench.open(live)
    yield bench
    bench.close()


def texts(result) -> list[str]:
    return [message["text"] for message in result.messages]


def both_at_once(*calls):
    """Run the calls in two threads, each with its own arguments, and return their results."""
    with ThreadPoolExecutor(len(calls)) as pool:
        return [future.result(timeout=30) for future in [pool.submit(call) for call in calls]]


def test_two_admins_pressing_open_at_once_each_get_the_copy_they_chose(
        live: Database, bench: SimulatorBench, monkeypatch: pytest.MonkeyPatch) -> None:
    both_pressed = threading.Barrier(2, timeout=10)
    open_link = bench.runtime.open_link

    def open_once_both_pressed(*args, **kwargs):
        both_pressed.wait()  # both admins' actions have been prepared before either reaches the engine
        return open_link(*args, **kwargs)

    monkeypatch.setattr(bench.runtime, "open_link", open_once_both_pressed)
    trying_the_draft = Simulation(live, bench, Recording())
    checking_the_live_bot = Simulation(live, bench, Recording())
    draft, published = both_at_once(
        lambda: trying_the_draft.open(MESSENGER, Opener(name="Ann"), use_draft=True),
        lambda: checking_the_live_bot.open(TELEGRAM, Opener(name="Bob", channel="telegram"), use_draft=False))
    assert draft.people[0].messages[0].text == "Draft hello"
    assert published.people[0].messages[0].text == "Published hello"
    assert "Draft hello" in str(draft.paths[0].document) and "Published hello" in str(published.paths[0].document)
    assert [step.copy for step in trying_the_draft.recording.steps] == ["draft"]
    assert [step.copy for step in checking_the_live_bot.recording.steps] == ["published"]


def test_two_simulations_on_one_runtime_each_run_their_copy_and_seed(live: Database) -> None:
    sandbox = open_sandbox(live)
    people = [f"person-{number}" for number in range(8)]
    draft_a, published_b = RunOptions(use_draft=True, seed="A"), RunOptions(use_draft=False, seed="B")
    with Runtime(sandbox, clock=lambda: NOON, trace=True) as runtime:

        def open_as(person: str, options: RunOptions) -> list[str]:
            return texts(runtime.open_link(Inbound(text="go", channel="messenger", channel_user_id=person), options))

        for person in people:  # each person exists before: the toss depends on the seed, the person and the time
            open_as(person, RunOptions())
        alone = {(person, options): open_as(person, options) for person in people for options in (draft_a,
                                                                                                  published_b)}
        assert any(alone[person, draft_a][1] != alone[person, published_b][1] for person in people)  # seeds matter
        turns = threading.Barrier(2, timeout=10)

        def simulate(options: RunOptions) -> dict[str, list[str]]:
            seen = {}
            for person in people:
                turns.wait()  # the two simulations take turns with the one runtime
                seen[person] = open_as(person, options)
            return seen

        with_a, with_b = both_at_once(lambda: simulate(draft_a), lambda: simulate(published_b))
    sandbox.dispose()
    assert with_a == {person: alone[person, draft_a] for person in people}
    assert with_b == {person: alone[person, published_b] for person in people}
    assert {said[0] for said in with_a.values()} == {"Draft hello"}
    assert {said[0] for said in with_b.values()} == {"Published hello"}


def test_pressing_the_second_of_two_buttons_into_one_node_lights_the_second_connection(database: Database) -> None:
    with database.write_session() as session:
        import_workspace(session=session, document=workspace(menu_flow()))
    bench = SimulatorBench.open(database)
    simulation = Simulation(database, bench, Recording())
    opened = simulation.open(MESSENGER, Opener(name="Ann"), use_draft=True)
    pressed = simulation.reply(opened.people[0].contact.id, "Yes!", pressed=True, use_draft=True)
    bench.close()
    [path] = pressed.paths
    assert [title for _, title, _ in path.steps] == ["Send message", "Send message"]
    assert path.node_ids == ["menu", "thanks"]
    assert path.edges == ["by-second"]
