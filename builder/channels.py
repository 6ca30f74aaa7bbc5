"""Channels: every channel with its state (connected or not, last event received, last delivery error, messages
pending) and what connecting it takes; for the web chat its link per entry point, the embed snippet and a button that
opens the chat."""

import json
from collections.abc import Callable
from datetime import UTC, datetime

from nicegui import app, ui

from builder import channel_connect
from builder.context import database
from builder.frame import frame
from channels.catalogue import CATALOGUE, ChannelInfo
from channels.webchat import embed_snippet
from runtime.links import ChannelIdentities, LinkError, build_link
from storage.channel_status import ChannelActivity, channel_activity
from storage.entry_points import EntryPointSummary, list_entry_points
from storage.settings import channel_identities, get_settings, public_url


def create() -> None:
    with frame("Channels"):
        with database().session() as session:
            settings = get_settings(session=session)
            identities = channel_identities(settings)
            activity = channel_activity(session=session)
            entries = list_entry_points(session=session)
        ui.label("Where people reach your bot. A connected channel receives opens and replies and delivers what the "
                 "bot sends; every message goes through the outbox, so nothing is lost while a channel is down."
                 ).classes("text-slate-500")
        delivering = _delivering_channels()
        connections = channel_connect.connections_by_channel()
        hooks = channel_connect.hooks()
        specs = hooks.channels if hooks is not None else {}
        rows = {}
        for info in CATALOGUE:
            spec = specs.get(info.name)
            connected = info.name in connections if spec is not None else info.name in delivering
            extra = (lambda spec=spec, name=info.name: channel_connect.connection_section(
                spec, connections.get(name))) if spec is not None else None
            rows[info.name] = _channel_card(info, activity.get(info.name, ChannelActivity()), connected,
                                            getattr(settings, info.identity), identities, entries,
                                            public_url(settings), extra)
        seen = {"activity": activity}

        def redraw_on_change() -> None:  # opens and deliveries go on while the page is open
            with database().session() as session:
                now = channel_activity(session=session)
            for name, row in rows.items():
                if now.get(name) != seen["activity"].get(name):
                    row.refresh(name, now.get(name, ChannelActivity()))
            seen["activity"] = now

        ui.timer(5.0, redraw_on_change, immediate=False)


def _delivering_channels() -> tuple[str, ...]:
    """The channels this app process delivers through (a sender is registered with its worker)."""
    worker = getattr(app.state, "referflow_delivery", None)
    return worker.channels if worker is not None else ()


def _channel_card(info: ChannelInfo, activity: ChannelActivity, connected: bool, identity: str,
                  identities: ChannelIdentities, entries: list[EntryPointSummary],
                  address: str, extra: Callable[[], None] | None = None) -> ui.refreshable:
    """Draws the card; returns its activity part, to redraw when the figures change."""
    row = ui.refreshable(_activity_row)
    with ui.card().classes("w-full gap-3").mark(f"channel-{info.name}"):
        with ui.row().classes("w-full items-center gap-3"):
            ui.icon(info.icon, size="md", color="indigo-7")
            ui.label(info.label).classes("text-lg font-medium")
            ui.space()
            _state_badge(info, connected, identity)
        row(info.name, activity)
        if info.name == "webchat":
            _webchat(identities, entries, address, connected)
        with ui.expansion("What connecting takes", icon="checklist", value=not connected and not info.live) \
                .classes("w-full").props("dense").mark(f"connecting-{info.name}"):
            for step in info.connecting:
                with ui.row().classes("no-wrap items-start gap-2 text-sm text-slate-700"):
                    ui.icon("arrow_right", size="xs").classes("mt-0.5")
                    ui.label(step)
            if not info.live and not connected:
                links = "its links work" if identity else \
                    f"its links work once the {info.identity_label} is in Settings"
                ui.label(f"Until it is connected, Referflow receives no {info.label} messages: {links}, and what the "
                         "bot sends there waits in the outbox.").classes("text-sm text-slate-500")
        if extra is not None:
            extra()  # connecting the messaging platforms (builder/channel_connect.py)
    return row


def _state_badge(info: ChannelInfo, connected: bool, identity: str) -> None:
    if connected:
        text, color = "Connected", "positive"
    elif info.live:
        text, color = "Not running in this process", "orange"
    elif identity:
        text, color = "Links only — not connected", "grey-7"
    else:
        text, color = "Not connected", "grey-7"
    ui.badge(text, color=color).classes("text-sm px-2 py-1").mark(f"state-{info.name}")


def _activity_row(channel: str, activity: ChannelActivity) -> None:
    with ui.row().classes("w-full gap-8 text-sm"):
        _figure("Contacts", f"{activity.contacts:,}", f"contacts-{channel}")
        _figure("Last event received", _ago(activity.last_received_at), f"last-event-{channel}")
        _figure("Messages pending", f"{activity.pending:,}", f"pending-{channel}")
        _figure("Failed", f"{activity.failed:,}", f"failed-{channel}")
    error = activity.last_error
    if error is not None:
        will = "will be retried" if error.state == "pending" else "not delivered"
        tries = f"{error.attempts} attempt{'s' if error.attempts != 1 else ''}"
        with ui.row().classes("w-full no-wrap items-start gap-2 rounded bg-red-50 p-2 text-sm text-red-800"):
            ui.icon("error", size="xs").classes("mt-0.5")
            ui.label(f"Last delivery error ({_ago(error.at)}, {tries}, {will}): {error.text}").classes("break-words") \
                .mark(f"last-error-{channel}")


def _figure(title: str, value: str, marker: str) -> None:
    with ui.column().classes("gap-0"):
        ui.label(title).classes("text-xs text-slate-500")
        ui.label(value).classes("text-base font-medium text-slate-800").mark(marker)


def _webchat(identities: ChannelIdentities, entries: list[EntryPointSummary], address: str,
             connected: bool) -> None:
    own = identities.webchat_base_url.startswith(f"{address}/webchat") if address else False
    where = (f"Referflow serves it at {identities.webchat_base_url}" if own else
             f"Links lead to the web chat at {identities.webchat_base_url or '(no address set)'}, set in Settings")
    ui.label(where + ".").classes("text-sm text-slate-600").mark("webchat-where")
    if address.startswith("http://") and not address.startswith(("http://127.", "http://localhost", "http://[::1]")):
        ui.label("The public address is plain http: browsers warn visitors. Put Referflow behind https and set "
                 "the https address in Settings.").classes("text-sm text-amber-700")
    if not entries:
        ui.label("No entry points yet: create one to get a web chat link.").classes("text-sm text-slate-500")
        return
    links = {}
    for entry in entries:
        try:
            links[entry.ref] = build_link("webchat", entry.ref, identities)
        except LinkError as error:
            ui.label(str(error)).classes("text-sm text-red-700")
            return
    with ui.column().classes("w-full gap-1").mark("webchat-links"):
        for entry in entries:
            _link_row(entry, links[entry.ref], connected or not own)
    _embed(entries, links)


def _link_row(entry: EntryPointSummary, link: str, can_open: bool) -> None:
    with ui.row().classes("w-full no-wrap items-center gap-2 rounded bg-slate-100 pl-3 pr-1 py-1"):
        with ui.column().classes("gap-0 w-48 shrink-0"):
            ui.label(entry.name).classes("text-sm font-medium text-slate-800 truncate")
            ui.label(entry.ref + ("" if entry.active else " · inactive")).classes("text-xs text-slate-500 truncate")
        ui.label(link).classes("flex-1 min-w-0 font-mono text-sm break-all text-slate-800") \
            .mark(f"webchat-link-{entry.ref}")
        _copy_button(link, "Copy the chat link", f"copy-webchat-link-{entry.ref}")
        opener = ui.button("Open the chat", icon="open_in_new",
                           on_click=lambda link=link: ui.navigate.to(link, new_tab=True)) \
            .props("flat dense no-caps color=indigo-7").mark(f"open-chat-{entry.ref}")
        if not can_open:
            opener.disable()
            opener.tooltip("The web chat is not running in this process")


def _embed(entries: list[EntryPointSummary], links: dict[str, str]) -> None:
    with ui.column().classes("w-full gap-1"):
        ui.label("Put it on a website").classes("text-sm font-medium text-slate-700")
        ui.label("Paste this into any page's HTML: a chat button appears in the corner and opens the chat for the "
                 "entry point chosen here.").classes("text-xs text-slate-500")
        choice = ui.select({entry.ref: entry.name for entry in entries}, value=entries[0].ref,
                           label="Entry point").props("dense outlined").classes("w-64").mark("embed-entry")

        @ui.refreshable
        def snippet() -> None:
            code = embed_snippet(chat_url=links[choice.value])
            with ui.row().classes("w-full no-wrap items-start gap-1 rounded bg-slate-100 pl-3 pr-1 py-1"):
                ui.label(code).classes("flex-1 min-w-0 font-mono text-sm break-all text-slate-800") \
                    .mark("embed-snippet")
                _copy_button(code, "Copy the snippet", "copy-embed-snippet")

        snippet()
        choice.on_value_change(snippet.refresh)


def _copy_button(text: str, label: str, marker: str) -> None:
    copy = ui.button(icon="content_copy").props(f'flat round dense color=indigo-7 aria-label="{label}"').mark(marker)
    copy.tooltip(label)
    copy.on("click", _notify_copied, js_handler=f"() => Quasar.copyToClipboard({json.dumps(text)})"
                                                ".then(() => emit(true), () => emit(false))")


def _notify_copied(event) -> None:
    if event.args is False:
        ui.notify("Your browser did not allow copying; select the text and copy it by hand.", type="warning")
    else:
        ui.notify("Copied to the clipboard.", type="positive")


def _ago(moment: datetime | None) -> str:
    if moment is None:
        return "never"
    seconds = int((datetime.now(UTC) - moment).total_seconds())
    if seconds < 60:
        return "just now"
    size, unit = next((size, unit) for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute"))
                      if seconds >= size)
    count = seconds // size
    return f"{count} {unit}{'s' if count != 1 else ''} ago"
