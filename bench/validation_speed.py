"""Flow validation speed: `validate_flow` on a 10,000-node / 20,000-edge flow against a bare networkx pass over the
same graph (strongly connected components + descendants of the start), both in this process.

The flow mixes every node type the way large bots do (messages with buttons, questions, conditions, field changes,
randomizers, delays), loops back through waiting nodes in many places and holds a few loops that never wait.
Prints a table, `validation 10k nodes: X ms (target < 100 ms)` and `validation/baseline ratio: X.XX`.
"""

import argparse
import gc
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import networkx as nx

from runtime.flowdoc import FlowDocument, load_flow
from runtime.graph import flow_graph
from runtime.node_types import NODE_TYPES
from runtime.validation import WorkspaceIndex, validate_flow

FIELDS, TAGS, ENTRY_POINTS, FLOWS = 20, 5, 3, 3
MIX = {  # node type → share of the flow
    "send_message": 17, "buttons": 25, "ask": 10, "condition": 18, "set_field": 8, "tag": 4, "randomizer": 6,
    "delay": 3, "json_get": 2, "notify_referrer": 2, "send_referral_link": 2, "go_to_flow": 1, "end": 2,
}
UNGUARDED_LOOPS = 3


def main() -> None:
    options = _options()
    rng = random.Random(11)
    raw = build_flow(options.nodes, options.edges, rng)
    index = build_index()
    document = load_flow(raw)
    graph = flow_graph(document)
    timings = best_of(options.rounds, {
        "load_flow (pydantic)": lambda: load_flow(raw),
        "flow_graph (engine's graph)": lambda: flow_graph(document),
        "validate_flow": lambda: validate_flow(1, document, index),
        "validate_flow (stored dict)": lambda: validate_flow(1, raw, index),
        "baseline: SCC + descendants": lambda: run_baseline(graph),
    })
    report(document, validate_flow(1, document, index), timings, options.rounds)


def _options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--edges", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5, help="each step's time is its best of this many runs")
    return parser.parse_args()


# ------------------------------------------------------------------------------------------------ the flow


def build_flow(size: int, edge_count: int, rng: random.Random) -> dict:
    types = ["start", *rng.choices(list(MIX), weights=list(MIX.values()), k=size - 2), "end"]
    loops = [size * (n + 1) // (UNGUARDED_LOOPS + 1) for n in range(UNGUARDED_LOOPS)]
    for position in loops:  # set_field → condition, whose "false" exit goes back: a loop that never waits
        types[position:position + 2] = ["set_field", "condition"]
    nodes = [_node(i, kind, rng) for i, kind in enumerate(types)]
    _add_buttons_until(nodes, edge_count, rng)
    exits = [(i, handle) for i, node in enumerate(nodes) for handle in _exits(node)]
    rng.shuffle(exits)
    planted = {(p + 1, "false"): p for p in loops} | {(p, "next"): p + 1 for p in loops}
    chained = {(i, _exits(node)[0]): i + 1 for i, node in enumerate(nodes[:-1]) if _exits(node)}  # all reachable
    fixed = planted | {exit_: target for exit_, target in chained.items() if exit_ not in planted}
    free = [exit_ for exit_ in exits if exit_ not in fixed][: edge_count - len(fixed)]
    edges = [_edge(n, source, handle, fixed.get((source, handle)), nodes, rng)
             for n, (source, handle) in enumerate(sorted([*fixed, *free]))]
    return {"schema": 1, "nodes": nodes, "edges": edges}


def _node(i: int, kind: str, rng: random.Random) -> dict:
    node_type = "send_message" if kind == "buttons" else kind
    data = NODE_TYPES[node_type].default_data()
    data.update(_settings(kind, rng))
    return {"id": f"n{i}", "type": node_type, "position": {"x": 260 * (i % 40), "y": 160 * (i // 40)}, "data": data}


def _settings(kind: str, rng: random.Random) -> dict:
    field_id = rng.randint(1, FIELDS)
    return {
        "send_message": {"text": "Hello {{first_name}}!"},
        "buttons": {"text": "Pick one", "buttons": [{"id": f"b{k}", "title": f"Option {k}"}
                                                    for k in range(rng.randint(2, 5))]},
        "ask": {"text": "Your email?", "field_id": field_id},
        "condition": {"rules": [{"field_id": field_id, "op": ">=", "value": 3}]},
        "set_field": {"field_id": field_id, "op": "increase", "value": 1},
        "tag": {"tag_id": rng.randint(1, TAGS)},
        "randomizer": {"branches": [{"id": f"r{k}", "weight": 25} for k in range(rng.randint(2, 5))]},
        "json_get": {"source_field_id": field_id, "path": "order.sku", "field_id": rng.randint(1, FIELDS)},
        "notify_referrer": {"text": "{{referred.first_name}} joined!"},
        "send_referral_link": {"entry_point_id": rng.randint(1, ENTRY_POINTS)},
        "go_to_flow": {"flow_id": rng.randint(2, FLOWS)},
    }.get(kind, {})


def _add_buttons_until(nodes: list[dict], edge_count: int, rng: random.Random) -> None:
    with_buttons = [node for node in nodes if node["data"].get("buttons")]
    while sum(len(_exits(node)) for node in nodes) < edge_count:
        buttons = rng.choice(with_buttons)["data"]["buttons"]
        buttons.append({"id": f"b{len(buttons)}", "title": f"Option {len(buttons)}"})


def _exits(node: dict) -> list[str]:
    return NODE_TYPES[node["type"]].exits(node["data"])


def _edge(n: int, source: int, handle: str, planted: int | None, nodes: list[dict], rng: random.Random) -> dict:
    if planted is not None:
        target = planted
    elif NODE_TYPES[nodes[source]["type"]].waits(nodes[source]["data"]) and rng.random() < 0.3:
        target = rng.randint(max(0, source - 30), source)  # "try again" loops through a waiting node
    else:
        target = min(len(nodes) - 1, source + rng.randint(1, 40))
    return {"id": f"e{n}", "source": f"n{source}", "source_handle": handle, "target": f"n{target}"}


def build_index() -> WorkspaceIndex:
    return WorkspaceIndex(
        fields={i: f"field_{i}" for i in range(1, FIELDS + 1)},
        tags={i: f"tag_{i}" for i in range(1, TAGS + 1)},
        entry_points={i: f"ref{i}" for i in range(1, ENTRY_POINTS + 1)},
        flows={i: f"Flow {i}" for i in range(1, FLOWS + 1)},
    )


# ------------------------------------------------------------------------------------------------ measuring


def run_baseline(graph: nx.MultiDiGraph) -> None:
    list(nx.strongly_connected_components(graph))
    nx.descendants(graph, "n0")


def best_of(rounds: int, steps: dict[str, Callable[[], object]]) -> dict[str, float]:
    """Milliseconds per step, the best of `rounds`; the steps take turns so a busy machine slows all of them alike."""
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(rounds):
        for name, work in steps.items():
            gc.collect()
            started = time.perf_counter()
            work()
            times[name].append(time.perf_counter() - started)
    return {name: min(runs) * 1000 for name, runs in times.items()}


def report(document: FlowDocument, issues: list, timings: dict[str, float], rounds: int) -> None:
    codes: dict[str, int] = {}
    for issue in issues:
        codes[issue.code] = codes.get(issue.code, 0) + 1
    print(f"flow: {len(document.nodes):,} nodes, {len(document.edges):,} edges; issues: "
          + ", ".join(f"{code} {count}" for code, count in sorted(codes.items())))
    print(f"{'step':<32}{f'best of {rounds}':>12}")
    for step, milliseconds in timings.items():
        print(f"{step:<32}{milliseconds:>9.1f} ms")
    validation, baseline = timings["validate_flow"], timings["baseline: SCC + descendants"]
    print(f"validation 10k nodes: {validation:.0f} ms (target < 100 ms)")
    print(f"validation/baseline ratio: {validation / baseline:.2f}")


if __name__ == "__main__":
    main()
