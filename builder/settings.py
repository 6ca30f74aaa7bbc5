"""Settings: the bot's name, its public address, its identity on each channel and the default reply."""

from nicegui import ui
from pydantic import ValidationError

from builder import workspace_transfer
from builder.context import database
from builder.frame import UnsavedChanges, frame, show_bot_name
from runtime.vocabulary import IDENTITY_FIELDS
from storage.settings import (
    PublicUrlUpdate,
    SettingsUpdate,
    channel_identities,
    get_settings,
    save_public_url,
    save_settings,
)

# What each channel identity field of the vocabulary (runtime/vocabulary.IDENTITY_FIELDS) looks like, under its input.
IDENTITY_HINTS = {
    "page_id": "Messenger links: m.me/PAGE_ID",
    "instagram_username": "Instagram links: ig.me/m/USERNAME",
    "whatsapp_number": "International format, e.g. +15551234567",
    "telegram_bot": "Ends in 'bot', e.g. shop_helper_bot",
    "viber_uri": "Viber links: viber://pa?chatURI=URI",
    "webchat_base_url": "Empty: Referflow's own web chat at the public address + /webchat",
    "webchat_account_id": "The p= value of web chat links; empty: this workspace's own",
}


def create() -> None:
    with frame("Settings"):
        with database().session() as session:
            current = get_settings(session=session)
        identities = channel_identities(current)
        own = {"webchat_base_url": identities.webchat_base_url, "webchat_account_id": current.webchat_own_account}
        inputs: dict[str, ui.input | ui.textarea] = {}
        with ui.card().classes("w-full gap-2"):
            ui.label("Bot").classes("text-lg font-medium")
            inputs["bot_name"] = ui.input("Bot name", value=current.bot_name).classes("w-full").mark("bot_name")
            inputs["default_reply"] = (
                ui.textarea("Default reply (unknown or inactive links)", value=current.default_reply)
                .props("autogrow").classes("w-full").mark("default_reply")
            )
        with ui.card().classes("w-full gap-2"):
            ui.label("Public address").classes("text-lg font-medium")
            ui.label("Where people reach this Referflow: web chat links and webhooks are built from it. Leave it "
                     f"empty to use {current.served_url or 'the address the app serves at'}.").classes("text-slate-500")
            inputs["public_url"] = (
                ui.input("Public address", value=current.public_url, placeholder=current.served_url)
                .props('hint="e.g. https://bot.example.com"').classes("w-full").mark("public_url")
            )
        with ui.card().classes("w-full gap-2"):
            ui.label("Channels").classes("text-lg font-medium")
            ui.label("Fill in the channels your bot is on; entry links are built for these.").classes("text-slate-500")
            with ui.grid(columns=2).classes("w-full gap-x-6 gap-y-1"):
                for name, label in IDENTITY_FIELDS.items():
                    hint = IDENTITY_HINTS[name]
                    if own.get(name) and not getattr(current, name):
                        hint = f"Empty: {own[name]} (Referflow's own web chat)"
                    inputs[name] = ui.input(label, value=getattr(current, name), placeholder=own.get(name, "")) \
                        .mark(name)
                    inputs[name].props["hint"] = hint
        saved = {"values": _values(inputs)}
        unsaved = UnsavedChanges(lambda: _values(inputs) != saved["values"])

        def save() -> None:
            if _save(inputs):
                saved["values"] = _values(inputs)
                unsaved.check()

        ui.button("Save settings", icon="save", on_click=save).mark("save-settings")
        workspace_transfer.card()


def _values(inputs: dict) -> dict:
    return {name: element.value or "" for name, element in inputs.items()}


def _save(inputs: dict) -> bool:
    for element in inputs.values():
        element.error = None
    problems: list[ValidationError] = []
    try:
        address = PublicUrlUpdate(public_url=inputs["public_url"].value or "")
    except ValidationError as error:
        problems.append(error)
    try:
        update = SettingsUpdate(**{name: element.value or "" for name, element in inputs.items()
                                   if name != "public_url"})
    except ValidationError as error:
        problems.append(error)
    if problems:
        _show_errors(inputs, problems)
        return False
    with database().write_session() as session:
        save_settings(session=session, update=update)
        saved = save_public_url(session=session, update=address)
    for name, element in inputs.items():
        element.value = getattr(saved, name)
    show_bot_name(saved.bot_name)
    ui.notify("Settings saved.", type="positive")
    return True


def _show_errors(inputs: dict, errors: list[ValidationError]) -> None:
    for error in errors:
        for problem in error.errors():
            inputs[problem["loc"][0]].error = problem["msg"].removeprefix("Value error, ")
    ui.notify("Nothing was saved: fix the fields marked in red.", type="warning")
