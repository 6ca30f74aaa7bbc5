"""The flow canvas as a NiceGUI element (Vue Flow, bundled by `make assets` into assets/dist/flow_canvas.js), the
view it draws of a flow document, and the edits the canvas asks for, applied to the document of record in Python.

The canvas draws what `show` sends and reports what the admin does: nodes dropped from the palette, moved, deleted,
connected, selected. Nothing changes structurally until Python applies the edit and shows the result."""

import copy
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from nicegui import ui
from typing_extensions import Self

from runtime.flowdoc import NODE_TYPES, Names
from runtime.validation import ERROR, ValidationIssue

BUNDLE = Path(__file__).resolve().parents[1] / "assets" / "dist" / "flow_canvas.js"
NODE_MIME = "application/x-referflow-node"  # the palette's dataTransfer type, as in flow_canvas.js
NUDGE = 30  # a new node that would sit on another moves this far right and down


def canvas_is_built() -> bool:
    return BUNDLE.is_file()


class FlowCanvas(ui.element, component=BUNDLE):
    """Python API: `show(nodes, edges)`, `focus_node(id)`, `fit_view()`, `new_node_at`; events through `on_*`."""

    def __init__(self, *, editable: bool = True) -> None:
        super().__init__()
        self._props["nodes"] = []
        self._props["edges"] = []
        self._props["editable"] = editable
        self._shown: dict[str, dict] = {}
        self.new_node_at: dict[str, int] | None = None  # top-left for a node in the middle of the visible area
        self.on("viewport", self._remember_viewport)

    def show(self, nodes: list[dict], edges: list[dict]) -> None:
        """Draw these nodes and edges; after the first time only what changed travels to the browser."""
        shown, edges_before = self._shown, self._props["edges"]
        self._shown = {node["id"]: node for node in nodes}
        self._props["nodes"], self._props["edges"] = nodes, edges
        if not shown:
            self.update()
            return
        patch = {"nodes": [node for node in nodes if shown.get(node["id"]) != node],
                 "removed": [node_id for node_id in shown if node_id not in self._shown],
                 "edges": edges if edges != edges_before else None}
        if patch["nodes"] or patch["removed"] or patch["edges"] is not None:
            self.run_method("applyGraph", patch)

    def focus_node(self, node_id: str) -> None:
        """Select the node and bring it to the middle of the canvas."""
        self.run_method("focusNode", node_id)

    def fit_view(self) -> None:
        self.run_method("fitView")

    def on_node_dropped(self, handler: Callable[[str, dict], Any]) -> Self:
        """`handler(node_type, position)` when a palette item is dropped on the canvas."""
        return self.on("node_dropped", lambda e: handler(e.args["type"], {"x": e.args["x"], "y": e.args["y"]}))

    def on_nodes_moved(self, handler: Callable[[list[dict]], Any]) -> Self:
        """`handler([{"id", "x", "y"}, ...])` when a drag ends."""
        return self.on("nodes_moved", lambda e: handler(e.args["moves"]))

    def on_connected(self, handler: Callable[[str, str, str], Any]) -> Self:
        """`handler(source, source_handle, target)` when the admin drags an exit onto a node."""
        return self.on("connected", lambda e: handler(e.args["source"], e.args["source_handle"], e.args["target"]))

    def on_deleted(self, handler: Callable[[list[str], list[str]], Any]) -> Self:
        """`handler(node_ids, edge_ids)` when the admin presses Delete on a selection."""
        return self.on("deleted", lambda e: handler(e.args.get("nodes", []), e.args.get("edges", [])))

    def on_selected(self, handler: Callable[[list[str], list[str]], Any]) -> Self:
        """`handler(node_ids, edge_ids)` whenever the selection changes."""
        return self.on("selected", lambda e: handler(e.args.get("nodes", []), e.args.get("edges", [])))

    def _remember_viewport(self, event: Any) -> None:
        self.new_node_at = event.args.get("new_node_at")


# ---------------------------------------------------------------------------------------------- the view


def canvas_view(document: Mapping, names: Names, problems: Iterable[ValidationIssue] = (),
                lit: Iterable[str] = ()) -> tuple[list[dict], list[dict]]:
    """Vue Flow nodes and edges for a flow document: each node with its icon, title, summary, exits (labelled
    handles), whether it can be entered, and a badge for the problems that name it."""
    found: dict[str, list[ValidationIssue]] = {}
    for issue in problems:
        for node_id in issue.node_ids:
            found.setdefault(node_id, []).append(issue)
    lit = set(lit)
    used_handles = {(edge["source"], edge["source_handle"]) for edge in document.get("edges", [])}
    nodes = [_node_view(node, names, found.get(node["id"], []), node["id"] in lit, used_handles)
             for node in document.get("nodes", [])]
    edges = [{"id": edge["id"], "source": edge["source"], "sourceHandle": edge["source_handle"],
              "target": edge["target"]} for edge in document.get("edges", [])]
    return nodes, edges


def _node_view(node: Mapping, names: Names, issues: list[ValidationIssue], lit: bool, used: set) -> dict:
    spec = NODE_TYPES.get(node["type"])
    data = node.get("data") or {}
    if spec is None:
        handles = sorted(handle for source, handle in used if source == node["id"])
        head = {"title": f"Unknown step “{node['type']}”", "icon": "help", "summary": "Delete or replace this step.",
                "exits": [{"id": handle, "label": handle} for handle in handles]}
    else:
        head = {"title": spec.title, "icon": spec.icon, "summary": spec.summary(data, names),
                "exits": [{"id": exit_, "label": exit_label(node["type"], data, exit_)} for exit_ in spec.exits(data)]}
    severity = ERROR if any(i.severity == ERROR for i in issues) else "warning" if issues else None
    return {"id": node["id"], "type": "step", "position": dict(node["position"]),
            "data": {"kind": node["type"], **head, "target": node["type"] != "start", "badge": severity,
                     "problems": list(dict.fromkeys(issue.message for issue in issues)), "lit": lit}}


def exit_label(node_type: str, data: Mapping, handle: str) -> str:
    """How an exit is named on its handle ('' for the plain next step)."""
    if node_type == "send_message":
        titles = {str(b.get("id")): b.get("title") for b in data.get("buttons") or [] if isinstance(b, dict)}
        return str(titles.get(handle) or handle) if handle != "next" else ""
    if node_type == "randomizer":
        branches = [b for b in data.get("branches") or [] if isinstance(b, dict)]
        total = sum(_weight(b) for b in branches) or 1
        weight = next((_weight(b) for b in branches if str(b.get("id")) == handle), 0)
        return f"{handle} · {round(100 * weight / total)}%"
    if node_type == "condition":
        return {"true": "true", "false": "false"}.get(handle, handle)
    return "" if handle == "next" else handle


def _weight(branch: Mapping) -> float:
    weight = branch.get("weight")
    return weight if isinstance(weight, int | float) and not isinstance(weight, bool) and weight > 0 else 0


# ---------------------------------------------------------------------------------------------- edits


class EditRefused(ValueError):
    """An edit the canvas asked for that would break the document; the message is for the admin."""


def add_node(document: Mapping, node_type: str, position: Mapping) -> tuple[dict, str]:
    """A copy of the document with a new node of `node_type` (default settings) at `position`, nudged off any node
    already there; returns the copy and the new node's id."""
    if node_type not in NODE_TYPES:
        raise EditRefused(f"There is no step type “{node_type}”.")
    doc = copy.deepcopy(dict(document))
    taken = {node["id"] for node in doc["nodes"]}
    node_id = next(f"{node_type}_{n}" for n in range(1, len(taken) + 2) if f"{node_type}_{n}" not in taken)
    x, y = round(position.get("x", 0)), round(position.get("y", 0))
    occupied = {(round(node["position"]["x"]), round(node["position"]["y"])) for node in doc["nodes"]}
    while any(abs(x - ox) < NUDGE and abs(y - oy) < NUDGE for ox, oy in occupied):
        x, y = x + NUDGE, y + NUDGE
    doc["nodes"].append({"id": node_id, "type": node_type, "position": {"x": x, "y": y},
                         "data": NODE_TYPES[node_type].default_data()})
    return doc, node_id


def move_nodes(document: Mapping, moves: Iterable[Mapping]) -> dict:
    doc = copy.deepcopy(dict(document))
    where = {move["id"]: {"x": round(move["x"]), "y": round(move["y"])} for move in moves}
    for node in doc["nodes"]:
        if node["id"] in where:
            node["position"] = where[node["id"]]
    return doc


def connect(document: Mapping, source: str, handle: str, target: str) -> dict:
    """A copy with the edge source/handle → target; refused when that exit is taken or the target cannot be
    entered. Validation judges everything else (loops, dead ends)."""
    nodes = {node["id"]: node for node in document["nodes"]}
    if source not in nodes or target not in nodes:
        raise EditRefused("That step no longer exists.")
    spec = NODE_TYPES.get(nodes[source]["type"])
    if spec is not None and handle not in spec.exits(nodes[source].get("data")):
        raise EditRefused(f"{spec.title} has no “{handle}” exit.")
    if nodes[target]["type"] == "start":
        raise EditRefused("Nothing can lead into the Start step; connect it to the first step instead.")
    if any(edge["source"] == source and edge["source_handle"] == handle for edge in document["edges"]):
        raise EditRefused("That exit already leads somewhere. Delete its connection first.")
    doc = copy.deepcopy(dict(document))
    taken = {edge["id"] for edge in doc["edges"]}
    edge_id = next(f"e{n}" for n in range(1, len(taken) + 2) if f"e{n}" not in taken)
    doc["edges"].append({"id": edge_id, "source": source, "source_handle": handle, "target": target})
    return doc


def delete_elements(document: Mapping, node_ids: Iterable[str] = (), edge_ids: Iterable[str] = ()) -> dict:
    """A copy without these nodes (and every edge touching them) and these edges."""
    gone, cut = set(node_ids), set(edge_ids)
    doc = copy.deepcopy(dict(document))
    doc["nodes"] = [node for node in doc["nodes"] if node["id"] not in gone]
    doc["edges"] = [edge for edge in doc["edges"]
                    if edge["id"] not in cut and edge["source"] not in gone and edge["target"] not in gone]
    return doc


def set_node_data(document: Mapping, node_id: str, data: Mapping) -> dict:
    """A copy with the node's settings replaced. When one exit is swapped for another (a message's first button
    replaces its plain next step) the connection moves along; connections from exits that are gone go with them."""
    doc = copy.deepcopy(dict(document))
    node = next(node for node in doc["nodes"] if node["id"] == node_id)
    spec = NODE_TYPES.get(node["type"])
    if spec is None:
        node["data"] = copy.deepcopy(dict(data))
        return doc
    before = spec.exits(node["data"])
    node["data"] = copy.deepcopy(dict(data))
    after = spec.exits(node["data"])
    gone, new = [e for e in before if e not in after], [e for e in after if e not in before]
    for edge in doc["edges"]:
        if edge["source"] == node_id and len(gone) == len(new) == 1 and edge["source_handle"] == gone[0]:
            edge["source_handle"] = new[0]
    doc["edges"] = [edge for edge in doc["edges"] if edge["source"] != node_id or edge["source_handle"] in after]
    return doc
