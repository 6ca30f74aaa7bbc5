"""The product's words, defined once: the channels a bot lives on and the identity an admin sets up for each; the
operators conditions and field changes use; what became of a referral; how long a wait is, written and read; and
when a channel lets the bot write first.

Every module that lists channels, names them for an admin or checks a channel's limits reads them from here, so a
new channel starts in this file.
"""

import re
from datetime import datetime, timedelta

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


# The settings that say who the bot is on each channel, in the Settings page's order, each with its label there.
IDENTITY_FIELDS = {
    "page_id": "Facebook page ID or username",
    "instagram_username": "Instagram username",
    "whatsapp_number": "WhatsApp number",
    "telegram_bot": "Telegram bot username",
    "viber_uri": "Viber bot URI",
    "webchat_base_url": "Web chat address",
    "webchat_account_id": "Web chat account ID",
}
CHANNEL_IDENTITY = {"messenger": "page_id", "instagram": "instagram_username", "whatsapp": "whatsapp_number",
                    "telegram": "telegram_bot", "viber": "viber_uri", "webchat": "webchat_base_url"}
# WhatsApp lets a bot send free text only this long after the person's last message (the customer-service window);
# the other channels let it write any time.
REPLY_WINDOWS = {"whatsapp": timedelta(hours=24)}


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
# How the pages say them: a rule reads "points is at least 5", a change "increase by 1".
OPERATOR_WORDS = {"==": "is", "!=": "is not", ">": "is more than", ">=": "is at least", "<": "is less than",
                  "<=": "is at most", "contains": "contains", "is_set": "has a value", "is_not_set": "has no value"}
FIELD_OP_WORDS = {"set": "set to", "increase": "increase by", "decrease": "decrease by", "clear": "clear"}


def window_closed(channel: str, last_inbound: datetime | None, now: datetime) -> str | None:
    """Why free text cannot go to a contact on `channel` now, or None while it can: always, except where the
    channel's reply window (REPLY_WINDOWS) has closed since the person last wrote."""
    window = REPLY_WINDOWS.get(channel)
    if window is None or (last_inbound is not None and now - last_inbound <= window):
        return None
    name = channel_name(channel)
    if last_inbound is None:
        return f"{name}: the person has not written to the bot, so free text cannot be sent to them."
    hours = (now - last_inbound).total_seconds() / 3600
    return (f"{name}: the person's last message was {hours:.0f} hours ago; free text can be sent only within "
            f"{window_hours(channel)} hours of it (message templates are not supported).")


def window_hours(channel: str) -> int:
    """The channel's reply window in hours, for the admin's sentences: WhatsApp's 24."""
    return int(REPLY_WINDOWS[channel].total_seconds() // 3600)


# What a trigger can start on (DOMAIN §5). Through an entry point: these can be limited to one. A referral's: they
# run in the referrer's context, with the person who joined as {{referred.*}}. A tag's: limited to one tag.
TRIGGER_EVENTS = ("contact_created", "entry_point_opened", "referred_new_contact", "referred_existing_contact",
                  "referred_second_level", "field_changed", "tag_added", "tag_removed")
ENTRY_EVENTS = ("contact_created", "entry_point_opened", "referred_new_contact", "referred_existing_contact",
                "referred_second_level")
REFERRAL_EVENTS = ("referred_new_contact", "referred_existing_contact", "referred_second_level")
TAG_EVENTS = ("tag_added", "tag_removed")


# What became of a referral (DOMAIN §4 step 4), stored with it: first the two that count for the referrer.
REFERRAL_STATUSES = ("counted", "repeat", "duplicate", "self", "unknown_referrer", "disabled")
COUNTED_STATUSES = ("counted", "repeat")
BLOCKED_STATUSES = ("duplicate", "self", "unknown_referrer", "disabled")
# Each status in a few words for a table cell, and as the end of "The referral is …" (an open with no entry point
# records no referral, but says so).
REFERRAL_STATUS_NAMES = {"counted": "counted", "repeat": "counted again", "duplicate": "duplicate",
                         "self": "self-referral", "unknown_referrer": "unknown referrer", "disabled": "referrals off"}
REFERRAL_OUTCOMES = {"counted": "counted", "repeat": "counted again", "duplicate": "not counted again (duplicate)",
                     "self": "blocked (self-referral)", "unknown_referrer": "blocked (unknown referrer)",
                     "disabled": "blocked (referrals are off)", "no_entry_point": "ignored (no entry point)"}


# How long, as admins, scenarios and the command line write it: 30s, 15m, 2h, 1d, 1w, 1h30m, "2 days", "1 hour 30 min".
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_UNIT_WORDS = r"(s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?|w|weeks?)"
_DURATION_PART = re.compile(rf"(\d+(?:\.\d+)?)\s*{_UNIT_WORDS}(?![a-z])")
_DURATION = re.compile(rf"(?:\s*\d+(?:\.\d+)?\s*{_UNIT_WORDS}(?![a-z]))+\s*")
_SPOKEN_UNITS = (("day", 86400), ("hour", 3600), ("minute", 60))


class DurationError(ValueError):
    """Text that is not a duration; the message shows the admin what one looks like."""


def is_duration(text: str) -> bool:
    return bool(_DURATION.fullmatch((text or "").strip().lower()))


def parse_duration(text: str) -> timedelta:
    """`30s`, `15m`, `2h`, `1d`, `1h30m`, `2 days` as a timedelta; raises DurationError for anything else."""
    if not is_duration(text):
        raise DurationError(f"'{(text or '').strip()}' is not a duration; write e.g. 30s, 15m, 2h, 1d or 1h30m.")
    parts = _DURATION_PART.findall(text.strip().lower())
    return timedelta(seconds=sum(float(number) * DURATION_UNITS[unit[0]] for number, unit in parts))


def format_duration(seconds: float) -> str:
    """A wait in the largest unit it is a whole number of: "2 hours", "1 day", "90 seconds"."""
    for unit, size in _SPOKEN_UNITS:
        if seconds and seconds % size == 0:
            return _plural(int(seconds // size), unit)
    return _plural(seconds, "second")


def _plural(count: float, unit: str) -> str:
    return f"{count:g} {unit}" if count == 1 else f"{count:g} {unit}s"
