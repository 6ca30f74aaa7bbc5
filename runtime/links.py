"""Entry point links: what a ref carries, each channel's link for it, and the limits each channel puts on it.

Pure functions over strings. Reading links back from whatever an admin pastes is runtime/link_reading.py, which
shares the ref grammar defined here.

Decisions where the domain spec is silent:
- ``+`` in a link is kept as ``+`` (phone numbers), never read as a space; Referflow encodes spaces as ``%20``.
- Telegram: a ref with characters outside ``A-Z a-z 0-9 _ -`` is sent base64url-encoded (no padding).
- Instagram: raw JSON after ``jsondata--`` is sent base64url-encoded (the JSON grammar allows both forms).
"""

from __future__ import annotations

import base64
import json as jsonlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from urllib.parse import quote

from runtime.vocabulary import CHANNEL_NAMES, CHANNELS, IDENTITY_SETTINGS

USER_ID_PLACEHOLDER = "{{user_id}}"
LONGEST_USER_ID = "9223372036854775807"  # SQLite's largest integer id: the longest a filled-in template gets
TELEGRAM_START_LIMIT = 64
REF_LIMIT = 2083


class LinkError(ValueError):
    """A link cannot be built or a pattern cannot be used; the message is written for the admin."""


@dataclass(frozen=True)
class ChannelIdentities:
    page_id: str = ""
    instagram_username: str = ""
    whatsapp_number: str = ""
    telegram_bot: str = ""
    viber_uri: str = ""
    webchat_base_url: str = ""
    webchat_account_id: str = ""

    def with_own_webchat(self, public_url: str, own_account: str) -> ChannelIdentities:
        """Referflow's own web chat wherever the admin set no other: PUBLIC_URL/webchat and the account id generated
        once, so web chat links work with no set-up."""
        base = self.webchat_base_url.strip() or (f"{public_url.strip().rstrip('/')}/webchat" if public_url.strip()
                                                 else "")
        return replace(self, webchat_base_url=base, webchat_account_id=self.webchat_account_id.strip() or own_account)

    def configured_channels(self) -> list[str]:
        return [channel for channel in CHANNELS if self.link_prefix(channel)]

    def link_prefix(self, channel: str) -> str | None:
        """The link up to where the (encoded) ref goes, or None when the channel is not set up."""
        return _link_prefixes(self).get(channel) or None


@lru_cache(maxsize=64)
def _link_prefixes(identities: ChannelIdentities) -> dict[str, str]:
    """Every channel's link prefix, worked out once per set of identities (links are built on the hot path)."""
    page, user = identities.page_id.strip(), identities.instagram_username.strip().lstrip("@")
    phone, bot = re.sub(r"\D", "", identities.whatsapp_number), identities.telegram_bot.strip().lstrip("@")
    viber, account = identities.viber_uri.strip(), identities.webchat_account_id.strip()
    base = identities.webchat_base_url.strip().rstrip("/")
    return {
        "messenger": page and f"https://m.me/{_quote(page)}?ref=",
        "instagram": user and f"https://ig.me/m/{_quote(user)}?ref=",
        "whatsapp": phone and f"https://wa.me/{phone}?text=/",
        "telegram": bot and f"https://t.me/{_quote(bot)}?start=",
        "viber": viber and f"viber://pa?chatURI={_quote(viber)}&context=",
        "webchat": base and account and f"{base}/?p={_quote(account)}&ref=",
    }


@dataclass(frozen=True)
class PayloadItem:
    key: str | None
    value: str

    def to_dict(self) -> dict:
        return {"key": self.key, "value": self.value}


@dataclass(frozen=True)
class LintProblem:
    channel: str
    code: str
    message: str

    def to_dict(self) -> dict:
        return {"channel": self.channel, "code": self.code, "message": self.message}


def build_ref(entry: str, *, referrer: str | int | None = None, payload: Sequence[PayloadItem] = (),
              json: dict | None = None, encode_json: bool = False) -> str:
    """Compose ``ENTRY[-cREFERRER][PAYLOAD]``; raises LinkError for parts a link cannot carry unambiguously.

    ``referrer`` may be ``"{{user_id}}"`` for a link template. ``encode_json`` sends the JSON base64url-encoded.
    """
    if reason := check_entry_ref(entry):
        raise LinkError(reason)
    ref = entry + _referrer_part(referrer)
    if json is None:
        return ref + _payload_part(payload)
    if payload:
        raise LinkError("A link can carry payload values or JSON data, but not both.")
    return ref + "jsondata--" + _dump_json(json, encode_json)


def build_link(channel: str, ref: str, identities: ChannelIdentities) -> str:
    """The channel's link for a ref, encoded as the channel needs; raises LinkError when the channel is not set up."""
    if channel not in CHANNELS:
        raise LinkError(f"'{channel}' is not a channel Referflow builds links for; choose one of "
                        f"{', '.join(CHANNELS)}.")
    prefix = identities.link_prefix(channel)
    if prefix is None:
        name, setting = CHANNEL_NAMES[channel], IDENTITY_SETTINGS[channel]
        raise LinkError(f"{name} is not set up yet: add the {setting} in the workspace settings to build "
                        f"{name} links.")
    sent, _ = _adapt_ref(channel, ref)
    return prefix + _quote_ref(sent)


def referral_template(channel: str, entry: str, identities: ChannelIdentities) -> str:
    """The personal link the bot sends each contact, with ``-c{{user_id}}`` left readable for the template engine.
    Filled in with a contact's id it is exactly the link build_link builds for that id: entry refs only use
    characters every channel carries as they are, so nothing around the id is ever encoded."""
    return build_link(channel, build_ref(entry, referrer=USER_ID_PLACEHOLDER), identities)


def lint_link(channel: str | None, ref: str) -> tuple[LintProblem, ...]:
    """Channel limits the ref breaks once Referflow builds its link; ``{{user_id}}`` counts as 19 digits."""
    if channel not in CHANNELS:
        return ()
    sent, encoded = _adapt_ref(channel, ref)
    return check_limits(channel, sent, encoded=encoded)


def check_entry_ref(ref: str) -> str | None:
    """None when ``ref`` can name an entry point, else the reason it cannot, written for the admin."""
    if not ref:
        return "An entry point needs a ref; it cannot be empty."
    if bad := _describe_bad_characters(ref, NOT_TELEGRAM):
        return f"The ref '{ref}' contains {bad}; refs may only use letters, digits, '_' and single hyphens."
    if ref.startswith("-") or ref.endswith("-"):
        return f"The ref '{ref}' cannot start or end with a hyphen."
    if "--" in ref:
        return f"The ref '{ref}' contains '--', which links use to separate payload values; use a single hyphen."
    if ending := _DIGIT_REFERRER_SUFFIX.search(ref):
        return f"The ref '{ref}' ends with '{ending[0]}', which links read as a referrer's contact id."
    if "jsondata" in ref.lower():
        return f"The ref '{ref}' contains 'jsondata', which links use to mark JSON data."
    return None


@dataclass(frozen=True)
class ChannelLinks:
    """A channel's entry link, the personal referral link template, and the channel limits either breaks."""

    channel: str
    entry_link: str
    referral_link: str
    problems: tuple[LintProblem, ...]
    entry_fits: bool = True  # the entry link itself keeps the channel's limits (a QR code of it would work)


def build_entry_links(ref: str, identities: ChannelIdentities) -> list[ChannelLinks]:
    """Links for every configured channel; empty when none is set up or the ref cannot name an entry point."""
    if check_entry_ref(ref):
        return []
    links = []
    for channel in identities.configured_channels():
        entry_problems = lint_link(channel, ref)
        problems = (*entry_problems, *lint_link(channel, ref + "-c" + USER_ID_PLACEHOLDER))
        links.append(ChannelLinks(channel, build_link(channel, ref, identities),
                                  referral_template(channel, ref, identities), tuple(dict.fromkeys(problems)),
                                  entry_fits=not entry_problems))
    return links


# --- the ref grammar, shared with reading links -----------------------------------------------------------------------


NOT_TELEGRAM = re.compile(r"[^A-Za-z0-9_-]")


def is_all(text: str, disallowed: re.Pattern[str]) -> bool:
    return bool(text) and not disallowed.search(text)


FIRST_SEPARATOR = re.compile(r"--|[–—]")
LONG_DASH = re.compile(r"[–—]")
_DIGIT_REFERRER_SUFFIX = re.compile(r"-c[0-9]+\Z")


def encode_base64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii").rstrip("=")


# --- building links ------------------------------------------------------------------------------------------------

def _referrer_part(referrer: str | int | None) -> str:
    if referrer is None:
        return ""
    text = str(referrer).strip()
    if isinstance(referrer, bool) or not (text == USER_ID_PLACEHOLDER or re.fullmatch(r"[0-9]+", text)):
        raise LinkError(f"The referrer must be a contact id (digits only) or {{{{user_id}}}}; '{text}' is not.")
    return "-c" + text


def _payload_part(payload: Sequence[PayloadItem]) -> str:
    tokens: list[str] = []
    for index, item in enumerate(payload):
        if item.key is None and index:
            raise LinkError(f"Only the first payload value can go to the entry point's default field; give "
                            f"'{item.value}' a field ID or name.")
        if item.key is not None and not item.key.strip():
            raise LinkError(f"The payload value '{item.value}' needs a field ID or name.")
        tokens += [item.value] if item.key is None else [item.key.strip(), item.value]
    for position, token in enumerate(tokens, start=1):
        _check_token(token, last=position == len(tokens))
    return "".join("--" + token for token in tokens)


def _check_token(token: str, *, last: bool) -> None:
    if "--" in token or LONG_DASH.search(token):
        raise LinkError(f"'{token}' contains '--' or a long dash, which links use to separate payload values; "
                        "remove it or send the data as JSON.")
    if token.endswith("-") and not last:
        raise LinkError(f"'{token}' ends with '-', which would run into the '--' after it; remove the hyphen "
                        "or make it the last value.")


def _dump_json(data: dict, encode: bool) -> str:
    if not isinstance(data, dict):
        raise LinkError("JSON data for a link must be an object such as {\"plan\": \"pro\"}.")
    try:
        text = jsonlib.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError):
        raise LinkError("JSON data for a link may only hold text, numbers, true/false, null, lists and "
                        "objects.") from None
    return encode_base64(text) if encode else text


def _adapt_ref(channel: str, ref: str) -> tuple[str, bool]:
    """The ref as the channel must carry it, and whether it had to be encoded for that."""
    if channel == "telegram":
        sample = ref.replace(USER_ID_PLACEHOLDER, LONGEST_USER_ID)
        if not sample or is_all(sample, NOT_TELEGRAM) or USER_ID_PLACEHOLDER in ref:
            return ref, False  # a template cannot be encoded before its id is filled in
        return encode_base64(ref), True
    separator = FIRST_SEPARATOR.search(ref)
    head = ref[:separator.start()] if separator else ""
    if channel == "instagram" and head.endswith("jsondata") and ref[separator.end():].lstrip().startswith("{"):
        return f"{head}--{encode_base64(ref[separator.end():])}", True
    return ref, False


def _quote(text: str) -> str:
    return quote(text, safe="")


def _quote_ref(ref: str) -> str:
    quoted = _quote(ref).replace(_quote(USER_ID_PLACEHOLDER), USER_ID_PLACEHOLDER)
    return quoted[:-1] + "%2E" if quoted.endswith(".") else quoted  # a bare final '.' reads as punctuation


# --- channel limits ------------------------------------------------------------------------------------------------

_NOT_INSTAGRAM = re.compile(r"[^A-Za-z0-9_=-]")


def check_limits(channel: str, sent: str, *, encoded: bool) -> tuple[LintProblem, ...]:
    sample = sent.replace(USER_ID_PLACEHOLDER, LONGEST_USER_ID)
    personal = USER_ID_PLACEHOLDER in sent
    if channel == "telegram":
        return _check_telegram(sample, personal, encoded)
    if channel == "instagram":
        bad = _describe_bad_characters(sample, _NOT_INSTAGRAM)
        problems = _too_long(channel, sample, REF_LIMIT, personal)
        if not bad:
            return problems
        return (LintProblem(channel, "invalid_characters", f"Instagram refs may only use letters, digits, '-', '_' "
                            f"and '=', but this one contains {bad}. Remove them, or carry the data as JSON "
                            "(jsondata--), which Referflow encodes for Instagram."), *problems)
    if channel == "messenger":
        return _too_long(channel, sample, REF_LIMIT, personal)
    return ()


def _check_telegram(sample: str, personal: bool, encoded: bool) -> tuple[LintProblem, ...]:
    bad = _describe_bad_characters(sample, NOT_TELEGRAM)
    if bad and personal:
        return (LintProblem("telegram", "cannot_encode", f"Telegram's start value may only use letters, digits, '_' "
                            f"and '-', and this personal link also contains {bad}. Referflow encodes such refs, "
                            "but not while {{user_id}} is still to be filled in, so keep personal Telegram links to "
                            "those characters."),)
    if bad:
        return (LintProblem("telegram", "invalid_characters", f"Telegram's start value may only use letters, digits, "
                            f"'_' and '-', but this one contains {bad}, so Telegram would drop it. Build the link "
                            "in Referflow, which encodes such refs."),)
    note = " once base64-encoded, as Telegram needs for characters other than letters, digits, '_' and '-'"
    return _too_long("telegram", sample, TELEGRAM_START_LIMIT, personal, note if encoded else "")


def _too_long(channel: str, sample: str, limit: int, personal: bool, note: str = "") -> tuple[LintProblem, ...]:
    if len(sample) <= limit:
        return ()
    filled = " with the longest possible contact id filled in" if personal else ""
    name = CHANNEL_NAMES[channel]
    return (LintProblem(channel, "too_long", f"{name} accepts at most {limit} characters in a ref, but this one "
                        f"has {len(sample)}{filled}{note}. Shorten the entry point ref or the data it carries."),)


def _describe_bad_characters(text: str, disallowed: re.Pattern[str]) -> str:
    bad = list(dict.fromkeys(disallowed.findall(text)))
    shown = ["spaces" if char == " " else f"'{char}'" for char in bad[:5]] + (["more"] if len(bad) > 5 else [])
    return " and ".join(shown) if len(shown) < 3 else ", ".join(shown[:-1]) + " and " + shown[-1]
