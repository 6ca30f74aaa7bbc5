"""Rules on a contact's fields, shared by condition nodes and trigger conditions."""

from collections.abc import Mapping, Sequence
from typing import Any

from runtime.values import FieldValueError, coerce_value


def conditions_hold(rules: Sequence[Mapping[str, Any]], values: Mapping[int, Any], *, match: str = "all",
                    field_types: Mapping[int, str] | None = None) -> bool:
    """True when all (or, with match="any", at least one) rules hold; no rules always hold."""
    if not rules:
        return True
    results = (_rule_holds(rule, values, (field_types or {}).get(rule.get("field_id"), "text")) for rule in rules)
    return any(results) if match == "any" else all(results)


def _rule_holds(rule: Mapping[str, Any], values: Mapping[int, Any], field_type: str) -> bool:
    op, actual = rule.get("op", "=="), values.get(rule.get("field_id"))
    if op == "is_set":
        return actual not in (None, "")
    if op == "is_not_set":
        return actual in (None, "")
    if actual is None:
        return False
    expected = _expected(rule.get("value"), field_type)
    if op == "contains":
        return str(expected).lower() in str(actual).lower()
    try:
        return _COMPARE[op](actual, expected)
    except (TypeError, KeyError):
        return False


def _expected(value: Any, field_type: str) -> Any:
    try:
        return coerce_value("rule", field_type, value)
    except FieldValueError:
        return value


_COMPARE = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
}
