"""Coupon pools: single-use codes an admin pastes or uploads; flows and triggers give each one out once."""

from nicegui import events, run, ui

from builder.context import database
from builder.frame import frame
from storage.coupons import (
    MAX_CODES_PER_ADD,
    MAX_UPLOAD_BYTES,
    CouponError,
    PoolSummary,
    add_codes,
    codes_in_file,
    create_pool,
    delete_pool,
    list_pools,
)


def create() -> None:
    with frame("Coupon pools"):
        ui.label("Paste or upload single-use codes. A “Give a coupon code” step in a flow, or the trigger action of "
                 "the same name, hands each code to one contact only and saves it in a field; when a pool is empty "
                 "the flow takes its “none left” exit and this page and the Overview say so. The simulator uses its "
                 "own copy of the codes, so trying a flow never uses up a real one.").classes("text-slate-600")
        with ui.row().classes("items-end gap-2"):
            name = ui.input("New pool", placeholder="e.g. Spring coupons").classes("w-64").mark("pool-name")
            ui.button("Create pool", icon="add", on_click=lambda: _create(name, pools)).mark("create-pool")
        pools = ui.column().classes("w-full gap-4").mark("pools")
        _show_pools(pools)


def _show_pools(container: ui.column) -> None:
    container.clear()
    with database().session() as session:
        summaries = list_pools(session=session)
    with container:
        if not summaries:
            ui.label("No coupon pools yet.").classes("text-slate-500").mark("no-pools")
        for pool in summaries:
            _pool_card(pool, container)


def _pool_card(pool: PoolSummary, container: ui.column) -> None:
    with ui.card().classes("w-full gap-2").mark(f"pool-{pool.id}"):
        with ui.row().classes("w-full items-center"):
            ui.label(pool.name).classes("text-lg font-semibold")
            ui.label(f"ID {pool.id}").classes("text-slate-400")
            ui.space()
            ui.label(f"{pool.left:,} of {pool.total:,} left · {pool.given:,} given").classes(
                "font-semibold " + ("text-red-700" if not pool.left else "text-slate-700")).mark(f"pool-left-{pool.id}")
            ui.button(icon="delete", on_click=lambda: _confirm_delete(pool, container)).props("flat round dense") \
                .tooltip("Delete the pool and its codes").mark(f"delete-pool-{pool.id}")
        if pool.warning:
            with ui.row().classes("w-full items-center gap-2 rounded bg-red-50 p-2").mark(f"pool-warning-{pool.id}"):
                ui.icon("warning", color="red-7")
                ui.label(pool.warning).classes("text-red-800")
        codes = ui.textarea("Paste codes", placeholder="One code per line (or separated by commas)") \
            .classes("w-full").props("autogrow").mark(f"pool-codes-{pool.id}")
        with ui.row().classes("items-center gap-2"):
            ui.button("Add codes", icon="playlist_add", on_click=lambda: _add(pool, codes.value, container)) \
                .mark(f"add-codes-{pool.id}")
            ui.upload(label="…or upload a .txt or .csv file (first column)", auto_upload=True, max_files=1,
                      max_file_size=MAX_UPLOAD_BYTES, on_upload=lambda e: _upload(e, pool, container),
                      on_rejected=lambda: ui.notify(f"Files of codes are at most {MAX_UPLOAD_BYTES // 1_000_000} MB.",
                                                    type="warning")) \
                .props('accept=".txt,.csv,text/plain,text/csv" flat bordered dense').classes("w-96") \
                .mark(f"upload-codes-{pool.id}")
        ui.label(f"At most {MAX_CODES_PER_ADD:,} codes at a time; each code 1-64 characters without spaces. A code "
                 "already in the pool is not added twice; a code once given is never given again.") \
            .classes("text-xs text-slate-500")


def _create(name: ui.input, container: ui.column) -> None:
    try:
        with database().write_session() as session:
            pool = create_pool(session=session, name=name.value)
            created = pool.name
    except CouponError as error:
        ui.notify(str(error), type="negative")
        return  # the name stays in the input to be fixed
    name.value = ""
    ui.notify(f"Coupon pool '{created}' created; paste its codes below.", type="positive")
    _show_pools(container)


async def _add(pool: PoolSummary, text: str | None, container: ui.column) -> None:
    if not (text or "").strip():
        ui.notify("Paste at least one code first.", type="warning")
        return
    await _store(pool, text or "", container)


async def _upload(event: events.UploadEventArguments, pool: PoolSummary, container: ui.column) -> None:
    event.sender.reset()
    try:
        text = await event.file.text()
    except UnicodeDecodeError:
        ui.notify(f"{event.file.name} is not a text file; upload the codes as .txt or .csv.", type="negative")
        return
    await _store(pool, codes_in_file(text), container)


async def _store(pool: PoolSummary, text: str, container: ui.column) -> None:
    try:
        report = await run.io_bound(_add_in_session, pool.id, text)
    except CouponError as error:
        ui.notify(str(error), type="negative", multi_line=True)
        return  # the pasted text stays where it was
    ui.notify(f"{pool.name}: {report.sentence()}", type="positive" if report.added else "warning", multi_line=True)
    _show_pools(container)


def _add_in_session(pool_id: int, text: str):
    with database().write_session() as session:
        return add_codes(session=session, pool_id=pool_id, text=text)


def _confirm_delete(pool: PoolSummary, container: ui.column) -> None:
    with ui.dialog() as dialog, ui.card():
        ui.label(f"Delete coupon pool '{pool.name}' and its {pool.total:,} codes ({pool.given:,} given)? Flows and "
                 "triggers that give codes from it then give none.")
        with ui.row():
            ui.button("Cancel", on_click=dialog.close).props("flat")
            ui.button("Delete", color="red", on_click=lambda: _delete(pool, dialog, container)) \
                .mark("confirm-delete-pool")
    dialog.open()


def _delete(pool: PoolSummary, dialog: ui.dialog, container: ui.column) -> None:
    try:
        with database().write_session() as session:
            delete_pool(session=session, pool_id=pool.id)
    except CouponError as error:
        ui.notify(str(error), type="negative")
    dialog.close()
    ui.notify(f"Coupon pool '{pool.name}' deleted.", type="positive")
    _show_pools(container)
