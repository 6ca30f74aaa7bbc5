"""The Settings page's import/export card: download the workspace as JSON, or upload a file, preview what it changes
and import it."""

import json
import re
from datetime import UTC, datetime

from nicegui import app, events, run, ui

from builder.context import database
from storage.settings import get_settings
from storage.workspace_checks import check_workspace
from storage.workspace_io import ImportReport, WorkspaceImportError, export_workspace, import_document, preview_import

KIND_LABELS = {"settings": "Settings", "fields": "Fields", "tags": "Tags", "flows": "Flows",
               "entry_points": "Entry points", "triggers": "Triggers"}
NOTICE = "workspace_import_notice"  # what to say after the reload that shows imported settings
SHOWN_NAMES = 6


def card() -> None:
    """Render the card inside the current page."""
    if notice := app.storage.user.pop(NOTICE, None):
        ui.notify(notice, type="positive")
    with ui.card().classes("w-full gap-2").mark("workspace-transfer"):
        ui.label("Import and export").classes("text-lg font-medium")
        ui.label("A workspace file holds the settings, fields, tags, flows, entry points and triggers; contacts never "
                 "travel in it. Importing updates what has the same name (entry points: the same ref) and adds the "
                 "rest; nothing is deleted.").classes("text-sm text-slate-500")
        ui.button("Export workspace", icon="download", on_click=_export).props("outline").mark("export-workspace")
        ui.upload(label="Import a workspace file (.json)", auto_upload=True, max_files=1,
                  on_upload=lambda e: _read_upload(e, outcome)).props('accept=".json,application/json" flat bordered'
                                                                      ).classes("w-full max-w-md").mark("import-upload")
        outcome = ui.column().classes("w-full gap-2")


async def _export() -> None:
    document, bot_name = await run.io_bound(_export_with_bot_name)
    slug = re.sub(r"[^a-z0-9]+", "-", bot_name.lower()).strip("-") or "workspace"
    text = json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n"
    ui.download.content(text.encode("utf-8"), f"referflow-{slug}-{datetime.now(UTC):%Y-%m-%d}.json",
                        "application/json")


def _export_with_bot_name() -> tuple[dict, str]:
    with database().session() as session:
        return export_workspace(session=session), get_settings(session=session).bot_name


async def _read_upload(event: events.UploadEventArguments, outcome: ui.column) -> None:
    outcome.clear()
    event.sender.reset()  # empty the uploader, so that another file can be chosen next
    try:
        document = json.loads(await event.file.text())
    except UnicodeDecodeError:
        _show_problems(outcome, event.file.name, ["it is not a text file; choose the .json file Referflow exported"])
        return
    except json.JSONDecodeError as error:
        _show_problems(outcome, event.file.name, [
            f"it is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg}); "
            "choose the .json file Referflow exported, or fix the file"])
        return
    except RecursionError:
        _show_problems(outcome, event.file.name, ["it nests lists and objects too deeply to be a workspace"])
        return
    problems, report = await run.io_bound(_check_and_preview, document)
    if report is None:
        _show_problems(outcome, event.file.name, problems)
        return
    _show_preview(outcome, event.file.name, document, report)


def _check_and_preview(document: object) -> tuple[list[str], ImportReport | None]:
    with database().session() as session:
        problems = check_workspace(document, session=session)
        return problems, None if problems else preview_import(session=session, document=document)


def _show_problems(outcome: ui.column, file_name: str, problems: list[str]) -> None:
    with outcome:
        with ui.column().classes("w-full gap-1 p-3 rounded bg-red-50 border border-red-200").mark("import-problems"):
            ui.label(f"{file_name} cannot be imported:").classes("font-medium text-red-800")
            for problem in problems:
                ui.label(f"• {problem[:1].upper()}{problem[1:]}").classes("text-sm text-red-800 break-words")


def _show_preview(outcome: ui.column, file_name: str, document: dict, report: ImportReport) -> None:
    rows = [{"kind": label, "created": _names(report.created[kind]), "updated": _names(report.updated[kind]),
             "unchanged": len(report.unchanged[kind])} for kind, label in KIND_LABELS.items()]
    columns = [{"name": "kind", "label": "", "field": "kind", "align": "left", "style": "white-space: nowrap"},
               {"name": "created", "label": "New", "field": "created", "align": "left"},
               {"name": "updated", "label": "Changed", "field": "updated", "align": "left"},
               {"name": "unchanged", "label": "Unchanged", "field": "unchanged", "align": "right"}]
    with outcome:
        ui.label(f"What importing {file_name} changes:").classes("font-medium")
        ui.table(rows=rows, columns=columns, row_key="kind").props(
            "flat dense bordered hide-bottom wrap-cells").classes("w-full").mark("import-preview")
        if not report.changed:
            ui.label("Nothing would change: the workspace already matches this file.").classes(
                "text-slate-500").mark("import-nothing")
            return
        ui.button("Import", icon="upload", on_click=lambda: _import(outcome, document)).mark("apply-import")


async def _import(outcome: ui.column, document: dict) -> None:
    client = ui.context.client
    try:  # off the event loop: a large import takes a while to check and plan (it writes in a short transaction)
        report = await run.io_bound(import_document, database=database(), document=document)
    except WorkspaceImportError as error:  # the workspace changed since the preview
        outcome.clear()
        _show_problems(outcome, "The file", error.problems)
        return
    with client:
        _report_import(outcome, report)


def _report_import(outcome: ui.column, report: ImportReport) -> None:
    created = sum(len(names) for names in report.created.values())
    updated = sum(len(names) for names in report.updated.values())
    notice = f"Workspace imported: {created} new, {updated} changed."
    if report.updated["settings"]:  # the settings form above still shows the old values
        app.storage.user[NOTICE] = notice
        ui.navigate.reload()
        return
    outcome.clear()
    with outcome:
        ui.label(notice).classes("text-green-800").mark("import-done")
    ui.notify(notice, type="positive")


def _names(names: list[str]) -> str:
    if not names:
        return "—"
    shown = ", ".join(names[:SHOWN_NAMES])
    return shown if len(names) <= SHOWN_NAMES else f"{shown} and {len(names) - SHOWN_NAMES} more"
