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

from copy import deepcopy
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, select

from runtime.counters import find_counter_fields
from storage.db import Database
from storage.models import (
    Flow,
    utcnow,
)
from storage.settings import SettingsUpdate, get_settings, save_settings
from storage.workspace_checks import (
    FORMAT,
    FORMAT_VERSION,
    KINDS,
    MAX_NUMBER,
    Kind,
    check_workspace,
    elements_of,
    is_whole_number,
    reference_kind,
    validate_settings,
)

PLAN_ATTEMPTS = 3


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


# --- planning and writing -------------------------------------------------------------------------------------------

@dataclass
class _Plan:
    report: ImportReport
    creates: dict[Kind, list[dict]]  # every column of each new row
    updates: dict[Kind, list[dict]]  # the id and the changed columns of each updated row
    settings: SettingsUpdate | None
    defaults: dict[Kind, dict] = field(default_factory=dict)  # each kind's column defaults, made once
    inserts: dict[Kind, tuple[str, list[tuple]]] = field(default_factory=dict)  # creates as driver-level rows


def _plan_import(session: Session, document: dict) -> _Plan:
    if problems := check_workspace(document, session=session):
        raise WorkspaceImportError(problems)
    report = ImportReport()
    matched: dict[Kind, list[tuple[dict, SQLModel | None, int]]] = {}
    for kind in KINDS:
        elements = elements_of(document, kind)
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


def _match_rows(session: Session, kind: Kind, elements: list[dict]) -> list[SQLModel | None]:
    by_key: dict[str, SQLModel] = {}
    for row in session.exec(select(kind.model).order_by(kind.model.id)).all():
        by_key.setdefault(getattr(row, kind.key), row)
    return [by_key.get(element[kind.key]) for element in elements]


def _assign_ids(session: Session, kind: Kind, elements: list[dict], matches: list[SQLModel | None]) -> list[int]:
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


def _last_id_handed_out(session: Session, kind: Kind) -> int:
    if session.get_bind().dialect.name == "postgresql":  # a sequence never gives an id twice
        return session.execute(sa.text(  # last_value is NULL until the sequence gave an id
            "SELECT last_value FROM pg_sequences WHERE schemaname = current_schema() AND sequencename = :name"),
            {"name": f"{kind.model.__tablename__}_id_seq"}).scalar() or 0
    if not kind.model.__table__.dialect_options["sqlite"]["autoincrement"]:
        return 0
    statement = sa.text("SELECT seq FROM sqlite_sequence WHERE name = :name")
    return session.execute(statement, {"name": kind.model.__tablename__}).scalar() or 0


def _plan_row(kind: Kind, element: dict, existing: SQLModel | None, target: int, counters: set[int],
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
    kind = reference_kind(key)
    if kind and is_whole_number(item):
        return ids[kind].get(item, item)  # ids not in the document are the workspace's own
    return _remap(item, ids)


def _plan_settings(session: Session, document: dict, report: ImportReport) -> SettingsUpdate | None:
    if "settings" not in document:
        return None
    update = validate_settings(document["settings"])
    current = get_settings(session=session)
    for name, value in update.model_dump().items():
        (report.updated if getattr(current, name) != value else report.unchanged)["settings"].append(name)
    return update


