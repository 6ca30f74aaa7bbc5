"""The flow engine: run a flow in one contact's context until it waits (ask, buttons, delay) or ends (DOMAIN §6).

Movement along edges is the graph module's job (`next_edge`); this module only says what each node does, and notes in
the trace every connection a run follows (the simulator lights exactly those). It holds one step per node type
(`_NODES`), so it grows with the node catalogue rather than with a second idea.
"""

from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from runtime import store
from runtime.conditions import conditions_hold
from runtime.coupons import claim_code, record_miss
from runtime.graph import next_edge
from runtime.links import LinkError
from runtime.referral_stats import PERIOD_NAMES, PERIODS, Scope, referral_value
from runtime.templates import is_template
from runtime.turn import MAX_FLOW_STEPS, SentMessage, Turn
from runtime.values import FieldValueError, JsonPathError, coerce_value, read_json_path

WAIT = "__wait__"
END = "__end__"
DEFAULT_RETRY = "Sorry, that answer doesn't fit. Please try again."


@dataclass(frozen=True)
class FlowRun:
    contact_id: int
    flow_id: int | None
    depth: int = 0
    referred_id: int | None = None  # the person a referral flow is about ({{referred.*}})
    use_draft: bool = False


@dataclass(frozen=True)
class Jump:
    flow_id: int | None


def start_flow(turn: Turn, contact_id: int, flow_id: int, *, depth: int = 0, referred_id: int | None = None) -> None:
    """Start a flow from its start node. A contact waiting elsewhere (a question, buttons, a delay) keeps that place
    unless this flow waits too: a reward check that only sends a message does not cancel a pending question."""
    run = FlowRun(contact_id, flow_id, depth, referred_id, turn.use_draft)
    start = _start_of(turn, run)
    if start is not None:
        _walk(turn, run, start)


def resume_with_reply(turn: Turn, contact_id: int, text: str) -> bool:
    """Continue the flow the contact waits in with their reply (typed text or a button's title or id).
    False when they wait for nothing that a reply can answer."""
    position = store.read_flow_position(turn.db, contact_id)
    if position is None or position[2] == "delay":
        return False
    flow_id, node_id, waiting_for, use_draft, retries = position
    run = FlowRun(contact_id, flow_id, use_draft=bool(use_draft))
    graph = turn.defs.flow_graph(flow_id, run.use_draft)
    if graph is None or node_id not in graph:
        turn.warn(f"The flow this contact waited in changed; the place they waited at ({node_id}) is gone.")
        _clear_position(turn, contact_id)
        return False
    data = graph.nodes[node_id]["data"]
    handle = _answer_buttons(turn, run, node_id, data, text) if waiting_for == "button" else \
        _answer_question(turn, run, node_id, data, text, retries)
    if handle is not None:
        _continue(turn, run, graph, node_id, handle)
    return True


def run_due_wakeups(turn: Turn, limit: int = -1) -> int:
    """Resume every contact whose delay has passed by the turn's clock (the `limit` oldest, when given); returns how
    many were woken."""
    due = store.read_due_wake_ups(turn.db, turn.stamp, limit)
    woken = 0
    for wake_id, contact_id, flow_id, node_id in due:
        if not store.mark_wake_up_done(turn.db, wake_id):
            continue
        turn.lock_contact(contact_id)
        position = store.read_delay_position(turn.db, contact_id, flow_id, node_id)
        if position is None:
            continue  # the contact moved on (another flow started) while waiting
        run = FlowRun(contact_id, flow_id, use_draft=bool(position[0]))
        graph = turn.defs.flow_graph(flow_id, run.use_draft)
        if graph is not None and node_id in graph:
            turn.note("wake_up", contact_id=contact_id, flow_id=flow_id, node_id=node_id)
            woken += 1
            _continue(turn, run, graph, node_id, "next")
    return woken


# ---------------------------------------------------------------------------------------------- walking


def _start_of(turn: Turn, run: FlowRun) -> str | None:
    graph = turn.defs.flow_graph(run.flow_id, run.use_draft)
    flow = turn.defs.flows.get(run.flow_id)
    if graph is None:
        reason = "does not exist" if flow is None else "has not been published yet"
        turn.warn(f"Flow {flow.name if flow else run.flow_id!r} {reason}; it was not started.")
        return None
    start = turn.defs.flow_start(run.flow_id, run.use_draft)
    if start is None:
        turn.warn(f"Flow '{flow.name}' has no start node; it was not started.")
    else:
        turn.note("flow_started", contact_id=run.contact_id, flow_id=run.flow_id, flow=flow.name)
    return start


def _continue(turn: Turn, run: FlowRun, graph: Any, node_id: str, handle: str) -> None:
    _clear_position(turn, run.contact_id)
    following = _follow(turn, run, graph, node_id, handle)
    if following is not None:
        _walk(turn, run, following)


def _walk(turn: Turn, run: FlowRun, node_id: str | None) -> None:
    graph = turn.defs.flow_graph(run.flow_id, run.use_draft)
    steps = 0
    while node_id is not None:
        steps += 1
        if steps > MAX_FLOW_STEPS:
            turn.warn(f"Flow '{turn.defs.flows[run.flow_id].name}' was stopped after {MAX_FLOW_STEPS} steps: it "
                      "loops without waiting for the contact. Add a question, buttons or a delay to the loop.")
            return
        attrs = graph.nodes[node_id]
        turn.note("node", contact_id=run.contact_id, flow_id=run.flow_id, node_id=node_id, type=attrs["type"])
        outcome = _NODES[attrs["type"]](turn, run, node_id, attrs["data"])
        if outcome == WAIT:
            return
        if isinstance(outcome, Jump):
            run = replace(run, flow_id=outcome.flow_id)
            node_id = _start_of(turn, run)
            graph = turn.defs.flow_graph(run.flow_id, run.use_draft)
            continue
        node_id = None if outcome == END else _follow(turn, run, graph, node_id, outcome)


def _follow(turn: Turn, run: FlowRun, graph: Any, node_id: str, handle: str) -> str | None:
    """The node exit `handle` of `node_id` leads to (None: nothing is connected there); the trace notes the
    connection taken, so the simulator lights the very edge, even when two exits lead to one node."""
    edge = next_edge(graph, node_id, handle)
    if edge is None:
        return None
    if turn.tracing:  # live turns skip building the note: this runs at every step of every flow
        turn.note("edge", contact_id=run.contact_id, flow_id=run.flow_id, edge_id=edge.id, source=edge.source,
                  target=edge.target, handle=edge.handle)
    return edge.target


def _wait(turn: Turn, run: FlowRun, node_id: str, waiting_for: str, retries: int = 0) -> str:
    store.store_flow_position(turn.db, run.contact_id, run.flow_id, node_id, waiting_for, run.use_draft, retries,
                              turn.stamp)
    turn.note("waiting", contact_id=run.contact_id, flow_id=run.flow_id, node_id=node_id, waiting_for=waiting_for)
    return WAIT


def _clear_position(turn: Turn, contact_id: int) -> None:
    store.clear_flow_position(turn.db, contact_id)


# ---------------------------------------------------------------------------------------------- answers


def _answer_buttons(turn: Turn, run: FlowRun, node_id: str, data: dict, text: str) -> str | None:
    turn.receive(run.contact_id, text)
    wanted = text.strip().lower()
    for button in data.get("buttons", []):
        if wanted in (str(button.get("id", "")).lower(), str(button.get("title", "")).strip().lower()):
            return button["id"]
    titles = ", ".join(str(button.get("title")) for button in data.get("buttons", []))
    say(turn, run, node_id, f"Please choose one of: {titles}.", data.get("buttons", []))
    return None


def _answer_question(turn: Turn, run: FlowRun, node_id: str, data: dict, text: str, retries: int) -> str | None:
    turn.receive(run.contact_id, text)
    target = turn.defs.fields_by_id.get(data.get("field_id"))
    if target is None:
        turn.warn(f"The question '{data.get('text', '')}' saves into a field that no longer exists.")
        return "next"
    try:
        value = coerce_value(target.name, target.type, text)
    except FieldValueError as error:
        turn.note("retry", contact_id=run.contact_id, node_id=node_id, reason=str(error))
        say(turn, run, node_id, data.get("retry_text") or DEFAULT_RETRY)
        _wait(turn, run, node_id, "reply", retries + 1)
        return None
    turn.set_field(run.contact_id, target, value, run.depth)
    return "next"


# ---------------------------------------------------------------------------------------------- the nodes


def say(turn: Turn, run: FlowRun, node_id: str | None, text: str, buttons: list | None = None,
         extra: dict | None = None, to: int | None = None, scope: Scope | None = None) -> None:
    recipient = to if to is not None else run.contact_id
    rendered = turn.render(text, recipient, referred_id=run.referred_id if to is None else run.contact_id,
                           extra=extra, scope=scope)
    shown = [{"id": str(b.get("id")), "title": turn.render(str(b.get("title", "")), recipient)} for b in buttons or []]
    turn.send(SentMessage(recipient, rendered, shown, run.flow_id, node_id))


def _start(turn: Turn, run: FlowRun, node_id: str, data: dict) -> str:
    return "next"


def _send_message(turn: Turn, run: FlowRun, node_id: str, data: dict) -> str:
    buttons = data.get("buttons") or []
    say(turn, run, node_id, data.get("text", ""), buttons)
    return _wait(turn, run, node_id, "button") if buttons else "next"


def _ask(turn: Turn, run: FlowRun, node_id: str, data: dict) -> str:
    say(turn, run, node_id, data.get("text", ""))
    return _wait(turn, run, node_id, "reply")


def _condition(turn: Turn, run: FlowRun, node_id: str, data: dict) -> str:
    holds = conditions_hold(data.get("rules", []), turn.field_values(run.contact_id), match=data.get("match", "all"),
                            field_types=turn.defs.field_types)
    return "true" if holds else "false"


def _set_field(turn: Turn, run: FlowRun, node_id: str, data: dict) -> str:
    change_field(turn, run.contact_id, data, run.depth, referred_id=run.referred_id)
    return "next"


def change_field(turn: Turn, contact_id: int, data: dict, depth: int, *, referred_id: int | None = None) -> None:
    """set / increase / decrease / clear — shared by set-field nodes and trigger actions."""
    target = turn.defs.fields_by_id.get(data.get("field_id"))
    if target is None:
        turn.warn(f"A set-field step points at field ID {data.get('field_id')}, which does not exist.")
        return
    op, value = data.get("op", "set"), data.get("value")
    if op == "clear":
        turn.clear_field(contact_id, target, depth)
        return
    if is_template(value):
        value = turn.render(value, contact_id, referred_id=referred_id)
    try:
        if op in ("increase", "decrease"):
            amount = coerce_value(target.name, "number", value if value not in (None, "") else 1)
            turn.add_to_field(contact_id, target, amount if op == "increase" else -amount, depth)
        else:
            turn.set_field(contact_id, target, coerce_value(target.name, target.type, value), depth)
    except FieldValueError as error:
        turn.warn(str(error))


def _give_coupon(turn: Turn, run: FlowRun, node_id: str, data: dict) -> str:
    return "next" if give_code(turn, run.contact_id, data, run.depth) else "none_left"


def give_code(turn: Turn, contact_id: int, data: dict, depth: int) -> bool:
    """Give the contact one code of pool `pool_id` into text field `field_id` — shared by the flow node and the
    trigger action. False (with a warning, and the pool's miss counted) when the pool has no code left."""
    target, pool_id = turn.defs.fields_by_id.get(data.get("field_id")), data.get("pool_id")
    if target is None:
        turn.warn(f"A give-coupon step saves into field ID {data.get('field_id')}, which does not exist; "
                  "no code was given.")
        return False
    code = claim_code(turn.db, pool_id=pool_id, contact_id=contact_id, stamp=turn.stamp) \
        if isinstance(pool_id, int) else None
    if code is None:
        name = record_miss(turn.db, pool_id=pool_id, stamp=turn.stamp) if isinstance(pool_id, int) else None
        turn.warn(f"Coupon pool '{name}' has no codes left; {turn.who(contact_id)} got none. Add codes on the "
                  "Coupon pools page." if name else
                  f"A give-coupon step takes codes from pool ID {pool_id}, which does not exist; no code was given.")
        turn.note("coupon_none_left", contact_id=contact_id, pool_id=pool_id, pool=name)
        return False
    turn.note("coupon_given", contact_id=contact_id, pool_id=pool_id, code=code, field=target.name)
    turn.set_field(contact_id, target, code if target.type == "text" else coerce_value(target.name, target.type, code),
                   depth)
    return True


def _tag(turn: Turn, run: FlowRun, node_id: str, data: dict) -> str:
    if data.get("tag_id") not in turn.defs.tags_by_id:
        turn.warn(f"A tag step points at tag ID {data.get('tag_id')}, which does not exist.")
    elif data.get("op", "add") == "remove":
        turn.remove_tag(run.contact_id, data["tag_id"], run.depth)
    else:
        turn.add_tag(run.contact_id, data["tag_id"], run.depth)
    return "next"


def _send_referral_link(turn: Turn, run: FlowRun, node_id: str, data: dict) -> str:
    entry = turn.defs.entry_by_id(data.get("entry_point_id"))
    channel = turn.channel_of(run.contact_id)
    if entry is None:
        turn.warn("A send-referral-link step points at an entry point that does not exist.")
        return "next"
    try:
        link = turn.defs.referral_link(entry, channel, run.contact_id)
    except LinkError as error:
        turn.warn(f"No referral link could be built for this {channel} contact: {error}")
        return "next"
    say(turn, run, node_id, data.get("text") or "Share your personal link: {{link}}", extra={"link": link})
    return "next"


def _notify_referrer(turn: Turn, run: FlowRun, node_id: str, data: dict) -> str:
    referrer = turn.contact(run.contact_id)["referred_by_id"]
    if referrer is None:
        turn.note("skipped", node_id=node_id, reason="this contact was not referred by anyone")
    else:
        say(turn, run, node_id, data.get("text", ""), to=referrer)
    return "next"


def _my_referrals(turn: Turn, run: FlowRun, node_id: str, data: dict) -> str:
    scope = _scope(turn, data, "all")
    _trace_board(turn, run.contact_id, scope)
    say(turn, run, node_id, data.get("text", ""), scope=scope)
    return "next"


def _leaderboard(turn: Turn, run: FlowRun, node_id: str, data: dict) -> str:
    scope = _scope(turn, data, data.get("period") if data.get("period") in PERIODS else "all")
    _trace_board(turn, run.contact_id, scope)
    say(turn, run, node_id, data.get("text", ""), extra={"period": PERIOD_NAMES[scope.period]}, scope=scope)
    return "next"


def _trace_board(turn: Turn, contact_id: int, scope: Scope) -> None:
    if turn.tracing:  # the simulator's trace says where the contact stands, whatever the message shows
        rank, count = (referral_value(turn.db, contact_id=contact_id, key=key, at=turn.now, scope=scope)
                       for key in ("rank", "count"))
        turn.note("referral_board", contact_id=contact_id, entry_point_id=scope.entry_point_id,
                  period=PERIOD_NAMES[scope.period], rank=rank, count=count)


def _scope(turn: Turn, data: dict, period: str) -> Scope:
    """The board a my-referrals or leaderboard step reads; an entry point deleted since reads every entry point."""
    entry, limit = data.get("entry_point_id"), data.get("limit")
    if entry is not None and turn.defs.entry_by_id(entry) is None:
        turn.warn(f"A referrals step points at entry point ID {entry}, which does not exist; it counted the "
                  "referrals of every entry point instead.")
        entry = None
    return Scope(entry, period,
                 int(limit) if isinstance(limit, int | float) and not isinstance(limit, bool) and limit >= 1 else 10)


def _json_get(turn: Turn, run: FlowRun, node_id: str, data: dict) -> str:
    source = turn.field_values(run.contact_id).get(data.get("source_field_id"))
    target = turn.defs.fields_by_id.get(data.get("field_id"))
    if target is None:
        turn.warn(f"A get-data-from-JSON step saves into field ID {data.get('field_id')}, which does not exist.")
        return "next"
    try:
        value = read_json_path(source, data.get("path", ""))
        turn.set_field(run.contact_id, target, coerce_value(target.name, target.type, value), run.depth)
    except (JsonPathError, FieldValueError) as error:
        turn.warn(str(error))
    return "next"


def _go_to_flow(turn: Turn, run: FlowRun, node_id: str, data: dict) -> Jump | str:
    return Jump(data["flow_id"]) if data.get("flow_id") in turn.defs.flows else _missing_flow(turn, data)


def _missing_flow(turn: Turn, data: dict) -> str:
    turn.warn(f"A go-to-flow step points at flow ID {data.get('flow_id')}, which does not exist.")
    return END


def _delay(turn: Turn, run: FlowRun, node_id: str, data: dict) -> str:
    due = turn.now + timedelta(seconds=float(data.get("seconds") or 0))
    store.insert_wake_up(turn.db, run.contact_id, run.flow_id, node_id,
                         due.replace(tzinfo=None).isoformat(" ", "microseconds"))
    return _wait(turn, run, node_id, "delay")


def _randomizer(turn: Turn, run: FlowRun, node_id: str, data: dict) -> str:
    branches = data.get("branches") or []
    if not branches:
        return END
    weights = [max(float(branch.get("weight", 1)), 0) for branch in branches]
    chosen = turn.random_for(f"{run.contact_id}:{run.flow_id}:{node_id}").choices(
        branches, weights=weights if sum(weights) else None)[0]
    turn.note("random_branch", node_id=node_id, branch=chosen.get("id"))
    return chosen.get("id")


def _end(turn: Turn, run: FlowRun, node_id: str, data: dict) -> str:
    return END


_NODES = {
    "start": _start,
    "send_message": _send_message,
    "ask": _ask,
    "condition": _condition,
    "set_field": _set_field,
    "tag": _tag,
    "give_coupon": _give_coupon,
    "send_referral_link": _send_referral_link,
    "notify_referrer": _notify_referrer,
    "my_referrals": _my_referrals,
    "leaderboard": _leaderboard,
    "json_get": _json_get,
    "go_to_flow": _go_to_flow,
    "delay": _delay,
    "randomizer": _randomizer,
    "end": _end,
}
