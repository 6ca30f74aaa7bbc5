"""Fields a link must not set by default: the ones triggers and flows count with (increase or decrease) or test in a
condition, such as the referral points that unlock a reward. A link that could write them could forge the reward
(`giveaway2025--referral_points--99`).

Import uses this for fields whose document does not say whether links may set them, the 0006 migration used it for
the fields of existing workspaces, and validation warns about such fields that links may still set.
"""

from collections.abc import Iterable, Iterator, Mapping

COUNTING_OPS = ("increase", "decrease")


def find_counter_fields(flows: Iterable[tuple[str, Iterable[Mapping | None]]],
                        triggers: Iterable[Mapping]) -> dict[int, str]:
    """Field id → the first reason it is a counter ("trigger 'Reward' increases it"), from flows given as
    (name, their copies: draft and published documents) and triggers in the workspace format."""
    found: dict[int, str] = {}
    for name, copies in flows:
        for document in copies:
            for field_id, verb in _flow_uses(document):
                found.setdefault(field_id, f"flow '{name}' {verb} it")
    for trigger in triggers:
        for field_id, verb in _trigger_uses(trigger):
            found.setdefault(field_id, f"trigger '{trigger.get('name')}' {verb} it")
    return found


def _flow_uses(document: Mapping | None) -> Iterator[tuple[int, str]]:
    nodes = document.get("nodes") if isinstance(document, Mapping) else None
    for node in nodes if isinstance(nodes, list) else ():
        data = node.get("data") if isinstance(node, Mapping) else None
        if not isinstance(data, Mapping):
            continue
        if node.get("type") == "set_field" and data.get("op") in COUNTING_OPS and _is_id(data.get("field_id")):
            yield data["field_id"], f"{data['op']}s"
        if node.get("type") == "condition":
            yield from _rule_uses(data)


def _trigger_uses(trigger: Mapping) -> Iterator[tuple[int, str]]:
    conditions = trigger.get("conditions")
    if isinstance(conditions, Mapping):
        yield from _rule_uses(conditions)
    actions = trigger.get("actions")
    for action in actions if isinstance(actions, list) else ():
        if (isinstance(action, Mapping) and action.get("type") == "set_field" and action.get("op") in COUNTING_OPS
                and _is_id(action.get("field_id"))):
            yield action["field_id"], f"{action['op']}s"


def _rule_uses(conditions: Mapping) -> Iterator[tuple[int, str]]:
    rules = conditions.get("rules")
    for rule in rules if isinstance(rules, list) else ():
        if isinstance(rule, Mapping) and _is_id(rule.get("field_id")):
            yield rule["field_id"], "tests"


def _is_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
