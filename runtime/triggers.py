"""Triggers: "when EVENT happens (and conditions hold), run these actions" (DOMAIN §5).

Every event of the turn is dispatched in order, including the events that actions and flows emit while the turn is
being dispatched; all of it in the turn's transaction. A chain deeper than MAX_TRIGGER_DEPTH is cut and reported.
"""

from runtime import store
from runtime.conditions import conditions_hold
from runtime.definitions import TriggerRule
from runtime.flows import FlowRun, change_field, give_code, say, start_flow
from runtime.turn import MAX_TRIGGER_DEPTH, Event, Turn

REFERRAL_EVENTS = ("referred_new_contact", "referred_existing_contact", "referred_second_level")


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
    contact_id, depth, kind = event.contact_id, event.depth + 1, action.get("type")
    run = FlowRun(contact_id, None, depth, event.other_contact_id)  # not in a flow: a trigger speaks
    turn.note("action", trigger=rule.name, action=kind, contact_id=contact_id)
    if kind == "set_field":
        change_field(turn, contact_id, action, depth, referred_id=event.other_contact_id)
    elif kind == "add_tag" and action.get("tag_id") in turn.defs.tags_by_id:
        turn.add_tag(contact_id, action["tag_id"], depth)
    elif kind == "remove_tag" and action.get("tag_id") in turn.defs.tags_by_id:
        turn.remove_tag(contact_id, action["tag_id"], depth)
    elif kind == "send_message":
        say(turn, run, None, action.get("text", ""))
    elif kind == "notify_referrer":
        _notify_referrer(turn, run, event, action.get("text", ""))
    elif kind == "give_coupon":
        give_code(turn, contact_id, action, depth)
    elif kind == "start_flow":
        start_flow(turn, contact_id, action.get("flow_id"), depth=depth, referred_id=event.other_contact_id)
    else:
        turn.warn(f"Trigger '{rule.name}' has an action it cannot run: {action}.")


def _notify_referrer(turn: Turn, run: FlowRun, event: Event, text: str) -> None:
    """In a referral event the context contact IS the referrer; otherwise it is whoever referred the contact."""
    if event.type in REFERRAL_EVENTS:
        say(turn, run, None, text)
        return
    referrer = (turn.contact(event.contact_id) or {}).get("referred_by_id")
    if referrer is not None:
        say(turn, run, None, text, to=referrer)
