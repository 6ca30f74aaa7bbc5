"""The one place that knows graph structure: a flow as a networkx graph (or, for validation, as the plain parts of
one), the workspace's cause-and-effect graph of flows and triggers, reachability, the next node, and loops that never
wait for the contact."""

from collections.abc import Container, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import networkx as nx

from runtime.actions import ACTION_TYPES
from runtime.flowdoc import FlowDocument, FlowEdge, FlowNode, paused_gc
from runtime.node_types import NODE_TYPES

FIELD_WRITERS = ("set_field", "ask", "json_get", "give_coupon")  # node types that save into data["field_id"]
TAG_NODE_EVENTS = {"add": "tag_added", "remove": "tag_removed"}
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
    `graph.graph["next"]` maps (node id, exit) to the connection that exit follows, for next_edge; change the graph
    and it is stale."""
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


@dataclass(frozen=True)
class TakenEdge:
    """The connection a run follows out of `source` through exit `handle`: what the simulator's trace records and
    the canvas lights."""

    id: str
    source: str
    target: str
    handle: str


def next_edge(graph: nx.MultiDiGraph, node_id: str, handle: str) -> TakenEdge | None:
    """The connection the flow follows when it leaves `node_id` (in a graph from flow_graph) through exit `handle`;
    None when nothing is connected there."""
    return graph.graph["next"].get((node_id, handle))


def next_node(graph: nx.MultiDiGraph, node_id: str, handle: str) -> str | None:
    """Where the flow goes when it leaves `node_id` through exit `handle` (see next_edge)."""
    edge = next_edge(graph, node_id, handle)
    return edge.target if edge is not None else None


def start_nodes(doc: FlowDocument) -> list[str]:
    return [node.id for node in doc.nodes if node.type == "start"]


@dataclass(frozen=True)
class FlowMap:
    """What flow_graph is made of, as plain dicts, sets and lists. `exits` holds each node's exit handles by id, in
    the document's order (None for a node of an unknown type); `waiting` the nodes where a run waits; `starts` the
    start nodes, in order; `followed` the document's connections the engine can follow, in order, and `jumps` the
    (go_to_flow node, start) pairs of jumps back into the same flow; `left_out` the connections flow_graph leaves out;
    `successors` each node's targets in order (a target twice when two connections lead there); `handles` the exit
    handle of every connection leaving each node, left-out ones included. Validation asks its questions of a flow
    here, because building a networkx graph of 20,000 connections alone takes half of the 100 ms that validating such
    a flow may take; only the search for loops builds one, of the few connections that can be on a loop that never
    waits."""

    doc: FlowDocument
    exits: dict[str, list[str] | None]
    waiting: set[str]
    starts: list[str]
    followed: list[FlowEdge]
    jumps: list[tuple[str, str]]
    left_out: list[FlowEdge]
    successors: dict[str, list[str]]
    handles: dict[str, list[str]]

    @cached_property
    def nodes(self) -> dict[str, dict]:
        """Each node's attributes in flow_graph (type, data, waits, exits) by id, in order."""
        exits, waiting = self.exits, self.waiting
        return {node.id: {"type": node.type, "data": node.data, "waits": node.id in waiting, "exits": exits[node.id]}
                for node in self.doc.nodes}

    @property
    def connections(self) -> list[tuple[str, str, str, str, str | None]]:
        """Every edge of flow_graph as (source, target, handle, key, edge id), in order."""
        return [(e.source, e.target, e.source_handle, e.id, e.id) for e in self.followed] + [
            (source, start, JUMP, f"{JUMP}:{source}", None) for source, start in self.jumps]

    def reachable_from(self, starts: Iterable[str]) -> set[str]:
        """What reachable_nodes answers for flow_graph."""
        successors = self.successors
        reached = {node for node in starts if node in successors}
        unexplored = list(reached)
        add, explore = reached.add, unexplored.append
        while unexplored:
            for target in successors[unexplored.pop()]:
                if target not in reached:
                    add(target)
                    explore(target)
        return reached

    def unguarded_cycles(self) -> list[list[str]]:
        """What find_unguarded_cycles answers for flow_graph."""
        moving = _without_waiting_nodes(self.successors.items(), self.waiting)
        return _find_loops(moving, {node: index for index, node in enumerate(self.exits)})


def map_flow(doc: FlowDocument, *, flow_id: int | None = None) -> FlowMap:
    """The nodes and connections of flow_graph(doc, flow_id=flow_id), without the graph. One pass over the nodes and
    one over the connections: validating a 10,000-node flow starts here, so the loops are written for speed."""
    exits: dict[str, list[str] | None] = {}
    waiting: set[str] = set()
    starts: list[str] = []
    jumpers: list[str] = []  # go_to_flow nodes that jump to this same flow
    for node in doc.nodes:
        spec, data = NODE_TYPES.get(node.type), node.data
        if spec is None:
            exits[node.id] = None
            continue
        exits[node.id] = spec.exits(data)
        if spec.waits(data):
            waiting.add(node.id)
        if node.type == "start":
            starts.append(node.id)
        elif node.type == "go_to_flow" and flow_id is not None and data.get("flow_id") == flow_id:
            jumpers.append(node.id)
    successors: dict[str, list[str]] = {node: [] for node in exits}
    handles: dict[str, list[str]] = {node: [] for node in exits}
    followed: list[FlowEdge] = []
    left_out: list[FlowEdge] = []
    for edge in doc.edges:
        source = edge.source
        source_handles = handles.get(source)
        if source_handles is None:
            left_out.append(edge)
            continue
        handle, target = edge.source_handle, edge.target
        source_handles.append(handle)
        source_exits = exits[source]
        if target in exits and (source_exits is None or handle in source_exits):
            followed.append(edge)
            successors[source].append(target)
        else:
            left_out.append(edge)
    jumps = [(jumper, start) for jumper in jumpers for start in starts]
    for source, start in jumps:
        successors[source].append(start)
    return FlowMap(doc, exits, waiting, starts, followed, jumps, left_out, successors, handles)


def _first_targets(graph: nx.MultiDiGraph) -> dict[tuple[str, str], TakenEdge]:
    # An exit with several connections follows the first of them in networkx's order of the node's out-edges
    # (grouped by target), as next_node has always answered.
    targets: dict[tuple[str, str], TakenEdge] = {}
    for source, target, key, handle in graph.edges(keys=True, data="handle"):
        if (source, handle) not in targets:
            targets[source, handle] = TakenEdge(key, source, target, handle)
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
        spec = ACTION_TYPES.get(action.get("type"))  # type: ignore[arg-type]
        for effect, value in spec.effects(action) if spec else ():
            if effect == "start_flow":
                yield from _starts_of(starts, value)
            else:
                yield from _listeners(triggers, effect, value)


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
    """The edges that can be on a loop that never waits, from (node, its successors in order) pairs: those between
    nodes that do not wait, less the ones that lead away from every loop or come from no loop (most of a flow's
    connections, and trimming them is several times quicker than letting networkx look at them)."""
    moving = {source: targets for source, targets in adjacency if source not in waiting}
    looping = _trim(moving)
    graph = nx.DiGraph()
    graph.add_edges_from((source, target) for source in moving if source in looping
                         for target in moving[source] if target in looping)
    return graph


def _trim(successors: dict[Hashable, Iterable]) -> set:
    """The nodes that a loop leads to and that lead to a loop (every node on a loop is one), among the keys of
    `successors` (targets that are not keys are left out): peel off, again and again, the nodes nothing leads into,
    then the nodes that lead nowhere."""
    incoming = dict.fromkeys(successors, 0)
    for targets in successors.values():
        for target in targets:
            if target in incoming:
                incoming[target] += 1
    sources = [node for node, count in incoming.items() if count == 0]
    while sources:
        for target in successors[sources.pop()]:
            if target in incoming:
                incoming[target] -= 1
                if incoming[target] == 0:
                    sources.append(target)
    alive = {node for node, count in incoming.items() if count}
    predecessors: dict[Hashable, list] = {node: [] for node in alive}
    outgoing = dict.fromkeys(alive, 0)
    for source in alive:
        for target in successors.get(source, ()):
            if target in alive:
                predecessors[target].append(source)
                outgoing[source] += 1
    sinks = [node for node, count in outgoing.items() if count == 0]
    while sinks:
        for source in predecessors[sinks.pop()]:
            outgoing[source] -= 1
            if outgoing[source] == 0:
                sinks.append(source)
    return {node for node, count in outgoing.items() if count}


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
