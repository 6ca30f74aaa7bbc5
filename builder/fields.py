"""Fields & tags: the custom fields contacts carry (with their stable IDs) and the tags that group contacts."""

from collections.abc import Callable

from nicegui import run, ui
from pydantic import ValidationError

from builder.context import database, write
from builder.frame import frame
from storage.fields_tags import (
    FieldCreate,
    FieldRow,
    FieldUpdate,
    TagCreate,
    TagRow,
    TagUpdate,
    Usage,
    create_field,
    create_tag,
    delete_field,
    delete_tag,
    field_context,
    find_field_usage,
    find_tag_usage,
    form_errors,
    list_fields,
    list_tags,
    tag_context,
    update_field,
    update_tag,
)
from storage.models import CustomField, Tag

TYPE_WORDS = {"text": "Text", "number": "Number", "boolean": "Yes / no", "date": "Date", "datetime": "Date and time",
              "json": "JSON"}
FIELD_COLUMNS = "64px minmax(150px, 1fr) 110px minmax(180px, 2fr) 110px 90px 80px"
TAG_COLUMNS = "minmax(150px, 1fr) minmax(180px, 2fr) 90px 80px"
NAME_HINT = "Letters, digits and _, e.g. referral_points; not only digits. Messages insert it as {{name}}."
LINKS_HINT = ("A link can fill this field by naming its ID or name, e.g. giveaway2025--{name}--5. Turn this off for "
              "fields that earn rewards, such as points: anyone could edit a link to give themselves more. An entry "
              "point's own payload mapping can still fill the field.")


def create() -> None:
    with frame("Fields & tags"):
        show_fields()
        show_tags()


@ui.refreshable
def show_fields() -> None:
    with database().session() as session:
        rows = list_fields(session=session)
    with ui.card().classes("w-full gap-3").mark("fields"):
        _section_header("Custom fields", "What the bot knows about each contact. Links can fill a field by its ID "
                        "or its name when the field allows it.", "New field", "new-field",
                        lambda: open_field_dialog(None))
        if not rows:
            ui.label("No fields yet. Add one, e.g. referral_points (a number) to count a contact's friends.") \
                .classes("text-slate-500").mark("no-fields")
            return
        _header_row(FIELD_COLUMNS, ["ID", "Name", "Type", "Description", "Set by links", "Contacts", ""])
        for row in rows:
            _field_row(row)


def _field_row(row: FieldRow) -> None:
    with _grid(FIELD_COLUMNS).classes("border-t border-slate-100 pt-2").mark(f"field-{row.id}"):
        with ui.row().classes("items-center gap-0 no-wrap"):
            ui.label(str(row.id)).classes("font-mono text-slate-700").mark(f"field-id-{row.id}")
            ui.button(icon="content_copy", on_click=lambda: _copy_id(row)) \
                .props(f'flat dense round size=sm color=grey-7 aria-label="Copy field ID {row.id}"') \
                .tooltip("Copy the field ID").mark(f"copy-field-{row.id}")
        ui.label(row.name).classes("font-medium break-all")
        ui.badge(TYPE_WORDS.get(row.type, row.type)).props("outline color=indigo-7").classes("justify-self-start")
        ui.label(row.description or "—").classes("text-slate-500 text-sm break-words")
        with ui.row().classes("items-center gap-1 no-wrap").mark(f"field-links-{row.id}"):
            ui.icon("link" if row.links_may_set else "lock").classes(
                "text-slate-500" if row.links_may_set else "text-amber-700")
            ui.label("Allowed" if row.links_may_set else "Not allowed").classes("text-sm")
        ui.label(f"{row.values:,}").classes("text-right tabular-nums").tooltip("Contacts with a value")
        _row_actions(f"field-{row.id}", row.name, lambda: open_field_dialog(row), lambda: confirm_field_deletion(row))


def _copy_id(row: FieldRow) -> None:
    ui.clipboard.write(str(row.id))
    ui.notify(f"Field ID {row.id} ({row.name}) copied.")


def open_field_dialog(row: FieldRow | None) -> None:
    with _dialog() as dialog, ui.card().classes("w-[30rem] gap-2").mark("field-dialog"):
        ui.label("New field" if row is None else f"Edit field {row.id}").classes("text-lg font-medium")
        inputs = {
            "name": ui.input("Name", value=row.name if row else "").props(f'hint="{NAME_HINT}"').classes("w-full")
            .mark("field-name"),
            "type": ui.select(TYPE_WORDS, label="Type", value=row.type if row else "text").classes("w-full")
            .mark("field-type"),
            "description": ui.input("Description", value=row.description if row else "").classes("w-full")
            .mark("field-description"),
            "links_may_set": ui.switch("Links may set this field", value=row.links_may_set if row else True)
            .mark("field-links-may-set"),
        }
        ui.label(LINKS_HINT.format(name=row.name if row else "points")).classes("text-sm text-slate-500")
        if row is not None and row.values:
            inputs["type"].disable()
            ui.label(f"{row.values:,} contacts already have a value in this field, so its type stays "
                     f"{TYPE_WORDS[row.type].lower()}: their values might not fit another type.") \
                .classes("text-sm text-slate-500").mark("type-locked")
        if row is not None:
            ui.label("Renaming: links that name the field keep working only with the new name; links that use "
                     f"its ID ({row.id}) are not affected.").classes("text-sm text-slate-500")
        _dialog_buttons(dialog, "Create field" if row is None else "Save field", "save-field",
                        lambda: _save_field(dialog, inputs, row))
    dialog.open()


async def _save_field(dialog: ui.dialog, inputs: dict, row: FieldRow | None) -> None:
    form = {name: element.value if isinstance(element.value, bool) else element.value or ""
            for name, element in inputs.items()}
    try:
        saved = await run.io_bound(_write_field, form, row)
    except ValidationError as error:
        _show_errors(inputs, error)
        return
    with ui.context.client:  # the dialog is gone once closed
        dialog.close()
        await show_fields.refresh()
        ui.notify(f"Field '{saved.name}' {'created' if row is None else 'saved'} (ID {saved.id}).", type="positive")


def _write_field(form: dict, row: FieldRow | None) -> CustomField:
    with database().write_session() as session:
        if row is None:
            data = FieldCreate.model_validate(form, context=field_context(session=session))
            return create_field(session=session, data=data)
        data = FieldUpdate.model_validate(form, context=field_context(session=session, field_id=row.id))
        return update_field(session=session, field_id=row.id, data=data)


def confirm_field_deletion(row: FieldRow) -> None:
    with database().session() as session:
        usage = find_field_usage(session=session, field_id=row.id)
    lost = f"The values of {usage.contacts:,} contact{'s' if usage.contacts != 1 else ''} will be deleted." \
        if usage.contacts else "No contact has a value in it."
    _confirm_deletion(f"Delete the field '{row.name}' (ID {row.id})?", usage, lost, lambda: _delete_field(row))


async def _delete_field(row: FieldRow) -> None:
    await run.io_bound(write, delete_field, field_id=row.id)
    await show_fields.refresh()
    ui.notify(f"Field '{row.name}' deleted.", type="positive")


# ---------------------------------------------------------------------------------------------- tags


@ui.refreshable
def show_tags() -> None:
    with database().session() as session:
        rows = list_tags(session=session)
    with ui.card().classes("w-full gap-3").mark("tags"):
        _section_header("Tags", "Labels on contacts. An entry point can tag everyone who enters through it.",
                        "New tag", "new-tag", lambda: open_tag_dialog(None))
        if not rows:
            ui.label("No tags yet. Add one, e.g. rewarded, to mark contacts who got their coupon.") \
                .classes("text-slate-500").mark("no-tags")
            return
        _header_row(TAG_COLUMNS, ["Name", "Description", "Contacts", ""])
        for row in rows:
            with _grid(TAG_COLUMNS).classes("border-t border-slate-100 pt-2").mark(f"tag-{row.id}"):
                ui.label(row.name).classes("font-medium break-all")
                ui.label(row.description or "—").classes("text-slate-500 text-sm break-words")
                ui.label(f"{row.contacts:,}").classes("text-right tabular-nums").tooltip("Contacts tagged")
                _row_actions(f"tag-{row.id}", row.name, lambda row=row: open_tag_dialog(row),
                             lambda row=row: confirm_tag_deletion(row))


def open_tag_dialog(row: TagRow | None) -> None:
    with _dialog() as dialog, ui.card().classes("w-[30rem] gap-2").mark("tag-dialog"):
        ui.label("New tag" if row is None else f"Edit tag '{row.name}'").classes("text-lg font-medium")
        inputs = {
            "name": ui.input("Name", value=row.name if row else "").classes("w-full").mark("tag-name")
            .props('hint="Letters, digits, _ and spaces"'),
            "description": ui.input("Description", value=row.description if row else "").classes("w-full")
            .mark("tag-description"),
        }
        _dialog_buttons(dialog, "Create tag" if row is None else "Save tag", "save-tag",
                        lambda: _save_tag(dialog, inputs, row))
    dialog.open()


async def _save_tag(dialog: ui.dialog, inputs: dict, row: TagRow | None) -> None:
    form = {name: element.value or "" for name, element in inputs.items()}
    try:
        saved = await run.io_bound(_write_tag, form, row)
    except ValidationError as error:
        _show_errors(inputs, error)
        return
    with ui.context.client:  # the dialog is gone once closed
        dialog.close()
        await show_tags.refresh()
        ui.notify(f"Tag '{saved.name}' {'created' if row is None else 'saved'}.", type="positive")


def _write_tag(form: dict, row: TagRow | None) -> Tag:
    with database().write_session() as session:
        if row is None:
            data = TagCreate.model_validate(form, context=tag_context(session=session))
            return create_tag(session=session, data=data)
        data = TagUpdate.model_validate(form, context=tag_context(session=session, tag_id=row.id))
        return update_tag(session=session, tag_id=row.id, data=data)


def confirm_tag_deletion(row: TagRow) -> None:
    with database().session() as session:
        usage = find_tag_usage(session=session, tag_id=row.id)
    lost = f"{usage.contacts:,} contact{'s' if usage.contacts != 1 else ''} will lose this tag." \
        if usage.contacts else "No contact has this tag."
    _confirm_deletion(f"Delete the tag '{row.name}'?", usage, lost, lambda: _delete_tag(row))


async def _delete_tag(row: TagRow) -> None:
    await run.io_bound(write, delete_tag, tag_id=row.id)
    await show_tags.refresh()
    ui.notify(f"Tag '{row.name}' deleted.", type="positive")


# ---------------------------------------------------------------------------------------------- shared pieces


def _dialog() -> ui.dialog:
    """A dialog that removes itself once closed, so closed forms never linger on the page."""
    dialog = ui.dialog()
    dialog.on_value_change(lambda event: None if event.value else dialog.delete())
    return dialog


def _section_header(title: str, subtitle: str, button: str, marker: str, on_click: Callable) -> None:
    with ui.row().classes("w-full items-start justify-between no-wrap"):
        with ui.column().classes("gap-0"):
            ui.label(title).classes("text-lg font-medium")
            ui.label(subtitle).classes("text-slate-500 text-sm")
        ui.button(button, icon="add", on_click=on_click).props("unelevated color=indigo-7").mark(marker)


def _grid(columns: str) -> ui.element:
    return ui.element("div").classes("w-full grid items-center gap-x-4").style(f"grid-template-columns: {columns}")


def _header_row(columns: str, titles: list[str]) -> None:
    with _grid(columns):
        for title in titles:
            align = " text-right" if title == "Contacts" else ""
            ui.label(title).classes(f"text-xs uppercase tracking-wide text-slate-500{align}")


def _row_actions(marker: str, name: str, on_edit: Callable, on_delete: Callable) -> None:
    with ui.row().classes("gap-0 justify-end no-wrap"):
        ui.button(icon="edit", on_click=on_edit).props(f'flat dense round color=grey-7 aria-label="Edit {name}"') \
            .tooltip("Rename or describe").mark(f"edit-{marker}")
        ui.button(icon="delete", on_click=on_delete) \
            .props(f'flat dense round color=grey-7 aria-label="Delete {name}"') \
            .tooltip("Delete").mark(f"delete-{marker}")


def _dialog_buttons(dialog: ui.dialog, label: str, marker: str, on_save: Callable) -> None:
    with ui.row().classes("w-full justify-end pt-2"):
        ui.button("Cancel", on_click=dialog.close).props("flat").mark("cancel")
        ui.button(label, icon="save", on_click=on_save).props("unelevated color=indigo-7").mark(marker)


def _show_errors(inputs: dict, error: ValidationError) -> None:
    for element in inputs.values():
        element.error = None
    for (name, *_), message in form_errors(error).items():
        inputs[name].error = message
    ui.notify("Nothing was saved: fix the fields marked in red.", type="warning")


def _confirm_deletion(title: str, usage: Usage, lost: str, on_delete: Callable) -> None:
    with _dialog() as dialog, ui.card().classes("w-[36rem] gap-3").mark("delete-dialog"):
        ui.label(title).classes("text-lg font-medium")
        if usage.uses:
            ui.label("It is used here:").classes("font-medium")
            with ui.column().classes("gap-2 w-full").mark("uses"):
                for use in usage.uses:
                    with ui.column().classes("gap-0"):
                        ui.label(f"{use.where} · {use.what}").classes("text-slate-800")
                        ui.label(use.effect[:1].upper() + use.effect[1:] + ".").classes("text-sm text-slate-500")
        else:
            ui.label("Nothing in your entry points, flows or triggers uses it.").classes("text-slate-600")
        ui.label(lost).classes("text-red-700" if usage.contacts else "text-slate-600").mark("lost")

        async def delete() -> None:
            with ui.context.client:  # the dialog is gone once closed
                dialog.close()
                await on_delete()

        with ui.row().classes("w-full justify-end"):
            ui.button("Cancel", on_click=dialog.close).props("flat").mark("cancel")
            ui.button("Delete", icon="delete", on_click=delete).props("unelevated color=red-7").mark("confirm-delete")
    dialog.open()
