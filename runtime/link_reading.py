"""Reading links back: whatever an admin pastes or a person sends (a link, a bare ref, ``/start REF``, a WhatsApp
text an admin's pattern matches) split into channel, entry point, referrer and payload. Never raises: bad parts
become warnings.

Pure functions over strings; resolving a parsed ref against stored entry points happens elsewhere. Its length is
the grammar's: every form of link on six channels, each decoding step and the warning it gives.

Decisions where the domain spec is silent:
- A long dash (– or —) always means ``--``, except inside JSON data after ``jsondata--``, which is left untouched.
- A link is decoded a second time only when it shows the double-encoding signature ``%25XX``; literal text such as
  ``%41`` inside a value therefore cannot travel in a link.
- A pasted link runs to the end of its line, so unencoded spaces stay in the ref; a link inside other text ends at
  the next whitespace. Sentence punctuation after a link is dropped (Referflow encodes a ref's own final '.').
- Telegram: a start value is read as base64 when it decodes canonically to UTF-8 text that needs that encoding,
  holds a '--' and has no control characters; ``parse_link`` keeps the plain value instead when only that names a
  registered entry point.
- A ``-c{{user_id}}`` placeholder is recognised where a referrer goes; it yields no referrer and a warning.
- Payload keys are stripped of surrounding spaces, values are kept as written; a pair without a key is skipped.
"""

from __future__ import annotations

import base64
import difflib
import json as jsonlib
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import unquote

import re2

from runtime.links import (
    FIRST_SEPARATOR,
    LONG_DASH,
    NOT_TELEGRAM,
    USER_ID_PLACEHOLDER,
    LinkError,
    LintProblem,
    PayloadItem,
    check_limits,
    encode_base64,
    is_all,
)


@dataclass(frozen=True)
class ParsedRef:
    ref: str
    entry: str | None
    referrer: str | None
    payload: tuple[PayloadItem, ...]
    json: dict | None
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class ParsedLink:
    channel: str | None
    ref: str
    entry: str | None
    referrer: str | None
    payload: tuple[PayloadItem, ...]
    json: dict | None
    warnings: tuple[str, ...]
    lint: tuple[LintProblem, ...]

    def to_dict(self) -> dict:
        return {
            "channel": self.channel,
            "ref": self.ref,
            "entry": self.entry,
            "referrer": self.referrer,
            "payload": [item.to_dict() for item in self.payload],
            "json": self.json,
            "warnings": list(self.warnings),
            "lint": [problem.to_dict() for problem in self.lint],
        }


def parse_link(text: str, entry_refs: Iterable[str] = ()) -> ParsedLink:
    """Read a pasted link (or bare ref, or ``/start REF`` text) into its parts; never raises."""
    refs = _registered_refs(entry_refs)
    found = _extract(text)
    ref, sent = found.ref, found.sent
    if ref != sent and found.channel == "telegram" and _resolves(sent, refs) and not _resolves(ref, refs):
        ref = sent
    parsed = parse_ref(ref, refs)
    lint = check_limits(found.channel, sent, encoded=ref != sent) if found.channel else ()
    warnings = tuple(dict.fromkeys((*found.warnings, *parsed.warnings)))
    return ParsedLink(found.channel, parsed.ref, parsed.entry, parsed.referrer, parsed.payload, parsed.json,
                      warnings, lint)


def extract_ref(text: str) -> tuple[str | None, str, tuple[str, ...]]:
    """Find the channel and the ref in any pasted link or text: ``(channel or None, ref, warnings)``."""
    found = _extract(text)
    return found.channel, found.ref, found.warnings


def parse_ref(ref: str, entry_refs: Iterable[str]) -> ParsedRef:
    """Split a ref into entry point, referrer and payload; bad parts become warnings, never exceptions."""
    text, warnings = _normalise_ref(ref if isinstance(ref, str) else "")
    if not text:
        return ParsedRef("", None, None, (), None, (*warnings, "The link has no ref, so it opens the bot "
                                                   "without an entry point."))
    refs = _registered_refs(entry_refs)
    entry = _resolve_entry(text, refs)
    head = entry if entry is not None else _guess_entry(text)
    if entry is None:
        warnings.append(_unknown_entry_warning(head, refs))
    referrer, json_text, payload_text = _split_tail(text[len(head):]) or (None, None, "")
    if referrer == USER_ID_PLACEHOLDER:
        referrer = None
        warnings.append("The link still holds the {{user_id}} placeholder, so it names no referrer; the bot fills "
                        "in each contact's id when it sends the link.")
    payload = _parse_payload(payload_text, warnings) if payload_text else ()
    data = _parse_json(json_text, warnings) if json_text is not None else None
    return ParsedRef(text, entry, referrer, payload, data, tuple(count_repeats(warnings)))


def count_repeats(warnings: Iterable[str]) -> list[str]:
    """Each warning once, in the order first given; one given more than once says how many times."""
    warnings = list(warnings)
    if len(set(warnings)) == len(warnings):  # the usual case: nothing repeats
        return warnings
    return [warning if times == 1 else f"{warning} ({times:,} times)" for warning, times in Counter(warnings).items()]


def match_whatsapp_text(text: str, pattern: str) -> dict[str, str] | None:
    """Apply an admin's pattern with named groups ``ref`` and/or ``referrer`` to an incoming WhatsApp message.

    Returns the groups that matched (stripped), or None when the pattern finds nothing to read. Patterns run on RE2,
    in time linear in the message, so no message can stall link processing; a pattern RE2 cannot run raises a
    LinkError naming what it uses that is not supported.
    """
    compiled = _compile_pattern(pattern)
    wanted = sorted({"ref", "referrer"} & compiled.groupindex.keys())
    if not wanted:
        raise LinkError("The WhatsApp text pattern needs a named group, (?P<ref>...) or (?P<referrer>...), "
                        "to say which part of the message to read.")
    match = compiled.search(text)
    found = {name: match[name].strip() for name in wanted if match and match[name] is not None}
    return found or None


@lru_cache(maxsize=256)
def _compile_pattern(pattern: str) -> re2._Regexp:
    try:
        return re2.compile(pattern, _RE2_OPTIONS)
    except (re2.error, UnicodeError, TypeError, ValueError) as error:
        refusal = error
    try:
        re.compile(pattern)
    except (re.error, OverflowError, RecursionError, TypeError) as error:
        detail = getattr(error, "msg", "it cannot be read")
        raise LinkError(f"The WhatsApp text pattern is not a valid regular expression ({detail}).") from None
    raise LinkError(f"The WhatsApp text pattern uses {_describe_refusal(pattern, refusal)}, which Referflow does not "
                    "support: text patterns must run in time proportional to the message, so that no message can "
                    "hold up the bot. Rewrite the pattern without it.") from None


def _re2_options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False  # a refused pattern is explained to the admin, not logged to stderr
    return options


_RE2_OPTIONS = _re2_options()


# What Python's re accepts and RE2 refuses, as an admin would recognise it in their pattern.
_UNSUPPORTED = (
    (re.compile(r"\(\?<[=!]"), "a lookbehind, (?<=...) or (?<!...)"),
    (re.compile(r"\(\?[=!]"), "a lookahead, (?=...) or (?!...)"),
    (re.compile(r"\(\?P=|\\[1-9]|\\g<"), "a backreference such as \\1 or (?P=name)"),
    (re.compile(r"\(\?>"), "an atomic group, (?>...)"),
    (re.compile(r"\(\?\("), "a conditional group, (?(1)...|...)"),
    (re.compile(r"[*+?}]\+"), "a possessive quantifier such as ++ or *+"),
    (re.compile(r"\\Z"), "\\Z (write \\z for the end of the message)"),
)


def _describe_refusal(pattern: str, error: Exception) -> str:
    unescaped = re.sub(r"\\\\", "", pattern)  # an escaped backslash starts none of the constructs below
    for construct, description in _UNSUPPORTED:
        if construct.search(unescaped):
            return description
    if isinstance(error, UnicodeError):
        return "a character that is not valid text (half of an emoji pair, a lone surrogate)"
    reason = error.args[0] if error.args else ""
    reason = reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
    if "repetition size" in reason:
        return "a repetition count over 1,000"
    if "too large" in reason:
        return "more repetitions than fit in memory"
    return f"something RE2, the engine Referflow runs patterns on, cannot run ({reason or type(error).__name__})"


@dataclass(frozen=True)
class _Extraction:
    channel: str | None
    ref: str
    warnings: tuple[str, ...]
    sent: str  # the ref as it travels in the link, before Telegram's base64 is undone


_SCHEME_OR_KNOWN_HOST = re.compile(
    r"(?:https?|viber|tg|whatsapp)://|(?:www\.)?(?:m\.me|ig\.me|wa\.me|t\.me|telegram\.me|messenger\.com"
    r"|instagram\.com|api\.whatsapp\.com)/", re.I)
_BARE_HOST = re.compile(r"(?P<host>[a-z0-9.-]+)/[^\s?]*\?", re.I)
_URL_IN_TEXT = re.compile(r"(?:^|\s)(?P<url>(?:(?:https?|viber|tg|whatsapp)://|(?:www\.)?(?:m|ig|wa|t)\.me/)\S+)",
                          re.I)
_START_COMMAND = re.compile(r"/start(?:@\w+)?(?:\s+(?P<ref>.*))?", re.I | re.S)
_QUERY_ONLY = re.compile(r"\??(?:ref|start|text|context)=", re.I)
_LINE_BREAK = re.compile(r"[\r\n]")
_WRAPPERS = "\"'`“”‘’«»<>"


def _extract(text: str) -> _Extraction:
    text = _strip_wrapping(text if isinstance(text, str) else "")
    if _starts_with_url(text):
        return _extract_from_url(_LINE_BREAK.split(text, maxsplit=1)[0])
    if command := _START_COMMAND.fullmatch(text):
        return _read_value("telegram", command["ref"] or "")
    if embedded := _URL_IN_TEXT.search(text):
        return _extract_from_url(embedded["url"])
    if _QUERY_ONLY.match(text):
        params, warnings = _parse_query(text.lstrip("?"))
        raw = next((params[key] for key in ("ref", "start", "text", "context") if key in params), "")
        return _read_value(None, raw, warnings)
    return _read_value(None, text)


def _strip_wrapping(text: str) -> str:
    start, end = 0, len(text)
    while start < end and (text[start].isspace() or text[start] in _WRAPPERS):
        start += 1
    while end > start and (text[end - 1].isspace() or text[end - 1] in _WRAPPERS):
        end -= 1
    return text[start:end]


def _starts_with_url(text: str) -> bool:
    if _SCHEME_OR_KNOWN_HOST.match(text):
        return True
    bare = _BARE_HOST.match(text)
    return bool(bare) and "--" not in bare["host"] and bool(re.search(r"\.[a-z]{2,}\Z", bare["host"], re.I))


_URL_PARTS = re.compile(r"(?:(?P<scheme>[a-z][a-z0-9+.-]*):/*)?(?P<host>[^/?#\s]*)[^?]*(?:\?(?P<query>.*))?",
                        re.I | re.S)
_SCHEME_CHANNELS = {"viber": "viber", "tg": "telegram", "whatsapp": "whatsapp"}
_HOST_CHANNELS = {
    "m.me": "messenger", "messenger.com": "messenger", "ig.me": "instagram", "instagram.com": "instagram",
    "wa.me": "whatsapp", "api.whatsapp.com": "whatsapp", "web.whatsapp.com": "whatsapp",
    "t.me": "telegram", "telegram.me": "telegram", "telegram.dog": "telegram",
}
_REF_PARAMS = {"telegram": ("start", "startgroup"), "whatsapp": ("text",), "viber": ("context",)}


def _extract_from_url(url: str) -> _Extraction:
    parts = _URL_PARTS.fullmatch(url.strip())
    scheme, host = (parts["scheme"] or "").lower(), parts["host"].lower().removeprefix("www.").split(":")[0]
    channel = _SCHEME_CHANNELS.get(scheme) or _HOST_CHANNELS.get(host) or "webchat"
    params, warnings = _parse_query(parts["query"] or "")
    keys = (*_REF_PARAMS.get(channel, ()), "ref")
    raw = next((params[key] for key in keys if key in params), "")
    return _read_value(channel, raw, warnings)


_MISPLACED_QUESTION_MARK = re.compile(r"\?(?=[A-Za-z_][A-Za-z0-9_]*=)")


def _parse_query(query: str) -> tuple[dict[str, str], tuple[str, ...]]:
    fixed, repairs = _MISPLACED_QUESTION_MARK.subn("&", query.replace("&amp;", "&"))
    params: dict[str, str] = {}
    for part in fixed.split("&"):
        key, _, value = part.partition("=")
        params.setdefault(unquote(key).strip().lower(), value)
    if not repairs:
        return params, ()
    return params, ("The link uses a second '?' where '&' was meant; Referflow read it as '&', but other apps "
                    "may not, so correct the link.",)


def _read_value(channel: str | None, raw: str, warnings: tuple[str, ...] = ()) -> _Extraction:
    text, decode_warnings = _decode_percent(_strip_trailing_punctuation(raw.strip()))
    warnings = (*warnings, *decode_warnings)
    if channel == "telegram" and (decoded := _decode_telegram_start(text)) is not None:
        return _Extraction(channel, decoded, warnings, text)
    if channel in (None, "whatsapp"):
        text = text.lstrip().removeprefix("/")
    return _Extraction(channel, text, warnings, text)


def _strip_trailing_punctuation(value: str) -> str:
    """Drop sentence punctuation after a pasted link, and a closing bracket that opens nowhere in it."""
    strippable = ".,;:!?…" + "".join(closer for closer, opener in ((")", "("), ("]", "[")) if opener not in value)
    end = len(value)
    while end and (value[end - 1] in strippable or value[end - 1].isspace()):
        end -= 1
    return value[:end]


_DOUBLE_ENCODED = re.compile(r"%25[0-9A-Fa-f]{2}")


def _decode_percent(raw: str) -> tuple[str, tuple[str, ...]]:
    text = unquote(raw)
    if not _DOUBLE_ENCODED.search(raw):
        return text, ()
    return unquote(text), ("The link was URL-encoded twice (it contains '%25'), so it was decoded twice to read it.",)


def _decode_telegram_start(value: str) -> str | None:
    """The ref Referflow base64-encoded for Telegram, or None when the value is a plain ref.

    Only refs with characters Telegram refuses are encoded, and those characters can only sit in a payload or JSON,
    so the decoded text must also hold a '--' (or a long dash written for it).
    """
    text = _decode_base64_text(value) if is_all(value, NOT_TELEGRAM) else None
    if text is None or encode_base64(text) != value or is_all(text, NOT_TELEGRAM):
        return None
    if not FIRST_SEPARATOR.search(text) or any(unicodedata.category(char) == "Cc" for char in text):
        return None
    return text


def _normalise_ref(ref: str) -> tuple[str, list[str]]:
    text = ref.strip()
    separator = FIRST_SEPARATOR.search(text)
    if separator and text[:separator.start()].endswith("jsondata"):  # JSON text after it is kept as written
        fixed = text[:separator.start()] + "--" + text[separator.end():]
    else:
        fixed = LONG_DASH.sub("--", text)
    if fixed == text:
        return text, []
    return fixed, ["The ref uses a long dash (– or —) where '--' was meant, as word processors do; it was read as "
                   "'--', but correct the link so every channel reads it the same way."]


def _registered_refs(entry_refs: Iterable[str]) -> tuple[str, ...]:
    refs = (entry_refs,) if isinstance(entry_refs, str) else tuple(entry_refs or ())
    unique = {ref for ref in refs if isinstance(ref, str) and ref}
    return tuple(sorted(unique, key=lambda ref: (-len(ref), ref)))


def _resolve_entry(text: str, refs: tuple[str, ...]) -> str | None:
    """The longest registered ref that starts the text and leaves a tail the grammar accepts."""
    return next((ref for ref in refs if text.startswith(ref) and _split_tail(text[len(ref):])), None)


def _resolves(ref: str, refs: tuple[str, ...]) -> bool:
    return _resolve_entry(_normalise_ref(ref)[0], refs) is not None


_TAIL = re.compile(r"(?:-c(?P<referrer>[0-9]+|\{\{user_id\}\}))?(?P<json>jsondata--)?(?P<rest>.*)", re.S)
_REFERRER_SUFFIX = re.compile(r"-c(?:[0-9]+|\{\{user_id\}\})\Z")


def _split_tail(tail: str) -> tuple[str | None, str | None, str] | None:
    """What follows the entry: (referrer, JSON text or None, payload text), or None if it does not fit."""
    parts = _TAIL.fullmatch(tail)
    if parts["json"]:
        return parts["referrer"], parts["rest"], ""
    if parts["rest"] and not parts["rest"].startswith("--"):
        return None
    return parts["referrer"], None, parts["rest"]


def _guess_entry(text: str) -> str:
    """Without a registered match, the entry is what precedes the first '--', a jsondata marker and a referrer."""
    cut = text.find("--")
    head = text if cut < 0 else text[:cut]
    if cut >= 0 and head.endswith("jsondata"):
        head = head.removesuffix("jsondata")
    return _REFERRER_SUFFIX.sub("", head)


def _unknown_entry_warning(head: str, refs: tuple[str, ...]) -> str:
    if not head:
        return "The ref names no entry point before its data, so no entry point was opened."
    close = difflib.get_close_matches(head, refs, n=1) if len(head) <= 100 else []
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return f"No entry point has the ref '{head}'.{hint}"


def _parse_payload(text: str, warnings: list[str]) -> tuple[PayloadItem, ...]:
    parts = text.removeprefix("--").split("--")
    items = [PayloadItem(None, parts.pop(0))] if len(parts) % 2 else []
    for key, value in zip(parts[::2], parts[1::2], strict=True):
        if key.strip():
            items.append(PayloadItem(key.strip(), value))
        else:
            warnings.append(f"The payload value '{value}' has no field ID or name before it, so it was skipped.")
    return tuple(items)


def _parse_json(text: str, warnings: list[str]) -> dict | None:
    text = text.strip()
    if not text:
        warnings.append("'jsondata--' is followed by no data, so no JSON was read.")
        return None
    source = text if text.startswith("{") else _decode_base64_text(text) or text
    try:
        data = jsonlib.loads(source)
    except jsonlib.JSONDecodeError as error:
        warnings.append(f"The JSON data in the link could not be read ({error.msg} at character {error.pos + 1}), "
                        "so it was ignored; the rest of the link still applies.")
        return None
    except (ValueError, RecursionError):
        warnings.append("The JSON data in the link could not be read, so it was ignored; the rest of the link "
                        "still applies.")
        return None
    if not isinstance(data, dict):
        warnings.append(f"The JSON data in the link must be an object such as {{\"plan\": \"pro\"}}, not "
                        f"{_describe_json_kind(data)}, so it was ignored.")
        return None
    return data


def _describe_json_kind(data: object) -> str:
    if isinstance(data, bool) or data is None:
        return "true, false or null"
    return {list: "a list", str: "a piece of text"}.get(type(data), "a number")


_BASE64_CHARS = re.compile(r"[A-Za-z0-9_-]+")


def _decode_base64_text(text: str) -> str | None:
    text = text.replace("+", "-").replace("/", "_").rstrip("=")
    if not _BASE64_CHARS.fullmatch(text) or len(text) % 4 == 1:
        return None
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("utf-8")
    except ValueError:  # binascii.Error and UnicodeDecodeError are both ValueErrors
        return None
