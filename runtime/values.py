"""Custom field values: type checks with messages an admin understands, JSON storage, and JSON paths."""

import json
import math
import re
from datetime import date, datetime
from typing import Any

TRUE_WORDS = {"true", "yes", "y", "1", "on"}
FALSE_WORDS = {"false", "no", "n", "0", "off"}

# Built once: json.dumps with any option set builds a new encoder on every call, and this runs for every field change.
_COMPACT_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class FieldValueError(ValueError):
    """A value the field's type rejects; the message names the field, the type and the value."""


LARGEST_ID = 2**63 - 1  # SQLite's largest integer


def read_id(text: object) -> int | None:
    """The id a piece of user input names: ASCII digits only (never '²' or '٣', which Python's isdigit accepts),
    at most SQLite's largest integer; None for anything else."""
    if not isinstance(text, str) or not text.isascii() or not text.isdigit() or len(text) > 19:
        return None
    number = int(text)
    return number if number <= LARGEST_ID else None


def coerce_value(field_name: str, field_type: str, value: Any) -> Any:
    """The value converted to the field's type (a str from a link, or any JSON value from a JSON payload)."""
    try:
        return _COERCERS[field_type](value)
    except (ValueError, TypeError, OverflowError):
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        raise FieldValueError(
            f"Field '{field_name}' is a {_TYPE_WORDS[field_type]}; '{shown}' was not saved."
        ) from None


def encode_value(value: Any) -> str:
    """The JSON text stored in field_value.value."""
    return _COMPACT_JSON(value)


def decode_value(stored: str | None) -> Any:
    return None if stored is None else json.loads(stored)


def _to_number(value: Any) -> int | float:
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, int | float):
        number = value
    else:
        text = str(value).strip()
        if text.count(",") == 1 and "." not in text:  # "2,5" as typed in much of the world
            text = text.replace(",", ".")
        number = float(text) if re.search(r"[.eE]", text) else int(text)
    if isinstance(number, float):
        if not math.isfinite(number):
            raise ValueError
        if number.is_integer() and abs(number) < 2**53:
            return int(number)
    return number


def _to_boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError


def _to_date(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError
    return date.fromisoformat(value.strip()).isoformat()


def _to_datetime(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError
    return datetime.fromisoformat(value.strip().replace("Z", "+00:00")).isoformat()


def _to_json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _to_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


_COERCERS = {
    "text": _to_text,
    "number": _to_number,
    "boolean": _to_boolean,
    "date": _to_date,
    "datetime": _to_datetime,
    "json": _to_json,
}
_TYPE_WORDS = {
    "text": "text",
    "number": "number",
    "boolean": "yes/no value",
    "date": "date (YYYY-MM-DD)",
    "datetime": "date and time (YYYY-MM-DDTHH:MM)",
    "json": "JSON value",
}


# ---------------------------------------------------------------------------------------------- JSON paths

_PATH_PART = re.compile(r"\.?([A-Za-z_$][\w$-]*)|\[(\d+)\]|\[\"([^\"]*)\"\]|\['([^']*)'\]")
_MISSING = object()


class JsonPathError(ValueError):
    pass


def parse_json_path(path: str) -> list[str | int]:
    """`order.items[0].sku` → ["order", "items", 0, "sku"]; a leading `$.` is allowed."""
    text = path.strip().removeprefix("$").removeprefix(".")
    parts: list[str | int] = []
    position = 0
    while position < len(text):
        match = _PATH_PART.match(text, position)
        if not match or match.end() == position:
            raise JsonPathError(f"The JSON path '{path}' is not valid near '{text[position:]}'.")
        name, index, quoted, single = match.groups()
        parts.append(int(index) if index is not None else next(p for p in (name, quoted, single) if p is not None))
        position = match.end()
    if not parts:
        raise JsonPathError("The JSON path is empty.")
    return parts


def read_json_path(document: Any, path: str) -> Any:
    """The value at `path`, or raise JsonPathError saying which part is missing."""
    current = document
    for part in parse_json_path(path):
        current = _step(current, part)
        if current is _MISSING:
            raise JsonPathError(f"The JSON has nothing at '{path}'.")
    return current


def _step(current: Any, part: str | int) -> Any:
    if isinstance(part, int):
        return current[part] if isinstance(current, list) and part < len(current) else _MISSING
    return current.get(part, _MISSING) if isinstance(current, dict) else _MISSING
