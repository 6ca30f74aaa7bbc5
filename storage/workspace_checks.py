"""Checking a workspace document (docs/workspace-format.md) before anything is imported: its envelope, each kind of
definition and its keys, references between elements, names that clash, and text or numbers that cannot be stored.
Every problem names the element at fault, for the admin. Importing and exporting is storage/workspace_io.py; the
decisions about the format are listed there. It holds one check per kind of key in the format, so it grows with
the format, not with a second idea."""

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache

from pydantic import ValidationError
from sqlmodel import Session, SQLModel, select

from runtime.actions import ACTION_TYPES
from runtime.link_reading import match_whatsapp_text
from runtime.links import LinkError, check_entry_ref
from runtime.vocabulary import CONDITION_OPS, FIELD_OPS, MATCH_MODES, TRIGGER_EVENTS
from storage.coupons import MAX_POOL_NAME, POOL_NAME
from storage.models import (
    FIELD_TYPES,
    REFERRAL_POLICIES,
    CouponPool,
    CustomField,
    EntryPoint,
    Flow,
    Tag,
    Trigger,
    WorkspaceSettings,
)
from storage.names import check_name_shape, collect_taken, name_key
from storage.settings import SettingsUpdate

FORMAT = "referflow-workspace"
FORMAT_VERSION = 1
RESPONSE_TYPES = ("message", "flow")
REFERRER_MATCHES = ("id", "phone", "id_or_phone")
TEXT_KINDS = ("text", "template")  # action settings that hold text
REFERENCE_KINDS = {"field_id": "fields", "tag_id": "tags", "flow_id": "flows", "entry_point_id": "entry_points",
                   "pool_id": "coupon_pools"}
MAX_NUMBER = 2_147_483_647
MAX_DEPTH = 64
Check = Callable[[str, object], str | None]


def check_workspace(document: object, *, session: Session | None = None) -> list[str]:
    """Every problem in `document`, each naming the element at fault. With a session, references may also point at
    elements already in that workspace."""
    if problem := _find_unstorable(document):
        return [problem]
    problems = _check_envelope(document)
    if problems or not isinstance(document, dict):
        return problems
    problems = [f"the document has an unknown key {key!r}" for key in document if key not in TOP_LEVEL_KEYS]
    problems += [f"{kind.name} must be a list, not {_describe(document[kind.name])}"
                 for kind in KINDS if not isinstance(document.get(kind.name, []), list)]
    if "settings" in document:
        problems += _check_settings(document["settings"])
    known = _find_known_ids(document, session)
    for kind in KINDS:
        elements = elements_of(document, kind)
        problems += [problem for index, element in enumerate(elements)
                     for problem in _check_element(kind, index, element, known)]
        problems += _find_duplicates(kind, elements)
        if session is not None:
            problems += _find_case_clashes(session, kind, elements)
    return problems


@dataclass(frozen=True, eq=False)  # hashed by identity: a kind is a dictionary key
class Kind:
    name: str  # the document's section
    label: str  # one element, with its article, in messages
    model: type[SQLModel]
    key: str  # the natural key that import matches on
    checks: dict[str, Check]  # every key besides id, in export order


def _check_text(key: str, value: object) -> str | None:
    return None if isinstance(value, str) else f"{key} must be text, not {_describe(value)}"


def _check_name(key: str, value: object) -> str | None:
    return _check_text(key, value) or (None if value.strip() else f"{key} cannot be empty")


def _named(noun: str) -> Check:
    """The name rules of the builder's pages for a `noun` name (storage/names.py)."""
    def check(key: str, value: object) -> str | None:
        if problem := _check_text(key, value):
            return problem
        if value != value.strip():
            return f"{key} {value!r} has spaces around it; write it as {value.strip()!r}"
        return _lower_first(check_name_shape(noun, value))
    return check


def _check_pool_name(key: str, value: object) -> str | None:
    if problem := _check_text(key, value):
        return problem
    return None if value and value == value.strip() and len(value) <= MAX_POOL_NAME and POOL_NAME.fullmatch(value) \
        else f"{key} {value!r} is not a pool name: letters, digits, spaces, '.', '-' and '_', at most {MAX_POOL_NAME}"


def _check_flag(key: str, value: object) -> str | None:
    return None if isinstance(value, bool) else f"{key} must be true or false, not {_describe(value)}"


def _check_whole(key: str, value: object, *, least: int = 0) -> str | None:
    if is_whole_number(value) and least <= value <= MAX_NUMBER:
        return None
    return f"{key} must be a whole number from {least} to {MAX_NUMBER:,}, not {_show(value)}"


def _check_positive(key: str, value: object) -> str | None:
    return _check_whole(key, value, least=1)


def _check_reference(key: str, value: object) -> str | None:
    return None  # references: their type and target are checked by _find_broken_references


def _one_of(values: tuple[str, ...]) -> Check:
    def check(key: str, value: object) -> str | None:
        if isinstance(value, str) and value in values:
            return None
        return f"{key} {_show(value)} is not one of {', '.join(values)}"
    return check


def _check_ref(key: str, value: object) -> str | None:
    return _check_text(key, value) or _lower_first(check_entry_ref(value))


def _check_pattern(key: str, value: object) -> str | None:
    if problem := _check_text(key, value):
        return problem
    try:
        if value:
            match_whatsapp_text("", value)
    except LinkError as error:
        return _lower_first(str(error))
    return None


def _check_published(key: str, value: object) -> str | None:
    return None if value is None else _check_flow_document(key, value)


def _check_flow_document(key: str, value: object) -> str | None:
    if not isinstance(value, dict):
        return f"{key} must be a flow document (an object), not {_describe(value)}"
    if value and not (isinstance(value.get("nodes"), list) and isinstance(value.get("edges"), list)):
        return f"{key} must be a flow document with a list 'nodes' and a list 'edges'"
    return None


def _check_mapping(item_key: str) -> Check:
    def check(key: str, value: object) -> str | None:
        if not isinstance(value, list):
            return f"{key} must be a list, not {_describe(value)}"
        for index, item in enumerate(value):
            if not (isinstance(item, dict) and isinstance(item.get(item_key), str) and item[item_key]
                    and "field_id" in item):
                return f"{key}[{index}] must be an object with a text '{item_key}' and a 'field_id'"
        return None
    return check


def _check_conditions(key: str, value: object) -> str | None:
    if not isinstance(value, dict):
        return f"{key} must be an object, not {_describe(value)}"
    if problem := _one_of(MATCH_MODES)(f"{key}.match", value.get("match", "all")):
        return problem
    rules = value.get("rules", [])
    if not isinstance(rules, list):
        return f"{key}.rules must be a list, not {_describe(rules)}"
    for index, rule in enumerate(rules):
        if not isinstance(rule, dict) or "field_id" not in rule:
            return f"{key}.rules[{index}] must be an object with a 'field_id', an 'op' and a 'value'"
        if problem := _one_of(CONDITION_OPS)(f"{key}.rules[{index}].op", rule.get("op")):
            return problem
    return None


def _check_actions(key: str, value: object) -> str | None:
    if not isinstance(value, list):
        return f"{key} must be a list, not {_describe(value)}"
    for index, action in enumerate(value):
        where = f"{key}[{index}]"
        if not isinstance(action, dict):
            return f"{where} must be an object, not {_describe(action)}"
        if problem := _one_of(tuple(ACTION_TYPES))(f"{where}.type", action.get("type")) or \
                _check_action_settings(where, action):
            return problem
    return None


def _check_action_settings(where: str, action: dict) -> str | None:
    """The settings its type needs are there (runtime/actions.py), ops are known and texts are text; a value may be
    left out (it is then empty)."""
    settings = [setting for setting in ACTION_TYPES[action["type"]].settings if setting.applies(action)]
    if missing := [setting.key for setting in settings if setting.kind != "value" and setting.key not in action]:
        return f"{where} ({action['type']}) needs {', '.join(repr(key) for key in missing)}"
    for setting in settings:
        check = _one_of(FIELD_OPS) if setting.kind == "op" else _check_text if setting.kind in TEXT_KINDS else None
        if check and (problem := check(f"{where}.{setting.key}", action[setting.key])):
            return problem
    return None


KINDS = (
    Kind("fields", "a field", CustomField, "name",
          {"name": _named("field"), "type": _one_of(FIELD_TYPES), "description": _check_text,
           "links_may_set": _check_flag}),
    Kind("tags", "a tag", Tag, "name", {"name": _named("tag"), "description": _check_text}),
    Kind("coupon_pools", "a coupon pool", CouponPool, "name", {"name": _check_pool_name}),  # codes never travel
    Kind("flows", "a flow", Flow, "name",
          {"name": _named("flow"), "draft": _check_flow_document, "published": _check_published,
           "version": _check_positive}),
    Kind("entry_points", "an entry point", EntryPoint, "ref",
          {"name": _check_name, "ref": _check_ref, "active": _check_flag, "response_type": _one_of(RESPONSE_TYPES),
           "response_message": _check_text, "response_flow_id": _check_reference, "default_field_id": _check_reference,
           "payload_mapping": _check_mapping("key"), "json_mapping": _check_mapping("path"),
           "segment_tag_id": _check_reference, "referrals_enabled": _check_flag,
           "referral_policy": _one_of(REFERRAL_POLICIES), "whatsapp_pattern": _check_pattern,
           "referrer_match": _one_of(REFERRER_MATCHES), "second_level_credit": _check_flag}),
    Kind("triggers", "a trigger", Trigger, "name",
          {"name": _named("trigger"), "event": _one_of(TRIGGER_EVENTS), "entry_point_id": _check_reference,
           "field_id": _check_reference, "tag_id": _check_reference, "conditions": _check_conditions,
           "actions": _check_actions, "once_per_contact": _check_flag, "enabled": _check_flag,
           "position": _check_whole}),
)
KINDS_BY_NAME = {kind.name: kind for kind in KINDS}
NOUNS = {"fields": "field", "tags": "tag", "coupon_pools": "coupon pool", "flows": "flow", "entry_points": "ref",
         "triggers": "trigger"}
TOP_LEVEL_KEYS = ("format", "version", "settings", *KINDS_BY_NAME)


def _check_envelope(document: object) -> list[str]:
    if not isinstance(document, dict):
        return [f"a workspace document must be a JSON object, not {_describe(document)}"]
    if document.get("format") != FORMAT:
        return [f"this is not a Referflow workspace document: 'format' must be {FORMAT!r}, "
                f"not {_show(document.get('format'))}"]
    version = document.get("version")
    if is_whole_number(version) and version > FORMAT_VERSION:
        return [f"this document was written by a newer Referflow (format version {version}); "
                f"this one reads version {FORMAT_VERSION}"]
    if version != FORMAT_VERSION or not is_whole_number(version):
        return [f"'version' must be {FORMAT_VERSION}, not {_show(version)}"]
    return []


def _check_settings(settings: object) -> list[str]:
    if not isinstance(settings, dict):
        return [f"settings must be an object, not {_describe(settings)}"]
    known = SettingsUpdate.model_fields
    problems = [f"settings: unknown key {key!r}" for key in settings if key not in known]
    problems += [f"settings.{key} must be text, not {_describe(value)}"
                 for key, value in settings.items() if key in known and not isinstance(value, str)]
    if problems:
        return problems
    try:
        validate_settings(settings)
    except ValidationError as error:
        return [f"settings.{'.'.join(map(str, item['loc']))}: {item['msg'].removeprefix('Value error, ')}"
                for item in error.errors()]
    return []


def validate_settings(settings: dict) -> SettingsUpdate:
    defaults = WorkspaceSettings()
    return SettingsUpdate.model_validate({name: getattr(defaults, name) for name in SettingsUpdate.model_fields}
                                         | settings)


@dataclass(frozen=True)
class _KnownIds:
    ids: dict[str, set[int]]  # per kind: the ids a reference may use
    where: str  # where they were looked for, in messages


def _find_known_ids(document: dict, session: Session | None) -> _KnownIds:
    ids = {kind.name: {element["id"] for element in elements_of(document, kind)
                       if isinstance(element, dict) and is_whole_number(element.get("id"))} for kind in KINDS}
    if session is None:
        return _KnownIds(ids, "in this document")
    for kind in KINDS:
        ids[kind.name] |= set(session.exec(select(kind.model.id)).all())
    return _KnownIds(ids, "in this document or the workspace")


def _check_element(kind: Kind, index: int, element: object, known: _KnownIds) -> list[str]:
    label = _label(kind, index, element)
    if not isinstance(element, dict):
        return [f"{label}: must be an object, not {_describe(element)}"]
    problems = [f"unknown key {key!r}" for key in element if key != "id" and key not in kind.checks]
    problems += [f"{key!r} is missing" for key in kind.checks if key not in element and _is_required(kind, key)]
    if "id" in element:
        problems.append(_check_positive("id", element["id"]))
    problems += [check(key, element[key]) for key, check in kind.checks.items() if key in element]
    problems += _find_broken_references(element, known)
    return [f"{label}: {problem}" for problem in problems if problem]


def _find_broken_references(element: dict, known: _KnownIds) -> Iterator[str]:
    for path, kind_name, value in _walk_references(element):
        label = KINDS_BY_NAME[kind_name].label
        if value is not None and not is_whole_number(value):
            yield f"{path} must be the id of {label} (a whole number), not {_describe(value)}"
        elif value is not None and value not in known.ids[kind_name]:
            yield f"{path} {value} is not {label} {known.where}"


def _walk_references(value: object, path: str = "") -> Iterator[tuple[str, str, object]]:
    """Every (path, kind, value) of a key that refers to a field, tag, flow or entry point, at any depth."""
    if isinstance(value, dict):
        for key, item in value.items():
            item_path = f"{path}.{key}" if path else str(key)
            if kind := reference_kind(key):
                yield item_path, kind, item
            else:
                yield from _walk_references(item, item_path)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk_references(item, f"{path}[{index}]")


@lru_cache(maxsize=4096)  # asked for every key of every element; documents repeat a handful of keys
def reference_kind(key: object) -> str | None:
    if not isinstance(key, str):
        return None
    return next((kind for suffix, kind in REFERENCE_KINDS.items() if key == suffix or key.endswith(f"_{suffix}")),
                None)


def _find_duplicates(kind: Kind, elements: list) -> list[str]:
    problems = []
    first_seen: dict[tuple[str, object], int] = {}
    for index, element in enumerate(elements):
        if not isinstance(element, dict):
            continue
        for name in (kind.key, "id"):
            value = element.get(name)
            seen_as = name_key(value) if isinstance(value, str) else value
            if isinstance(value, str | int) and (first := first_seen.setdefault((name, seen_as), index)) != index:
                problems.append(f"{_label(kind, index, element)}: the {name} {_show(value)} is already used by "
                                f"{kind.name}[{first}]" + (" (names ignore upper and lower case)"
                                                           if value != elements[first].get(name) else ""))
    return problems


def _find_case_clashes(session: Session, kind: Kind, elements: list) -> list[str]:
    """Names that differ from a workspace name only in case: importing them would make a second element that
    differs only in case."""
    column = getattr(kind.model, kind.key)
    rows = session.exec(select(kind.model.id, column).order_by(kind.model.id)).all()
    exact, taken = {name for _, name in rows}, collect_taken((row_id, name, name) for row_id, name in rows)
    problems = []
    for index, element in enumerate(elements):
        name = element.get(kind.key) if isinstance(element, dict) else None
        if isinstance(name, str) and name not in exact and (held := taken.get(name_key(name))):
            noun = NOUNS[kind.name]
            what = "the ref" if noun == "ref" else f"a {noun} called"
            problems.append(f"{_label(kind, index, element)}: the workspace already has {what} {held[1]!r}, and "
                            f"names ignore upper and lower case; write it as {held[1]!r} to update that one")
    return problems


def _find_unstorable(document: object) -> str | None:
    """The first thing no check may walk or no database can store: nesting deeper than MAX_DEPTH, or text with a
    lone surrogate (half of an emoji cut in two). Found without recursion, which a hostile document could exhaust."""
    stack: list[tuple[object, int, str]] = [(document, 0, "")]
    while stack:
        value, depth, path = stack.pop()
        if depth > MAX_DEPTH:
            return (f"the document nests lists and objects more than {MAX_DEPTH} levels deep (at {path or 'the top'});"
                    " a workspace never needs that many")
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str) and not _storable(key):
                    return f"{path or 'the document'} has a key with a character that cannot be stored: {key!r}"
                stack.append((item, depth + 1, f"{path}.{key}" if path else str(key)))
        elif isinstance(value, list):
            stack.extend((item, depth + 1, f"{path}[{index}]") for index, item in enumerate(value))
        elif isinstance(value, str) and not _storable(value):
            return (f"{path} contains a character that cannot be stored (a lone surrogate, such as half of an emoji "
                    f"cut in two): {value[:40]!r}")
    return None


def _storable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def elements_of(document: dict, kind: Kind) -> list:
    elements = document.get(kind.name, [])
    return elements if isinstance(elements, list) else []


def _label(kind: Kind, index: int, element: object) -> str:
    key = element.get(kind.key) if isinstance(element, dict) else None
    if not isinstance(key, str):
        return f"{kind.name}[{index}]"
    return f"{kind.name}[{index}] ({'ref ' if kind.key == 'ref' else ''}{key!r})"


def _is_required(kind: Kind, key: str) -> bool:
    return kind.model.model_fields[key].is_required()


def is_whole_number(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _describe(value: object) -> str:
    kinds = {bool: "true/false", int: "a number", float: "a number", str: "text", list: "a list", dict: "an object"}
    return "null" if value is None else kinds.get(type(value), type(value).__name__)


def _show(value: object) -> str:
    return repr(value) if isinstance(value, str) else json.dumps(value, default=str)


def _lower_first(text: str | None) -> str | None:
    return text[:1].lower() + text[1:] if text else text
