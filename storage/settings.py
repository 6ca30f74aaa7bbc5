"""Workspace settings: the bot's name, its identity on each channel, and the public address it is served at."""

import re
import secrets

from pydantic import ValidationInfo, field_validator
from sqlmodel import Session, SQLModel

from runtime.links import ChannelIdentities
from storage.models import WorkspaceSettings, utcnow
from storage.names import Stripped

# Each channel identity's shape (after a leading '@', which people often type, is dropped) and what to say when an
# admin's text does not have it. The WhatsApp number and the web chat address are read differently, below.
IDENTITY_SHAPES = {
    "page_id": (r"[A-Za-z0-9.]{1,100}", "A Facebook page ID or username uses only letters, digits and dots."),
    "instagram_username": (r"[A-Za-z0-9._]{1,30}",
                           "An Instagram username has at most 30 letters, digits, dots and underscores."),
    "telegram_bot": (r"[A-Za-z][A-Za-z0-9_]{3,31}",
                     "A Telegram bot username has 4 to 32 letters, digits and underscores, and starts with a letter."),
    "viber_uri": (r"[A-Za-z0-9_.-]{1,100}",
                  "A Viber bot URI uses only letters, digits, dots, hyphens and underscores."),
    "webchat_account_id": (r"[A-Za-z0-9_.-]{1,100}",
                           "The web chat account ID uses only letters, digits, dots, hyphens and underscores."),
}
AT_PREFIXED = ("instagram_username", "telegram_bot")


class SettingsUpdate(SQLModel):
    """What an admin may change on the Settings page; every check explains itself in the error message."""

    bot_name: Stripped = "My bot"
    page_id: Stripped = ""
    instagram_username: Stripped = ""
    whatsapp_number: Stripped = ""
    telegram_bot: Stripped = ""
    viber_uri: Stripped = ""
    webchat_base_url: Stripped = ""
    webchat_account_id: Stripped = ""
    default_reply: Stripped = ""

    @field_validator("bot_name")
    @classmethod
    def check_bot_name(cls, value: str) -> str:
        if not value:
            raise ValueError("Give the bot a name; admins see it in the header.")
        return value

    @field_validator(*IDENTITY_SHAPES)
    @classmethod
    def check_identity(cls, value: str, info: ValidationInfo) -> str:
        if info.field_name in AT_PREFIXED:
            value = value.removeprefix("@")
        pattern, problem = IDENTITY_SHAPES[info.field_name]
        if value and not re.fullmatch(pattern, value):
            raise ValueError(problem)
        return value

    @field_validator("telegram_bot")
    @classmethod
    def check_telegram_suffix(cls, value: str) -> str:
        if value and not value.lower().endswith("bot"):
            raise ValueError("Telegram bot usernames always end in 'bot', e.g. shop_helper_bot.")
        return value

    @field_validator("whatsapp_number")
    @classmethod
    def check_whatsapp(cls, value: str) -> str:
        digits = re.sub(r"[\s()+.-]", "", value)
        if value and not re.fullmatch(r"\d{7,15}", digits):
            raise ValueError("Enter the WhatsApp number in international format, 7 to 15 digits, e.g. +15551234567.")
        return digits

    @field_validator("webchat_base_url")
    @classmethod
    def check_webchat_url(cls, value: str) -> str:
        if value and not re.fullmatch(r"https?://[^\s?#]+", value):
            raise ValueError("The web chat address must start with https:// (or http://) and have no ? or #.")
        return value.rstrip("/")


class PublicUrlUpdate(SQLModel):
    """The address people reach this Referflow at (web chat links, webhooks); not part of a workspace export."""

    public_url: str = ""

    @field_validator("public_url", mode="before")
    @classmethod
    def check_public_url(cls, value: object) -> object:
        return check_public_url(value.strip()) if isinstance(value, str) else value


def check_public_url(value: str) -> str:
    """'' or an http(s) address without query or fragment, without the trailing slash."""
    if value and not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:\d{1,5})?(/[^\s?#]*)?", value):
        raise ValueError("The public address must look like https://bot.example.com (or http://HOST:PORT), with no "
                         "spaces, ? or #.")
    return value.rstrip("/")


def public_url(settings: WorkspaceSettings) -> str:
    """Where people reach this Referflow: the Settings page's address, else the one the app was last served at
    (REFERFLOW_PUBLIC_URL, else http://HOST:PORT)."""
    return settings.public_url or settings.served_url


def channel_identities(settings: WorkspaceSettings) -> ChannelIdentities:
    """The identities links are built with, Referflow's own web chat filled in where the admin set none."""
    identities = ChannelIdentities(**{name: getattr(settings, name) for name in ChannelIdentities.__dataclass_fields__})
    return identities.with_own_webchat(public_url(settings), settings.webchat_own_account)


def record_start(*, session: Session, served_url: str) -> WorkspaceSettings:
    """At start-up: remember the address the app serves at, and give the workspace its own web chat account id once
    (kept for good: links already shared carry it)."""
    settings = session.get(WorkspaceSettings, 1) or WorkspaceSettings()
    if settings.served_url != served_url or not settings.webchat_own_account:
        settings.served_url = served_url
        settings.webchat_own_account = settings.webchat_own_account or secrets.token_urlsafe(12).replace("_", "x")
        session.add(settings)
        session.flush()
    return settings


def save_public_url(*, session: Session, update: PublicUrlUpdate) -> WorkspaceSettings:
    settings = session.get(WorkspaceSettings, 1) or WorkspaceSettings()
    settings.public_url = update.public_url
    settings.updated_at = utcnow()
    session.add(settings)
    session.flush()
    return settings


def get_settings(*, session: Session) -> WorkspaceSettings:
    """The settings row; defaults when none was saved yet (nothing is written)."""
    return session.get(WorkspaceSettings, 1) or WorkspaceSettings()


def save_settings(*, session: Session, update: SettingsUpdate) -> WorkspaceSettings:
    settings = session.get(WorkspaceSettings, 1) or WorkspaceSettings()
    for name, value in update.model_dump().items():
        setattr(settings, name, value)
    settings.updated_at = utcnow()
    session.add(settings)
    session.flush()
    return settings


def seed_demo_settings(*, session: Session) -> None:
    """Example channel identities for the demo workspace, so its Share flow can build links in the simulator right
    away; only when settings were never saved. The admin replaces them on the Settings page."""
    if session.get(WorkspaceSettings, 1) is None:
        save_settings(session=session, update=SettingsUpdate(
            bot_name="Demo referral bot", page_id="1234567890", telegram_bot="demo_referral_bot",
            default_reply="Hi {{first_name}}! How can I help?"))


def own_webchat_account(*, session: Session) -> str:
    """The p= value Referflow's own web chat answers to: the admin's account id while the web chat address is left
    to Referflow, else the id generated for this workspace."""
    settings = get_settings(session=session)
    if settings.webchat_account_id and not settings.webchat_base_url:
        return settings.webchat_account_id
    return settings.webchat_own_account
