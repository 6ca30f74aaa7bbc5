"""Flows: the list of flows with their status and problems; create, rename, duplicate, delete, import and export one
flow; and templates that add a whole referral program in one click."""

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from nicegui import events, run, ui

from builder.context import database, read, write
from builder.frame import frame
from runtime.flowdoc import FlowDocumentError
from runtime.publishing import workspace_problems
from runtime.validation import ValidationIssue
from storage.flows import (
    FlowError,
    FlowSummary,
    create_flow,
    delete_flow,
    duplicate_flow,
    export_flow,
    flow_users,
    import_flow,
    list_flows,
    rename_flow,
)
from storage.workspace_io import WorkspaceImportError
from storage.workspace_templates import (
    TEMPLATES,
    apply_template,
    changed_names,
    has_channels,
    preview_template,
    summarise_report,
)

Refresh = Callable[[], None]
STATUS_LOOK = {  # status -> (label, badge colour, explanation)
    "draft": ("Draft", "grey-7", "Never published: the live bot does not run it yet."),
    "published": ("Published", "positive", "The live bot runs exactly this draft."),
    "changed": ("Changed since publishing", "warning", "The live bot still runs the last published copy."),
}
GRID = "grid w-full items-center gap-x-4"
GRID_COLUMNS = "grid-template-columns: minmax(0, 1fr) 13rem 10rem 8rem 9rem"  # name, status, problems, edited, actions
MAX_IMPORT_BYTES = 2_000_000
UPLOAD_CSS = ".flow-upload .q-uploader__subtitle { display: none } .flow-upload .q-uploader__list { min-height: 0;" \
             " padding: 0 }"


async def create() -> None:
    with frame("Flows"):
        flow_list = ui.refreshable(_show_flows)

        def refresh() -> None:
            flow_list.refresh()

        with ui.row().classes("w-full items-center gap-2"):
            ui.label("Each flow is a conversation the bot has with one contact.").classes("text-slate-500")
            ui.space()
            ui.button("Import flow", icon="upload_file", on_click=lambda: _import_dialog(refresh)).props(
                "outline").mark("import-flow")
            ui.button("New flow", icon="add", on_click=_create_dialog).mark("new-flow")
        reports: dict[str, ui.label] = {}  # template name -> where its last report stays after the toast fades
        await flow_list(refresh, reports)
        _show_templates(refresh, reports)


async def _show_flows(refresh: Refresh, reports: dict[str, ui.label]) -> None:
    flows, problems = await run.io_bound(_read_flows)  # the problems check exports the workspace: off the loop
    if not flows:
        _show_empty_state(refresh, reports)
        return
    with ui.card().classes("w-full gap-0 p-0").mark("flow-list"):
        with ui.element("div").classes(f"{GRID} px-4 py-2 text-xs uppercase tracking-wide text-slate-500").style(
                GRID_COLUMNS):
            for heading in ("Name", "Status", "Problems", "Last edited", ""):
                ui.label(heading)
        for flow in flows:
            ui.separator()
            _show_flow_row(flow, _count_problems(problems, flow.id), refresh)


def _read_flows() -> tuple[list[FlowSummary], list[ValidationIssue]]:
    with database().session() as session:
        flows = list_flows(session=session)
        return flows, workspace_problems(session=session) if flows else []


def _show_empty_state(refresh: Refresh, reports: dict[str, ui.label]) -> None:
    with ui.card().classes("w-full items-center gap-3 py-10").mark("empty-flows"):
        ui.icon("account_tree", size="xl", color="indigo-3")
        ui.label("No flows yet — create one or add the Referral program template").classes(
            "text-lg text-slate-700")
        ui.label("A flow sends messages, asks questions and rewards contacts; entry points and triggers start it."
                 ).classes("text-slate-500")
        with ui.row().classes("gap-2"):
            ui.button("New flow", icon="add", on_click=_create_dialog).mark("empty-new-flow")
            ui.button("Add the Referral program", icon="auto_awesome",
                      on_click=lambda: _apply_template("Referral program", refresh, reports)).props("outline").mark(
                "empty-template")


def _show_flow_row(flow: FlowSummary, counts: tuple[int, int], refresh: Refresh) -> None:
    label, colour, explanation = STATUS_LOOK[flow.status]
    with ui.element("div").classes(f"{GRID} px-4 py-2 hover:bg-slate-50").style(GRID_COLUMNS).mark(
            f"flow-row-{flow.id}"):
        ui.link(flow.name, f"/flows/{flow.id}").classes(
            "font-medium text-indigo-700 no-underline hover:underline truncate").mark(f"open-{flow.id}")
        with ui.element("div"):
            ui.badge(label, color=colour).props("outline").classes("text-sm py-1").tooltip(explanation).mark(
                f"status-{flow.id}")
        _show_problem_counts(flow.id, *counts)
        ui.label(describe_age(flow.updated_at)).classes("text-slate-600").tooltip(
            f"{flow.updated_at:%Y-%m-%d %H:%M} UTC")
        with ui.row().classes("gap-0 justify-end no-wrap"):
            _action_button("edit", "Rename", f"rename-{flow.id}", lambda: _rename_dialog(flow, refresh))
            _action_button("content_copy", "Duplicate", f"duplicate-{flow.id}", lambda: _duplicate(flow, refresh))
            _action_button("download", "Export as JSON", f"export-{flow.id}", lambda: _export(flow))
            _action_button("delete", "Delete", f"delete-{flow.id}", lambda: _delete_dialog(flow, refresh))


def _show_problem_counts(flow_id: int, errors: int, warnings: int) -> None:
    with ui.row().classes("gap-1 items-center no-wrap").mark(f"problems-{flow_id}"):
        if not errors and not warnings:
            ui.icon("check_circle", color="positive", size="xs")
            ui.label("None").classes("text-slate-600")
        if errors:
            ui.label(_plural(errors, "error")).classes("text-red-700 font-medium")
        if warnings:
            ui.label(_plural(warnings, "warning")).classes("text-amber-700")


def _action_button(icon: str, tip: str, marker: str, on_click: Callable[[], Any]) -> None:
    ui.button(icon=icon, on_click=on_click).props(f'flat round dense color=grey-8 aria-label="{tip}"').tooltip(
        tip).mark(marker)


def _count_problems(problems: list[ValidationIssue], flow_id: int) -> tuple[int, int]:
    mine = [issue for issue in problems if issue.flow_id == flow_id or flow_id in issue.flow_ids]
    errors = sum(issue.severity == "error" for issue in mine)
    return errors, len(mine) - errors


def describe_age(moment: datetime, now: datetime | None = None) -> str:
    """'just now', '5 minutes ago', 'yesterday', or the date for anything older than a week."""
    now = now or datetime.now(UTC)
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # SQLite hands back naive UTC times
    seconds = max(0, (now - moment).total_seconds())
    minutes, hours, days = int(seconds // 60), int(seconds // 3600), int(seconds // 86400)
    if not minutes:
        return "just now"
    if not hours:
        return f"{_plural(minutes, 'minute')} ago"
    if not days:
        return f"{_plural(hours, 'hour')} ago"
    if days < 7:
        return "yesterday" if days == 1 else f"{days} days ago"
    return f"{moment:%b} {moment.day}, {moment.year}"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


# --- create, rename, duplicate, delete ------------------------------------------------------------------------------

async def _create_dialog() -> None:
    flow_id = await _name_dialog("New flow", "Create and open", "",
                                 lambda session, name: create_flow(session=session, name=name).id)
    if flow_id is not None:
        ui.navigate.to(f"/flows/{flow_id}")


async def _rename_dialog(flow: FlowSummary, refresh: Refresh) -> None:
    name = await _name_dialog(f"Rename '{flow.name}'", "Rename", flow.name,
                              lambda session, name: rename_flow(session=session, flow_id=flow.id, name=name).name)
    if name is not None:
        ui.notify(f"Renamed to '{name}'.", type="positive")
        refresh()


async def _name_dialog(title: str, action: str, value: str, save: Callable[[Any, str], Any]) -> Any:
    """Ask for a flow name; `save(session, name)` runs in a write session, and a FlowError it raises is shown under
    the field with the typed name kept, so the admin can fix it. Returns what `save` returned, or None."""
    with ui.dialog() as dialog, ui.card().classes("w-[28rem] gap-3").mark("name-dialog"):
        ui.label(title).classes("text-lg font-medium")
        name_input = ui.input("Flow name", value=value).props("autofocus").classes("w-full").mark("flow-name")

        async def submit() -> None:
            try:
                name = name_input.value or ""
                result = await run.io_bound(write, lambda session: save(session, name))
            except FlowError as error:
                name_input.error = str(error)
                return
            dialog.submit(result)

        name_input.on("keydown.enter", submit)
        with ui.row().classes("w-full justify-end gap-2"):
            ui.button("Cancel", on_click=dialog.close).props("flat").mark("cancel-name")
            ui.button(action, on_click=submit).mark("save-name")
    result = await dialog
    dialog.delete()
    return result


async def _duplicate(flow: FlowSummary, refresh: Refresh) -> None:
    try:
        copy = await run.io_bound(write, duplicate_flow, flow_id=flow.id)
    except FlowError as error:
        ui.notify(str(error), type="negative")
        return
    ui.notify(f"Created '{copy.name}', a copy of the draft of '{flow.name}'.", type="positive")
    refresh()


async def _delete_dialog(flow: FlowSummary, refresh: Refresh) -> None:
    users = await run.io_bound(read, flow_users, flow_id=flow.id)
    with ui.dialog() as dialog, ui.card().classes("w-[32rem] gap-3").mark("delete-dialog"):
        ui.label(f"Delete flow '{flow.name}'?").classes("text-lg font-medium")
        if users:
            ui.label("These use it and will lose it (they will show a problem until you point them elsewhere):"
                     ).classes("text-slate-700")
            with ui.column().classes("gap-1 pl-2").mark("delete-users"):
                for user in users:
                    with ui.row().classes("items-center gap-2 no-wrap"):
                        ui.icon("subdirectory_arrow_right", size="xs", color="warning")
                        ui.label(user[:1].upper() + user[1:])
        else:
            ui.label("Nothing uses this flow.").classes("text-slate-700").mark("delete-unused")
        ui.label("Its draft and published copy are deleted; this cannot be undone.").classes("text-slate-500")
        with ui.row().classes("w-full justify-end gap-2"):
            ui.button("Cancel", on_click=dialog.close).props("flat").mark("cancel-delete")
            ui.button("Delete", icon="delete", color="negative", on_click=lambda: dialog.submit(True)).mark(
                "confirm-delete")
    confirmed = await dialog
    dialog.delete()
    if confirmed:
        await _delete(flow, refresh)


async def _delete(flow: FlowSummary, refresh: Refresh) -> None:
    try:
        users = await run.io_bound(write, delete_flow, flow_id=flow.id)
    except FlowError as error:
        ui.notify(str(error), type="negative")
    else:
        lost = f" {len(users)} place{'s' if len(users) != 1 else ''} no longer point at it." if users else ""
        ui.notify(f"Deleted '{flow.name}'.{lost}", type="positive")
    refresh()


# --- import and export ----------------------------------------------------------------------------------------------

async def _export(flow: FlowSummary) -> None:
    try:
        document = await run.io_bound(read, export_flow, flow_id=flow.id)
    except FlowError as error:
        ui.notify(str(error), type="negative")
        return
    content = (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    ui.download.content(content, f"{_file_stem(flow.name)}.flow.json", "application/json")


def _file_stem(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-").lower() or "flow"


def _import_dialog(refresh: Refresh) -> None:
    with ui.dialog(value=True) as dialog, ui.card().classes("w-[32rem] gap-3").mark("import-dialog"):
        ui.label("Import a flow").classes("text-lg font-medium")
        ui.label("Choose a .json file exported from the Export button of a flow. It becomes a new flow "
                 "(a free name is chosen when the name is taken).").classes("text-slate-600")
        problem = ui.label().classes("text-red-700 whitespace-pre-line").mark("import-error")
        problem.visible = False

        async def receive(event: events.UploadEventArguments) -> None:
            message = await _import_upload(event.file)
            event.sender.reset()
            if message is None:
                dialog.close()
                refresh()
            else:
                _show_problem(problem, message)

        ui.add_css(UPLOAD_CSS)
        too_large = "That file is too large for a flow (over 2 MB)."
        ui.upload(label="Drop a flow file (.json) here, or click +", auto_upload=True, max_file_size=MAX_IMPORT_BYTES,
                  on_upload=receive, on_rejected=lambda: _show_problem(problem, too_large)).props(
            'accept=".json,application/json" flat bordered').classes("w-full flow-upload").mark("import-upload")
        with ui.row().classes("w-full justify-end"):
            ui.button("Close", on_click=dialog.close).props("flat").mark("close-import")
    dialog.on_value_change(lambda event: None if event.value else dialog.delete())


def _show_problem(label: ui.label, message: str) -> None:
    label.text, label.visible = message, True


async def _import_upload(file: Any) -> str | None:
    """Import the uploaded flow; returns what is wrong with the file, or None when it was imported."""
    try:
        document = json.loads(await file.text())
    except UnicodeDecodeError:
        return f"'{file.name}' is not a text file; choose the .json file a flow export produced."
    except json.JSONDecodeError as error:
        return f"'{file.name}' is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})."
    try:  # off the event loop: checking and writing a large flow would stall every admin's page
        name = await run.io_bound(write, _import_flow_named, document=document)
    except FlowDocumentError as error:
        return f"'{file.name}' holds a broken flow, nothing was imported:\n" + "\n".join(
            f"• {problem}" for problem in error.problems)
    except FlowError as error:
        return f"'{file.name}' was not imported. {error}"
    ui.notify(f"Imported flow '{name}'.", type="positive")
    return None


def _import_flow_named(*, session: Any, document: Any) -> str:
    return import_flow(session=session, document=document).name  # read while the session is open


# --- templates ------------------------------------------------------------------------------------------------------

def _show_templates(refresh: Refresh, reports: dict[str, ui.label]) -> None:
    with ui.card().classes("w-full gap-3").mark("templates"):
        ui.label("Templates").classes("text-lg font-medium")
        for template in TEMPLATES.values():
            marker = _file_stem(template.name)
            with ui.row().classes("w-full items-start gap-4 no-wrap"):
                ui.icon("card_giftcard", size="md", color="indigo-6").classes("mt-1")
                with ui.column().classes("gap-1 grow"):
                    ui.label(template.name).classes("font-medium")
                    ui.label(template.description).classes("text-slate-600 text-sm")
                    reports[template.name] = ui.label().classes("text-sm text-indigo-900").mark(
                        f"template-report-{marker}")
                    reports[template.name].visible = False
                ui.button("Add to workspace", icon="auto_awesome",
                          on_click=lambda name=template.name: _apply_template(name, refresh, reports)).classes(
                    "shrink-0").mark(f"template-{marker}")


async def _apply_template(name: str, refresh: Refresh, reports: dict[str, ui.label]) -> None:
    preview = await run.io_bound(read, preview_template, name=name)
    if (overwritten := changed_names(preview)) and not await _confirm_overwrite(name, overwritten):
        return
    try:
        report = await run.io_bound(write, apply_template, name=name)
    except WorkspaceImportError as error:
        ui.notify(f"The {name} template could not be added: {error}", type="negative", multi_line=True)
        return
    channels = await run.io_bound(read, has_channels)
    summary = f"{name}: {summarise_report(report)}" + ("" if channels else (
        " Fill in your bot's channels in Settings so the Share flow can build personal links."))
    ui.notify(f"{name} added; the Templates card lists what changed." if report.changed else
              f"{name}: everything was already in place.", type="positive" if report.changed else "info")
    refresh()
    reports[name].text, reports[name].visible = summary, True


async def _confirm_overwrite(name: str, overwritten: list[str]) -> bool:
    with ui.dialog() as dialog, ui.card().classes("w-[32rem] gap-3").mark("overwrite-dialog"):
        ui.label(f"Add the {name} template?").classes("text-lg font-medium")
        ui.label("Your workspace already has these, with other content; the template will replace them:").classes(
            "text-slate-700")
        with ui.column().classes("gap-1 pl-2"):
            for item in overwritten:
                ui.label(f"• {item[:1].upper()}{item[1:]}")
        with ui.row().classes("w-full justify-end gap-2"):
            ui.button("Cancel", on_click=dialog.close).props("flat").mark("cancel-overwrite")
            ui.button("Replace them", color="warning", on_click=lambda: dialog.submit(True)).mark("confirm-overwrite")
    confirmed = await dialog
    dialog.delete()
    return bool(confirmed)
