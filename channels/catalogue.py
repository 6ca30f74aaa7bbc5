"""Every channel once: its name, what an admin does to connect it, and whether Referflow can run it live yet.
The Channels page draws from this; a channel adapter (web chat here, the messaging platforms next) fills in its part."""

from dataclasses import dataclass


@dataclass(frozen=True)
class ChannelInfo:
    name: str
    label: str
    icon: str
    identity: str  # the Settings field its links are built from
    identity_label: str  # that field, as the Settings page names it
    live: bool  # Referflow receives this channel's events and sends through it
    connecting: tuple[str, ...]  # what connecting takes, step by step


CATALOGUE: tuple[ChannelInfo, ...] = (
    ChannelInfo("webchat", "Web chat", "chat", "webchat_base_url", "web chat address", True, (
        "Nothing to set up: Referflow serves the chat itself at the public address + /webchat.",
        "Set the public address in Settings to where people reach this Referflow (https in production).",
        "Share an entry point's chat link, or put the embed snippet on any website.",
    )),
    ChannelInfo("telegram", "Telegram", "send", "telegram_bot", "Telegram bot username", False, (
        "Create a bot with @BotFather and copy its token.",
        "Connecting pastes the token; Referflow checks it and sets its webhook with a secret.",
        "Links open as /start REF (1–64 letters, digits, _ and -).",
    )),
    ChannelInfo("messenger", "Messenger", "facebook", "page_id", "Facebook page ID", False, (
        "A Facebook page and a Meta app with the Messenger product; the page id, its access token and the app secret.",
        "Connecting checks them with Meta, fills the page id into Settings and sets the page's Get Started button, "
        "so that m.me links with a ref reach new conversations.",
        "In the Meta app, set the callback URL and verify token Referflow shows, and subscribe messages, "
        "messaging_postbacks and messaging_referrals.",
    )),
    ChannelInfo("instagram", "Instagram", "photo_camera", "instagram_username", "Instagram username", False, (
        "A professional Instagram account linked to a Facebook page, and a Meta app: the account id, an access "
        "token and the app secret.",
        "In the Meta app, set the callback URL and verify token Referflow shows, and subscribe messages, "
        "messaging_postbacks and messaging_referral.",
        "At least one Ice Breaker, so that ig.me links with a ref reach new conversations.",
    )),
    ChannelInfo("whatsapp", "WhatsApp", "phone", "whatsapp_number", "WhatsApp number", False, (
        "A WhatsApp Business number on the Cloud API: its phone-number id, an access token and the app secret.",
        "In the Meta app, set the callback URL and verify token Referflow shows, and subscribe messages.",
        "Links are a pre-filled message; free text can be sent only within 24 hours of the person's last message.",
    )),
    ChannelInfo("viber", "Viber", "vibration", "viber_uri", "Viber bot URI", False, (
        "A Viber bot and its auth token.",
        "Connecting sets the bot's webhook to this Referflow.",
    )),
)
