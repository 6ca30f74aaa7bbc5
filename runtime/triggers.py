"""Triggers: "when EVENT happens (and conditions hold), run these actions" (DOMAIN §5).

Every event of the turn is dispatched in order, including the events that actions and flows emit while the turn is
being dispatched; all of it in the turn's transaction. A chain deeper than MAX_TRIGGER_DEPTH is cut and reported.
"""

from collections.abc import Callable
from dataclasses import dataclass

from runtime import store
from runtime.conditions import conditions_hold
from runtime.definitions import TriggerRule
from runtime.flows import FlowRun, change_field, give_code, say, start_flow
from runtime.turn import MAX_TRIGGER_DEPTH, Event, Turn
from runtime.vocabulary import REFERRAL_EVENTS


def dispatch_events(turn: Turn, start: int = 0) -> int:
    """Run the triggers of every event from index `start` on; returns the index after the last one handled."""
    position = start
    while position < len(turn.events):
        event = turn.events[position]
        position += 1
        for rule in turn.defs.triggers_by_event.get(event.type, ()):
            if rule.matches(event.type, event.entry_point_id, event.field_id, event.tag_id):
                _consider(turn, rule, event)
    return position


def _consider(turn: Turn, rule: TriggerRule, event: Event) -> None:
    if event.depth >= MAX_TRIGGER_DEPTH:
        turn.warn(f"Trigger '{rule.name}' was not run: {MAX_TRIGGER_DEPTH} triggers in a row set each other off. "
                  "Check the triggers for a loop.")
        return
    contact_id = event.contact_id
    conditions = rule.conditions or {}
    rules = conditions.get("rules") or []
    if rules and not conditions_hold(rules, turn.field_values(contact_id), match=conditions.get("match", "all"),
                                     field_types=turn.defs.field_types):
        turn.note("trigger_skipped", trigger=rule.name, trigger_id=rule.id, reason="its conditions do not hold")
        return
    if not _count_run(turn, rule, contact_id):
        turn.note("trigger_skipped", trigger=rule.name, trigger_id=rule.id, reason="it runs once per contact")
        return
    turn.note("trigger", trigger=rule.name, trigger_id=rule.id, contact_id=contact_id, event=event.type)
    for action in rule.actions:
        _run_action(turn, rule, event, action)


def _count_run(turn: Turn, rule: TriggerRule, contact_id: int) -> bool:
    """Record the run; False (and nothing recorded) when a once-per-contact trigger already ran for the contact."""
    return store.count_trigger_run(turn.db, rule.id, contact_id, turn.stamp, rule.once_per_contact)


def _run_action(turn: Turn, rule: TriggerRule, event: Event, action: dict) -> None:
    contact_id, kind = event.contact_id, action.get("type")
    turn.note("action", trigger=rule.name, action=kind, contact_id=contact_id)
    step = ACTION_STEPS.get(kind)  # type: ignore[arg-type]
    if step is None:
        turn.warn(f"Trigger '{rule.name}' has an action it cannot run: {action}.")
        return
    step(turn, Acting(event, action, FlowRun(contact_id, None, event.depth + 1, event.other_contact_id)))


@dataclass(frozen=True)
class Acting:
    """One action being run: the event that fired its trigger, its settings, and the run it speaks in (in no flow)."""

    event: Event
    action: dict
    run: FlowRun

    @property
    def contact_id(self) -> int:
        return self.event.contact_id

    @property
    def depth(self) -> int:
        return self.run.depth


def _set_field(turn: Turn, acting: Acting) -> None:
    change_field(turn, acting.contact_id, acting.action, acting.depth, referred_id=acting.event.other_contact_id)


def _add_tag(turn: Turn, acting: Acting) -> None:
    if acting.action.get("tag_id") in turn.defs.tags_by_id:
        turn.add_tag(acting.contact_id, acting.action["tag_id"], acting.depth)


def _remove_tag(turn: Turn, acting: Acting) -> None:
    if acting.action.get("tag_id") in turn.defs.tags_by_id:
        turn.remove_tag(acting.contact_id, acting.action["tag_id"], acting.depth)


def _send_message(turn: Turn, acting: Acting) -> None:
    say(turn, acting.run, None, acting.action.get("text", ""))


def _give_coupon(turn: Turn, acting: Acting) -> None:
    give_code(turn, acting.contact_id, acting.action, acting.depth)


def _start_flow(turn: Turn, acting: Acting) -> None:
    start_flow(turn, acting.contact_id, acting.action.get("flow_id"), depth=acting.depth,
               referred_id=acting.event.other_contact_id)


def _set_field_from_template(turn: Turn, acting: Acting) -> None:
    """The template is rendered like a message (the contact, {{referred.*}} in a referral) and saved as typed."""
    setting = {"field_id": acting.action.get("field_id"), "op": "set", "value": acting.action.get("text", "")}
    change_field(turn, acting.contact_id, setting, acting.depth, referred_id=acting.event.other_contact_id)


def _notify_referrer(turn: Turn, acting: Acting) -> None:
    """In a referral event the context contact IS the referrer; otherwise it is whoever referred the contact."""
    text = acting.action.get("text", "")
    if acting.event.type in REFERRAL_EVENTS:
        say(turn, acting.run, None, text)
        return
    referrer = (turn.contact(acting.contact_id) or {}).get("referred_by_id")
    if referrer is not None:
        say(turn, acting.run, None, text, to=referrer)


# How the engine runs each action of runtime/actions.py's catalogue.
ACTION_STEPS: dict[str, Callable[[Turn, Acting], None]] = {
    "set_field": _set_field,
    "add_tag": _add_tag,
    "remove_tag": _remove_tag,
    "send_message": _send_message,
    "notify_referrer": _notify_referrer,
    "start_flow": _start_flow,
    "give_coupon": _give_coupon,
    "set_field_from_template": _set_field_from_template,
}
