"""The flow editor: palette, canvas, inspector and problems around one flow's draft.

The Python-side document is the document of record: every canvas gesture and inspector edit becomes a new document,
kept in a bounded undo history, validated at once and saved as the draft after a short quiet moment. It stays one
module because the editor is one piece of state (the document, its undo history, its checks and its autosave)
that the palette, canvas and inspector all act on; the edits themselves are runtime/flow_editing.py."""

import time
from collections import deque
from dataclasses import replace

from nicegui import ui
from nicegui.events import KeyEventArguments

from builder.canvas import FlowCanvas, build_palette, canvas_is_built, canvas_view, show_problems
from builder.context import database
from builder.frame import frame
from builder.inspector import Inspector
from runtime.flow_editing import EditRefused, add_node, connect, delete_elements, move_nodes, set_node_data
from runtime.flowdoc import FlowDocumentError, load_flow
from runtime.publishing import FlowChecks, bot_channels, discard_draft, names_of, publish_flow
from runtime.validation import InvalidFlowError, ValidationIssue, WorkspaceIndex
from runtime.values import read_id
from storage.fields_tags import Choices, load_choices
from storage.flows import DraftConflict, FlowError, flow_status, rename_flow, save_draft
from storage.models import Flow

HISTORY_LIMIT = 100
SAVE_DELAY = 0.8  # seconds without edits before the draft is saved
INSPECTOR_SPACE = 336  # px the settings panel covers on the canvas's right (w-80 and its offset)
LAYOUT_ROW = "width: 100%; flex-wrap: nowrap"
LAYOUT_FILL = "flex: 1 1 0; min-width: 0; height: 100%"
LAYOUT_CANVAS = "flex: 1 1 0; width: 100%; position: relative"
STATUS_WORDS = {"draft": ("Draft · never published", "grey-7"), "published": ("Published", "positive"),
                "changed": ("Changed since publishing", "orange-8")}


def create(flow_id: str) -> None:
    with frame("Flows") as content:
        content.classes(remove="max-w-5xl p-6 gap-4", add="max-w-none px-4 py-3 gap-2").style("width: 100%")
        content.default_slot.children[0].delete()  # the frame's title; the editor's header names the flow
        flow = _find_flow(flow_id)
        if flow is None:
            ui.label(f"There is no flow with ID {flow_id}; it may have been deleted.").mark("flow-missing")
            ui.link("Back to the flows", "/flows")
            return
        FlowEditor(flow).build()


def _find_flow(flow_id: str) -> Flow | None:
    if (number := read_id(flow_id)) is None:
        return None
    with database().session() as session:
        return session.get(Flow, number)


class FlowEditor:
    def __init__(self, flow: Flow) -> None:
        self.flow_id: int = flow.id  # type: ignore[assignment]
        self.version = flow.version
        self.status = flow_status(flow)
        self.has_published = flow.published is not None
        self.document, self.damage = _readable(flow.draft)
        self.undo_stack: deque[dict] = deque(maxlen=HISTORY_LIMIT)
        self.redo_stack: list[dict] = []
        self.last_edit = ""
        self.selected_nodes: list[str] = []
        self.selected_edges: list[str] = []
        self.problems: list[ValidationIssue] = []
        self.unsaved_since: float | None = None
        self.choices, self.index = _load_choices()
        self.checks = FlowChecks(self.flow_id)  # this editor's checks: the workspace is exported once, not per edit
        self.name = flow.name

    # -- the page ------------------------------------------------------------------------------------------

    def build(self) -> None:
        self._build_header()
        # The layout that sizes the canvas is inline: it holds from the first paint, before Tailwind's classes arrive,
        # so Vue Flow measures and fits the flow once.
        with ui.row().classes("no-wrap gap-3 items-stretch").style(f"{LAYOUT_ROW}; height: calc(100vh - 156px)"):
            build_palette(on_click=self.add_at_center)
            with ui.column().classes("gap-2").style(LAYOUT_FILL):
                if not canvas_is_built():
                    ui.label("The canvas is not built yet: run 'make assets' and reload.").classes("text-red-700")
                if self.damage:
                    ui.label(f"The saved draft is damaged and opened empty; editing replaces it. {self.damage}") \
                        .classes("text-red-700 text-sm").mark("damaged-draft")
                with ui.element("div").classes("border rounded-lg bg-white overflow-hidden").style(LAYOUT_CANVAS):
                    self.canvas = FlowCanvas().classes("absolute-full").mark("canvas")
                    with ui.card().classes("absolute top-2 right-2 w-80 gap-2 p-3 overflow-auto") \
                            .style("z-index: 10; max-height: calc(100% - 16px)").mark("inspector") as panel:
                        self.inspector_panel = panel
                        with ui.row().classes("w-full items-start no-wrap"):
                            self.inspector_box = ui.column().classes("grow gap-2 min-w-0")
                            ui.button(icon="close", on_click=lambda: self._select_only([])) \
                                .props("flat round dense size=sm").tooltip("Close").mark("close-inspector")
                self.problem_list = ui.column().classes("w-full gap-0 bg-white border rounded-lg px-3 py-1 "
                                                        "overflow-auto shrink-0").style("max-height: 132px") \
                    .mark("problems")
        self.inspector = Inspector(self.inspector_box, self.choices, self._edit_selected, self.flow_id)
        self.canvas.on_node_dropped(self._add).on_nodes_moved(self._move).on_connected(self._connect) \
            .on_deleted(self._delete).on_selected(self._select)
        ui.keyboard(on_key=self._on_key, ignore=["input", "select", "textarea"])
        ui.timer(0.25, self._autosave)
        ui.context.client.on_disconnect(self.save)  # an edit made just before the tab closes is kept
        # Checked before the first paint (about 12 ms for 300 steps): the page arrives with its badges and problems,
        # with no second round of updates right after the browser connects.
        self._refresh()
        self._show_inspector()

    def _build_header(self) -> None:
        navigation = _collapse_navigation()
        with ui.row().classes("w-full items-center gap-2 no-wrap"):
            if navigation is not None:
                ui.button(icon="menu", on_click=navigation.toggle).props("flat round dense").tooltip("Navigation")
            ui.button(icon="arrow_back", on_click=lambda: ui.navigate.to("/flows")).props("flat round dense") \
                .tooltip("All flows")
            self.name_input = ui.input(value=self.name).props("dense outlined").classes("w-64 text-lg") \
                .mark("flow-name")
            self.name_input.on("blur", self._rename).on("keydown.enter", self._rename)
            self.status_chip = ui.chip().props("dense square").mark("flow-status")
            self.save_label = ui.label("Saved").classes("text-sm text-slate-500 whitespace-nowrap").mark("save-state")
            ui.space()
            self.undo_button = ui.button(icon="undo", on_click=self.undo).props("flat dense").tooltip(
                "Undo (Ctrl+Z)").mark("undo")
            self.redo_button = ui.button(icon="redo", on_click=self.redo).props("flat dense").tooltip(
                "Redo (Ctrl+Shift+Z)").mark("redo")
            ui.button(icon="fit_screen", on_click=lambda: self.canvas.fit_view()).props("flat dense").tooltip(
                "Fit the flow in view").mark("fit-view")
            ui.button(icon="delete", on_click=self.delete_selection).props("flat dense") \
                .tooltip("Delete the selected steps or connections (Delete key)").mark("delete-selection")
            self.discard_button = ui.button("Discard draft", on_click=self._confirm_discard) \
                .props("flat dense no-caps color=grey-8").mark("discard")
            ui.button("Publish", icon="publish", on_click=self.publish) \
                .props("unelevated dense no-caps color=indigo-7").classes("px-3").mark("publish")
        self._show_status()

    # -- edits ---------------------------------------------------------------------------------------------

    def apply(self, document: dict, *, edit: str = "", inspector: bool = True) -> None:
        """Make `document` the current one: one undo step (or merged into the last one when `edit` repeats the
        last edit's key), validated and drawn at once, saved shortly."""
        if document == self.document:
            return
        if not edit or edit != self.last_edit:
            self.undo_stack.append(self.document)
        self.last_edit = edit
        self.redo_stack.clear()
        self.document = document
        self._changed(inspector=inspector)

    def undo(self) -> None:
        self._travel(self.undo_stack, self.redo_stack)

    def redo(self) -> None:
        self._travel(self.redo_stack, self.undo_stack)

    def _travel(self, source: deque | list, target: deque | list) -> None:
        if not source:
            return
        target.append(self.document)
        self.document = source.pop()
        self.last_edit = ""
        self._changed(inspector=True)

    def _changed(self, *, inspector: bool) -> None:
        self.unsaved_since = time.monotonic()
        self._show_save_state("Saving…")
        self._refresh()
        nodes = {node["id"] for node in self.document["nodes"]}
        self.selected_nodes = [n for n in self.selected_nodes if n in nodes]
        if inspector:
            self._show_inspector()

    def add_at_center(self, node_type: str) -> None:
        self._add(node_type, self.canvas.new_node_at or self._beside_last_node())

    def _beside_last_node(self) -> dict:
        nodes = self.document["nodes"]
        if not nodes:
            return {"x": 40, "y": 160}
        last = max(nodes, key=lambda node: node["position"]["x"])
        return {"x": last["position"]["x"] + 260, "y": last["position"]["y"]}

    def _add(self, node_type: str, position: dict) -> None:
        document, node_id = add_node(self.document, node_type, position)
        self.apply(document, inspector=False)
        self.selected_nodes, self.selected_edges = [node_id], []
        self.canvas.select_nodes([node_id])
        self._show_inspector()
        self.canvas.reveal_node(node_id, covered=INSPECTOR_SPACE)  # not under the settings panel that just opened

    def _move(self, moves: list[dict]) -> None:
        self.apply(move_nodes(self.document, moves), inspector=False)

    def _connect(self, source: str, handle: str, target: str) -> None:
        try:
            self.apply(connect(self.document, source, handle, target), inspector=False)
        except EditRefused as refusal:
            ui.notify(str(refusal), type="warning")

    def _delete(self, node_ids: list[str], edge_ids: list[str]) -> None:
        self.apply(delete_elements(self.document, node_ids, edge_ids))

    def delete_selection(self) -> None:
        if not self.selected_nodes and not self.selected_edges:
            ui.notify("Select a step or a connection first.")
            return
        self._delete(self.selected_nodes, self.selected_edges)

    def _select(self, node_ids: list[str], edge_ids: list[str]) -> None:
        if (node_ids, edge_ids) == (self.selected_nodes, self.selected_edges):
            return
        self.selected_nodes, self.selected_edges = node_ids, edge_ids
        self._show_inspector()

    def _edit_selected(self, data: dict, edit: str) -> None:
        if self.choices.entry_points.keys() != self.index.entry_points.keys():  # one made in place, in the inspector
            self.index = replace(self.index, entry_points={i: c.ref for i, c in self.choices.entry_points.items()})
        if len(self.selected_nodes) == 1:
            self.apply(set_node_data(self.document, self.selected_nodes[0], data), edit=edit, inspector=False)

    def _on_key(self, event: KeyEventArguments) -> None:
        if not event.action.keydown or not (event.modifiers.ctrl or event.modifiers.meta):
            return
        if event.key.code == "KeyZ":
            self.redo() if event.modifiers.shift else self.undo()
        elif event.key.code == "KeyY":
            self.redo()

    # -- what the admin sees -------------------------------------------------------------------------------

    def _refresh(self, *, check: bool = True) -> None:
        if check:
            self.problems = self._validate()
        self.canvas.show(*canvas_view(self.document, self.index, self.problems))
        self._show_problems(checked=check)
        self.undo_button.set_enabled(bool(self.undo_stack))
        self.redo_button.set_enabled(bool(self.redo_stack))

    def _validate(self) -> list[ValidationIssue]:
        with database().session() as session:
            return self.checks.problems(session=session, document=self.document, index=self.index)

    def _show_problems(self, *, checked: bool = True) -> None:
        show_problems(self.problem_list, self.problems if checked else None, on_click=self.focus)

    def focus(self, issue: ValidationIssue) -> None:
        nodes = {node["id"] for node in self.document["nodes"]}
        target = next((node for node in issue.node_ids if node in nodes), None)
        if target is None:
            return
        self.selected_nodes, self.selected_edges = [target], []
        self.canvas.focus_node(target)
        self._show_inspector()

    def _show_inspector(self) -> None:
        self.inspector_panel.set_visibility(bool(self.selected_nodes or self.selected_edges))
        if len(self.selected_nodes) == 1:
            node = next((n for n in self.document["nodes"] if n["id"] == self.selected_nodes[0]), None)
            self.inspector.show(node)
        elif self.selected_nodes:
            self.inspector.show(None, message=f"{len(self.selected_nodes)} steps selected. Press Delete or use the "
                                              "bin button to delete them.")
        else:
            self.inspector.show(None, message="A connection is selected. Press Delete or use the bin button to "
                                              "remove it.")

    def _select_only(self, node_ids: list[str]) -> None:
        self.canvas.select_nodes(node_ids)
        self._select(node_ids, [])

    def _show_status(self) -> None:
        text, color = STATUS_WORDS[self.status]
        self.status_chip.set_text(text)
        self.status_chip.props(f"color={color} text-color=white")
        self.discard_button.set_visibility(self.has_published and self.status == "changed")

    def _show_save_state(self, text: str, *, error: bool = False) -> None:
        self.save_label.set_text(text)
        self.save_label.classes(replace="text-sm whitespace-nowrap " + ("text-red-700" if error else "text-slate-500"))

    # -- saving, publishing, discarding --------------------------------------------------------------------

    def _autosave(self) -> None:
        if self.unsaved_since is not None and time.monotonic() - self.unsaved_since >= SAVE_DELAY:
            self.save()

    def save(self) -> bool:
        """Store the draft now; False (with the reason shown) when it could not be saved."""
        if self.unsaved_since is None:
            return True
        try:
            with database().write_session() as session:
                flow = save_draft(session=session, flow_id=self.flow_id, document=self.document,
                                  base_version=self.version)
                self.version, self.status = flow.version, flow_status(flow)
        except DraftConflict as conflict:
            self.unsaved_since = None  # retrying cannot help; the admin must reload
            self._show_save_state(f"Not saved: {conflict}", error=True)
            return False
        except (FlowError, FlowDocumentError) as error:
            self.unsaved_since = None
            self._show_save_state(f"Not saved: {error}", error=True)
            return False
        self.unsaved_since = None
        self._show_save_state("Saved")
        self._show_status()
        return True

    def publish(self) -> None:
        if not self.save():
            ui.notify("Save the draft before publishing: see the message next to the flow name.", type="warning")
            return
        try:
            with database().write_session() as session:
                flow = publish_flow(session=session, flow_id=self.flow_id)
                self.status, self.has_published = flow_status(flow), True
        except InvalidFlowError as refusal:
            self._show_refusal(refusal.issues)
            return
        self._show_status()
        ui.notify("Published: the live bot now runs this version.", type="positive")

    def _show_refusal(self, issues: list[ValidationIssue]) -> None:
        with ui.dialog() as dialog, ui.card().classes("max-w-xl").mark("publish-refused"):
            ui.label("This flow cannot be published yet").classes("text-lg font-semibold")
            ui.label("Fix these problems first:").classes("text-slate-600")
            with ui.column().classes("gap-1"):
                for issue in issues:
                    with ui.row().classes("no-wrap items-start gap-2"):
                        ui.icon("error", size="xs", color="red-7")
                        ui.label(issue.message).classes("text-sm").mark("refusal-reason")
            ui.button("OK", on_click=dialog.close).props("flat").classes("self-end")
        dialog.open()
        ui.notify("Not published: fix the errors listed first.", type="negative")

    def _confirm_discard(self) -> None:
        with ui.dialog() as dialog, ui.card().mark("discard-dialog"):
            ui.label("Discard the draft?").classes("text-lg font-semibold")
            ui.label("The flow goes back to the published version; the changes made since are lost.")
            with ui.row().classes("self-end"):
                ui.button("Keep editing", on_click=dialog.close).props("flat")
                ui.button("Discard draft", on_click=lambda: (dialog.close(), self.discard())) \
                    .props("color=negative").mark("confirm-discard")
        dialog.open()

    def discard(self) -> None:
        try:
            with database().write_session() as session:
                flow = discard_draft(session=session, flow_id=self.flow_id)
                (document, _), self.version, self.status = _readable(flow.draft), flow.version, flow_status(flow)
        except LookupError as error:
            ui.notify(str(error), type="warning")
            return
        self.undo_stack.append(self.document)
        self.redo_stack.clear()
        self.document, self.last_edit, self.unsaved_since = document, "", None
        self._refresh()
        self._show_inspector()
        self._show_status()
        self._show_save_state("Saved")
        ui.notify("Draft discarded: back to the published version.")

    def _rename(self) -> None:
        name = str(self.name_input.value or "")
        if name.strip() == self.name:
            self.name_input.error = None
            return
        try:
            with database().write_session() as session:
                self.name = rename_flow(session=session, flow_id=self.flow_id, name=name).name
        except FlowError as error:
            self.name_input.error = str(error)
            return
        self.name_input.error = None
        self.name_input.value = self.name
        self.index = replace(self.index, flows={**self.index.flows, self.flow_id: self.name})
        self._refresh()  # problems name the flow: with its new name, not the old one until a reload
        ui.notify(f"Renamed to '{self.name}'.")


def _collapse_navigation() -> ui.left_drawer | None:
    """The canvas needs the width: the frame's navigation starts closed here, one click away."""
    drawer = next((e for e in ui.context.client.elements.values() if isinstance(e, ui.left_drawer)), None)
    if drawer is not None:
        drawer.value = False
    return drawer


def _readable(draft: dict) -> tuple[dict, str]:
    """The stored draft in the canonical document shape (defaults filled in); a damaged draft opens empty, with
    the reason."""
    try:
        return load_flow(draft).to_dict(), ""
    except FlowDocumentError as error:
        return {"schema": 1, "nodes": [], "edges": []}, str(error)


def _load_choices() -> tuple[Choices, WorkspaceIndex]:
    with database().session() as session:
        choices, channels = load_choices(session=session), bot_channels(session=session)
    return choices, replace(names_of(choices), channels=channels)
