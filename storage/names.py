"""One rule for names: entry point refs and the names of fields, tags, flows and triggers are unique ignoring upper
and lower case, everywhere they are written (the builder's pages, the storage functions, workspace import), and each
kind's name has one shape rule. Every write path asks this module; none keeps its own copy of the rules.

Decisions where the brief was silent:
- Case is compared with Python's `str.lower()`, the same folding the runtime uses to find fields by name.
- A workspace that already holds names differing only in case (made before this rule) keeps them: renaming a field
  or a ref would break links and {{templates}} already sent. Both rows still work; whichever is saved next must
  take a free name, and validation warns about such pairs (runtime/publishing.py).
"""

import re
from collections.abc import Callable, Iterable
from typing import Annotated

import sqlalchemy as sa
from pydantic import BeforeValidator
from sqlmodel import Session

from runtime.links import check_entry_ref


def strip_text(value: object) -> object:
    """Surrounding spaces are never part of what an admin typed into a name, a description or a setting."""
    return value.strip() if isinstance(value, str) else value


Stripped = Annotated[str, BeforeValidator(strip_text)]  # an input's text, stripped before any check reads it

NAME_PATTERN = re.compile(r"[\w ]+")
FIELD_NAME_PATTERN = re.compile(r"\w+")
MAX_FLOW_NAME = 80

# what each kind of name is called in messages, and the table and column that hold it
NOUNS = {"field": ("custom_field", "name"), "tag": ("tag", "name"), "flow": ("flow", "name"),
         "trigger": ("trigger", "name"), "ref": ("entry_point", "ref")}

Taken = dict[str, tuple[int, str, str]]  # lower-case name → (row id, the name as written, its owner's label)


def name_key(name: str) -> str:
    """What two names must differ in to be different names."""
    return name.lower()


def check_name_shape(noun: str, name: str) -> str | None:
    """None when `name` (already without surrounding spaces) has the shape a `noun` name needs, else what to fix."""
    if noun == "ref":
        return check_entry_ref(name)
    if not name:
        return f"Give the {noun} a name."
    if noun == "field":
        if name.isdigit():
            return "A field name cannot be only digits: links use digits for field IDs. Add a letter."
        if not FIELD_NAME_PATTERN.fullmatch(name):
            return ("A field name uses only letters, digits and underscores, e.g. referral_points: it is written in "
                    "{{templates}} and in links.")
    if noun == "tag" and not NAME_PATTERN.fullmatch(name):
        return "A tag name uses only letters, digits, underscores and spaces."
    if noun == "flow" and len(name) > MAX_FLOW_NAME:
        return f"Keep the flow name under {MAX_FLOW_NAME} characters."
    return None


def load_taken(session: Session, noun: str) -> Taken:
    """Every name of that kind in the workspace; of names differing only in case, the oldest row's."""
    table, column = NOUNS[noun]
    owner = ", name" if noun == "ref" else ""
    rows = session.execute(sa.text(f'SELECT id, "{column}"{owner} FROM "{table}" ORDER BY id'))
    return collect_taken((row[0], row[1], row[2] if noun == "ref" else row[1]) for row in rows)


def collect_taken(rows: Iterable[tuple[int, str, str]]) -> Taken:
    taken: Taken = {}
    for row_id, name, owner in rows:
        taken.setdefault(name_key(name), (row_id, name, owner))
    return taken


def find_clash(noun: str, name: str, taken: Taken, editing_id: int | None = None) -> str | None:
    """The message for a `name` that another row already holds, ignoring case; None when it is free."""
    held = taken.get(name_key(name))
    if held is None or held[0] == editing_id:
        return None
    return clash_message(noun, held[1], held[2])


def clash_message(noun: str, existing: str, owner: str = "") -> str:
    if noun == "ref":
        return (f"The entry point '{owner}' already uses the ref '{existing}'; every ref must be unique "
                "(refs ignore upper and lower case).")
    return f"There is already a {noun} called '{existing}' (names ignore upper and lower case)."


def check_new_name(session: Session, noun: str, name: str, editing_id: int | None = None) -> str | None:
    """Both rules at once, for a write: the shape, then that no other row holds the name ignoring case."""
    return check_name_shape(noun, name) or find_clash(noun, name, load_taken(session, noun), editing_id)


def free_name(session: Session, noun: str, wanted: str, numbered: Callable[[int], str] | None = None) -> str:
    """`wanted`, or the first of `numbered(2)`, `numbered(3)`… (by default "wanted (2)") that no row holds, ignoring
    case."""
    taken = load_taken(session, noun)
    name, number = wanted, 2
    while name_key(name) in taken:
        name, number = numbered(number) if numbered else f"{wanted} ({number})", number + 1
    return name
