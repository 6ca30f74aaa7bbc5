"""The flow canvas as a NiceGUI element (Vue Flow, bundled by `make assets` into assets/dist/flow_canvas.js), the
palette, and the view it draws of a flow document.

The canvas draws what `show` sends and reports what the admin does: nodes dropped from the palette, moved, deleted,
connected, selected. Nothing changes structurally until the editor applies the edit to the document of record
(runtime/flow_editing.py) and shows the result."""

import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Self

from nicegui import ui

from runtime.node_types import NODE_TYPES, Names
from runtime.validation import ERROR, ValidationIssue

GRAPH_NONE = '{"nodes":[],"edges":[]}'
BUNDLE = Path(__file__).resolve().parents[1] / "assets" / "dist" / "flow_canvas.js"
NODE_MIME = "application/x-referflow-node"  # the palette's dataTransfer type, as in flow_canvas.js


def canvas_is_built() -> bool:
    return BUNDLE.is_file()


class FlowCanvas(ui.element, component=BUNDLE):
    """Python API: `show(nodes, edges)`, `select_nodes(ids)`, `focus_node(id)`, `fit_view()`, `new_node_at`; events
    through the `on_*` methods."""

    def __init__(self, *, editable: bool = True) -> None:
        super().__init__()
        self._props["graph"] = GRAPH_NONE  # JSON text: a string prop is not wrapped node by node in observables
        self._props["editable"] = editable
        self.nodes: list[dict] = []  # what the canvas draws now
        self.edges: list[dict] = []
        self.new_node_at: dict[str, int] | None = None  # top-left for a node in the middle of the visible area
        self.on("viewport", self._remember_viewport)

    def show(self, nodes: list[dict], edges: list[dict]) -> None:
        """Draw these nodes and edges; after the first time only what changed travels to the browser."""
        before = {node["id"]: node for node in self.nodes}
        edges_before, first = self.edges, not self.nodes and not self.edges
        self.nodes, self.edges = nodes, edges
        graph = json.dumps({"nodes": nodes, "edges": edges}, ensure_ascii=False, separators=(",", ":"))
        if first:
            self._props["graph"] = graph
            return
        with self._props.suspend_updates():  # kept for a later full render; the patch below is what travels now
            self._props["graph"] = graph
        now = {node["id"] for node in nodes}
        patch = {"nodes": [node for node in nodes if before.get(node["id"]) != node],
                 "removed": [node_id for node_id in before if node_id not in now],
                 "edges": edges if edges != edges_before else None}
        if patch["nodes"] or patch["removed"] or patch["edges"] is not None:
            self.run_method("applyGraph", patch)

    def focus_node(self, node_id: str) -> None:
        """Select the node and bring it to the middle of the canvas."""
        self.run_method("focusNode", node_id)

    def select_nodes(self, node_ids: list[str]) -> None:
        """Make these nodes the selection (none: clear it) without moving the view."""
        self.run_method("selectNodes", node_ids)

    def reveal_node(self, node_id: str, *, covered: int = 0) -> None:
        """Pan (without zooming) just enough that the node is in view and not under `covered` px on the right."""
        self.run_method("revealNode", node_id, covered)

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


def build_palette(*, on_click: Callable[[str], Any]) -> ui.card:
    """Every node type with its icon and title: click one to add it, or drag it onto the canvas."""
    with ui.card().classes("overflow-auto gap-0 p-2").style("width: 10rem; flex-shrink: 0; height: 100%") \
            .mark("palette") as palette:
        ui.label("Steps").classes("text-xs uppercase tracking-wide text-slate-500 px-1")
        ui.label("Click to add, or drag onto the canvas.").classes("text-xs text-slate-400 px-1 leading-tight mb-1")
        for node_type, spec in NODE_TYPES.items():
            row = ui.row().classes("w-full items-center gap-2 no-wrap px-1 py-1 rounded cursor-grab hover:bg-indigo-50")
            with row.props('draggable="true"').mark(f"palette-{node_type}") as item:
                ui.icon(spec.icon, size="xs", color="indigo-7")
                ui.label(spec.title).classes("text-[13px] truncate")
            item.on("dragstart", js_handler=f"(e) => e.dataTransfer.setData('{NODE_MIME}', '{node_type}')")
            item.on("click", lambda node_type=node_type: on_click(node_type))
    return palette


def show_problems(panel: ui.element, problems: list[ValidationIssue] | None, *,
                  on_click: Callable[[ValidationIssue], Any]) -> None:
    """The problems list under the canvas (None: not checked yet); clicking a problem calls `on_click(problem)`."""
    panel.clear()
    with panel:
        if problems is None:
            ui.label("Checking the flow…").classes("text-sm text-slate-500")
            return
        if not problems:
            ui.label("No problems: this flow is ready to publish.").classes("text-sm text-green-700") \
                .mark("no-problems")
            return
        errors = sum(issue.severity == ERROR for issue in problems)
        ui.label(f"Problems: {_count(errors, 'error')}, {_count(len(problems) - errors, 'warning')}") \
            .classes("text-xs uppercase tracking-wide text-slate-500").mark("problem-count")
        for issue in problems:
            error = issue.severity == ERROR
            row = ui.row().classes("w-full items-start no-wrap gap-2 cursor-pointer hover:bg-slate-50 rounded py-0.5")
            with row.on("click", lambda issue=issue: on_click(issue)).mark("problem"):
                ui.icon("error" if error else "warning", size="xs", color="red-7" if error else "orange-8")
                ui.label(issue.message).classes("text-sm text-slate-700")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


# ---------------------------------------------------------------------------------------------- the view


LIT_EDGE = {"animated": True, "class": "rf-edge--lit", "style": {"stroke": "#10b981", "strokeWidth": 3}}


def canvas_view(document: Mapping, names: Names, problems: Iterable[ValidationIssue] = (),
                lit: Iterable[str] = (), lit_edges: Iterable[str] = ()) -> tuple[list[dict], list[dict]]:
    """Vue Flow nodes and edges for a flow document: each node with its icon, title, summary, exits (labelled
    handles), whether it can be entered, and a badge for the problems that name it. The simulator lights the nodes
    `lit` and the connections `lit_edges` (ids) a run went through."""
    found: dict[str, list[ValidationIssue]] = {}
    for issue in problems:
        for node_id in issue.node_ids:
            found.setdefault(node_id, []).append(issue)
    lit = set(lit)
    used_handles = {(edge["source"], edge["source_handle"]) for edge in document.get("edges", [])}
    nodes = [_node_view(node, names, found.get(node["id"], []), node["id"] in lit, used_handles)
             for node in document.get("nodes", [])]
    lit_edges = set(lit_edges)
    edges = [{"id": edge["id"], "source": edge["source"], "sourceHandle": edge["source_handle"],
              "target": edge["target"]} | (LIT_EDGE if edge["id"] in lit_edges else {})
             for edge in document.get("edges", [])]
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
