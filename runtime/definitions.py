"""A read-only snapshot of the workspace's definitions, cached per connection and reloaded only after an edit
(SQL triggers bump `definitions_version` whenever a definition changes, in any process)."""

import json
from collections.abc import Container, Mapping
from dataclasses import dataclass, field

from runtime import store
from runtime.links import USER_ID_PLACEHOLDER, ChannelIdentities, referral_template
from runtime.values import read_id
from storage.connection import Executor


@dataclass(frozen=True)
class FieldDef:
    id: int
    name: str
    type: str
    links_may_set: bool = True


@dataclass(frozen=True)
class EntryDef:
    id: int
    name: str
    ref: str
    active: bool
    response_type: str
    response_message: str
    response_flow_id: int | None
    default_field_id: int | None
    payload_mapping: dict[str, int]  # link key (lower case) → field id
    json_mapping: tuple[tuple[str, int], ...]  # (path, field id)
    segment_tag_id: int | None
    referrals_enabled: bool
    referral_policy: str
    whatsapp_pattern: str
    referrer_match: str
    second_level_credit: bool = False


@dataclass(frozen=True)
class FlowDef:
    id: int
    name: str
    draft: dict
    published: dict | None

    def document(self, use_draft: bool) -> dict | None:
        return self.draft if use_draft else self.published


@dataclass(frozen=True)
class TriggerRule:
    id: int
    name: str
    event: str
    entry_point_id: int | None
    field_id: int | None
    tag_id: int | None
    conditions: dict
    actions: tuple[dict, ...]
    once_per_contact: bool

    def matches(self, event_type: str, entry_point_id: int | None, field_id: int | None, tag_id: int | None) -> bool:
        """The event's filter: a trigger without a filter matches every event of its type."""
        return (self.event == event_type
                and self.entry_point_id in (None, entry_point_id)
                and self.field_id in (None, field_id)
                and self.tag_id in (None, tag_id))


@dataclass(frozen=True)
class Definitions:
    version: int
    bot_name: str
    default_reply: str
    identities: ChannelIdentities
    fields_by_id: dict[int, FieldDef]
    fields_by_name: dict[str, FieldDef]  # lower-case name → field
    tags_by_id: dict[int, str]
    entries_by_ref: dict[str, EntryDef]
    refs: tuple[str, ...] = field(default=())
    flows: dict[int, FlowDef] = field(default_factory=dict)
    triggers_by_event: dict[str, tuple[TriggerRule, ...]] = field(default_factory=dict)
    _graphs: dict = field(default_factory=dict, compare=False, repr=False)  # derived things, built on first use

    def flow_graph(self, flow_id: int, use_draft: bool):
        """The networkx graph of a flow's published (or draft) copy, built once per snapshot; None when missing."""
        key = (flow_id, use_draft)
        if key not in self._graphs:
            from runtime.flowdoc import load_flow
            from runtime.graph import flow_graph

            flow = self.flows.get(flow_id)
            document = flow.document(use_draft) if flow else None
            self._graphs[key] = flow_graph(load_flow(document)) if document is not None else None
        return self._graphs[key]

    def flow_start(self, flow_id: int, use_draft: bool) -> str | None:
        """The start node's id (the first, if a broken draft has several), cached with the graph."""
        key = ("start", flow_id, use_draft)
        if key not in self._graphs:
            graph = self.flow_graph(flow_id, use_draft)
            self._graphs[key] = next((node for node, attrs in graph.nodes(data=True) if attrs["type"] == "start"),
                                     None) if graph is not None else None
        return self._graphs[key]

    def entry_by_id(self, entry_point_id: int | None) -> EntryDef | None:
        if "entries" not in self._graphs:
            self._graphs["entries"] = {entry.id: entry for entry in self.entries_by_ref.values()}
        return self._graphs["entries"].get(entry_point_id)

    def referral_link(self, entry: EntryDef, channel: str, contact_id: int) -> str:
        """The contact's personal referral link through `entry` on `channel`; raises LinkError like build_link. Made
        from a template built once per entry point and channel: a reward flow sends one with every open."""
        key = ("link", entry.id, channel)
        if key not in self._graphs:
            self._graphs[key] = referral_template(channel, entry.ref, self.identities)
        return self._graphs[key].replace(USER_ID_PLACEHOLDER, str(contact_id))

    @property
    def field_types(self) -> dict[int, str]:
        """Field id → type, for comparing a field's value in conditions."""
        if "field_types" not in self._graphs:
            self._graphs["field_types"] = {field_id: f.type for field_id, f in self.fields_by_id.items()}
        return self._graphs["field_types"]

    def field_for_key(self, key: str, entry: EntryDef | None) -> tuple[FieldDef | None, str]:
        """The field a payload key names and how it was found (see resolve_payload_key)."""
        field_id, found_by = resolve_payload_key(key, mapping=entry.payload_mapping if entry else {},
                                                 field_ids=self.fields_by_id,
                                                 ids_by_name={name: f.id for name, f in self.fields_by_name.items()})
        return (self.fields_by_id.get(field_id) if field_id is not None else None), found_by

    def entries_with_whatsapp_pattern(self) -> list[EntryDef]:
        return [entry for entry in self.entries_by_ref.values() if entry.whatsapp_pattern and entry.active]


def resolve_payload_key(key: str, *, mapping: Mapping[str, int], field_ids: Container[int],
                        ids_by_name: Mapping[str, int]) -> tuple[int | None, str]:
    """The field ID a payload key names, and how it was found: the entry point's own mapping first ("mapping"), then
    a field ID ("id"), then a field name, ignoring case ("name")."""
    lowered = key.strip().lower()
    if lowered in mapping:
        return mapping[lowered], "mapping"
    if lowered.isascii() and lowered.isdigit():  # only ASCII digits name a field ID ('²'.isdigit() is true)
        field_id = read_id(lowered)
        return (field_id if field_id in field_ids else None), "id"
    return ids_by_name.get(lowered), "name"


def link_may_set(found_by: str, links_may_set: bool) -> bool:
    """Whether a payload key found this way may write a field with this setting: the entry point's own mapping always
    may (the admin chose it); a bare field ID or name only when the field allows links to set it."""
    return found_by == "mapping" or links_may_set


def refused_by_field(field_name: str, value: str) -> str:
    """The warning for a payload key that names a field links may not set."""
    return (f"Links may not set the field '{field_name}', so the value '{value}' was not saved. Map the key on the "
            "entry point, or allow links to set the field on the Fields page.")


class DefinitionCache:
    """Holds the newest snapshot; `get` costs one indexed read when nothing changed."""

    def __init__(self) -> None:
        self._snapshot: Definitions | None = None

    def get(self, connection: Executor) -> Definitions:
        version = store.read_definitions_version(connection)
        if self._snapshot is None or self._snapshot.version != version:
            self._snapshot = load_definitions(connection, version)
        return self._snapshot

    def held(self, connection: Executor) -> Definitions:
        """The snapshot held, without asking whether a newer one exists (loaded when none is held yet): enough to
        read a link before its transaction, which then checks the version."""
        return self._snapshot if self._snapshot is not None else self.get(connection)


def load_definitions(connection: Executor, version: int = 0) -> Definitions:
    settings = store.read_settings(connection) or (
        "My bot", "Hi {{first_name}}! How can I help?", "", "", "", "", "", "", "", "", "")
    fields = [FieldDef(row[0], row[1], row[2], bool(row[3]))
              for row in store.read_fields(connection)]
    entries = [_entry(row) for row in store.read_entry_points(connection)]
    flows = {row[0]: FlowDef(row[0], row[1], json.loads(row[2] or "{}"), json.loads(row[3]) if row[3] else None)
             for row in store.read_flows(connection)}
    triggers: dict[str, list[TriggerRule]] = {}
    for row in store.read_enabled_triggers(connection):
        rule = TriggerRule(*row[:6], json.loads(row[6] or "{}"), tuple(json.loads(row[7] or "[]")), bool(row[8]))
        triggers.setdefault(rule.event, []).append(rule)
    return Definitions(
        version=version,
        bot_name=settings[0],
        default_reply=settings[1],
        identities=ChannelIdentities(*settings[2:9]).with_own_webchat(*settings[9:]),
        fields_by_id={f.id: f for f in fields},
        fields_by_name={f.name.lower(): f for f in fields},
        tags_by_id=dict(store.read_tags(connection)),
        entries_by_ref={entry.ref: entry for entry in entries},
        refs=tuple(entry.ref for entry in entries),
        flows=flows,
        triggers_by_event={event: tuple(rules) for event, rules in triggers.items()},
    )


def _entry(row: tuple) -> EntryDef:
    payload_mapping = {str(m["key"]).strip().lower(): int(m["field_id"]) for m in json.loads(row[8] or "[]")}
    json_mapping = tuple((m["path"], int(m["field_id"])) for m in json.loads(row[9] or "[]"))
    return EntryDef(
        id=row[0], name=row[1], ref=row[2], active=bool(row[3]), response_type=row[4], response_message=row[5],
        response_flow_id=row[6], default_field_id=row[7], payload_mapping=payload_mapping, json_mapping=json_mapping,
        segment_tag_id=row[10], referrals_enabled=bool(row[11]), referral_policy=row[12],
        whatsapp_pattern=row[13] or "", referrer_match=row[14], second_level_credit=bool(row[15]),
    )
