"""The graph module: node types' exits and waits, moving through a flow, and loops that never wait."""

import networkx as nx
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from runtime.flowdoc import FlowDocument, load_flow
from runtime.graph import (
    JUMP,
    TriggerDef,
    find_unguarded_cycles,
    flow_graph,
    map_flow,
    next_node,
    reachable_nodes,
    start_nodes,
    workspace_graph,
)
from runtime.node_types import NODE_TYPES

BUTTONS = {"text": "Pick", "buttons": [{"id": "yes", "title": "Yes"}, {"id": "no", "title": "No"}]}
BRANCHES = {"branches": [{"id": "a", "weight": 70}, {"id": "b", "weight": 30}]}


def flow(nodes: dict[str, str | tuple[str, dict]], *edges: str) -> FlowDocument:
    """`nodes` maps id → type or (type, data); each edge is written "source.handle>target"."""
    return load_flow({
        "schema": 1,
        "nodes": [{"id": node_id, "type": kind if isinstance(kind, str) else kind[0],
                   "position": {"x": 0, "y": 0}, "data": {} if isinstance(kind, str) else kind[1]}
                  for node_id, kind in nodes.items()],
        "edges": [{"id": f"e{n}", "source": edge.split(".")[0], "source_handle": edge.split(".")[1].split(">")[0],
                   "target": edge.split(">")[1]} for n, edge in enumerate(edges, 1)],
    })


# --- node types ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("node_type", "data", "exits", "waits"), [
    ("start", {}, ["next"], False),
    ("send_message", {"text": "Hi", "buttons": []}, ["next"], False),
    ("send_message", BUTTONS, ["yes", "no"], True),
    ("ask", {"text": "Email?", "field_id": 2}, ["next"], True),
    ("condition", {"match": "all", "rules": []}, ["true", "false"], False),
    ("set_field", {"field_id": 1, "op": "increase", "value": 1}, ["next"], False),
    ("tag", {"tag_id": 1, "op": "add"}, ["next"], False),
    ("send_referral_link", {"entry_point_id": 1, "text": "{{link}}"}, ["next"], False),
    ("notify_referrer", {"text": "Your friend joined"}, ["next"], False),
    ("json_get", {"source_field_id": 3, "path": "plan", "field_id": 2}, ["next"], False),
    ("go_to_flow", {"flow_id": 2}, [], False),
    ("delay", {"seconds": 60}, ["next"], True),
    ("randomizer", BRANCHES, ["a", "b"], False),
    ("end", {}, [], False),
    ("my_referrals", {"limit": 10, "text": "{{referrals.list}}"}, ["next"], False),
    ("leaderboard", {"period": "week", "limit": 5, "text": "{{referrals.top}}"}, ["next"], False),
])
def test_every_node_type_knows_its_exits_and_whether_it_waits(node_type, data, exits, waits):
    spec = NODE_TYPES[node_type]
    assert (spec.exits(data), spec.waits(data)) == (exits, waits)


def test_the_catalogue_holds_every_node_type_with_a_title_an_icon_and_fresh_defaults():
    assert set(NODE_TYPES) == {"start", "send_message", "ask", "condition", "set_field", "tag", "send_referral_link",
                               "notify_referrer", "json_get", "go_to_flow", "delay", "randomizer", "end",
                               "give_coupon", "my_referrals", "leaderboard"}
    for spec in NODE_TYPES.values():
        assert spec.title and spec.icon
        assert spec.default_data() is not spec.default_data()


# --- one flow --------------------------------------------------------------------------------------------------------

MENU = flow({"start": "start", "menu": ("send_message", BUTTONS), "thanks": ("send_message", {"text": "Thanks"}),
             "bye": "end"},
            "start.next>menu", "menu.yes>thanks", "menu.no>bye", "thanks.next>bye")


def test_flow_graph_keeps_each_nodes_type_data_and_waiting_and_each_edges_handle_and_id():
    graph = flow_graph(MENU)
    assert isinstance(graph, nx.MultiDiGraph)
    assert graph.nodes["menu"]["type"] == "send_message" and graph.nodes["menu"]["waits"] is True
    assert graph.nodes["thanks"]["data"] == {"text": "Thanks"} and graph.nodes["thanks"]["waits"] is False
    assert list(graph.edges("menu", data=True)) == [("menu", "thanks", {"handle": "yes", "id": "e2"}),
                                                     ("menu", "bye", {"handle": "no", "id": "e3"})]


@pytest.mark.parametrize(("node_id", "handle", "expected"), [
    ("start", "next", "menu"),
    ("menu", "yes", "thanks"),
    ("menu", "no", "bye"),
    ("menu", "maybe", None),
    ("bye", "next", None),
    ("nowhere", "next", None),
])
def test_next_node_follows_the_exit_the_engine_takes(node_id, handle, expected):
    assert next_node(flow_graph(MENU), node_id, handle) == expected


def test_the_graph_carries_where_each_exit_leads_so_next_node_is_one_lookup():
    assert flow_graph(MENU).graph["next"] == {("start", "next"): "menu", ("menu", "yes"): "thanks",
                                              ("menu", "no"): "bye", ("thanks", "next"): "bye"}


def test_an_exit_connected_twice_leads_where_its_first_connection_goes():
    doc = flow({"start": "start", "a": "end", "b": "end"}, "start.next>a", "start.next>b")
    assert next_node(flow_graph(doc), "start", "next") == "a"


def test_connections_the_engine_can_never_follow_are_left_out_of_the_graph():
    doc = flow({"start": "start", "end": "end", "odd": ("mystery", {})},
               "start.next>end", "start.next>gone", "ghost.next>end", "end.next>start", "odd.whatever>end")
    assert sorted(flow_graph(doc).edges(data="handle")) == [("odd", "end", "whatever"), ("start", "end", "next")]


def test_map_flow_holds_the_graphs_nodes_and_the_connections_it_leaves_out():
    doc = flow({"start": "start", "end": "end"},
               "start.next>end", "start.next>gone", "ghost.next>end", "end.next>start")
    flow_map = map_flow(doc)
    assert flow_map.nodes == dict(flow_graph(doc).nodes(data=True))
    assert [edge.id for edge in flow_map.left_out] == ["e2", "e3", "e4"]


def test_start_nodes_and_reachable_nodes():
    doc = flow({"start": "start", "a": ("notify_referrer", {"text": "x"}), "b": "end", "orphan": "end"},
               "start.next>a", "a.next>b")
    assert start_nodes(doc) == ["start"]
    assert reachable_nodes(flow_graph(doc), "start") == {"start", "a", "b"}
    assert reachable_nodes(flow_graph(doc), ["a", "orphan"]) == {"a", "b", "orphan"}


def test_a_flow_id_adds_the_jump_back_to_its_own_start_so_the_loop_is_visible():
    doc = flow({"start": "start", "again": ("go_to_flow", {"flow_id": 1})}, "start.next>again")
    assert find_unguarded_cycles(flow_graph(doc)) == []
    assert find_unguarded_cycles(flow_graph(doc, flow_id=1)) == [["start", "again"]]
    assert find_unguarded_cycles(flow_graph(doc, flow_id=2)) == []


KINDS = [("start", {}), ("send_message", {"text": "Hi"}), ("send_message", BUTTONS), ("ask", {"field_id": 1}),
         ("condition", {"rules": []}), ("set_field", {"field_id": 1}), ("delay", {"seconds": 5}),
         ("randomizer", BRANCHES), ("go_to_flow", {"flow_id": 1}), ("end", {}), ("mystery", {})]
HANDLES = ["next", "true", "false", "yes", "no", "a", "b", JUMP]


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 10).flatmap(lambda n: st.tuples(
    st.lists(st.sampled_from(KINDS), min_size=n, max_size=n),
    st.lists(st.tuples(st.integers(0, n), st.sampled_from(HANDLES), st.integers(0, n)), max_size=3 * n))))
@example(([("send_message", BUTTONS), ("end", {}), ("end", {})], [(0, "yes", 1), (0, "no", 2), (0, "no", 1)]))
def test_map_flow_and_next_node_answer_what_the_networkx_graph_answers(case):
    kinds, wiring = case  # node n{len(kinds)} does not exist
    doc = flow({f"n{i}": kind for i, kind in enumerate(kinds)}, *(f"n{s}.{h}>n{t}" for s, h, t in wiring))
    graph, flow_map, starts = flow_graph(doc, flow_id=1), map_flow(doc, flow_id=1), start_nodes(doc)
    assert flow_map.reachable_from(starts) == reachable_nodes(graph, starts)
    assert flow_map.unguarded_cycles() == find_unguarded_cycles(graph)
    # against networkx alone, on the whole graph: one loop inside each group of nodes that can run each other
    moving = nx.DiGraph(graph.subgraph(node for node, waits in graph.nodes(data="waits") if not waits))
    groups = [group for group in nx.strongly_connected_components(moving)
              if len(group) > 1 or moving.has_edge(*[*group] * 2)]
    loops = flow_map.unguarded_cycles()
    assert len(loops) == len(groups)
    assert all(sum(set(loop) <= group for group in groups) == 1 for loop in loops)
    assert all(moving.has_edge(a, b) for loop in loops for a, b in zip(loop, loop[1:] + loop[:1], strict=True))
    for node in graph:
        for handle in HANDLES:
            first = next((target for _, target, h in graph.out_edges(node, data="handle") if h == handle), None)
            assert next_node(graph, node, handle) == first


# --- loops -----------------------------------------------------------------------------------------------------------

BUMP = ("set_field", {"field_id": 1, "op": "increase", "value": 1})
CHECK = ("condition", {"rules": [{"field_id": 1, "op": "<", "value": 3}]})


@pytest.mark.parametrize(("nodes", "edges", "cycles"), [
    pytest.param({"start": "start", "end": "end"}, ["start.next>end"], [], id="straight line"),
    pytest.param({"start": "start", "bump": BUMP}, ["start.next>bump", "bump.next>bump"], [["bump"]], id="self loop"),
    pytest.param({"start": "start", "bump": BUMP, "check": CHECK},
                 ["start.next>bump", "bump.next>check", "check.true>bump"], [["bump", "check"]], id="condition loop"),
    pytest.param({"start": "start", "ask": ("ask", {"field_id": 1}), "check": CHECK},
                 ["start.next>ask", "ask.next>check", "check.false>ask"], [], id="ask loop waits"),
    pytest.param({"start": "start", "menu": ("send_message", BUTTONS), "bump": BUMP},
                 ["start.next>menu", "menu.yes>bump", "bump.next>menu"], [], id="buttons loop waits"),
    pytest.param({"start": "start", "wait": ("delay", {"seconds": 5}), "check": CHECK},
                 ["start.next>wait", "wait.next>check", "check.true>wait"], [], id="delay loop waits"),
    pytest.param({"start": "start", "wait": ("delay", {"seconds": 5}), "wait2": ("delay", {"seconds": 5})},
                 ["start.next>wait", "wait.next>wait2", "wait2.next>wait"], [], id="delays waiting on each other"),
    pytest.param({"start": "start", "coin": ("randomizer", BRANCHES), "one": BUMP, "two": BUMP, "three": CHECK},
                 ["start.next>coin", "coin.a>one", "one.next>one", "coin.b>two", "two.next>three", "three.true>two"],
                 [["one"], ["two", "three"]], id="two separate loops"),
    pytest.param({"start": "start", "ask": ("ask", {"field_id": 1}), "bump": BUMP, "check": CHECK},
                 ["start.next>ask", "ask.next>bump", "bump.next>check", "check.true>ask", "check.false>bump"],
                 [["bump", "check"]], id="a loop that never waits inside one that does"),
])
def test_find_unguarded_cycles_reports_one_loop_per_group_that_never_waits(nodes, edges, cycles):
    assert find_unguarded_cycles(flow_graph(flow(nodes, *edges))) == cycles


def test_a_dense_tangle_is_one_problem_and_does_not_enumerate_every_loop():
    graph = nx.complete_graph(60, create_using=nx.DiGraph)  # simple cycles: more than atoms in the universe
    nx.set_node_attributes(graph, False, "waits")
    (cycle,) = find_unguarded_cycles(graph)
    assert cycle[0] == 0 and all(graph.has_edge(a, b) for a, b in zip(cycle, cycle[1:] + cycle[:1], strict=True))


@settings(max_examples=150, deadline=None)
@given(st.integers(2, 12).flatmap(lambda n: st.tuples(
    st.lists(st.booleans(), min_size=n, max_size=n),
    st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=3 * n))))
def test_reported_loops_are_real_and_nothing_else_loops_without_waiting(case):
    waits, edges = case
    graph = nx.DiGraph(edges)
    graph.add_nodes_from(range(len(waits)))
    nx.set_node_attributes(graph, dict(enumerate(waits)), "waits")
    cycles = find_unguarded_cycles(graph)
    for cycle in cycles:
        assert not any(waits[node] for node in cycle)
        assert all(graph.has_edge(a, b) for a, b in zip(cycle, cycle[1:] + cycle[:1], strict=True))
    moving = nx.DiGraph((a, b) for a, b in edges if not waits[a])
    moving.add_nodes_from(range(len(waits)))
    assert len(cycles) == sum(1 for group in nx.strongly_connected_components(moving) if loops_inside(moving, group))


def loops_inside(graph: nx.DiGraph, group: set) -> bool:
    return len(group) > 1 or any(graph.has_edge(node, node) for node in group)


# --- the workspace ---------------------------------------------------------------------------------------------------

def trigger(trigger_id: int, event: str, *actions: dict, **filters) -> TriggerDef:
    return TriggerDef.from_dict({"id": trigger_id, "name": f"T{trigger_id}", "event": event, "actions": list(actions),
                                 **filters})


SET_POINTS = {"type": "set_field", "field_id": 1, "op": "increase", "value": 1}
BUMPER = flow({"start": "start", "bump": BUMP, "end": "end"}, "start.next>bump", "bump.next>end")


@pytest.mark.parametrize(("source", "targets", "listening"), [
    pytest.param(BUMP, True, trigger(1, "field_changed", field_id=1), id="set_field feeds its field"),
    pytest.param(BUMP, True, trigger(1, "field_changed"), id="set_field feeds any-field triggers"),
    pytest.param(BUMP, False, trigger(1, "field_changed", field_id=2), id="not another field"),
    pytest.param(BUMP, False, trigger(1, "field_changed", field_id=1, enabled=False), id="not a disabled trigger"),
    pytest.param(("ask", {"field_id": 1}), True, trigger(1, "field_changed", field_id=1), id="ask saves a field"),
    pytest.param(("json_get", {"field_id": 1}), True, trigger(1, "field_changed"), id="json_get saves a field"),
    pytest.param(("tag", {"tag_id": 4, "op": "add"}), True, trigger(1, "tag_added", tag_id=4), id="tag add"),
    pytest.param(("tag", {"tag_id": 4, "op": "add"}), False, trigger(1, "tag_removed", tag_id=4), id="add not remove"),
    pytest.param(("tag", {"tag_id": 4, "op": "remove"}), True, trigger(1, "tag_removed"), id="tag remove"),
    pytest.param(("notify_referrer", {"text": "x"}), False, trigger(1, "field_changed"), id="no change"),
])
def test_a_node_that_changes_a_field_or_tag_feeds_the_triggers_listening_for_it(source, targets, listening):
    doc = flow({"start": "start", "step": source}, "start.next>step")
    graph = workspace_graph({1: doc}, [listening])
    assert graph.has_edge(("node", 1, "step"), ("trigger", 1)) is targets


def test_go_to_flow_and_start_flow_lead_to_the_target_flows_start():
    jumper = flow({"start": "start", "jump": ("go_to_flow", {"flow_id": 2})}, "start.next>jump")
    starter = trigger(7, "contact_created", {"type": "start_flow", "flow_id": 2}, {"type": "start_flow", "flow_id": 9})
    graph = workspace_graph({1: jumper, 2: BUMPER}, [starter])
    assert set(graph.successors(("node", 1, "jump"))) == {("node", 2, "start")}
    assert set(graph.successors(("trigger", 7))) == {("node", 2, "start")}
    assert graph.nodes[("node", 2, "bump")]["flow_id"] == 2 and graph.nodes[("trigger", 7)]["name"] == "T7"


@pytest.mark.parametrize(("flows", "triggers", "cycles"), [
    pytest.param({1: BUMPER}, [trigger(1, "field_changed", SET_POINTS, field_id=1)],
                 [[("trigger", 1)]], id="a trigger on X that changes X"),
    pytest.param({1: BUMPER}, [trigger(1, "field_changed", {"type": "start_flow", "flow_id": 1}, field_id=1)],
                 [[("trigger", 1), ("node", 1, "start"), ("node", 1, "bump")]],
                 id="a flow that changes X, started on X"),
    pytest.param({}, [trigger(1, "tag_added", {"type": "remove_tag", "tag_id": 4}, tag_id=4),
                      trigger(2, "tag_removed", {"type": "add_tag", "tag_id": 4})],
                 [[("trigger", 1), ("trigger", 2)]], id="two triggers undoing each other"),
    pytest.param({1: flow({"start": "start", "go": ("go_to_flow", {"flow_id": 2})}, "start.next>go"),
                  2: flow({"start": "start", "back": ("go_to_flow", {"flow_id": 1})}, "start.next>back")}, [],
                 [[("node", 1, "start"), ("node", 1, "go"), ("node", 2, "start"), ("node", 2, "back")]],
                 id="two flows jumping to each other"),
    pytest.param({1: flow({"start": "start", "ask": ("ask", {"field_id": 1})}, "start.next>ask")},
                 [trigger(1, "field_changed", {"type": "start_flow", "flow_id": 1}, field_id=1)], [],
                 id="the question waits"),
])
def test_workspace_loops_across_flows_and_triggers(flows, triggers, cycles):
    assert find_unguarded_cycles(workspace_graph(flows, triggers)) == cycles


def test_trigger_def_reads_the_workspace_format_with_its_defaults():
    assert TriggerDef.from_dict({"id": 3, "name": "Reward", "event": "referred_new_contact"}) == TriggerDef(
        id=3, name="Reward", event="referred_new_contact", field_id=None, tag_id=None, entry_point_id=None,
        actions=(), enabled=True)
