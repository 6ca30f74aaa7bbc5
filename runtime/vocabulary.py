"""The product's words, defined once: the channels a bot lives on and what each calls the identity an admin sets up;
the operators conditions and field changes use.

Every module that lists channels, names them for an admin or checks a channel's limits reads them from here, so a
new channel starts in this file.
"""

CHANNELS: tuple[str, ...] = ("messenger", "instagram", "whatsapp", "telegram", "viber", "webchat")
CHANNEL_NAMES = {"messenger": "Messenger", "instagram": "Instagram", "whatsapp": "WhatsApp", "telegram": "Telegram",
                 "viber": "Viber", "webchat": "Web chat"}
# The longest message each platform delivers (web chat has no limit of its own).
MESSAGE_LIMITS = {"messenger": 2000, "instagram": 1000, "whatsapp": 4096, "telegram": 4096, "viber": 7000}
# What an admin sets up, per channel, before links for it can be built (the workspace settings' words).
IDENTITY_SETTINGS = {
    "messenger": "Facebook page ID",
    "instagram": "Instagram username",
    "whatsapp": "WhatsApp phone number",
    "telegram": "Telegram bot username",
    "viber": "Viber bot URI",
    "webchat": "web chat address and account ID",
}


def channel_name(channel: str) -> str:
    """The channel as admins know it: "WhatsApp", "Web chat"; an unknown one as written."""
    return CHANNEL_NAMES.get(channel, channel)


# Condition operators (flow conditions and trigger conditions): the two that need no value, and every one.
VALUELESS_OPS = ("is_set", "is_not_set")
CONDITION_OPS = ("==", "!=", ">", ">=", "<", "<=", "contains", "is_set", "is_not_set")
VALUED_OPS = frozenset(CONDITION_OPS) - frozenset(VALUELESS_OPS)
MATCH_MODES = ("all", "any")  # a condition holds when all its rules do, or any of them
FIELD_OPS = ("set", "increase", "decrease", "clear")  # what a step or an action does to a field
TAG_OPS = ("add", "remove")
