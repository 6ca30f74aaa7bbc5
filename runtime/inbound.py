"""An inbound click, made storable and read before the write transaction starts (DOMAIN §4, step 1).

Whatever a click carries is attacker-controlled: its text is cleaned (what SQLite cannot store is replaced), cut at
what the channel delivers, matched against the admins' WhatsApp text patterns and parsed — all outside
BEGIN IMMEDIATE, so nothing in a message can hold the write lock that every other open waits for.
"""

from __future__ import annotations

import re
import sys
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace

from runtime.definitions import Definitions
from runtime.link_reading import ParsedRef, extract_ref, match_whatsapp_text, parse_ref
from runtime.links import LinkError, PayloadItem
from runtime.vocabulary import channel_name


@dataclass(frozen=True)
class Inbound:
    """One click that reached the bot: the text it carried (a link, a ref, `/start REF`, a WhatsApp draft) and who
    sent it. An event id is unique per channel and bot; `bot` stays "" until channels connect bots."""

    text: str
    channel: str
    channel_user_id: str
    first_name: str = ""
    last_name: str = ""
    phone: str = ""
    event_id: str | None = None
    bot: str = ""


# The most text one inbound event brings on each channel (the platforms' documented limits).
CHANNEL_TEXT_LIMITS = {
    "messenger": 2083,  # an m.me ref: at most 2,083 characters
    "instagram": 2083,  # an ig.me ref: the same
    "whatsapp": 4096,  # a WhatsApp text message body: at most 4,096 characters
    "telegram": 4096,  # a Telegram message, `/start REF` included: at most 4,096 characters
    "viber": 7000,  # a Viber bot text message: at most 7,000 characters
    "webchat": 4096,  # Referflow's own web chat box, sized like the messengers'
}
# A pasted link carries the text percent-encoded: one character becomes up to 12 (a 4-byte UTF-8 character), plus
# the address in front. Beyond that the text cannot be a link the channel delivers, so it is cut before reading.
_ENCODED_SIZE = 12
_ADDRESS_ROOM = 512
_TEXT_FIELDS = ("text", "channel_user_id", "first_name", "last_name", "phone", "event_id", "bot")


def clean_inbound(inbound: Inbound) -> tuple[Inbound, tuple[str, ...]]:
    """The inbound with every text storable — a lone surrogate (a name cut in the middle of an emoji, or bytes that
    were not UTF-8) or a NUL character becomes U+FFFD, the replacement character — and its text cut where it can no
    longer be anything the channel delivers (first, so that cleaning never works through a flood); with the warning
    the cut gives."""
    limit = _text_limit(inbound.channel)
    text, cut = _cut(inbound.text, limit * _ENCODED_SIZE + _ADDRESS_ROOM) if isinstance(inbound.text, str) else (
        "", False)
    if not cut and all(_is_plain(getattr(inbound, name)) for name in _TEXT_FIELDS):  # the usual case
        return inbound, ()
    changes = {name: clean for name in _TEXT_FIELDS
               if isinstance(value := text if name == "text" else getattr(inbound, name), str)
               and (clean := storable_text(value)) is not getattr(inbound, name)}
    cleaned = replace(inbound, **changes) if changes else inbound
    return cleaned, (_cut_warning(inbound.channel, limit),) if cut else ()


def _is_plain(value: object) -> bool:
    return not isinstance(value, str) or (value.isascii() and "\x00" not in value)


def storable_text(text: str) -> str:
    """`text` itself when SQLite can store it as it is, else a copy with what it cannot store replaced."""
    if text.isascii() and "\x00" not in text:
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # surrogates: a lone one is replaced, two halves of one emoji join up again
        text = _LONE_SURROGATE.sub("\ufffd", text).encode("utf-16", "surrogatepass").decode("utf-16")
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


_LONE_SURROGATE = re.compile("[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]")


@dataclass(frozen=True)
class LinkReading:
    """What an inbound text says, read against one definitions snapshot (`version`); the open re-reads it when the
    definitions changed before its transaction began."""

    version: int
    ref: str
    entry_ref: str | None
    referrer: str | None
    payload: tuple[PayloadItem, ...]
    json: dict | None
    warnings: tuple[str, ...]


def read_inbound(inbound: Inbound, definitions: Definitions, parses: ParseCache,
                 warnings: tuple[str, ...] = ()) -> LinkReading:
    """Step 1 of an open, on a cleaned inbound and before any write: the WhatsApp text patterns first (RE2, linear
    in the text), then the link grammar. Problems become warnings, after the `warnings` given."""
    limit = _text_limit(inbound.channel)
    text, warnings = inbound.text, list(warnings)
    if inbound.channel == "whatsapp":
        matched = _match_patterns(text, limit, definitions, warnings)
        if matched is not None:
            return matched
    channel, ref, found, parsed = parses.parse(text, definitions.refs, inbound.channel)
    if channel and channel != inbound.channel:
        warnings.append(f"This is a {channel} link, but the person is on {inbound.channel}.")
    return LinkReading(definitions.version, ref, parsed.entry, parsed.referrer, parsed.payload, parsed.json,
                       tuple(dict.fromkeys((*warnings, *found, *parsed.warnings))))


def _match_patterns(text: str, limit: int, definitions: Definitions, warnings: list[str]) -> LinkReading | None:
    for entry in definitions.entries_with_whatsapp_pattern():
        try:
            groups = match_whatsapp_text(text, entry.whatsapp_pattern)
        except LinkError as error:  # a stored pattern RE2 refuses: the open goes on without it
            warnings.append(f"Entry point '{entry.ref}': {error}")
            continue
        if groups is None:
            continue
        if not groups.get("ref"):
            return LinkReading(definitions.version, entry.ref, entry.ref, groups.get("referrer"), (), None,
                               tuple(warnings))
        ref, cut = _cut(groups["ref"], limit)
        if cut:
            warnings.append(_cut_warning("whatsapp", limit))
        parsed = parse_ref(ref, definitions.refs)
        return LinkReading(definitions.version, ref, parsed.entry, groups.get("referrer") or parsed.referrer,
                           parsed.payload, parsed.json, (*warnings, *parsed.warnings))
    return None


def _text_limit(channel: str) -> int:
    return CHANNEL_TEXT_LIMITS.get(channel, max(CHANNEL_TEXT_LIMITS.values()))


def _cut(text: str, limit: int) -> tuple[str, bool]:
    return (text[:limit], True) if len(text) > limit else (text, False)


def _cut_warning(channel: str, limit: int) -> str:
    return (f"The text that came in is longer than the {limit:,} characters {channel_name(channel)} delivers; only "
            f"the first {limit:,} were read.")


ParsedText = tuple[str | None, str, tuple[str, ...], ParsedRef]  # link channel, ref, warnings, parsed ref


class ParseCache:
    """Parsed link texts, most recently used kept, bounded by count and by the memory they hold: one campaign link
    is opened again and again, and a flood of huge distinct links never fills memory. Thread-safe."""

    def __init__(self, *, max_entries: int = 4096, max_bytes: int = 8 * 1024 * 1024) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[tuple, tuple[ParsedText, int]] = OrderedDict()
        self._lock = threading.Lock()

    def parse(self, text: str, refs: tuple[str, ...], channel: str) -> ParsedText:
        """What a text sent on `channel` says: the channel a pasted link is for, its ref (cut at the channel's
        limit), the warnings reading it gave and the parsed ref."""
        key = (text, channel, refs)
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                return found[0]
        value = _parse_text(text, refs, channel)
        size = _size_of(text, value)
        if size > self.max_bytes // 16:  # one huge text must not push out the whole cache
            return value
        with self._lock:
            if key not in self._entries:
                self._entries[key] = (value, size)
                self.bytes += size
            while len(self._entries) > self.max_entries or self.bytes > self.max_bytes:
                _, (_, dropped) = self._entries.popitem(last=False)
                self.bytes -= dropped
        return value

    def __len__(self) -> int:
        return len(self._entries)



def _parse_text(text: str, refs: tuple[str, ...], channel: str) -> ParsedText:
    limit = _text_limit(channel)
    found_channel, ref, warnings = extract_ref(text)
    ref, cut = _cut(ref, limit)
    return found_channel, ref, (*warnings, _cut_warning(channel, limit)) if cut else warnings, parse_ref(ref, refs)


def _size_of(text: str, value: ParsedText) -> int:
    """Bytes an entry holds, near enough: its texts as Python stores them; the parsed ref's payload values and JSON
    are cut from its ref, and counted as four times the ref."""
    _, ref, warnings, parsed = value
    texts = (text, *warnings, *parsed.warnings)
    return sum(map(sys.getsizeof, texts)) + 5 * sys.getsizeof(ref) + 200
