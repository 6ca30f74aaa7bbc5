"""What the Simulator shows of one action, as data the page draws: the link explained, the trace as a timeline in the
admin's words, each contact's chat and changes, and the paths the flows took (the nodes and connections the engine's
trace recorded, which the read-only canvas lights)."""

from dataclasses import dataclass, field
from typing import Any, Protocol

from runtime.actions import ACTION_TYPES
from runtime.definitions import Definitions
from runtime.link_preview import LinkPreview
from runtime.node_types import NODE_TYPES, Names
from runtime.opening import OpenResult
from runtime.service import Runtime, TurnResult
from runtime.simulator.recording import ContactChange
from storage.contacts import ContactDetail, TranscriptMessage, get_contact, list_messages
from storage.db import Database


class Sandbox(Protocol):
    """Where an action ran: the sandbox database and the runtime on it (simulation.SimulatorBench)."""

    database: Database
    runtime: Runtime


TRANSCRIPT = 40  # newest messages shown per chat
EVENT_WORDS = {"contact_created": "New contact", "entry_point_opened": "Entry point opened",
               "referred_new_contact": "Referred a new contact",
               "referred_existing_contact": "Referred an existing contact",
               "referred_second_level": "A friend's friend joined (second level)", "field_changed": "Field changed",
               "tag_added": "Tag added", "tag_removed": "Tag removed"}
WAIT_WORDS = {"reply": "a reply", "button": "a button press", "delay": "the delay to pass"}


@dataclass(frozen=True)
class TimelineItem:
    kind: str  # contact, event, trigger, skipped, action, flow, node, wait, message, reply, warning, note
    text: str


@dataclass
class PersonView:
    contact: ContactDetail
    role: str
    change: ContactChange
    messages: list[TranscriptMessage]
    new_messages: int

    @property
    def buttons(self) -> list[str]:
        """The titles the contact can press now: those of the last bot message, if nothing was said since."""
        last = self.messages[-1] if self.messages else None
        return last.buttons if last is not None and last.direction == "out" else []


@dataclass
class FlowPath:
    flow_id: int
    name: str
    document: dict
    contacts: list[str] = field(default_factory=list)
    steps: list[tuple[str, str, str]] = field(default_factory=list)  # (node id, title, summary) in visiting order
    edges: list[str] = field(default_factory=list)  # ids of the connections followed

    @property
    def node_ids(self) -> list[str]:
        return list(dict.fromkeys(node_id for node_id, _, _ in self.steps))


@dataclass
class WebhookView:
    """The platform's webhook body an action was delivered as (the simulator's "as the channel's real webhook")."""

    label: str  # "Messenger"
    body: str  # the JSON, pretty-printed
    delivery: Any  # channels.simulated.SimulatedDelivery: what "Deliver again" sends
    duplicate: bool = False


@dataclass
class ActionView:
    title: str
    explanation: LinkPreview | None = None
    referral: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    timeline: list[TimelineItem] = field(default_factory=list)
    people: list[PersonView] = field(default_factory=list)
    paths: list[FlowPath] = field(default_factory=list)
    names: Names = field(default_factory=Names)
    webhook: WebhookView | None = None


def describe_action(sandbox: Sandbox, defs: Definitions, result: OpenResult | TurnResult, roles: dict[int, str],
                    before: dict[int, tuple[dict, list]], *, title: str, use_draft: bool) -> ActionView:
    """The view of one action on the `sandbox` (its database and runtime): `roles` names the people it is about
    (first), `before` their fields and tags before; the paths are drawn on the copy of the flows it ran."""
    trace = result.trace
    involved = list(dict.fromkeys([*roles, *_contacts_in(trace)]))
    names = Names(fields={f.id: f.name for f in defs.fields_by_id.values()}, tags=defs.tags_by_id,
                  flows={f.id: f.name for f in defs.flows.values()},
                  entry_points={e.id: e.ref for e in defs.entries_by_ref.values()}, pools=_pool_names(sandbox.database))
    people = _read_people(sandbox, involved, roles, before, trace)
    known = {person.contact.id: person.contact.name for person in people}
    documents = {flow_id: flow.document(use_draft) or {} for flow_id, flow in defs.flows.items()}
    narrator = Narrator(names, known, documents)
    timeline = [narrator.describe(step) for step in trace if step["kind"] != "edge"]  # edges are lit on the canvas
    return ActionView(title, warnings=list(result.warnings), timeline=timeline,
                      people=people, paths=trace_paths(trace, names, known, documents), names=names)


def _read_people(sandbox: Sandbox, involved: list[int], roles: dict[int, str],
                 before: dict[int, tuple[dict, list]], trace: list[dict]) -> list[PersonView]:
    people = []
    with sandbox.database.session() as session:
        for contact_id in involved:
            contact = get_contact(session=session, contact_id=contact_id)
            if contact is None:
                continue
            fields, tags = sandbox.runtime.contact_data(contact_id)
            old_fields, old_tags = before.get(contact_id, ({}, []))
            messages, _ = list_messages(session=session, contact_id=contact_id, limit=TRANSCRIPT)
            fresh = sum(s["kind"] in ("message", "reply") and s.get("contact_id") == contact_id for s in trace)
            people.append(PersonView(contact, roles.get(contact_id, "involved"),
                                     ContactChange(contact_id, old_fields, fields, old_tags, tags), messages,
                                     min(fresh, len(messages))))
    return people


# ---------------------------------------------------------------------------------------------- the trace


class Narrator:
    """Turns the runtime's trace steps into timeline lines, in the admin's words."""

    def __init__(self, names: Names, people: dict[int, str], documents: dict[int, dict]) -> None:
        self.names, self.people, self.documents = names, people, documents

    def describe(self, step: dict) -> TimelineItem:
        return getattr(self, f"_{step['kind']}", self._other)(step)

    def who(self, contact_id: int | None) -> str:
        return self.people.get(contact_id, f"contact #{contact_id}")

    def _event(self, step: dict) -> TimelineItem:
        words = EVENT_WORDS.get(step["event"], step["event"])
        return TimelineItem("event", f"{words} · {self.who(step['contact_id'])}{self._event_details(step)}")

    def _event_details(self, step: dict) -> str:
        names = self.names
        if step.get("field_id") is not None:
            value = (step.get("data") or {}).get("value")
            return f" · {names.fields.get(step['field_id'], step['field_id'])} = {value}"
        if step.get("tag_id") is not None:
            return f" · {names.tags.get(step['tag_id'], step['tag_id'])}"
        if step.get("other_contact_id") is not None:
            return f" · joined: {self.who(step['other_contact_id'])}"
        if step.get("entry_point_id") is not None:
            return f" · {names.entry_points.get(step['entry_point_id'], step['entry_point_id'])}"
        return ""

    def _contact(self, step: dict) -> TimelineItem:
        entered = f"entered through {step['entry']}" if step.get("entry") else "no entry point"
        known = "is a new contact" if step["is_new"] else "was already a contact"
        return TimelineItem("contact", f"{self.who(step['contact_id'])} {known} · {entered}")

    def _trigger(self, step: dict) -> TimelineItem:
        return TimelineItem("trigger", f"Trigger “{step['trigger']}” runs for {self.who(step['contact_id'])}")

    def _trigger_skipped(self, step: dict) -> TimelineItem:
        return TimelineItem("skipped", f"Trigger “{step['trigger']}” skipped: {step['reason']}")

    def _action(self, step: dict) -> TimelineItem:
        spec = ACTION_TYPES.get(step["action"])
        return TimelineItem("action", f"“{step['trigger']}”: {spec.doing if spec else step['action']}")

    def _flow_started(self, step: dict) -> TimelineItem:
        return TimelineItem("flow", f"Flow “{step['flow']}” starts for {self.who(step['contact_id'])}")

    def _node(self, step: dict) -> TimelineItem:
        title, summary = node_words(self.documents.get(step["flow_id"], {}), step["node_id"], self.names)
        flow = self.names.flows.get(step["flow_id"], f"flow {step['flow_id']}")
        return TimelineItem("node", f"{flow} › {title}" + (f": {summary}" if summary else ""))

    def _waiting(self, step: dict) -> TimelineItem:
        waits_for = WAIT_WORDS.get(step["waiting_for"], step["waiting_for"])
        return TimelineItem("wait", f"{self.who(step['contact_id'])} waits for {waits_for}")

    def _wake_up(self, step: dict) -> TimelineItem:
        return TimelineItem("wait", f"{self.who(step['contact_id'])}'s delay is over; the flow goes on")

    def _referral_board(self, step: dict) -> TimelineItem:
        where = self.names.entry_points.get(step.get("entry_point_id"), "every entry point")
        place = f"place {step['rank']}" if step.get("rank") else "not on the board"
        return TimelineItem("note", f"{self.who(step['contact_id'])} on the board of {where}, "
                                    f"{step['period']}: {place}, {step['count']} counted")

    def _message(self, step: dict) -> TimelineItem:
        return TimelineItem("message", f"Bot → {self.who(step['contact_id'])}: {step['text']}")

    def _reply(self, step: dict) -> TimelineItem:
        return TimelineItem("reply", f"{self.who(step['contact_id'])} → bot: {step['text']}")

    def _coupon_given(self, step: dict) -> TimelineItem:
        return TimelineItem("action", f"{self.who(step['contact_id'])} gets code {step['code']} from pool "
                                      f"“{self.names.pools.get(step['pool_id'], step['pool_id'])}” → {step['field']}")

    def _coupon_none_left(self, step: dict) -> TimelineItem:
        return TimelineItem("warning", f"Pool “{step.get('pool') or step.get('pool_id')}” has no codes left: "
                                       f"{self.who(step['contact_id'])} gets none (the “none left” exit)")

    def _warning(self, step: dict) -> TimelineItem:
        return TimelineItem("warning", step["message"])

    def _other(self, step: dict) -> TimelineItem:
        words = {"retry": f"The answer was refused: {step.get('reason')}",
                 "skipped": f"A step was skipped: {step.get('reason')}",
                 "random_branch": f"The randomizer chose branch {step.get('branch')}"}
        return TimelineItem("note", words.get(step["kind"], step["kind"].replace("_", " ")))


def _pool_names(database: Database) -> dict[int, str]:
    with database.raw_connection() as connection:
        return dict(connection.execute("SELECT id, name FROM coupon_pool").fetchall())


def node_words(document: dict, node_id: str, names: Names) -> tuple[str, str]:
    """A node's title and summary, as the canvas shows them."""
    node = next((n for n in document.get("nodes", []) if n.get("id") == node_id), None)
    spec = NODE_TYPES.get(node["type"]) if node else None
    if spec is None:
        return node_id, ""
    return spec.title, spec.summary(node.get("data"), names)


def trace_paths(trace: list[dict], names: Names, people: dict[int, str], documents: dict[int, dict]) -> list[FlowPath]:
    """Per flow that ran: the nodes the trace visited, in order, and the connections it followed, exactly as the
    engine recorded them. A run resumed by a reply or by a delay that is over starts at the node the contact waited
    at: the source of the first connection it follows."""
    paths: dict[int, FlowPath] = {}
    at: dict[tuple[int | None, int], str] = {}  # (contact, flow) → the node the contact was last seen at

    def visit(contact_id: int | None, flow_id: int, node_id: str) -> FlowPath:
        path = paths.get(flow_id)
        if path is None:
            path = paths[flow_id] = FlowPath(flow_id, names.flows.get(flow_id, f"Flow {flow_id}"),
                                             documents.get(flow_id, {}))
        who = people.get(contact_id, f"contact #{contact_id}")
        if who not in path.contacts:
            path.contacts.append(who)
        path.steps.append((node_id, *node_words(path.document, node_id, names)))
        at[contact_id, flow_id] = node_id
        return path

    for step in trace:
        if step["kind"] in ("node", "wake_up"):
            visit(step["contact_id"], step["flow_id"], step["node_id"])
        elif step["kind"] == "edge":
            place = (step["contact_id"], step["flow_id"])
            path = paths.get(step["flow_id"]) if at.get(place) == step["source"] else \
                visit(*place, step["source"])  # resumed: the node the contact waited at
            path.edges.append(step["edge_id"])
    return list(paths.values())


def _contacts_in(trace: list[dict]) -> list[int]:
    return [step[key] for step in trace for key in ("contact_id", "other_contact_id") if step.get(key) is not None]
