"""Every channel once: its name, what an admin does to connect it, and whether Referflow can run it live yet.
The Channels page draws from this; a channel adapter (web chat here, the messaging platforms next) fills in its part."""

from dataclasses import dataclass

from runtime.vocabulary import CHANNEL_IDENTITY, IDENTITY_SETTINGS, channel_name, window_hours


@dataclass(frozen=True)
class ChannelInfo:
    name: str
    icon: str
    live: bool  # Referflow receives this channel's events and sends through it
    connecting: tuple[str, ...]  # what connecting takes, step by step

    @property
    def label(self) -> str:
        return channel_name(self.name)

    @property
    def identity(self) -> str:
        """The Settings field its links are built from."""
        return CHANNEL_IDENTITY[self.name]

    @property
    def identity_label(self) -> str:
        """What the admin sets up in Settings for it, in a sentence's words: "Facebook page ID"."""
        return IDENTITY_SETTINGS[self.name]


CATALOGUE: tuple[ChannelInfo, ...] = (
    ChannelInfo("webchat", "chat", True, (
        "Nothing to set up: Referflow serves the chat itself at the public address + /webchat.",
        "Set the public address in Settings to where people reach this Referflow (https in production).",
        "Share an entry point's chat link, or put the embed snippet on any website.",
    )),
    ChannelInfo("telegram", "send", False, (
        "Create a bot with @BotFather and copy its token.",
        "Connecting pastes the token; Referflow checks it and sets its webhook with a secret.",
        "Links open as /start REF (1–64 letters, digits, _ and -).",
    )),
    ChannelInfo("messenger", "facebook", False, (
        "A Facebook page and a Meta app with the Messenger product; the page id, its access token and the app secret.",
        "Connecting checks them with Meta, fills the page id into Settings and sets the page's Get Started button, "
        "so that m.me links with a ref reach new conversations.",
        "In the Meta app, set the callback URL and verify token Referflow shows, and subscribe messages, "
        "messaging_postbacks and messaging_referrals.",
    )),
    ChannelInfo("instagram", "photo_camera", False, (
        "A professional Instagram account linked to a Facebook page, and a Meta app: the account id, an access "
        "token and the app secret.",
        "In the Meta app, set the callback URL and verify token Referflow shows, and subscribe messages, "
        "messaging_postbacks and messaging_referral.",
        "At least one Ice Breaker, so that ig.me links with a ref reach new conversations.",
    )),
    ChannelInfo("whatsapp", "phone", False, (
        "A WhatsApp Business number on the Cloud API: its phone-number id, an access token and the app secret.",
        "In the Meta app, set the callback URL and verify token Referflow shows, and subscribe messages.",
        f"Links are a pre-filled message; free text can be sent only within {window_hours('whatsapp')} hours of the "
        "person's last message.",
    )),
    ChannelInfo("viber", "vibration", False, (
        "A Viber bot and its auth token.",
        "Connecting sets the bot's webhook to this Referflow.",
    )),
)
