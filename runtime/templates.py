"""`{{...}}` message templates: contact fields, system fields, `{{referrer.*}}` and `{{referred.*}}`.

`{{name|fallback}}` shows the fallback when the value is missing; without a fallback a missing value renders as
nothing and is reported, so the admin sees it in the simulator instead of a customer seeing `{{name}}`.
"""

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

PLACEHOLDER = re.compile(r"\{\{\s*([\w.]+)\s*(?:\|\s*([^}]*?)\s*)?\}\}")


@dataclass
class Rendered:
    text: str
    missing: list[str] = field(default_factory=list)


def render_template(text: str, lookup: Callable[[str], Any]) -> Rendered:
    """Fill every placeholder with `lookup(name)`; None counts as missing."""
    missing: list[str] = []

    def fill(match: re.Match) -> str:
        value = lookup(match[1])
        if value is None or value == "":
            if match[2] is None:
                missing.append(match[1])
            return match[2] or ""
        return _show(value)

    return Rendered(PLACEHOLDER.sub(fill, text), missing) if "{{" in text else Rendered(text)


def placeholders(text: str) -> list[str]:
    return [match[1] for match in PLACEHOLDER.finditer(text)]


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
