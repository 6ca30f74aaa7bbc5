"""What the Simulator page shows after an action: the view of it (the link explained, the trace as a timeline, each
contact's chat and changes, the paths the flows took, lit on a read-only canvas) and how it is drawn; and the report
of a scenario run."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nicegui import ui

from builder.canvas import FlowCanvas, canvas_is_built, canvas_view
from builder.context import SimulatorBench
from builder.entry_point_links import draw_explanation
from runtime.actions import ACTION_TYPES
from runtime.definitions import Definitions
from runtime.node_types import NODE_TYPES, Names
from runtime.opening import OpenResult
from runtime.service import TurnResult
from runtime.simulator.scenarios import ScenarioReport
from runtime.vocabulary import COUNTED_STATUSES
from storage.contacts import ContactDetail, TranscriptMessage, get_contact, list_messages
from storage.entry_points import LinkExplanation
from storage.scenarios import REFERRAL_WORDS, ContactChange, ScenarioSummary

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
    explanation: LinkExplanation | None = None
    referral: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    timeline: list[TimelineItem] = field(default_factory=list)
    people: list[PersonView] = field(default_factory=list)
    paths: list[FlowPath] = field(default_factory=list)
    names: Names = field(default_factory=Names)
    webhook: WebhookView | None = None


def describe_action(bench: SimulatorBench, defs: Definitions, result: OpenResult | TurnResult, roles: dict[int, str],
                    before: dict[int, tuple[dict, list]], *, title: str) -> ActionView:
    """The view of one action: `roles` names the people it is about (first), `before` their fields and tags before."""
    trace = result.trace
    involved = list(dict.fromkeys([*roles, *_contacts_in(trace)]))
    names = Names(fields={f.id: f.name for f in defs.fields_by_id.values()}, tags=defs.tags_by_id,
                  flows={f.id: f.name for f in defs.flows.values()},
                  entry_points={e.id: e.ref for e in defs.entries_by_ref.values()}, pools=_pool_names(bench))
    people = _read_people(bench, involved, roles, before, trace)
    known = {person.contact.id: person.contact.name for person in people}
    documents = {flow_id: flow.document(bench.runtime.use_draft) or {} for flow_id, flow in defs.flows.items()}
    narrator = Narrator(names, known, documents)
    return ActionView(title, warnings=list(result.warnings), timeline=[narrator.describe(step) for step in trace],
                      people=people, paths=trace_paths(trace, names, known, documents), names=names)


def _read_people(bench: SimulatorBench, involved: list[int], roles: dict[int, str],
                 before: dict[int, tuple[dict, list]], trace: list[dict]) -> list[PersonView]:
    people = []
    with bench.database.session() as session:
        for contact_id in involved:
            contact = get_contact(session=session, contact_id=contact_id)
            if contact is None:
                continue
            fields, tags = bench.runtime.contact_data(contact_id)
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


def _pool_names(bench: SimulatorBench) -> dict[int, str]:
    with bench.database.raw_connection() as connection:
        return dict(connection.execute("SELECT id, name FROM coupon_pool").fetchall())


def node_words(document: dict, node_id: str, names: Names) -> tuple[str, str]:
    """A node's title and summary, as the canvas shows them."""
    node = next((n for n in document.get("nodes", []) if n.get("id") == node_id), None)
    spec = NODE_TYPES.get(node["type"]) if node else None
    if spec is None:
        return node_id, ""
    return spec.title, spec.summary(node.get("data"), names)


def trace_paths(trace: list[dict], names: Names, people: dict[int, str], documents: dict[int, dict]) -> list[FlowPath]:
    """Per flow that ran: the nodes visited in order and the connections followed between them. A flow that resumes
    (a reply, a delay that is over) starts from the node the contact waited at."""
    paths: dict[int, FlowPath] = {}
    last: dict[int, tuple[int, str] | None] = {}  # contact → (flow, node) they were last at during this action
    replies: dict[int, str] = {}

    def visit(contact_id: int, flow_id: int, node_id: str) -> FlowPath:
        document = documents.get(flow_id, {})
        path = paths.setdefault(flow_id, FlowPath(flow_id, names.flows.get(flow_id, f"Flow {flow_id}"), document))
        if people.get(contact_id, f"contact #{contact_id}") not in path.contacts:
            path.contacts.append(people.get(contact_id, f"contact #{contact_id}"))
        path.steps.append((node_id, *node_words(document, node_id, names)))
        last[contact_id] = (flow_id, node_id)
        return path

    for step in trace:
        contact_id, kind = step.get("contact_id"), step["kind"]
        if kind == "flow_started":
            last[contact_id] = None
        elif kind == "wake_up":
            visit(contact_id, step["flow_id"], step["node_id"])
        elif kind == "reply":
            replies[contact_id] = step["text"]
        elif kind == "node":
            flow_id, node_id = step["flow_id"], step["node_id"]
            document = documents.get(flow_id, {})
            if contact_id not in last:  # resumed by a reply: start from where the contact waited
                waited = _waiting_source(document, node_id, replies.get(contact_id))
                if waited is not None:
                    visit(contact_id, flow_id, waited)
            source = last.get(contact_id)
            edge = _edge(document, source[1], node_id) if source and source[0] == flow_id else None
            path = visit(contact_id, flow_id, node_id)
            if edge:
                path.edges.append(edge)
    return list(paths.values())


def _waiting_source(document: dict, node_id: str, reply: str | None) -> str | None:
    """The node a resumed contact waited at: the waiting node with a connection into `node_id` (the pressed button's,
    when several)."""
    nodes = {node["id"]: node for node in document.get("nodes", [])}

    def waits(node_id: str) -> bool:
        spec = NODE_TYPES.get(nodes[node_id]["type"]) if node_id in nodes else None
        return spec is not None and spec.waits(nodes[node_id].get("data"))

    def pressed(edge: dict) -> bool:
        buttons = nodes[edge["source"]].get("data", {}).get("buttons") or []
        return any(str(b.get("id")) == edge["source_handle"] and str(b.get("title", "")).strip().lower() ==
                   (reply or "").strip().lower() for b in buttons)

    waiting = [edge for edge in document.get("edges", []) if edge["target"] == node_id and waits(edge["source"])]
    chosen = [edge for edge in waiting if pressed(edge)] or waiting
    return chosen[0]["source"] if len(chosen) == 1 else None


def _edge(document: dict, source: str, target: str) -> str | None:
    return next((edge["id"] for edge in document.get("edges", []) if edge["source"] == source
                 and edge["target"] == target), None)


def _contacts_in(trace: list[dict]) -> list[int]:
    return [step[key] for step in trace for key in ("contact_id", "other_contact_id") if step.get(key) is not None]


# ---------------------------------------------------------------------------------------------- drawing

Answer = Callable[[int, str, bool], Any]  # (contact id, text, pressed a button) → the page replies as the contact
LOOK = {"contact": ("person", "slate-6"), "event": ("bolt", "indigo-6"), "trigger": ("play_circle", "purple-6"),
        "skipped": ("block", "grey-6"), "action": ("subdirectory_arrow_right", "purple-4"),
        "flow": ("account_tree", "teal-7"), "node": ("radio_button_checked", "teal-5"),
        "wait": ("hourglass_empty", "amber-8"), "message": ("chat", "blue-6"), "reply": ("reply", "blue-6"),
        "warning": ("warning", "orange-8"), "note": ("info", "grey-6")}
INDENTED = ("action", "node")
LIT_EDGE = {"animated": True, "class": "rf-edge--lit", "style": {"stroke": "#10b981", "strokeWidth": 3}}


def show_result(view: ActionView | None, answer: Answer, redeliver: Callable[[Any], None] | None = None) -> None:
    if view is None:
        with ui.card().classes("w-full items-center gap-2 py-8").mark("no-result"):
            ui.icon("science", size="xl", color="indigo-3")
            ui.label("Open a link to see what the bot does.").classes("text-lg text-slate-700")
            ui.label("Paste or build a link above, choose who opens it, then press “Open the link”.").classes(
                "text-slate-500")
        return
    with ui.column().classes("w-full gap-4").mark("result"):
        _show_headline(view)
        if view.webhook is not None:
            _show_webhook(view.webhook, redeliver)
        if view.explanation is not None:
            with ui.card().classes("w-full gap-1").mark("parse"):
                ui.label("How the link was read").classes("text-lg font-medium")
                draw_explanation(view.explanation)
        _show_warnings([w for w in view.warnings if view.explanation is None or
                        w not in view.explanation.parsed.warnings])
        if view.people:
            with ui.grid(columns=2 if len(view.people) > 1 else 1).classes("w-full gap-4"):
                for person in view.people:
                    _show_person(person, answer)
        _show_timeline(view.timeline)
        for path in view.paths:
            show_path(path, view.names)


def _show_webhook(webhook: WebhookView, redeliver: Callable[[Any], None] | None) -> None:
    with ui.card().classes("w-full gap-2").mark("webhook"):
        with ui.row().classes("w-full items-center gap-2 no-wrap"):
            ui.icon("webhook", color="indigo")
            ui.label(f"Delivered as {webhook.label}'s webhook" + (" — again" if webhook.duplicate else "")) \
                .classes("text-lg font-medium")
            ui.space()
            if redeliver is not None:
                ui.button("Deliver again", icon="replay", on_click=lambda: redeliver(webhook.delivery)) \
                    .props("outline no-caps").mark("deliver-again").tooltip(
                        "Platforms deliver some webhooks twice: the same event id changes nothing")
        if webhook.duplicate:
            ui.label("The same event id came in again, so nothing changed: no new contact, no referral counted, no "
                     "message sent.").classes("text-sm text-emerald-800").mark("webhook-duplicate")
        with ui.expansion("The body the platform sent", icon="data_object").classes("w-full").mark("webhook-body"):
            ui.code(webhook.body, language="json").classes("w-full text-xs")


def _show_headline(view: ActionView) -> None:
    with ui.row().classes("w-full items-center gap-3 no-wrap"):
        ui.label(view.title).classes("text-lg font-semibold text-slate-800 break-all min-w-0").mark("result-title")
        status = (view.referral or {}).get("status")
        if status in REFERRAL_WORDS:
            counted = status in COUNTED_STATUSES
            ui.badge(f"Referral {REFERRAL_WORDS[status]}", color="positive" if counted else "negative") \
                .classes("text-sm py-1 px-2 whitespace-nowrap").mark("referral-status")


def _show_warnings(warnings: list[str]) -> None:
    for warning in warnings:
        with ui.row().classes("w-full no-wrap items-start gap-2 rounded bg-amber-50 p-2 text-sm text-amber-800") \
                .mark("result-warning"):
            ui.icon("warning", size="xs").classes("mt-0.5")
            ui.label(warning).classes("flex-1 min-w-0")


def _show_person(person: PersonView, answer: Answer) -> None:
    contact = person.contact
    with ui.card().classes("w-full gap-2 p-3 min-w-0").mark(f"chat-{contact.id}"):
        with ui.row().classes("w-full items-center gap-2 no-wrap"):
            ui.icon("account_circle", size="md", color="indigo-4")
            with ui.column().classes("gap-0 min-w-0"):
                ui.label(contact.name).classes("font-semibold text-slate-800 truncate")
                ui.label(f"#{contact.id} · {contact.channel} · {contact.channel_user_id}") \
                    .classes("text-xs text-slate-500 truncate")
            ui.space()
            ui.badge(person.role, color="indigo-1").classes("text-indigo-900 whitespace-nowrap").mark(
                f"role-{contact.id}")
        _show_chat(person, answer)
        _show_changes(person.change, contact.id)


def _show_chat(person: PersonView, answer: Answer) -> None:
    contact_id, first_new = person.contact.id, len(person.messages) - person.new_messages
    # column-reverse keeps a long chat scrolled to its newest message, as chat apps do
    with ui.column().classes("w-full gap-1 rounded bg-slate-50 p-2 max-h-80 overflow-auto flex-col-reverse no-wrap"):
        if not person.messages:
            ui.label("No messages yet.").classes("text-sm text-slate-400")
        for number, message in reversed(list(enumerate(person.messages))):
            mine = message.direction == "in"
            ring = " ring-2 ring-emerald-300" if number >= first_new else ""
            look = "bg-indigo-600 text-white self-end" if mine else "bg-white border border-slate-200 self-start"
            ui.label(message.text).classes(f"{look}{ring} rounded-lg px-3 py-1.5 text-sm max-w-[85%] "
                                           "whitespace-pre-wrap break-words").mark(f"bubble-{contact_id}")
    if person.buttons:
        with ui.row().classes("gap-1"):
            for number, title in enumerate(person.buttons):
                ui.button(title, on_click=lambda title=title: answer(contact_id, title, True)) \
                    .props("outline dense no-caps").mark(f"press-{contact_id}-{number}")
    with ui.row().classes("w-full items-center gap-1 no-wrap"):
        box = ui.input(placeholder=f"Reply as {person.contact.name}…").props("dense outlined").classes("grow") \
            .mark(f"reply-{contact_id}")
        box.on("keydown.enter", lambda: answer(contact_id, box.value or "", False))
        ui.button(icon="send", on_click=lambda: answer(contact_id, box.value or "", False)) \
            .props("flat round dense color=indigo").tooltip("Send").mark(f"send-{contact_id}")


def _show_changes(change: ContactChange, contact_id: int) -> None:
    changed = change.changed_fields()
    values = [(name, change.fields_before.get(name), value) for name, value in change.fields_after.items()]
    rows = changed + [row for row in values if row[0] not in {name for name, _, _ in changed}]
    with ui.column().classes("w-full gap-1").mark(f"changes-{contact_id}"):
        if rows:
            with ui.grid(columns="auto 1fr").classes("w-full gap-x-4 gap-y-0.5 text-sm"):
                for name, before, after in rows:
                    ui.label(name).classes("text-slate-500")
                    text = f"{_show(before)} → {_show(after)}" if before != after else _show(after)
                    ui.label(text).classes("font-mono break-all " + (
                        "text-emerald-700 font-semibold" if before != after else "text-slate-700"))
        with ui.row().classes("gap-1 items-center"):
            for tag in change.tags_after:
                added = tag in change.tags_added
                ui.badge(("+ " if added else "") + tag, color="positive" if added else "grey-6").props("outline")
            for tag in change.tags_removed:
                ui.badge("− " + tag, color="negative").props("outline").classes("line-through")
            if not change.tags_after and not change.tags_removed and not rows:
                ui.label("No field values or tags yet.").classes("text-sm text-slate-400")


def _show(value: Any) -> str:
    return "—" if value is None else str(value)


def _show_timeline(items: list[TimelineItem]) -> None:
    with ui.card().classes("w-full gap-0").mark("timeline"):
        ui.label("What happened, in order").classes("text-lg font-medium mb-1")
        if not items:
            ui.label("Nothing: no event, no trigger, no message.").classes("text-sm text-slate-500") \
                .mark("timeline-empty")
        for item in items:
            icon, color = LOOK.get(item.kind, LOOK["note"])
            with ui.row().classes("w-full no-wrap items-start gap-2 py-0.5" + (" pl-6" if item.kind in INDENTED
                                                                                 else "")):
                ui.icon(icon, size="xs", color=color).classes("mt-0.5")
                ui.label(item.text).classes("text-sm text-slate-700 whitespace-pre-wrap break-words min-w-0") \
                    .mark(f"trace-{item.kind}")


def show_path(path: FlowPath, names: Names) -> None:
    """The flow that ran, read-only, with the visited nodes and the followed connections lit; under it the same path
    as a list (what a screen reader, a test, or a missing canvas bundle gets)."""
    with ui.card().classes("w-full gap-2").mark(f"path-{path.flow_id}"):
        ui.label(f"Flow “{path.name}” · ran for {', '.join(path.contacts)}").classes("text-lg font-medium")
        if canvas_is_built():
            canvas = FlowCanvas(editable=False).classes("w-full border border-slate-200 rounded bg-white") \
                .style("height: 320px").mark(f"canvas-{path.flow_id}")
            nodes, edges = canvas_view(path.document, names, lit=path.node_ids)
            canvas.show(nodes, [edge | LIT_EDGE if edge["id"] in path.edges else edge for edge in edges])
        _show_path_list(path)


def _show_path_list(path: FlowPath) -> None:
    titles = {node_id: title for node_id, title, _ in path.steps}
    followed = [edge for edge in path.document.get("edges", []) if edge["id"] in path.edges]
    with ui.grid(columns="minmax(0,3fr) minmax(0,2fr)").classes("w-full gap-x-6 gap-y-0 text-sm") \
            .mark(f"path-steps-{path.flow_id}"):
        with ui.column().classes("gap-0.5 min-w-0"):
            ui.label("Steps, in order").classes("text-xs uppercase tracking-wide text-slate-500")
            for number, (_, title, summary) in enumerate(path.steps, 1):
                ui.label(f"{number}. {title}" + (f" — {summary}" if summary else "")).classes(
                    "text-slate-700 break-words")
        with ui.column().classes("gap-0.5 min-w-0"):
            ui.label("Connections followed").classes("text-xs uppercase tracking-wide text-slate-500")
            for edge in followed:
                ui.label(f"{titles.get(edge['source'], edge['source'])} → {titles.get(edge['target'], edge['target'])}"
                         ).classes("text-slate-600")
            if not followed:
                ui.label("None").classes("text-slate-400")


def show_scenario_report(report: ScenarioReport) -> None:
    failed = sum(not step.passed for step in report.steps)
    with ui.column().classes("w-full gap-1").mark("scenario-report"):
        with ui.row().classes("items-center gap-2"):
            ui.icon("check_circle" if report.passed else "cancel", color="positive" if report.passed else "negative")
            verdict = f"passed: all {len(report.steps)} steps" if report.passed else \
                f"failed: {failed} of {len(report.steps)} steps"
            ui.label(f"“{report.name}” {verdict}").classes("font-semibold").mark("scenario-verdict")
            ui.badge(f"ran the {report.copy_words}", color="amber-8" if report.copy == "draft" else "indigo-7") \
                .props("outline").mark("scenario-copy")
        for step in report.steps:
            look = "bg-green-50 text-green-900" if step.passed else "bg-red-50 text-red-900"
            with ui.column().classes(f"w-full gap-0 rounded px-2 py-1 {look}").mark(
                    f"scenario-step-{step.number}-{'passed' if step.passed else 'failed'}"):
                ui.label(f"{'✓' if step.passed else '✗'} {step.number}. {step.description}").classes(
                    "text-sm break-all")
                for failure in step.failures:
                    ui.label(failure).classes("text-sm pl-5 break-words").mark(f"scenario-failure-{step.number}")


def show_scenario_row(scenario: ScenarioSummary, run: Callable[[int, str], Any],
                      delete: Callable[[int, str], Any]) -> None:
    with ui.row().classes("w-full items-center gap-3 no-wrap border-t border-slate-100 pt-2") \
            .mark(f"scenario-{scenario.id}"):
        with ui.column().classes("gap-0 min-w-0 grow"):
            ui.label(scenario.name).classes("font-medium truncate")
            if scenario.description:
                ui.label(scenario.description).classes("text-sm text-slate-500 truncate")
        ui.label(f"{scenario.steps} steps").classes("text-sm text-slate-500 whitespace-nowrap")
        ui.button("Run", icon="play_arrow", on_click=lambda: run(scenario.id, scenario.name)) \
            .props("outline dense no-caps") \
            .mark(f"run-scenario-{scenario.id}")
        ui.button(icon="delete", on_click=lambda: delete(scenario.id, scenario.name)) \
            .props("flat round dense color=grey-8").tooltip("Delete").mark(f"delete-scenario-{scenario.id}")


def confirm(title: str, text: str, button: str, marker: str, on_yes: Callable[[], Any]) -> None:
    """A dialog asking before something that cannot be undone."""
    def yes() -> None:
        dialog.close()
        on_yes()

    with ui.dialog() as dialog, ui.card().classes("max-w-md gap-3"):
        ui.label(title).classes("text-lg font-semibold")
        ui.label(text).classes("text-slate-600")
        with ui.row().classes("self-end"):
            ui.button("Cancel", on_click=dialog.close).props("flat")
            ui.button(button, on_click=yes).props("color=negative").mark(marker)
    dialog.open()

