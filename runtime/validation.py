"""Checks flows and triggers before publishing and returns every problem as data, so the builder can show them all
on the canvas at once. Running an invalid flow raises InvalidFlowError, which carries the same problems. It is
one module because every check reads one index of the workspace (`WorkspaceIndex`) and reports in one shape."""

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import cached_property

from runtime.actions import ACTION_TYPES
from runtime.counters import find_counter_fields
from runtime.flowdoc import FlowDocument, FlowDocumentError, FlowNode, load_flow, paused_gc
from runtime.graph import (
    FlowMap,
    TriggerDef,
    find_unguarded_cycles,
    map_flow,
    workspace_graph,
)
from runtime.node_types import NODE_TYPES, Names
from runtime.templates import is_template, template_problems
from runtime.values import FieldValueError, coerce_value
from runtime.vocabulary import CHANNEL_NAMES, MESSAGE_LIMITS, VALUELESS_OPS

ERROR, WARNING = "error", "warning"
_TYPE_WORDS = {"number": "number", "boolean": "yes/no value", "date": "date (2026-12-31)",
               "datetime": "date and time (2026-12-31 18:00)", "json": "JSON value", "text": "text"}
WARNING_CODES = frozenset({"unreachable_node", "dangling_exit", "duplicate_exit", "no_actions", "long_message",
                           "counter_set_by_links"})
MESSAGE_NODES = frozenset({"send_message", "ask", "send_referral_link", "notify_referrer", "my_referrals",
                           "leaderboard"})
REFERENCE_KINDS = {"field_id": "field", "tag_id": "tag", "flow_id": "flow", "entry_point_id": "entry_point",
                   "pool_id": "coupon_pool"}
REFERENCE_SUFFIXES = tuple(REFERENCE_KINDS)
CONTAINERS = (dict, list)  # where references can hide; a tuple, as isinstance is quicker with one than with dict | list
MAX_PATH_STEPS = 8
MIN_MESSAGE_LIMIT = min(MESSAGE_LIMITS.values())
TEMPLATE_EXTRAS = {"send_referral_link": ("link",), "leaderboard": ("period",)}  # names a step fills in itself


@dataclass(frozen=True)
class ValidationIssue:
    code: str
    severity: str  # "error" blocks publishing; "warning" is shown but allowed
    message: str
    flow_id: int | None = None
    node_ids: tuple[str, ...] = ()
    trigger_ids: tuple[int, ...] = ()
    flow_ids: tuple[int, ...] = ()
    flow_nodes: tuple[tuple[int, str], ...] = ()  # (flow id, node id) for problems that span several flows

    def to_dict(self) -> dict:
        return {key: list(map(_listed, value)) if isinstance(value, tuple) else value
                for key, value in asdict(self).items()}


def _listed(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


@dataclass(frozen=True)
class WorkspaceIndex(Names):
    """What exists in the workspace: field, tag and flow names and entry point refs, by id, and field types."""

    field_types: Mapping[int, str] = field(default_factory=dict)
    channels: Sequence[str] = ()  # the bot's channels; none known: messages are checked against every channel

    @classmethod
    def from_dicts(cls, *, fields: Sequence[Mapping] = (), tags: Sequence[Mapping] = (),
                   entry_points: Sequence[Mapping] = (), flows: Sequence[Mapping] = (),
                   pools: Sequence[Mapping] = ()) -> "WorkspaceIndex":
        """From elements in the workspace format (each with `id` and `name`, entry points with `ref`)."""
        return cls(fields=_by_id(fields, "name"), tags=_by_id(tags, "name"),
                   flows=_by_id(flows, "name"), entry_points=_by_id(entry_points, "ref"),
                   field_types=_by_id(fields, "type"), pools=_by_id(pools, "name"))

    @cached_property
    def by_kind(self) -> dict[str, Mapping[int, str]]:
        return {"field": self.fields, "tag": self.tags, "flow": self.flows, "entry_point": self.entry_points,
                "coupon_pool": self.pools}


def _by_id(elements: Sequence[Mapping], key: str) -> dict[int, str]:
    return {e["id"]: str(e.get(key) or e["id"]) for e in elements if isinstance(e.get("id"), int)}


class InvalidFlowError(Exception):
    """Raised when someone runs or publishes a flow that has errors; `issues` holds every problem found."""

    def __init__(self, issues: Sequence[ValidationIssue]) -> None:
        self.issues = list(issues)
        errors = [issue.message for issue in self.issues if issue.severity == ERROR]
        super().__init__("\n".join(["This flow cannot run until these problems are fixed:", *errors]))


def has_errors(issues: Sequence[ValidationIssue]) -> bool:
    return any(issue.severity == ERROR for issue in issues)


def validate_flow(flow_id: int | None, doc: FlowDocument | Mapping, index: WorkspaceIndex) -> list[ValidationIssue]:
    """Every problem of one flow, including loops inside it (and through go-to-flow jumps back to itself)."""
    try:
        document = load_flow(doc)
    except FlowDocumentError as error:
        return [_broken_document(flow_id, error)]
    with paused_gc():
        flow = _Flow(flow_id, document, map_flow(document, flow_id=flow_id), index)
        loops = [[("node", flow_id, node) for node in loop] for loop in flow.map.unguarded_cycles()]
        nodes = {step: {"type": flow.nodes[step[2]].type, "data": flow.nodes[step[2]].data}
                 for loop in loops for step in loop}
        return _check_flow(flow) + [_cycle_issue(loop, nodes, index) for loop in loops]


def validate_workspace(flows: Mapping[int, tuple[str, dict]], triggers: Sequence[dict], index: WorkspaceIndex, *,
                       link_lint: Sequence[ValidationIssue] = (), fields: Sequence[Mapping] = (),
                       entry_points: Sequence[Mapping] = ()) -> list[ValidationIssue]:
    """Every problem of every flow (id → (name, document)) and trigger (workspace format), plus loops that run
    across flows and triggers, each reported once; `link_lint` (channel-limit warnings) is passed through. With
    `fields` and `entry_points` (workspace format), fields that links can set although the flows or triggers count
    with them or test them are warned about."""
    index = replace(index, flows={**index.flows, **{flow_id: name for flow_id, (name, _) in flows.items()}})
    issues: list[ValidationIssue] = []
    documents: dict[int, FlowDocument] = {}
    with paused_gc():
        for flow_id, (_, raw) in flows.items():
            try:
                documents[flow_id] = load_flow(raw)
            except FlowDocumentError as error:
                issues.append(_broken_document(flow_id, error))
                continue
            issues += _check_flow(_Flow(flow_id, documents[flow_id], map_flow(documents[flow_id]), index))
        defs = [TriggerDef.from_dict({**raw, "id": _trigger_id(raw, number)})
                for number, raw in enumerate(triggers, 1)]
        for raw, trigger in zip(triggers, defs, strict=True):
            issues += _check_trigger(raw, trigger, index)
        graph = workspace_graph(documents, defs)
        issues += [_cycle_issue(loop, graph.nodes, index) for loop in find_unguarded_cycles(graph)]
    return issues + _find_counters_set_by_links(flows, triggers, fields, entry_points) + list(link_lint)


def _find_counters_set_by_links(flows: Mapping[int, tuple[str, dict]], triggers: Sequence[dict],
                                fields: Sequence[Mapping], entry_points: Sequence[Mapping]) -> list[ValidationIssue]:
    """Fields a forged link could write although triggers or flows count with them: by their ID or name (the field
    allows links), or through an entry point that maps link values into them."""
    counters = find_counter_fields([(name, (document,)) for name, document in flows.values()], triggers)
    names = {field.get("id"): field.get("name") for field in fields}
    issues = [_issue("counter_set_by_links",
                     f"Links may set the field '{field['name']}', but {counters[field['id']]}: anyone could edit a "
                     f"link to set it (…--{field['name']}--99). Turn off “Links may set this field” on the Fields "
                     "page; an entry point's own payload mapping can still fill it.")
              for field in fields if field.get("links_may_set", True) and field.get("id") in counters]
    for entry in entry_points:
        for field_id, how in _mapped_fields(entry):
            if field_id in counters and field_id in names:
                issues.append(_issue(
                    "counter_set_by_links",
                    f"Entry point '{entry.get('ref')}' fills the field '{names[field_id]}' from its links ({how}), "
                    f"but {counters[field_id]}: anyone could edit the link to set it. Map another field there, "
                    "unless the link is meant to set it."))
    return issues


def _mapped_fields(entry: Mapping) -> Iterator[tuple[int, str]]:
    if entry.get("default_field_id") is not None:
        yield entry["default_field_id"], "its default payload field"
    for row in entry.get("payload_mapping") or ():
        yield row.get("field_id"), f"payload key '{row.get('key')}'"
    for row in entry.get("json_mapping") or ():
        yield row.get("field_id"), f"JSON path '{row.get('path')}'"


def _trigger_id(raw: Mapping, number: int) -> int:
    return raw["id"] if isinstance(raw.get("id"), int) else -number  # a trigger not saved yet has no id


def _broken_document(flow_id: int | None, error: FlowDocumentError) -> ValidationIssue:
    return _issue("bad_document", f"This flow's document is damaged and cannot be opened: {error}", flow_id=flow_id)


def _issue(code: str, message: str, **ids: object) -> ValidationIssue:
    return ValidationIssue(code, WARNING if code in WARNING_CODES else ERROR, message, **ids)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------ one flow


@dataclass
class _Flow:
    id: int | None
    doc: FlowDocument
    map: FlowMap
    index: WorkspaceIndex

    @cached_property
    def nodes(self) -> dict[str, FlowNode]:
        return self.doc.nodes_by_id()

    def issue(self, code: str, message: str, *node_ids: str) -> ValidationIssue:
        return _issue(code, message, flow_id=self.id, node_ids=node_ids)

    def label(self, node_id: str) -> str:
        node = self.nodes[node_id]
        return _node_label(node.type, node.data, node.id, self.index)


def _check_flow(flow: _Flow) -> list[ValidationIssue]:
    return [*_check_starts(flow), *_check_nodes(flow), *_check_edges(flow), *_check_exits(flow),
            *_check_reachability(flow)]


def _check_starts(flow: _Flow) -> Iterator[ValidationIssue]:
    starts = flow.map.starts
    if not starts:
        yield flow.issue("no_start", "This flow has no Start step, so it can never begin. Add a Start step and "
                                     "connect it to the first step.")
    elif len(starts) > 1:
        yield flow.issue("several_starts", f"This flow has {len(starts)} Start steps, but a flow begins at exactly "
                                           "one. Delete the extra Start steps.", *starts)


def _check_nodes(flow: _Flow) -> Iterator[ValidationIssue]:
    known = flow.index.by_kind
    for node in flow.doc.nodes:
        spec = NODE_TYPES.get(node.type)
        if spec is None:
            yield flow.issue("unknown_node_type", f"The step “{node.id}” has the type “{node.type}”, which this "
                                                  "version of Referflow does not know. Delete or replace it.", node.id)
            continue
        for requirement in spec.required(node.data):
            yield flow.issue("missing_setting", f"{flow.label(node.id)} is not finished. {requirement}", node.id)
        for kind, value in _find_missing_references(node.data, known):
            yield flow.issue(f"missing_{kind}", f"{flow.label(node.id)} uses {_missing_thing(kind, value)}", node.id)
        if node.type == "give_coupon" and flow.index.field_types.get(node.data.get("field_id"), "text") != "text":
            yield flow.issue("coupon_field_type", f"{flow.label(node.id)} saves the code in a "
                             f"{flow.index.field_types[node.data['field_id']]} field; codes are text. Choose a text "
                             "field.", node.id)
        if node.type == "condition":
            for problem in _rule_value_problems(node.data, flow.index):
                yield flow.issue("bad_rule_value", f"{flow.label(node.id)}: {problem}", node.id)
        if node.type in MESSAGE_NODES:
            for problem in _length_problems(node.data.get("text"), flow.index):
                yield flow.issue("long_message", f"{flow.label(node.id)}: {problem}", node.id)
        extra = TEMPLATE_EXTRAS.get(node.type, ())
        for code, problem in _template_problems(node.data, flow.index, extra):
            yield flow.issue(code, f"{flow.label(node.id)}: {problem}", node.id)


def _check_edges(flow: _Flow) -> Iterator[ValidationIssue]:
    for edge in flow.map.left_out:  # the connections the engine cannot follow; the others are fine
        source, target = flow.nodes.get(edge.source), flow.nodes.get(edge.target)
        if source is None or target is None:
            yield _missing_end(flow, source, target)
        else:
            yield flow.issue("bad_exit", f"{flow.label(source.id)} has no “{edge.source_handle}” exit, so its "
                                         f"connection to {flow.label(target.id)} is never used. Remove it.",
                             source.id, target.id)


def _missing_end(flow: _Flow, source: FlowNode | None, target: FlowNode | None) -> ValidationIssue:
    if source is not None:
        message = f"{flow.label(source.id)} is connected to a step that no longer exists. Reconnect or remove it."
    elif target is not None:
        message = f"A connection into {flow.label(target.id)} comes from a step that no longer exists. Remove it."
    else:
        message = "A connection joins two steps that no longer exist. Remove it."
    return flow.issue("edge_to_missing_node", message, *(node.id for node in (source, target) if node))


def _check_exits(flow: _Flow) -> Iterator[ValidationIssue]:
    handles = flow.map.handles
    for node_id, exits in flow.map.exits.items():
        if not exits or handles[node_id] == exits:  # the usual case, each exit connected once, in one comparison
            continue
        for handle in exits:
            count = handles[node_id].count(handle)
            if count == 1 or (count == 0 and handle == "next"):  # a last step: the flow ends there, as at an End
                continue
            node = flow.nodes[node_id]
            if count == 0:
                yield flow.issue("dangling_exit", _dangling_message(flow, node, handle), node_id)
            else:
                yield flow.issue("duplicate_exit", _duplicate_message(flow, node, handle, count), node_id)


def _dangling_message(flow: _Flow, node: FlowNode, handle: str) -> str:
    return f"{_exit_name(node, handle)} of {flow.label(node.id)} leads nowhere, so the flow stops there."


def _duplicate_message(flow: _Flow, node: FlowNode, handle: str, count: int) -> str:
    label = flow.label(node.id)
    where = label if handle == "next" else f"{_exit_name(node, handle)} of {label}"
    return f"{where} is connected to {count} next steps, but only the first is used. Remove the extra connections."


def _exit_name(node: FlowNode, handle: str) -> str:
    if node.type == "send_message":
        titles = {str(b.get("id")): b.get("title") for b in node.data.get("buttons") or [] if isinstance(b, dict)}
        return f"The button “{titles.get(handle) or handle}”"
    return f"Branch “{handle}”" if node.type == "randomizer" else f"The “{handle}” exit"


def _check_reachability(flow: _Flow) -> Iterator[ValidationIssue]:
    starts = flow.map.starts
    if not starts:
        return
    reached = flow.map.reachable_from(starts)
    for node_id in flow.map.exits:
        if node_id not in reached:
            yield flow.issue("unreachable_node", f"{flow.label(node_id)} can never be reached: no path leads to it "
                                                 "from the Start step.", node_id)


# ------------------------------------------------------------------------------------------------ triggers


def _check_trigger(raw: Mapping, trigger: TriggerDef, index: WorkspaceIndex) -> Iterator[ValidationIssue]:
    label = f"Trigger “{trigger.name}”"
    ids = {"trigger_ids": (trigger.id,)}
    if not trigger.actions:
        yield _issue("no_actions", f"{label} has no actions, so it does nothing when it fires.", **ids)
    for number, action in enumerate(trigger.actions, 1):
        spec = ACTION_TYPES.get(action.get("type"))  # type: ignore[arg-type]
        if spec is None:
            yield _issue("missing_setting", f"{label} is not finished. Choose what action {number} does.", **ids)
        for what in spec.required(action) if spec else ():
            yield _issue("missing_setting", f"{label} is not finished. In action {number}, {what}.", **ids)
    for where, kind, value in _find_trigger_references(raw, index):
        yield _issue(f"missing_{kind}", f"{label} uses {_missing_thing(kind, value, where)}", **ids)
    conditions = raw.get("conditions")
    for problem in _rule_value_problems(conditions if isinstance(conditions, Mapping) else {}, index):
        yield _issue("bad_rule_value", f"{label}, in its conditions: {problem}", **ids)
    for number, action in enumerate(trigger.actions, 1):
        for code, problem in _template_problems(action, index, ()):
            yield _issue(code, f"{label}, action {number}: {problem}", **ids)
        for problem in _length_problems(action.get("text"), index):
            yield _issue("long_message", f"{label}, action {number}: {problem}", **ids)


def _length_problems(text: object, index: WorkspaceIndex) -> Iterator[str]:
    """A text longer than a channel of the bot allows (Messenger: 2,000 characters) would be refused there."""
    if not isinstance(text, str) or len(text) <= MIN_MESSAGE_LIMIT:
        return
    refusing = [(CHANNEL_NAMES[c], MESSAGE_LIMITS[c]) for c in index.channels or MESSAGE_LIMITS
                if c in MESSAGE_LIMITS and len(text) > MESSAGE_LIMITS[c]]
    if refusing:
        limits = ", ".join(f"{name} {limit:,}" for name, limit in refusing)
        yield (f"the message has {len(text):,} characters, more than a message may have on {limits}: it would be "
               "refused there. Shorten it or split it into two messages.")


def _rule_value_problems(data: Mapping, index: WorkspaceIndex) -> Iterator[str]:
    """Rules comparing a field with a value of the wrong type (`referral_points >= abc`) never hold as meant."""
    rules = data.get("rules")
    for rule in rules if isinstance(rules, list) else []:
        if not isinstance(rule, Mapping) or rule.get("op") in VALUELESS_OPS or rule.get("value") in (None, ""):
            continue
        kind = index.field_types.get(rule.get("field_id"))  # type: ignore[arg-type]
        name = index.fields.get(rule.get("field_id"))  # type: ignore[arg-type]
        if kind is None or rule.get("op") == "contains":
            continue
        try:
            coerce_value(str(name), kind, rule["value"])
        except FieldValueError:
            yield (f"“{rule['value']}” is not a {_TYPE_WORDS.get(kind, kind)}, so the rule on {name} can never hold "
                   f"as meant. Write a {_TYPE_WORDS.get(kind, kind)}.")


def _template_problems(data: Mapping, index: WorkspaceIndex, extra: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    """Problems of every template among a node's or an action's settings (texts, button titles, values)."""
    for value in data.values():
        if value.__class__ is str:
            if "{" in value and is_template(value):
                yield from template_problems(value, index.fields.values(), extra=extra)
        elif value.__class__ is list:
            for item in value:
                if item.__class__ is dict:
                    yield from _template_problems(item, index, extra)


def _find_trigger_references(raw: Mapping, index: WorkspaceIndex) -> Iterator[tuple[str, str, object]]:
    known = index.by_kind
    for key in ("entry_point_id", "field_id", "tag_id"):
        for kind, value in _find_missing_references({key: raw.get(key)}, known):
            yield "in its event filter", kind, value
    for kind, value in _find_missing_references(raw.get("conditions"), known):
        yield "in its conditions", kind, value
    for number, action in enumerate(raw.get("actions") if isinstance(raw.get("actions"), list) else [], 1):
        for kind, value in _find_missing_references(action, known):
            yield f"in action {number}", kind, value


# ------------------------------------------------------------------------------------------------ references


def _find_missing_references(value: object, known: Mapping[str, Mapping[int, str]]) -> list[tuple[str, object]]:
    """(kind, id) once each for every reference at any depth (keys like field_id or source_field_id) that names
    nothing in the workspace (`known`: WorkspaceIndex.by_kind)."""
    found: list[tuple[str, object]] = []
    _walk_references(value, found)
    if not found:
        return []
    missing = {(kind, ref) for kind, ref in found
               if ref is not None and not (isinstance(ref, int) and ref in known[kind])}
    return sorted(missing, key=repr) if missing else []


def _walk_references(value: object, found: list[tuple[str, object]]) -> None:
    """Add (kind, value) for every reference key at any depth of `value` to `found`. This runs over every button of
    every node on each validation, so it looks at exact types (stored JSON has no subclasses of dict or list) and
    remembers which keys name references."""
    if value.__class__ is not dict:
        if isinstance(value, dict):
            _walk_references(dict(value), found)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, CONTAINERS):
                    _walk_references(item, found)
        return
    kinds = _KEY_KINDS
    for key, child in value.items():  # type: ignore[attr-defined]
        kind = kinds.get(key, _UNSEEN)
        if kind is _UNSEEN:
            kind = _learn_key(key)
        if kind is not None:
            found.append((kind, child))
        elif child.__class__ is list:
            for item in child:
                if item.__class__ in _CONTAINER_TYPES:
                    _walk_references(item, found)
        elif child.__class__ is dict:
            _walk_references(child, found)


_UNSEEN = object()
_CONTAINER_TYPES = frozenset({dict, list})
_KEY_KINDS: dict[object, str | None] = {}  # key → the kind of reference it holds, None for other keys


def _learn_key(key: object) -> str | None:
    kind = _reference_kind(key) if isinstance(key, str) else None
    if len(_KEY_KINDS) < 10_000:  # documents can hold any keys; remember a bounded number of them
        _KEY_KINDS[key] = kind
    return kind


def _reference_kind(key: str) -> str | None:
    if not key.endswith(REFERENCE_SUFFIXES):
        return None
    return next((kind for suffix, kind in REFERENCE_KINDS.items() if key == suffix or key.endswith(f"_{suffix}")),
                None)


def _missing_thing(kind: str, value: object, where: str = "") -> str:
    noun = kind.replace("_", " ")
    where = f" {where}" if where else ""
    return f"{noun} #{value}{where}, which does not exist in this workspace. Choose another {noun}."


# ------------------------------------------------------------------------------------------------ loops


def _cycle_issue(loop: list[tuple], nodes: Mapping, index: WorkspaceIndex) -> ValidationIssue:
    flow_ids = list(dict.fromkeys(step[1] for step in loop if step[0] == "node" and step[1] is not None))
    trigger_ids = tuple(dict.fromkeys(step[1] for step in loop if step[0] == "trigger"))
    in_one_flow = not trigger_ids and len(flow_ids) <= 1
    flow_id = flow_ids[0] if in_one_flow and flow_ids else None
    where = f"In flow “{index.flows[flow_id]}”, these" if flow_id in index.flows else "These"
    message = (f"{where} steps can repeat forever without waiting for the contact: "
               f"{_describe_loop(loop, nodes, index, show_flows=not in_one_flow)}. {_loop_advice(loop, nodes)}")
    node_steps = [step for step in loop if step[0] == "node"]
    return _issue("unguarded_cycle", message, flow_id=flow_id,
                  node_ids=tuple(dict.fromkeys(step[2] for step in node_steps)), trigger_ids=trigger_ids,
                  flow_ids=tuple(flow_ids), flow_nodes=tuple(dict.fromkeys((s[1], s[2]) for s in node_steps)))


def _loop_advice(loop: list[tuple], nodes: Mapping) -> str:
    """What breaks this loop: a flow can wait for the contact; a trigger cannot."""
    triggers = [nodes[step].get("name", step[1]) for step in loop if step[0] == "trigger"]
    if not triggers:
        return "Put a question, buttons or a delay inside the loop, or break it."
    which = f"trigger “{triggers[0]}”" if len(triggers) == 1 else "one of these triggers"
    advice = (f"A trigger cannot wait, so break the loop: let {which} change another field or tag than the one "
              "that starts it, or make it listen to another event.")
    if len(triggers) < len(loop):
        advice += " Or put a question, buttons or a delay in the flow, so that it waits for the contact."
    return advice


def _describe_loop(loop: list[tuple], nodes: Mapping, index: WorkspaceIndex, *, show_flows: bool) -> str:
    labels, flow = [], None
    for step in loop:
        label = _step_label(step, nodes[step], index)
        if show_flows and step[0] == "node" and step[1] != flow:
            label = f"(flow “{index.flows.get(step[1], step[1])}”) {label}"
        flow = step[1] if step[0] == "node" else None
        labels.append(label)
    if len(labels) > MAX_PATH_STEPS:
        hidden = len(labels) - MAX_PATH_STEPS + 2
        labels = [*labels[: MAX_PATH_STEPS - 3], f"… {hidden} more steps …", *labels[-1:]]
    return " → ".join([*labels, f"back to {labels[0]}"])


def _step_label(step: tuple, attrs: Mapping, index: WorkspaceIndex) -> str:
    if step[0] == "trigger":
        return f"trigger “{attrs.get('name', step[1])}”"
    return _node_label(attrs["type"], attrs["data"], step[2], index)


def _node_label(node_type: str, data: Mapping, node_id: str, index: WorkspaceIndex) -> str:
    """How the admin recognises a node on the canvas: its title and summary."""
    spec = NODE_TYPES.get(node_type)
    if spec is None:
        return f"The step “{node_id}”"
    summary = spec.summary(data, index)
    return f"{spec.title} “{summary}”" if summary else spec.title
