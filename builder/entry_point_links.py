"""The link parts of the Entry points pages: each channel's links with copy buttons and QR codes, and the box that
explains any pasted link by a dry run of the open (runtime/link_preview.py)."""

import base64
import json
import logging
from collections.abc import Callable

from nicegui import run, ui

from builder.context import database, live_runtime
from runtime.link_preview import LinkPreview, ShownLanding, preview_link, show_value
from runtime.links import ChannelLinks, build_entry_links
from runtime.qr import qr_png, qr_svg
from runtime.vocabulary import CHANNEL_NAMES
from storage.entry_points import channel_identities

log = logging.getLogger(__name__)

CHANNEL_NOTES = {
    "whatsapp": "WhatsApp has no ref parameter: the person must send the pre-filled message for the bot to read it.",
    "telegram": "Telegram delivers the ref as the message /start REF when the person taps Start.",
}


def links_card(current_ref: Callable[[], str]) -> Callable[[], None]:
    """The card with every configured channel's links for the ref `current_ref()` returns; call the result to redraw
    it after the ref changed."""
    with database().session() as session:
        identities = channel_identities(session=session)
    shown = {"tab": None}  # the tab the admin chose stays chosen while they type the ref

    @ui.refreshable
    def draw() -> None:
        ref = current_ref()
        with ui.card().classes("w-full gap-3").mark("links"):
            ui.label("Links").classes("text-lg font-medium")
            if not identities.configured_channels():
                _explain_no_channels()
                return
            links = build_entry_links(ref, identities)
            if not links:
                ui.label("Type a valid ref above to see its links.").classes("text-slate-500").mark("links-empty")
                return
            _draw_tabs(ref, links, shown)

    draw()
    return draw.refresh


def _explain_no_channels() -> None:
    with ui.row().classes("w-full no-wrap items-center gap-3 rounded bg-indigo-50 p-3").mark("no-channels"):
        ui.icon("info", color="indigo-7")
        ui.label("No channel is set up yet, so there are no links to show. Add your Facebook page, Instagram "
                 "username, WhatsApp number, Telegram bot, Viber URI or web chat in the settings.").classes("flex-1")
        ui.link("Open settings", "/settings").classes("shrink-0 font-medium text-indigo-700").mark("settings-link")


def _draw_tabs(ref: str, links: list[ChannelLinks], shown: dict) -> None:
    channels = [item.channel for item in links]
    with ui.tabs(on_change=lambda event: shown.update(tab=event.value)) \
            .props("dense align=left no-caps active-color=indigo-7 indicator-color=indigo-7") \
            .classes("w-full text-slate-600") as tabs:
        for item in links:
            with ui.tab(item.channel, CHANNEL_NAMES[item.channel]).mark(f"tab-{item.channel}"):
                if item.problems:  # the problem is inside a tab the admin may not open: say so on the tab
                    ui.badge("!", color="red-7").props("floating rounded").mark(f"tab-problem-{item.channel}") \
                        .tooltip(f"A link breaks {CHANNEL_NAMES[item.channel]}'s limits")
    value = shown["tab"] if shown["tab"] in channels else channels[0]
    with ui.tab_panels(tabs, value=value).classes("w-full").props("animated=false"):
        for item in links:
            with ui.tab_panel(item.channel).classes("p-0 pt-2"):
                _draw_channel(ref, item)


def _draw_channel(ref: str, item: ChannelLinks) -> None:
    with ui.row().classes("w-full no-wrap gap-6 items-start"):
        with ui.column().classes("flex-1 min-w-0 gap-2"):
            _link_row("Entry link", "Share it anywhere; opening it brings people into this entry point.",
                      item.entry_link, f"entry-link-{item.channel}")
            _link_row("Personal referral link", "The bot sends each contact this link with their own ID in place "
                      "of {{user_id}}.", item.referral_link, f"referral-link-{item.channel}")
            if note := CHANNEL_NOTES.get(item.channel):
                ui.label(note).classes("text-sm text-slate-500")
            _draw_problems(item)
        _draw_qr(ref, item)


def _link_row(title: str, hint: str, link: str, marker: str) -> None:
    with ui.column().classes("w-full gap-0"):
        ui.label(title).classes("text-sm font-medium text-slate-700")
        ui.label(hint).classes("text-xs text-slate-500")
        with ui.row().classes("w-full no-wrap items-center gap-1 mt-1 rounded bg-slate-100 pl-3 pr-1 py-1"):
            ui.label(link).classes("flex-1 min-w-0 font-mono text-sm break-all text-slate-800").mark(marker)
            copy = ui.button(icon="content_copy").props("flat round dense color=indigo-7") \
                .props(f'aria-label="Copy {title.lower()}"').mark(f"copy-{marker}")
            copy.tooltip("Copy link")
            copy.on("click", _notify_copied,
                    js_handler=f"() => Quasar.copyToClipboard({json.dumps(link)}).then(() => emit(true), "
                               "() => emit(false))")


def _notify_copied(event) -> None:
    if event.args is False:
        ui.notify("Your browser did not allow copying; select the link and copy it by hand.", type="warning")
    else:
        ui.notify("Link copied to the clipboard.", type="positive")


def _draw_problems(item: ChannelLinks) -> None:
    if not item.problems:
        with ui.row().classes("items-center gap-1 text-sm text-emerald-700").mark(f"fits-{item.channel}"):
            ui.icon("check_circle", size="xs")
            ui.label(f"Both links fit {CHANNEL_NAMES[item.channel]}'s limits.")
        return
    for problem in item.problems:
        with ui.row().classes("w-full no-wrap items-start gap-2 rounded bg-red-50 p-2 text-sm text-red-800") \
                .mark(f"problem-{item.channel}"):
            ui.icon("error", size="xs").classes("mt-0.5")
            ui.label(problem.message).classes("flex-1 min-w-0")


def _draw_qr(ref: str, item: ChannelLinks) -> None:
    if not item.entry_fits:  # a QR code of a link the channel refuses would only fail when scanned
        with ui.column().classes("w-36 shrink-0 items-center gap-1 rounded border border-dashed border-red-300 p-3 "
                                 "text-center").mark(f"no-qr-{item.channel}"):
            ui.icon("qr_code_2", size="lg", color="grey-5")
            ui.label(f"No QR code: {CHANNEL_NAMES[item.channel]} would refuse this link.") \
                .classes("text-xs text-red-800")
        return
    svg = base64.b64encode(qr_svg(item.entry_link)).decode("ascii")
    name = f"{ref}-{item.channel}"
    with ui.column().classes("items-center gap-1 shrink-0"):
        ui.image(f"data:image/svg+xml;base64,{svg}").classes("w-36 h-36 bg-white rounded border border-slate-200") \
            .props(f'alt="QR code of the {CHANNEL_NAMES[item.channel]} entry link"').mark(f"qr-{item.channel}")
        with ui.row().classes("gap-1"):
            ui.button("PNG", icon="download", on_click=lambda: ui.download(qr_png(item.entry_link), f"{name}.png",
                                                                          "image/png")) \
                .props("flat dense no-caps color=indigo-7").mark(f"download-png-{item.channel}")
            ui.button("SVG", icon="download", on_click=lambda: ui.download(qr_svg(item.entry_link), f"{name}.svg",
                                                                          "image/svg+xml")) \
                .props("flat dense no-caps color=indigo-7").mark(f"download-svg-{item.channel}")


# --- the paste box --------------------------------------------------------------------------------------------------

def paste_box() -> None:
    """A card where any link, ref or `/start` text is opened by the runtime in a dry run, for a new person: what it
    would do is shown, and nothing is saved."""
    with ui.card().classes("w-full gap-2").mark("paste-box"):
        ui.label("Test a link").classes("text-lg font-medium")
        ui.label("Paste any link, ref or '/start …' text to see what the bot would do when a new person opens it. "
                 "Nothing is saved and nothing is sent.") \
            .classes("text-slate-500")
        # A preview is a whole open (triggers and flows included) rolled back: it runs off the event loop, once the
        # admin pauses typing, and an answer for text that has changed since is dropped.
        pasted = ui.input("Link", placeholder="https://m.me/…?ref=giveaway2025-c42--gold") \
            .props('clearable outlined dense input-class="font-mono" debounce=300').classes("w-full") \
            .mark("paste-link")
        breakdown = ui.column().classes("w-full gap-0")

        async def show_preview() -> None:
            text = (pasted.value or "").strip()
            try:
                found = await run.io_bound(preview_link, database=database(), text=text,
                                            runtime=live_runtime()) if text else None
            except Exception as error:  # a busy or unreachable database: say so rather than leave an old answer up
                log.warning("The paste box's preview failed: %s", error)
                found = None
                failed = True
            else:
                failed = False
            if text != (pasted.value or "").strip():
                return
            breakdown.clear()
            with breakdown:
                if failed:
                    ui.label("The preview could not run just now (the database did not answer); change the link "
                             "or paste it again to retry.").classes("text-orange-800").mark("preview-failed")
                elif found is not None:
                    draw_explanation(found, with_outcome=True)

        pasted.on_value_change(show_preview)


def draw_explanation(found: LinkPreview, *, with_outcome: bool = False) -> None:
    """How the link was read and where its values went; `with_outcome` adds the reply and the messages (the
    simulator shows those as chat bubbles)."""
    parsed = found.parsed
    with ui.column().classes("w-full gap-3 mt-1").mark("breakdown"):
        with ui.grid(columns="auto 1fr").classes("w-full gap-x-6 gap-y-1 items-baseline"):
            _fact("Channel", CHANNEL_NAMES.get(parsed.channel or "", "not a channel link (a bare ref or text)"),
                  "parsed-channel")
            _fact("Ref", parsed.ref or "—", "parsed-ref", mono=True)
            _entry_fact(found)
            if parsed.referrer is not None:
                referrer = f"{parsed.referrer} → {found.referrer_contact}" if found.referrer_contact else \
                    parsed.referrer
                _fact("Referrer", referrer, "parsed-referrer", note=found.referrer_note)
        if found.payload:
            _landings("Payload", found.payload, "payload-landing")
        if parsed.json is not None:
            ui.label("JSON data").classes("text-sm font-medium text-slate-700")
            ui.label(json.dumps(parsed.json, ensure_ascii=False)).classes("font-mono text-sm break-all") \
                .mark("parsed-json")
            if found.json_note:
                ui.label(found.json_note).classes("text-sm text-amber-800").mark("json-note")
            if found.json_values:
                _landings("JSON values", found.json_values, "json-landing")
        if with_outcome:
            _outcome(found)
        _notes(found.notes, "warning", "amber", "parsed-warning")
        _notes([problem.message for problem in parsed.lint], "error", "red", "parsed-lint")


def _fact(label: str, value: str, marker: str, *, mono: bool = False, note: str | None = None) -> None:
    ui.label(label).classes("text-sm text-slate-500")
    with ui.column().classes("gap-0 min-w-0"):
        ui.label(value).classes(("font-mono " if mono else "") + "break-all text-slate-800").mark(marker)
        if note:
            ui.label(note).classes("text-sm text-amber-800").mark(f"{marker}-note")


def _entry_fact(found: LinkPreview) -> None:
    ui.label("Entry point").classes("text-sm text-slate-500")
    with ui.column().classes("gap-0"):
        if found.entry is None:
            ui.label("none — the person gets the default reply").classes("text-slate-800").mark("parsed-entry")
            return
        ui.link(f"{found.entry.name} ({found.entry.ref})", f"/entry-points/{found.entry.id}") \
            .classes("text-indigo-700").mark("parsed-entry")
        if found.entry_note:
            ui.label(found.entry_note).classes("text-sm text-amber-800").mark("parsed-entry-note")


def _landings(title: str, landings: tuple[ShownLanding, ...], marker: str) -> None:
    ui.label(title).classes("text-sm font-medium text-slate-700")
    with ui.grid(columns="minmax(8rem, auto) minmax(6rem, auto) 1fr").classes("w-full gap-x-4 gap-y-1 text-sm"):
        for heading in ("In the link", "Value", "Lands in"):
            ui.label(heading).classes("text-xs uppercase tracking-wide text-slate-500")
        for number, landing in enumerate(landings):
            ui.label(landing.source).classes("text-slate-600")
            ui.label(landing.value).classes("font-mono break-all")
            with ui.column().classes("gap-0").mark(f"{marker}-{number}"):
                where = f"{landing.field} (by {landing.how})" if landing.field else f"no field (by {landing.how})"
                ui.label(where).classes("text-slate-800")
                if landing.problem:
                    ui.label(landing.problem).classes("text-amber-800")
                else:
                    ui.label(f"saved as {landing.saved}").classes("text-emerald-700")


def _outcome(found: LinkPreview) -> None:
    with ui.grid(columns="auto 1fr").classes("w-full gap-x-6 gap-y-1 items-baseline"):
        _fact("The person gets", found.response, "preview-response")
        if found.fields:
            _fact("Fields after", ", ".join(f"{name} = {show_value(value)}" for name, value in found.fields.items()),
                  "preview-fields")
        if found.tags:
            _fact("Tags", ", ".join(found.tags), "preview-tags")
    for number, message in enumerate(found.messages):
        ui.label(message).classes("text-sm text-slate-600 break-all").mark(f"preview-message-{number}")


def _notes(messages, icon: str, color: str, marker: str) -> None:
    for message in messages:
        with ui.row().classes(f"w-full no-wrap items-start gap-2 rounded bg-{color}-50 p-2 text-sm text-{color}-800") \
                .mark(marker):
            ui.icon(icon, size="xs").classes("mt-0.5")
            ui.label(message).classes("flex-1 min-w-0")
