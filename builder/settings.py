"""Settings: the bot's name, its identity on each channel and the default reply."""

from nicegui import ui
from pydantic import ValidationError

from builder import workspace_transfer
from builder.context import database
from builder.frame import UnsavedChanges, frame, show_bot_name
from storage.workspace import SettingsUpdate, get_settings, save_settings

# (attribute, label, hint)
CHANNEL_FIELDS = [
    ("page_id", "Facebook page ID or username", "Messenger links: m.me/PAGE_ID"),
    ("instagram_username", "Instagram username", "Instagram links: ig.me/m/USERNAME"),
    ("whatsapp_number", "WhatsApp number", "International format, e.g. +15551234567"),
    ("telegram_bot", "Telegram bot username", "Ends in 'bot', e.g. shop_helper_bot"),
    ("viber_uri", "Viber bot URI", "Viber links: viber://pa?chatURI=URI"),
    ("webchat_base_url", "Web chat address", "e.g. https://chat.example.com/webchat"),
    ("webchat_account_id", "Web chat account ID", "The p= value of your web chat links"),
]


def create() -> None:
    with frame("Settings"):
        with database().session() as session:
            current = get_settings(session=session)
        inputs: dict[str, ui.input | ui.textarea] = {}
        with ui.card().classes("w-full gap-2"):
            ui.label("Bot").classes("text-lg font-medium")
            inputs["bot_name"] = ui.input("Bot name", value=current.bot_name).classes("w-full").mark("bot_name")
            inputs["default_reply"] = (
                ui.textarea("Default reply (unknown or inactive links)", value=current.default_reply)
                .props("autogrow").classes("w-full").mark("default_reply")
            )
        with ui.card().classes("w-full gap-2"):
            ui.label("Channels").classes("text-lg font-medium")
            ui.label("Fill in the channels your bot is on; entry links are built for these.").classes("text-slate-500")
            with ui.grid(columns=2).classes("w-full gap-x-6 gap-y-1"):
                for name, label, hint in CHANNEL_FIELDS:
                    inputs[name] = ui.input(label, value=getattr(current, name)).props(f'hint="{hint}"').mark(name)
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
    try:
        update = SettingsUpdate(**{name: element.value or "" for name, element in inputs.items()})
    except ValidationError as error:
        for problem in error.errors():
            name = problem["loc"][0]
            message = problem["msg"].removeprefix("Value error, ")
            inputs[name].error = message
        ui.notify("Nothing was saved: fix the fields marked in red.", type="warning")
        return False
    with database().write_session() as session:
        saved = save_settings(session=session, update=update)
    for name, element in inputs.items():
        element.value = getattr(saved, name)
    show_bot_name(saved.bot_name)
    ui.notify("Settings saved.", type="positive")
    return True
