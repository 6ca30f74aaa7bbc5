"""The trigger-action catalogue: every action the editor offers, the engine runs; each reads in a list as it does."""

import pytest

from runtime.actions import ACTION_TYPES, SETTING_KINDS
from runtime.node_types import Names
from runtime.triggers import ACTION_STEPS

NAMES = Names(fields={1: "referral_points", 2: "coupon_code"}, tags={4: "vip"}, flows={2: "Check reward"},
              pools={1: "Spring codes"})


def test_every_action_in_the_catalogue_has_an_engine_step_and_known_settings() -> None:
    assert set(ACTION_STEPS) == set(ACTION_TYPES)
    assert {setting.kind for spec in ACTION_TYPES.values() for setting in spec.settings} <= set(SETTING_KINDS)


@pytest.mark.parametrize(("action", "summary"), [
    ({"type": "set_field", "field_id": 1, "op": "increase", "value": 1}, "increase referral_points by 1"),
    ({"type": "set_field", "field_id": 2, "op": "clear"}, "clear coupon_code"),
    ({"type": "add_tag", "tag_id": 4}, "add tag vip"),
    ({"type": "remove_tag", "tag_id": 9}, "remove tag tag #9"),
    ({"type": "send_message", "text": "Thanks, {{first_name}}!"}, "send “Thanks, {{first_name}}!”"),
    ({"type": "notify_referrer", "text": "x"}, "notify the referrer"),
    ({"type": "start_flow", "flow_id": 2}, "start flow Check reward"),
    ({"type": "give_coupon", "pool_id": 1, "field_id": 2}, "give a code from Spring codes into coupon_code"),
    ({"type": "set_field_from_template", "field_id": 2, "text": "{{referred.first_name}}"},
     "set coupon_code to “{{referred.first_name}}”"),
])
def test_each_action_reads_in_a_triggers_list(action: dict, summary: str) -> None:
    assert ACTION_TYPES[action["type"]].summary(action, NAMES) == summary


@pytest.mark.parametrize(("action", "missing"), [
    ({"type": "set_field", "op": "clear"}, ["choose the field to change"]),
    ({"type": "give_coupon", "field_id": 2}, ["choose the coupon pool to take the code from"]),
    ({"type": "set_field_from_template", "text": ""},
     ["choose the field to fill in", "write the template whose text the field gets"]),
])
def test_what_an_unfinished_action_still_needs(action: dict, missing: list[str]) -> None:
    assert ACTION_TYPES[action["type"]].required(action) == missing


@pytest.mark.parametrize(("action", "effects"), [
    ({"type": "set_field", "field_id": 1, "op": "set", "value": 3}, [("field_changed", 1)]),
    ({"type": "set_field_from_template", "field_id": 2, "text": "x"}, [("field_changed", 2)]),
    ({"type": "remove_tag", "tag_id": 4}, [("tag_removed", 4)]),
    ({"type": "start_flow", "flow_id": 2}, [("start_flow", 2)]),
    ({"type": "send_message", "text": "x"}, []),
])
def test_what_running_an_action_can_set_off(action: dict, effects: list) -> None:
    assert list(ACTION_TYPES[action["type"]].effects(action)) == effects
