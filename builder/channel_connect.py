"""The Channels page's connect part for the messaging platforms: a form drawn from the channel's connect fields, what
connecting said (shown once: a generated verify token is never shown in full again), and for a connected bot its
public settings, masked secrets, last event and error, what the platform says about the webhook, and Disconnect."""

from nicegui import app, ui

from channels.hooks import ConnectError, HookChannel, Hooks, when
from channels.hooks.manage import report
from storage.channel_connections import BotConnection, list_connections


def hooks() -> Hooks | None:
    return getattr(app.state, "referflow_hooks", None)


def connections_by_channel() -> dict[str, BotConnection]:
    """The connected bots, one per channel (secrets opened: show only `.masked()`)."""
    current = hooks()
    if current is None:
        return {}
    return {c.channel: c for c in list_connections(database=current.database, box=current.box)}


def connection_section(spec: HookChannel, connection: BotConnection | None) -> None:
    """Drawn inside the channel's card."""
    section = ui.refreshable(_section)
    section(spec, connection, section)


def _section(spec: HookChannel, connection: BotConnection | None, section: ui.refreshable,
             notes: tuple[str, ...] = ()) -> None:
    if notes:
        with ui.column().classes("w-full gap-1 rounded bg-green-50 p-2 text-sm text-green-900") \
                .mark(f"connect-notes-{spec.name}"):
            for note in notes:
                ui.label(note).classes("break-all")
    if connection is None:
        _connect_form(spec, section)
    else:
        _connected(spec, connection, section)


def _connected(spec: HookChannel, connection: BotConnection, section: ui.refreshable) -> None:
    current = hooks()
    with ui.column().classes("w-full gap-1 text-sm").mark(f"connection-{spec.name}"):
        shown = {key: value for key, value in connection.settings.items() if isinstance(value, str | int)}
        for key, value in {**shown, **connection.masked()}.items():
            _line(key.replace("_", " ").capitalize(), str(value), f"connection-{spec.name}-{key}")
        _line("Connected", when(connection.connected_at), f"connected-at-{spec.name}")
        if connection.last_error:
            ui.label(f"Last error from {spec.label}: {connection.last_error}").classes(
                "text-red-800 break-words").mark(f"connection-error-{spec.name}")
        platform = ui.column().classes("w-full gap-1").mark(f"platform-{spec.name}")

    async def ask_platform() -> None:
        if current is None or spec.status is None:
            return
        found = await report(current, spec.name)
        platform.clear()
        with platform:
            for label, value in found.platform:
                _line(label, value, f"platform-{spec.name}-{label.lower().replace(' ', '-')}")

    if spec.status is not None:
        ui.timer(0.1, ask_platform, once=True)

    async def disconnect() -> None:
        dialog.close()
        if current is not None:
            await current.disconnect(spec.name)
        ui.notify(f"{spec.label} is disconnected; what the bot sends there waits in the outbox.")
        section.refresh(spec, None, section)

    with ui.dialog() as dialog, ui.card():
        ui.label(f"Disconnect {spec.label}? Its webhook is removed and its secrets are forgotten; contacts and "
                 "their history stay.")
        with ui.row():
            ui.button("Disconnect", on_click=disconnect).props("color=negative").mark(f"confirm-disconnect-{spec.name}")
            ui.button("Cancel", on_click=dialog.close).props("flat")
    ui.button("Disconnect", icon="link_off", on_click=dialog.open).props("flat dense no-caps color=negative") \
        .mark(f"disconnect-{spec.name}")


def _connect_form(spec: HookChannel, section: ui.refreshable) -> None:
    current = hooks()
    inputs = {}
    with ui.column().classes("w-full gap-2").mark(f"connect-form-{spec.name}"):
        for field in spec.connect_fields:
            box = ui.input(field.label, password=field.secret, password_toggle_button=field.secret) \
                .props("dense outlined autocomplete=off").classes("w-96").mark(f"connect-{spec.name}-{field.name}")
            if field.help:
                box.tooltip(field.help)
            inputs[field.name] = box
        if current is not None:
            ui.label(f"Callback address: {current.callback_url(spec.name)}").classes(
                "text-xs text-slate-500 break-all").mark(f"callback-{spec.name}")
        problem = ui.label("").classes("text-sm text-red-700 break-words").mark(f"connect-error-{spec.name}")

    async def connect() -> None:
        if current is None:
            problem.set_text("Webhooks are not running in this process.")
            return
        values = {name: (box.value or "").strip() for name, box in inputs.items()}
        missing = [field.label for field in spec.connect_fields if not values[field.name]]
        if missing:
            problem.set_text("Fill in " + ", ".join(missing) + ".")
            return
        button.disable()
        try:
            result = await current.connect(spec.name, values)
        except ConnectError as error:
            problem.set_text(str(error))
            button.enable()
            return
        for box in inputs.values():
            box.value = ""  # the secret leaves the page
        section.refresh(spec, result.connection, section, result.notes)

    button = ui.button(f"Connect {spec.label}", icon="link", on_click=connect).props("no-caps color=indigo-7") \
        .mark(f"connect-{spec.name}")


def _line(label: str, value: str, marker: str) -> None:
    with ui.row().classes("gap-2 no-wrap items-baseline"):
        ui.label(label).classes("text-xs text-slate-500 w-40 shrink-0")
        ui.label(value).classes("text-slate-800 break-all").mark(marker)
