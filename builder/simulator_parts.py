"""How the Simulator page draws the view of an action (runtime/simulator/views.py: the link explained, the timeline,
each contact's chat and changes, the paths the flows took, lit on a read-only canvas), and the report of a scenario
run."""

from collections.abc import Callable
from typing import Any

from nicegui import ui

from builder.canvas import FlowCanvas, canvas_is_built, canvas_view, exit_label
from builder.entry_point_links import draw_explanation
from runtime.node_types import Names
from runtime.simulator.recording import ContactChange
from runtime.simulator.scenarios import ScenarioReport
from runtime.simulator.views import ActionView, FlowPath, PersonView, TimelineItem, WebhookView
from runtime.vocabulary import COUNTED_STATUSES, REFERRAL_OUTCOMES
from storage.scenarios import ScenarioSummary

# ---------------------------------------------------------------------------------------------- drawing

Answer = Callable[[int, str, bool], Any]  # (contact id, text, pressed a button) → the page replies as the contact
LOOK = {"contact": ("person", "slate-6"), "event": ("bolt", "indigo-6"), "trigger": ("play_circle", "purple-6"),
        "skipped": ("block", "grey-6"), "action": ("subdirectory_arrow_right", "purple-4"),
        "flow": ("account_tree", "teal-7"), "node": ("radio_button_checked", "teal-5"),
        "wait": ("hourglass_empty", "amber-8"), "message": ("chat", "blue-6"), "reply": ("reply", "blue-6"),
        "warning": ("warning", "orange-8"), "note": ("info", "grey-6")}
INDENTED = ("action", "node")


def show_result(view: ActionView | None, answer: Answer, redeliver: Callable[[Any], None] | None = None) -> None:
    if view is None:
        with ui.card().classes("w-full items-center gap-2 py-8").mark("no-result"):
            ui.icon("science", size="xl", color="indigo-3")
            ui.label("Open a link to see what the bot does.").classes("text-lg text-slate-700")
            ui.label("Paste or build a link above, choose who opens it, then press “Open the link”.").classes(
                "text-slate-500")
        return
    with ui.column().classes("w-full gap-4").mark("result"):
        _show_headline(view)
        if view.webhook is not None:
            _show_webhook(view.webhook, redeliver)
        if view.explanation is not None:
            with ui.card().classes("w-full gap-1").mark("parse"):
                ui.label("How the link was read").classes("text-lg font-medium")
                draw_explanation(view.explanation)
        _show_warnings([w for w in view.warnings if view.explanation is None or
                        w not in view.explanation.warnings])
        if view.people:
            with ui.grid(columns=2 if len(view.people) > 1 else 1).classes("w-full gap-4"):
                for person in view.people:
                    _show_person(person, answer)
        _show_timeline(view.timeline)
        for path in view.paths:
            show_path(path, view.names)


def _show_webhook(webhook: WebhookView, redeliver: Callable[[Any], None] | None) -> None:
    with ui.card().classes("w-full gap-2").mark("webhook"):
        with ui.row().classes("w-full items-center gap-2 no-wrap"):
            ui.icon("webhook", color="indigo")
            ui.label(f"Delivered as {webhook.label}'s webhook" + (" — again" if webhook.duplicate else "")) \
                .classes("text-lg font-medium")
            ui.space()
            if redeliver is not None:
                ui.button("Deliver again", icon="replay", on_click=lambda: redeliver(webhook.delivery)) \
                    .props("outline no-caps").mark("deliver-again").tooltip(
                        "Platforms deliver some webhooks twice: the same event id changes nothing")
        if webhook.duplicate:
            ui.label("The same event id came in again, so nothing changed: no new contact, no referral counted, no "
                     "message sent.").classes("text-sm text-emerald-800").mark("webhook-duplicate")
        with ui.expansion("The body the platform sent", icon="data_object").classes("w-full").mark("webhook-body"):
            ui.code(webhook.body, language="json").classes("w-full text-xs")


def _show_headline(view: ActionView) -> None:
    with ui.row().classes("w-full items-center gap-3 no-wrap"):
        ui.label(view.title).classes("text-lg font-semibold text-slate-800 break-all min-w-0").mark("result-title")
        status = (view.referral or {}).get("status")
        if status in REFERRAL_OUTCOMES:
            counted = status in COUNTED_STATUSES
            ui.badge(f"Referral {REFERRAL_OUTCOMES[status]}", color="positive" if counted else "negative") \
                .classes("text-sm py-1 px-2 whitespace-nowrap").mark("referral-status")


def _show_warnings(warnings: list[str]) -> None:
    for warning in warnings:
        with ui.row().classes("w-full no-wrap items-start gap-2 rounded bg-amber-50 p-2 text-sm text-amber-800") \
                .mark("result-warning"):
            ui.icon("warning", size="xs").classes("mt-0.5")
            ui.label(warning).classes("flex-1 min-w-0")


def _show_person(person: PersonView, answer: Answer) -> None:
    contact = person.contact
    with ui.card().classes("w-full gap-2 p-3 min-w-0").mark(f"chat-{contact.id}"):
        with ui.row().classes("w-full items-center gap-2 no-wrap"):
            ui.icon("account_circle", size="md", color="indigo-4")
            with ui.column().classes("gap-0 min-w-0"):
                ui.label(contact.name).classes("font-semibold text-slate-800 truncate")
                ui.label(f"#{contact.id} · {contact.channel} · {contact.channel_user_id}") \
                    .classes("text-xs text-slate-500 truncate")
            ui.space()
            ui.badge(person.role, color="indigo-1").classes("text-indigo-900 whitespace-nowrap").mark(
                f"role-{contact.id}")
        _show_chat(person, answer)
        _show_changes(person.change, contact.id)


def _show_chat(person: PersonView, answer: Answer) -> None:
    contact_id, first_new = person.contact.id, len(person.messages) - person.new_messages
    # column-reverse keeps a long chat scrolled to its newest message, as chat apps do
    with ui.column().classes("w-full gap-1 rounded bg-slate-50 p-2 max-h-80 overflow-auto flex-col-reverse no-wrap"):
        if not person.messages:
            ui.label("No messages yet.").classes("text-sm text-slate-400")
        for number, message in reversed(list(enumerate(person.messages))):
            mine = message.direction == "in"
            ring = " ring-2 ring-emerald-300" if number >= first_new else ""
            look = "bg-indigo-600 text-white self-end" if mine else "bg-white border border-slate-200 self-start"
            ui.label(message.text).classes(f"{look}{ring} rounded-lg px-3 py-1.5 text-sm max-w-[85%] "
                                           "whitespace-pre-wrap break-words").mark(f"bubble-{contact_id}")
    if person.buttons:
        with ui.row().classes("gap-1"):
            for number, title in enumerate(person.buttons):
                ui.button(title, on_click=lambda title=title: answer(contact_id, title, True)) \
                    .props("outline dense no-caps").mark(f"press-{contact_id}-{number}")
    with ui.row().classes("w-full items-center gap-1 no-wrap"):
        box = ui.input(placeholder=f"Reply as {person.contact.name}…").props("dense outlined").classes("grow") \
            .mark(f"reply-{contact_id}")
        box.on("keydown.enter", lambda: answer(contact_id, box.value or "", False))
        ui.button(icon="send", on_click=lambda: answer(contact_id, box.value or "", False)) \
            .props("flat round dense color=indigo").tooltip("Send").mark(f"send-{contact_id}")


def _show_changes(change: ContactChange, contact_id: int) -> None:
    changed = change.changed_fields()
    values = [(name, change.fields_before.get(name), value) for name, value in change.fields_after.items()]
    rows = changed + [row for row in values if row[0] not in {name for name, _, _ in changed}]
    with ui.column().classes("w-full gap-1").mark(f"changes-{contact_id}"):
        if rows:
            with ui.grid(columns="auto 1fr").classes("w-full gap-x-4 gap-y-0.5 text-sm"):
                for name, before, after in rows:
                    ui.label(name).classes("text-slate-500")
                    text = f"{_show(before)} → {_show(after)}" if before != after else _show(after)
                    ui.label(text).classes("font-mono break-all " + (
                        "text-emerald-700 font-semibold" if before != after else "text-slate-700"))
        with ui.row().classes("gap-1 items-center"):
            for tag in change.tags_after:
                added = tag in change.tags_added
                ui.badge(("+ " if added else "") + tag, color="positive" if added else "grey-6").props("outline")
            for tag in change.tags_removed:
                ui.badge("− " + tag, color="negative").props("outline").classes("line-through")
            if not change.tags_after and not change.tags_removed and not rows:
                ui.label("No field values or tags yet.").classes("text-sm text-slate-400")


def _show(value: Any) -> str:
    return "—" if value is None else str(value)


def _show_timeline(items: list[TimelineItem]) -> None:
    with ui.card().classes("w-full gap-0").mark("timeline"):
        ui.label("What happened, in order").classes("text-lg font-medium mb-1")
        if not items:
            ui.label("Nothing: no event, no trigger, no message.").classes("text-sm text-slate-500") \
                .mark("timeline-empty")
        for item in items:
            icon, color = LOOK.get(item.kind, LOOK["note"])
            with ui.row().classes("w-full no-wrap items-start gap-2 py-0.5" + (" pl-6" if item.kind in INDENTED
                                                                                 else "")):
                ui.icon(icon, size="xs", color=color).classes("mt-0.5")
                ui.label(item.text).classes("text-sm text-slate-700 whitespace-pre-wrap break-words min-w-0") \
                    .mark(f"trace-{item.kind}")


def show_path(path: FlowPath, names: Names) -> None:
    """The flow that ran, read-only, with the visited nodes and the followed connections lit; under it the same path
    as a list (what a screen reader, a test, or a missing canvas bundle gets)."""
    with ui.card().classes("w-full gap-2").mark(f"path-{path.flow_id}"):
        ui.label(f"Flow “{path.name}” · ran for {', '.join(path.contacts)}").classes("text-lg font-medium")
        if canvas_is_built():
            canvas = FlowCanvas(editable=False).classes("w-full border border-slate-200 rounded bg-white") \
                .style("height: 320px").mark(f"canvas-{path.flow_id}")
            canvas.show(*canvas_view(path.document, names, lit=path.node_ids, lit_edges=path.edges))
        _show_path_list(path)


def _show_path_list(path: FlowPath) -> None:
    titles = {node_id: title for node_id, title, _ in path.steps}
    edges = {edge["id"]: edge for edge in path.document.get("edges", [])}
    followed = [edges[edge_id] for edge_id in dict.fromkeys(path.edges) if edge_id in edges]  # in the order taken
    with ui.grid(columns="minmax(0,3fr) minmax(0,2fr)").classes("w-full gap-x-6 gap-y-0 text-sm") \
            .mark(f"path-steps-{path.flow_id}"):
        with ui.column().classes("gap-0.5 min-w-0"):
            ui.label("Steps, in order").classes("text-xs uppercase tracking-wide text-slate-500")
            for number, (_, title, summary) in enumerate(path.steps, 1):
                ui.label(f"{number}. {title}" + (f" — {summary}" if summary else "")).classes(
                    "text-slate-700 break-words")
        with ui.column().classes("gap-0.5 min-w-0"):
            ui.label("Connections followed").classes("text-xs uppercase tracking-wide text-slate-500")
            for edge in followed:
                ui.label(_connection_words(path.document, edge, titles)).classes("text-slate-600")
            if not followed:
                ui.label("None").classes("text-slate-400")


def _connection_words(document: dict, edge: dict, titles: dict[str, str]) -> str:
    """"Send message (No thanks) → Ask a question": the exit is named when the step has several."""
    source = next((node for node in document.get("nodes", []) if node["id"] == edge["source"]), None)
    exit_ = exit_label(source["type"], source.get("data") or {}, edge["source_handle"]) if source else ""
    return f"{titles.get(edge['source'], edge['source'])}{f' ({exit_})' if exit_ else ''} → " \
           f"{titles.get(edge['target'], edge['target'])}"


def show_scenario_report(report: ScenarioReport) -> None:
    failed = sum(not step.passed for step in report.steps)
    with ui.column().classes("w-full gap-1").mark("scenario-report"):
        with ui.row().classes("items-center gap-2"):
            ui.icon("check_circle" if report.passed else "cancel", color="positive" if report.passed else "negative")
            verdict = f"passed: all {len(report.steps)} steps" if report.passed else \
                f"failed: {failed} of {len(report.steps)} steps"
            ui.label(f"“{report.name}” {verdict}").classes("font-semibold").mark("scenario-verdict")
            ui.badge(f"ran the {report.copy_words}", color="amber-8" if report.copy == "draft" else "indigo-7") \
                .props("outline").mark("scenario-copy")
        for step in report.steps:
            look = "bg-green-50 text-green-900" if step.passed else "bg-red-50 text-red-900"
            with ui.column().classes(f"w-full gap-0 rounded px-2 py-1 {look}").mark(
                    f"scenario-step-{step.number}-{'passed' if step.passed else 'failed'}"):
                ui.label(f"{'✓' if step.passed else '✗'} {step.number}. {step.description}").classes(
                    "text-sm break-all")
                for failure in step.failures:
                    ui.label(failure).classes("text-sm pl-5 break-words").mark(f"scenario-failure-{step.number}")


def show_scenario_row(scenario: ScenarioSummary, run: Callable[[int, str], Any],
                      delete: Callable[[int, str], Any]) -> None:
    with ui.row().classes("w-full items-center gap-3 no-wrap border-t border-slate-100 pt-2") \
            .mark(f"scenario-{scenario.id}"):
        with ui.column().classes("gap-0 min-w-0 grow"):
            ui.label(scenario.name).classes("font-medium truncate")
            if scenario.description:
                ui.label(scenario.description).classes("text-sm text-slate-500 truncate")
        ui.label(f"{scenario.steps} steps").classes("text-sm text-slate-500 whitespace-nowrap")
        ui.button("Run", icon="play_arrow", on_click=lambda: run(scenario.id, scenario.name)) \
            .props("outline dense no-caps") \
            .mark(f"run-scenario-{scenario.id}")
        ui.button(icon="delete", on_click=lambda: delete(scenario.id, scenario.name)) \
            .props("flat round dense color=grey-8").tooltip("Delete").mark(f"delete-scenario-{scenario.id}")


def confirm(title: str, text: str, button: str, marker: str, on_yes: Callable[[], Any]) -> None:
    """A dialog asking before something that cannot be undone."""
    def yes() -> None:
        dialog.close()
        on_yes()

    with ui.dialog() as dialog, ui.card().classes("max-w-md gap-3"):
        ui.label(title).classes("text-lg font-semibold")
        ui.label(text).classes("text-slate-600")
        with ui.row().classes("self-end"):
            ui.button("Cancel", on_click=dialog.close).props("flat")
            ui.button(button, on_click=yes).props("color=negative").mark(marker)
    dialog.open()
