"""Workspace import and export: one JSON document with every definition of a workspace (docs/workspace-format.md).

The same format holds test fixtures and templates. Contacts and their data never travel in it.

Decisions where the brief was silent:
- Every section is optional; a document without ``settings`` leaves the settings alone, one with ``settings`` replaces
  them (missing keys take the table defaults). ``id`` is optional too: an element without one cannot be referenced.
- Trigger names must be unique inside a document (they are the natural key that makes re-importing idempotent); in the
  database, a trigger name held by several triggers matches the one with the lowest id.
- A key that is, or ends in ``_`` plus, ``field_id``, ``tag_id``, ``flow_id`` or ``entry_point_id`` is a reference, at
  any depth (so a json_get node's ``source_field_id`` is remapped too).
- A field's id counts as taken once the database ever handed it out (custom_field is AUTOINCREMENT so that links
  carrying field IDs stay unambiguous); a deleted field's id is not given to an imported field.
- New elements get their ids planned up front, so a preview reports exactly the ids an import would give.
- A flow document may be ``{}`` (the table default: an empty flow); otherwise it needs list ``nodes`` and ``edges``.
- Unknown keys are problems, so that a misspelt key is never silently dropped.
- Names follow the pages' rules (storage/names.py): the same shapes, no surrounding spaces, unique ignoring case in
  the document. A name that differs from a workspace name only in case is a problem too, rather than a silent rename
  (a field's or ref's spelling travels in links already sent).
- Whole numbers (ids, positions, versions) are at most MAX_NUMBER, the largest a 32-bit integer column holds
  (PostgreSQL's `integer`), so an imported id can never exhaust the ids a database hands out later; documents nest
  at most MAX_DEPTH levels, and a deeper one is reported before anything walks it; so is text that cannot be
  stored (a lone surrogate).
- A field without `links_may_set` gets it off when a trigger or flow in the document counts with it or tests it
  (runtime/counters.py), on otherwise.
- `import_document` checks and plans in a read transaction and writes in bulk in a short write transaction, so live
  opens keep flowing during a large import; if definitions changed in between, it plans again.
"""

import json
from collections.abc import Callable, Iterator
from copy import deepcopy
from dataclasses import dataclass, field
from functools import lru_cache

import sqlalchemy as sa
from pydantic import ValidationError
from sqlmodel import Session, SQLModel, select

from runtime.counters import find_counter_fields
from runtime.links import LinkError, check_entry_ref, match_whatsapp_text
from storage.coupons import MAX_POOL_NAME, POOL_NAME
from storage.db import Database
from storage.models import (
    FIELD_TYPES,
    REFERRAL_POLICIES,
    TRIGGER_EVENTS,
    CouponPool,
    CustomField,
    EntryPoint,
    Flow,
    Tag,
    Trigger,
    WorkspaceSettings,
    utcnow,
)
from storage.names import check_name_shape, collect_taken, name_key
from storage.settings import SettingsUpdate, get_settings, save_settings

FORMAT = "referflow-workspace"
FORMAT_VERSION = 1
RESPONSE_TYPES = ("message", "flow")
REFERRER_MATCHES = ("id", "phone", "id_or_phone")
MATCH_MODES = ("all", "any")
CONDITION_OPS = ("==", "!=", ">", ">=", "<", "<=", "contains", "is_set", "is_not_set")
FIELD_OPS = ("set", "increase", "decrease", "clear")
ACTION_KEYS = {
    "set_field": ("field_id", "op"),
    "add_tag": ("tag_id",),
    "remove_tag": ("tag_id",),
    "send_message": ("text",),
    "notify_referrer": ("text",),
    "start_flow": ("flow_id",),
    "give_coupon": ("pool_id", "field_id"),
}
REFERENCE_KINDS = {"field_id": "fields", "tag_id": "tags", "flow_id": "flows", "entry_point_id": "entry_points",
                   "pool_id": "coupon_pools"}
MAX_NUMBER = 2_147_483_647
MAX_DEPTH = 64
PLAN_ATTEMPTS = 3

Check = Callable[[str, object], str | None]


class WorkspaceImportError(ValueError):
    """The document cannot be imported; `problems` lists every reason, written for the admin."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _no_names() -> dict[str, list[str]]:
    return {kind: [] for kind in ("settings", "fields", "tags", "coupon_pools", "flows", "entry_points", "triggers")}


@dataclass
class ImportReport:
    """What an import creates, updates and leaves unchanged, by name (entry points by ref, settings by key), per kind;
    `ids` maps each kind's document ids to database ids."""

    created: dict[str, list[str]] = field(default_factory=_no_names)
    updated: dict[str, list[str]] = field(default_factory=_no_names)
    unchanged: dict[str, list[str]] = field(default_factory=_no_names)
    ids: dict[str, dict[int, int]] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return any(self.created.values()) or any(self.updated.values())

    def to_dict(self) -> dict:
        return {
            "created": deepcopy(self.created),
            "updated": deepcopy(self.updated),
            "unchanged": deepcopy(self.unchanged),
            "ids": {kind: {str(old): new for old, new in ids.items()} for kind, ids in self.ids.items()},
        }


def export_workspace(*, session: Session) -> dict:
    """Every definition of the workspace as a document (see docs/workspace-format.md), each list ordered by id."""
    settings = get_settings(session=session)
    document: dict = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "settings": {name: getattr(settings, name) for name in SettingsUpdate.model_fields},
    }
    for kind in KINDS:
        rows = session.exec(select(kind.model).order_by(kind.model.id)).all()
        document[kind.name] = [{"id": row.id} | {key: deepcopy(getattr(row, key)) for key in kind.checks}
                               for row in rows]
    return document


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
        elements = _elements(document, kind)
        problems += [problem for index, element in enumerate(elements)
                     for problem in _check_element(kind, index, element, known)]
        problems += _find_duplicates(kind, elements)
        if session is not None:
            problems += _find_case_clashes(session, kind, elements)
    return problems


def import_workspace(*, session: Session, document: dict) -> ImportReport:
    """Create or update every definition in `document`; nothing the document does not mention is deleted.

    Raises WorkspaceImportError, before writing anything, when the document has problems. The caller commits.
    """
    session.flush()
    plan = _plan_import(session, document)
    _write_plan(session, plan)
    session.expire_all()  # the rows were written past the ORM: what the session holds is read again
    return plan.report


def import_document(*, database: Database, document: object) -> ImportReport:
    """`import_workspace` in transactions of its own: the document is checked and the import planned in a read
    transaction, then written in bulk in a short write transaction, so that live opens are not held up by a large
    import. When definitions changed in between (another admin saved something), it plans again.

    Raises WorkspaceImportError, before writing anything, when the document has problems."""
    for _ in range(PLAN_ATTEMPTS):
        with database.session() as session:
            planned_at = definitions_version(session=session)
            plan = _plan_import(session, document)
        with database.write_session() as session:
            if definitions_version(session=session) == planned_at:
                _write_plan(session, plan)
                return plan.report
    with database.write_session() as session:  # definitions keep changing: plan while holding the write lock
        return import_workspace(session=session, document=document)


def preview_import(*, session: Session, document: dict) -> ImportReport:
    """The report `import_workspace` would return, without writing anything."""
    return _plan_import(session, document).report


# --- the kinds of definitions ---------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)  # hashed by identity: a kind is a dictionary key
class _Kind:
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
    if _is_int(value) and least <= value <= MAX_NUMBER:
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
        if problem := _one_of(tuple(ACTION_KEYS))(f"{where}.type", action.get("type")):
            return problem
        if missing := [name for name in ACTION_KEYS[action["type"]] if name not in action]:
            return f"{where} ({action['type']}) needs {', '.join(repr(name) for name in missing)}"
        if action["type"] == "set_field" and (problem := _one_of(FIELD_OPS)(f"{where}.op", action["op"])):
            return problem
    return None


KINDS = (
    _Kind("fields", "a field", CustomField, "name",
          {"name": _named("field"), "type": _one_of(FIELD_TYPES), "description": _check_text,
           "links_may_set": _check_flag}),
    _Kind("tags", "a tag", Tag, "name", {"name": _named("tag"), "description": _check_text}),
    _Kind("coupon_pools", "a coupon pool", CouponPool, "name", {"name": _check_pool_name}),  # codes never travel
    _Kind("flows", "a flow", Flow, "name",
          {"name": _named("flow"), "draft": _check_flow_document, "published": _check_published,
           "version": _check_positive}),
    _Kind("entry_points", "an entry point", EntryPoint, "ref",
          {"name": _check_name, "ref": _check_ref, "active": _check_flag, "response_type": _one_of(RESPONSE_TYPES),
           "response_message": _check_text, "response_flow_id": _check_reference, "default_field_id": _check_reference,
           "payload_mapping": _check_mapping("key"), "json_mapping": _check_mapping("path"),
           "segment_tag_id": _check_reference, "referrals_enabled": _check_flag,
           "referral_policy": _one_of(REFERRAL_POLICIES), "whatsapp_pattern": _check_pattern,
           "referrer_match": _one_of(REFERRER_MATCHES), "second_level_credit": _check_flag}),
    _Kind("triggers", "a trigger", Trigger, "name",
          {"name": _named("trigger"), "event": _one_of(TRIGGER_EVENTS), "entry_point_id": _check_reference,
           "field_id": _check_reference, "tag_id": _check_reference, "conditions": _check_conditions,
           "actions": _check_actions, "once_per_contact": _check_flag, "enabled": _check_flag,
           "position": _check_whole}),
)
KINDS_BY_NAME = {kind.name: kind for kind in KINDS}
NOUNS = {"fields": "field", "tags": "tag", "coupon_pools": "coupon pool", "flows": "flow", "entry_points": "ref",
         "triggers": "trigger"}
TOP_LEVEL_KEYS = ("format", "version", "settings", *KINDS_BY_NAME)


# --- checking ---------------------------------------------------------------------------------------------------------

def _check_envelope(document: object) -> list[str]:
    if not isinstance(document, dict):
        return [f"a workspace document must be a JSON object, not {_describe(document)}"]
    if document.get("format") != FORMAT:
        return [f"this is not a Referflow workspace document: 'format' must be {FORMAT!r}, "
                f"not {_show(document.get('format'))}"]
    version = document.get("version")
    if _is_int(version) and version > FORMAT_VERSION:
        return [f"this document was written by a newer Referflow (format version {version}); "
                f"this one reads version {FORMAT_VERSION}"]
    if version != FORMAT_VERSION or not _is_int(version):
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
        _validate_settings(settings)
    except ValidationError as error:
        return [f"settings.{'.'.join(map(str, item['loc']))}: {item['msg'].removeprefix('Value error, ')}"
                for item in error.errors()]
    return []


def _validate_settings(settings: dict) -> SettingsUpdate:
    defaults = WorkspaceSettings()
    return SettingsUpdate.model_validate({name: getattr(defaults, name) for name in SettingsUpdate.model_fields}
                                         | settings)


@dataclass(frozen=True)
class _KnownIds:
    ids: dict[str, set[int]]  # per kind: the ids a reference may use
    where: str  # where they were looked for, in messages


def _find_known_ids(document: dict, session: Session | None) -> _KnownIds:
    ids = {kind.name: {element["id"] for element in _elements(document, kind)
                       if isinstance(element, dict) and _is_int(element.get("id"))} for kind in KINDS}
    if session is None:
        return _KnownIds(ids, "in this document")
    for kind in KINDS:
        ids[kind.name] |= set(session.exec(select(kind.model.id)).all())
    return _KnownIds(ids, "in this document or the workspace")


def _check_element(kind: _Kind, index: int, element: object, known: _KnownIds) -> list[str]:
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
        if value is not None and not _is_int(value):
            yield f"{path} must be the id of {label} (a whole number), not {_describe(value)}"
        elif value is not None and value not in known.ids[kind_name]:
            yield f"{path} {value} is not {label} {known.where}"


def _walk_references(value: object, path: str = "") -> Iterator[tuple[str, str, object]]:
    """Every (path, kind, value) of a key that refers to a field, tag, flow or entry point, at any depth."""
    if isinstance(value, dict):
        for key, item in value.items():
            item_path = f"{path}.{key}" if path else str(key)
            if kind := _reference_kind(key):
                yield item_path, kind, item
            else:
                yield from _walk_references(item, item_path)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk_references(item, f"{path}[{index}]")


@lru_cache(maxsize=4096)  # asked for every key of every element; documents repeat a handful of keys
def _reference_kind(key: object) -> str | None:
    if not isinstance(key, str):
        return None
    return next((kind for suffix, kind in REFERENCE_KINDS.items() if key == suffix or key.endswith(f"_{suffix}")),
                None)


def _find_duplicates(kind: _Kind, elements: list) -> list[str]:
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


def _find_case_clashes(session: Session, kind: _Kind, elements: list) -> list[str]:
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


# --- planning and writing -------------------------------------------------------------------------------------------

@dataclass
class _Plan:
    report: ImportReport
    creates: dict[_Kind, list[dict]]  # every column of each new row
    updates: dict[_Kind, list[dict]]  # the id and the changed columns of each updated row
    settings: SettingsUpdate | None
    defaults: dict[_Kind, dict] = field(default_factory=dict)  # each kind's column defaults, made once
    inserts: dict[_Kind, tuple[str, list[tuple]]] = field(default_factory=dict)  # creates as driver-level rows


def _plan_import(session: Session, document: dict) -> _Plan:
    if problems := check_workspace(document, session=session):
        raise WorkspaceImportError(problems)
    report = ImportReport()
    matched: dict[_Kind, list[tuple[dict, SQLModel | None, int]]] = {}
    for kind in KINDS:
        elements = _elements(document, kind)
        rows = _match_rows(session, kind, elements)
        targets = _assign_ids(session, kind, elements, rows)
        matched[kind] = list(zip(elements, rows, targets, strict=True))
        report.ids[kind.name] = {element["id"]: target for element, target in zip(elements, targets, strict=True)
                                 if "id" in element}
    counters = _counter_fields(document)
    plan = _Plan(report, {kind: [] for kind in KINDS}, {kind: [] for kind in KINDS}, None,
                 defaults={kind: kind.model().model_dump(exclude={"id"}) for kind in KINDS})
    # references can point forwards (an entry point's flow, a flow's entry point), so every id is known before remapping
    for kind in KINDS:
        for element, row, target in matched[kind]:
            _plan_row(kind, element, row, target, counters, plan)
    dialect = session.get_bind().dialect
    plan.inserts = {kind: _driver_rows(kind.model.__table__, rows, dialect)
                    for kind, rows in plan.creates.items() if rows}
    plan.settings = _plan_settings(session, document, report)
    return plan


def _driver_rows(table: sa.Table, rows: list[dict], dialect: sa.Dialect) -> tuple[str, list[tuple]]:
    """An INSERT and its rows as the database driver takes them (JSON as text, dates as stored), made before the
    write transaction so that the write itself only hands them over."""
    columns = [column for column in table.columns]
    processors = [column.type.dialect_impl(dialect).bind_processor(dialect) for column in columns]
    statement = (f'INSERT INTO "{table.name}" ({", ".join(f"{chr(34)}{c.name}{chr(34)}" for c in columns)}) '
                 f'VALUES ({", ".join(_placeholder(dialect) for _ in columns)})')
    return statement, [tuple(process(row[column.name]) if process else row[column.name]
                             for column, process in zip(columns, processors, strict=True)) for row in rows]


def _placeholder(dialect: sa.Dialect) -> str:
    return "%s" if dialect.paramstyle in ("format", "pyformat") else "?"


def _counter_fields(document: dict) -> set[int]:
    """Document ids of the fields the document's triggers and flows count with or test (links may not set them
    unless the document says so)."""
    flows = [(flow.get("name"), (flow.get("draft"), flow.get("published"))) for flow in document.get("flows", [])]
    return set(find_counter_fields(flows, document.get("triggers", [])))


def _match_rows(session: Session, kind: _Kind, elements: list[dict]) -> list[SQLModel | None]:
    by_key: dict[str, SQLModel] = {}
    for row in session.exec(select(kind.model).order_by(kind.model.id)).all():
        by_key.setdefault(getattr(row, kind.key), row)
    return [by_key.get(element[kind.key]) for element in elements]


def _assign_ids(session: Session, kind: _Kind, elements: list[dict], matches: list[SQLModel | None]) -> list[int]:
    """The database id of each element: its row's when matched, else the document's when free, else the next one."""
    taken = set(session.exec(select(kind.model.id)).all())
    ever_used = _last_id_handed_out(session, kind)
    targets: list[int | None] = [row.id if row is not None else None for row in matches]
    for index, element in enumerate(elements):
        wanted = element.get("id")
        if targets[index] is None and wanted is not None and wanted not in taken and wanted > ever_used:
            targets[index] = wanted
            taken.add(wanted)
    next_id = max(taken | {ever_used}) + 1
    for index, target in enumerate(targets):
        if target is None:
            targets[index], next_id = next_id, next_id + 1
    if next_id - 1 > MAX_NUMBER and any(row is None for row in matches):
        # only a workspace that imported a huge id before ids had a limit gets here
        raise WorkspaceImportError([f"{kind.name}: this workspace already gave out ids above {MAX_NUMBER:,} (imported "
                                    f"before ids had a limit), so new {kind.name} cannot get an id within it"])
    return targets


def _last_id_handed_out(session: Session, kind: _Kind) -> int:
    if session.get_bind().dialect.name == "postgresql":  # a sequence never gives an id twice
        return session.execute(sa.text(  # last_value is NULL until the sequence gave an id
            "SELECT last_value FROM pg_sequences WHERE schemaname = current_schema() AND sequencename = :name"),
            {"name": f"{kind.model.__tablename__}_id_seq"}).scalar() or 0
    if not kind.model.__table__.dialect_options["sqlite"]["autoincrement"]:
        return 0
    statement = sa.text("SELECT seq FROM sqlite_sequence WHERE name = :name")
    return session.execute(statement, {"name": kind.model.__tablename__}).scalar() or 0


def _plan_row(kind: _Kind, element: dict, existing: SQLModel | None, target: int, counters: set[int],
              plan: _Plan) -> None:
    """Record the element's outcome in the report and the write it needs, if any."""
    report = plan.report
    defaults = plan.defaults[kind]
    values = _remap({key: element[key] if key in element else defaults[key] for key in kind.checks}, report.ids)
    if kind.name == "fields" and "links_may_set" not in element:
        values["links_may_set"] = element.get("id") not in counters
    changed = {key: value for key, value in values.items()
               if existing is None or getattr(existing, key) != value}
    if existing is not None and not changed:
        report.unchanged[kind.name].append(element[kind.key])
        return
    (report.created if existing is None else report.updated)[kind.name].append(element[kind.key])
    stamps = _stamp_flow(existing, values) if kind.model is Flow else {}
    if existing is None:
        plan.creates[kind].append(defaults | values | stamps | {"id": target})
    else:
        plan.updates[kind].append(changed | stamps | {"id": target})


def _stamp_flow(existing: Flow | None, values: dict) -> dict:
    stamps: dict = {"updated_at": utcnow()}
    if existing is None or existing.published != values["published"]:
        published = values["published"] is not None
        stamps |= {"published_version": values["version"] if published else None,
                   "published_at": utcnow() if published else None}
    return stamps


def _write_plan(session: Session, plan: _Plan) -> None:
    """The planned writes in bulk (one executemany per kind and set of changed columns), in KINDS order: what a
    foreign key points at is written first."""
    for kind in KINDS:
        table = kind.model.__table__
        if kind in plan.inserts:
            statement, rows = plan.inserts[kind]
            session.connection().exec_driver_sql(statement, rows)
            if session.get_bind().dialect.name == "postgresql":  # the rows came with their ids: the sequence follows
                session.execute(sa.text(
                    f"SELECT setval(pg_get_serial_sequence('\"{table.name}\"', 'id'), max(id)) FROM \"{table.name}\""
                    f" HAVING max(id) > coalesce((SELECT last_value FROM pg_sequences WHERE sequencename = :name"
                    " AND schemaname = current_schema()), 0)"), {"name": f"{table.name}_id_seq"})
        by_columns: dict[tuple[str, ...], list[dict]] = {}
        for row in plan.updates[kind]:
            by_columns.setdefault(tuple(sorted(key for key in row if key != "id")), []).append(
                {f"new_{key}": value for key, value in row.items()})
        for columns, rows in by_columns.items():
            statement = sa.update(table).where(table.c.id == sa.bindparam("new_id")).values(
                {column: sa.bindparam(f"new_{column}") for column in columns})
            session.execute(statement, rows)
    if plan.settings is not None and plan.report.updated["settings"]:
        save_settings(session=session, update=plan.settings)


def definitions_version(*, session: Session) -> int:
    """Moves whenever a definition changes (SQL triggers bump it, storage/models.py): one cheap read tells whether an
    export is still current."""
    return session.execute(sa.text("SELECT version FROM definitions_version WHERE id = 1")).scalar() or 0


def _remap(value: object, ids: dict[str, dict[int, int]]) -> object:
    """A copy of `value` with every reference to a document id replaced by its database id."""
    if isinstance(value, dict):
        return {key: _remap_item(key, item, ids) for key, item in value.items()}
    if isinstance(value, list):
        return [_remap(item, ids) for item in value]
    return value


def _remap_item(key: object, item: object, ids: dict[str, dict[int, int]]) -> object:
    kind = _reference_kind(key)
    if kind and _is_int(item):
        return ids[kind].get(item, item)  # ids not in the document are the workspace's own
    return _remap(item, ids)


def _plan_settings(session: Session, document: dict, report: ImportReport) -> SettingsUpdate | None:
    if "settings" not in document:
        return None
    update = _validate_settings(document["settings"])
    current = get_settings(session=session)
    for name, value in update.model_dump().items():
        (report.updated if getattr(current, name) != value else report.unchanged)["settings"].append(name)
    return update


# --- small helpers ----------------------------------------------------------------------------------------------------

def _elements(document: dict, kind: _Kind) -> list:
    elements = document.get(kind.name, [])
    return elements if isinstance(elements, list) else []


def _label(kind: _Kind, index: int, element: object) -> str:
    key = element.get(kind.key) if isinstance(element, dict) else None
    if not isinstance(key, str):
        return f"{kind.name}[{index}]"
    return f"{kind.name}[{index}] ({'ref ' if kind.key == 'ref' else ''}{key!r})"


def _is_required(kind: _Kind, key: str) -> bool:
    return kind.model.model_fields[key].is_required()


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _describe(value: object) -> str:
    kinds = {bool: "true/false", int: "a number", float: "a number", str: "text", list: "a list", dict: "an object"}
    return "null" if value is None else kinds.get(type(value), type(value).__name__)


def _show(value: object) -> str:
    return repr(value) if isinstance(value, str) else json.dumps(value, default=str)


def _lower_first(text: str | None) -> str | None:
    return text[:1].lower() + text[1:] if text else text


