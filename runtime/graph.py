"""The one place that knows graph structure: a flow as a networkx graph (or, for validation, as the plain parts of
one), the workspace's cause-and-effect graph of flows and triggers, reachability, the next node, and loops that never
wait for the contact."""

from collections.abc import Container, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import networkx as nx

from runtime.flowdoc import NODE_TYPES, FlowDocument, FlowEdge, FlowNode, paused_gc

FIELD_WRITERS = ("set_field", "ask", "json_get")  # node types that save into data["field_id"]
TAG_NODE_EVENTS = {"add": "tag_added", "remove": "tag_removed"}
TAG_ACTION_EVENTS = {"add_tag": "tag_added", "remove_tag": "tag_removed"}
JUMP = "jump"  # handle of the edge from a go_to_flow node back to its own flow's start (see flow_graph)


@dataclass(frozen=True)
class TriggerDef:
    id: int
    name: str
    event: str
    field_id: int | None = None
    tag_id: int | None = None
    entry_point_id: int | None = None
    actions: tuple[dict, ...] = ()
    enabled: bool = True

    @classmethod
    def from_dict(cls, obj: Mapping) -> "TriggerDef":
        """A trigger in the workspace format; `id` is required, everything else takes the format's default."""
        actions = obj.get("actions")
        return cls(
            id=obj["id"],
            name=str(obj.get("name") or f"Trigger {obj['id']}"),
            event=str(obj.get("event") or ""),
            field_id=obj.get("field_id"),
            tag_id=obj.get("tag_id"),
            entry_point_id=obj.get("entry_point_id"),
            actions=tuple(a for a in actions if isinstance(a, dict)) if isinstance(actions, list) else (),
            enabled=bool(obj.get("enabled", True)),
        )

    def listens_to(self, event: str, value: object) -> bool:
        """Whether this trigger fires when `event` happens to field or tag `value`."""
        if not self.enabled or self.event != event:
            return False
        wanted = self.field_id if event == "field_changed" else self.tag_id
        return wanted is None or wanted == value


def flow_graph(doc: FlowDocument, *, flow_id: int | None = None) -> nx.MultiDiGraph:
    """Nodes keyed by node id (attributes type, data, waits, and exits: the node's exit handles, None for an unknown
    type); one edge per connection the engine can follow (attributes handle, id; keyed by the edge id). Connections
    to or from missing nodes, and from an exit the node does not have, are left out. With `flow_id`, a go_to_flow node
    that jumps to this same flow also gets an edge (handle JUMP) to the start, so a loop through it is a cycle.
    `graph.graph["next"]` maps (node id, exit) to the node that exit leads to, for next_node; change the graph and
    it is stale."""
    with paused_gc():
        flow_map = map_flow(doc, flow_id=flow_id)
        graph = nx.MultiDiGraph()
        graph.add_nodes_from(flow_map.nodes)
        nx.set_node_attributes(graph, flow_map.nodes)  # a third quicker than adding (node, attributes) pairs
        add_edge = graph.add_edge  # one call per edge: add_edges_from costs a third more
        for source, target, handle, key, edge_id in flow_map.connections:
            add_edge(source, target, key, handle=handle, id=edge_id)
        graph.graph["next"] = _first_targets(graph)
    return graph


def next_node(graph: nx.MultiDiGraph, node_id: str, handle: str) -> str | None:
    """Where the flow goes when it leaves `node_id` (in a graph from flow_graph) through exit `handle`; None when
    nothing is connected there."""
    return graph.graph["next"].get((node_id, handle))


def start_nodes(doc: FlowDocument) -> list[str]:
    return [node.id for node in doc.nodes if node.type == "start"]


@dataclass(frozen=True)
class FlowMap:
    """What flow_graph is made of, as plain dicts and tuples: `nodes` holds each node's attributes by id, `connections`
    each edge as (source, target, handle, key, edge id), both in order; `left_out` the document's connections that
    flow_graph leaves out. Validation asks its questions of a flow here, because building a networkx graph of 20,000
    connections alone takes half of the 100 ms that validating such a flow may take; only the search for loops builds
    one, of the far fewer connections between nodes that do not wait."""

    nodes: dict[str, dict]
    connections: list[tuple[str, str, str, str, str | None]]
    left_out: list[FlowEdge]

    @cached_property
    def successors(self) -> dict[str, list[str]]:
        """Node id → the targets of its connections, in order (a target twice when two connections lead there)."""
        successors: dict[str, list[str]] = {node: [] for node in self.nodes}
        for source, target, _, _, _ in self.connections:
            successors[source].append(target)
        return successors

    def reachable_from(self, starts: Iterable[str]) -> set[str]:
        """What reachable_nodes answers for flow_graph."""
        successors = self.successors
        reached = {node for node in starts if node in successors}
        unexplored = list(reached)
        while unexplored:
            for target in successors[unexplored.pop()]:
                if target not in reached:
                    reached.add(target)
                    unexplored.append(target)
        return reached

    def unguarded_cycles(self) -> list[list[str]]:
        """What find_unguarded_cycles answers for flow_graph."""
        waiting = {node for node, attributes in self.nodes.items() if attributes["waits"]}
        moving = _without_waiting_nodes(self.successors.items(), waiting)
        return _find_loops(moving, {node: index for index, node in enumerate(self.nodes)})


def map_flow(doc: FlowDocument, *, flow_id: int | None = None) -> FlowMap:
    """The nodes and connections of flow_graph(doc, flow_id=flow_id), without the graph."""
    nodes = {node.id: _node_attributes(node) for node in doc.nodes}
    connections, left_out = [], []
    for edge in doc.edges:
        if edge.target in nodes and _has_exit(nodes.get(edge.source), edge.source_handle):
            connections.append((edge.source, edge.target, edge.source_handle, edge.id, edge.id))
        else:
            left_out.append(edge)
    if flow_id is not None:
        connections += _self_jumps(doc, flow_id)
    return FlowMap(nodes, connections, left_out)


def _node_attributes(node: FlowNode) -> dict:
    spec = NODE_TYPES.get(node.type)
    if spec is None:
        return {"type": node.type, "data": node.data, "waits": False, "exits": None}
    return {"type": node.type, "data": node.data, "waits": spec.waits(node.data), "exits": spec.exits(node.data)}


def _has_exit(attributes: dict | None, handle: str) -> bool:
    return attributes is not None and (attributes["exits"] is None or handle in attributes["exits"])


def _self_jumps(doc: FlowDocument, flow_id: int) -> list[tuple[str, str, str, str, None]]:
    starts = start_nodes(doc)
    return [(node.id, start, JUMP, f"{JUMP}:{node.id}", None) for node in doc.nodes
            if node.type == "go_to_flow" and node.data.get("flow_id") == flow_id for start in starts]


def _first_targets(graph: nx.MultiDiGraph) -> dict[tuple[str, str], str]:
    # An exit with several connections leads where the first of them leads in networkx's order of the node's
    # out-edges (grouped by target), as next_node has always answered.
    targets: dict[tuple[str, str], str] = {}
    for source, target, handle in graph.edges(data="handle"):
        targets.setdefault((source, handle), target)
    return targets


def reachable_nodes(graph: nx.DiGraph | nx.MultiDiGraph, start: Hashable | Iterable[Hashable]) -> set:
    """Every node a run can reach from `start` (one node, or several), the starts included."""
    starts = [start] if isinstance(start, str) or start in graph else list(start)  # type: ignore[call-overload]
    reached = {node for node in starts if node in graph}
    for node in list(reached):
        reached |= nx.descendants(graph, node)
    return reached


# ------------------------------------------------------------------------------------------------ the workspace


def workspace_graph(flows: Mapping[int, FlowDocument], triggers: Sequence[TriggerDef]) -> nx.DiGraph:
    """Everything that can make something else run: ("node", flow_id, node_id) for every flow node and
    ("trigger", trigger_id) for every trigger. Edges: a flow's own connections; go_to_flow to the target flow's start;
    a field or tag change (by a node or a trigger action) to every enabled trigger listening for it; a trigger's
    start_flow action to that flow's start. Attribute `waits` marks nodes where a run pauses for the contact."""
    graph = nx.DiGraph()
    for trigger in triggers:
        graph.add_node(("trigger", trigger.id), name=trigger.name, waits=False, enabled=trigger.enabled)
    starts = {flow_id: [("node", flow_id, start) for start in start_nodes(doc)] for flow_id, doc in flows.items()}
    for flow_id, doc in flows.items():
        _add_flow(graph, flow_id, doc)
    for flow_id, doc in flows.items():
        for node in doc.nodes:
            source = ("node", flow_id, node.id)
            graph.add_edges_from((source, target) for target in _node_effects(node, starts, triggers))
    for trigger in triggers:
        source = ("trigger", trigger.id)
        graph.add_edges_from((source, target) for target in _action_effects(trigger, starts, triggers))
    return graph


def _add_flow(graph: nx.DiGraph, flow_id: int, doc: FlowDocument) -> None:
    inner = map_flow(doc)
    graph.add_nodes_from((("node", flow_id, node), {**attrs, "flow_id": flow_id})
                         for node, attrs in inner.nodes.items())
    graph.add_edges_from((("node", flow_id, source), ("node", flow_id, target), {"handle": handle})
                         for source, target, handle, _, _ in inner.connections)


def _node_effects(node: FlowNode, starts: Mapping[int, list], triggers: Sequence[TriggerDef]) -> Iterator[tuple]:
    data = node.data
    if node.type == "go_to_flow":
        yield from _starts_of(starts, data.get("flow_id"))
    elif node.type in FIELD_WRITERS:
        yield from _listeners(triggers, "field_changed", data.get("field_id"))
    elif node.type == "tag" and data.get("op") in TAG_NODE_EVENTS:
        yield from _listeners(triggers, TAG_NODE_EVENTS[data["op"]], data.get("tag_id"))


def _action_effects(trigger: TriggerDef, starts: Mapping[int, list], triggers: Sequence[TriggerDef]) -> Iterator:
    for action in trigger.actions:
        kind = action.get("type")
        if kind == "start_flow":
            yield from _starts_of(starts, action.get("flow_id"))
        elif kind == "set_field":
            yield from _listeners(triggers, "field_changed", action.get("field_id"))
        elif kind in TAG_ACTION_EVENTS:
            yield from _listeners(triggers, TAG_ACTION_EVENTS[kind], action.get("tag_id"))


def _starts_of(starts: Mapping[int, list], flow_id: object) -> list:
    return starts.get(flow_id, []) if isinstance(flow_id, int) else []


def _listeners(triggers: Sequence[TriggerDef], event: str, value: object) -> Iterator[tuple]:
    if value is not None:
        yield from (("trigger", trigger.id) for trigger in triggers if trigger.listens_to(event, value))


# ------------------------------------------------------------------------------------------------ loops


def find_unguarded_cycles(graph: nx.DiGraph | nx.MultiDiGraph) -> list[list]:
    """One example loop (its nodes in order) per group of nodes that can keep running each other without ever
    waiting for the contact. Loops through a waiting node are fine, so the waiting nodes' exits are ignored. Works on
    flow_graph and workspace_graph alike; results follow the graph's node order."""
    waiting = {node for node, waits in graph.nodes(data="waits") if waits}
    moving = _without_waiting_nodes(graph.adjacency(), waiting)
    return _find_loops(moving, {node: index for index, node in enumerate(graph)})


def _without_waiting_nodes(adjacency: Iterable[tuple[Hashable, Iterable]], waiting: Container) -> nx.DiGraph:
    """The edges between nodes that do not wait, from (node, its successors in order) pairs: a loop that never waits
    uses only these, and a node left without any edge cannot be on one."""
    moving = nx.DiGraph()
    moving.add_edges_from((source, target) for source, targets in adjacency if source not in waiting
                          for target in targets if target not in waiting)
    return moving


def _find_loops(moving: nx.DiGraph, order: Mapping) -> list[list]:
    cycles = []
    for component in _looping_components(moving):
        first = min(component, key=order.__getitem__)
        cycles.append(_rotate_to_earliest(_find_loop(moving, component, first), order))
    return sorted(cycles, key=lambda loop: order[loop[0]])


def _looping_components(graph: nx.DiGraph) -> Iterator[set]:
    for component in nx.strongly_connected_components(graph):
        node = next(iter(component))
        if len(component) > 1 or graph.has_edge(node, node):
            yield component


def _find_loop(graph: nx.DiGraph, component: set, first: Hashable) -> list:
    # A graph of its own rather than a subgraph view: a view may list a node's successors in set order, and the loop
    # found would then change from one run to the next.
    inside = nx.DiGraph([(source, target) for source, target in graph.edges(component) if target in component])
    return [source for source, _ in nx.find_cycle(inside, source=first)]


def _rotate_to_earliest(loop: list, order: Mapping) -> list:
    start = min(range(len(loop)), key=lambda index: order[loop[index]])
    return loop[start:] + loop[:start]
