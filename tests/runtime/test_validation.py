"""Validation: every problem an admin can make in a flow or a trigger, reported as data they can act on.

Each file in tests/fixtures/flows/ is a small workspace document plus `expect`, the codes it must produce."""

import gc
import json
import random
from dataclasses import replace
from pathlib import Path

import pytest

from runtime.flowdoc import FlowDocumentError, load_flow, paused_gc
from runtime.node_types import NODE_TYPES, Names
from runtime.validation import (
    InvalidFlowError,
    ValidationIssue,
    WorkspaceIndex,
    has_errors,
    validate_flow,
    validate_workspace,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
FLOW_FIXTURES = sorted((FIXTURES / "flows").glob("*.json"))
SEVERITY = {
    "no_start": "error", "several_starts": "error", "edge_to_missing_node": "error", "missing_setting": "error",
    "missing_flow": "error", "missing_field": "error", "missing_tag": "error", "missing_entry_point": "error",
    "unknown_node_type": "error", "bad_exit": "error", "unguarded_cycle": "error", "bad_document": "error",
    "bad_template": "error", "unknown_placeholder": "error", "bad_rule_value": "error",
    "missing_coupon_pool": "error", "coupon_field_type": "error",
    "long_message": "warning",
    "unreachable_node": "warning", "dangling_exit": "warning", "duplicate_exit": "warning", "no_actions": "warning",
}


def load_workspace(path: Path) -> dict:
    return json.loads(path.read_text())


def index_of(workspace: dict) -> WorkspaceIndex:
    return WorkspaceIndex.from_dicts(fields=workspace.get("fields", []), tags=workspace.get("tags", []),
                                     entry_points=workspace.get("entry_points", []), flows=workspace.get("flows", []),
                                     pools=workspace.get("coupon_pools", []))


def check(workspace: dict, copy: str = "draft") -> list[ValidationIssue]:
    flows = {flow["id"]: (flow["name"], flow[copy]) for flow in workspace.get("flows", [])}
    return validate_workspace(flows, workspace.get("triggers", []), index_of(workspace))


def codes(issues: list[ValidationIssue]) -> list[str]:
    return sorted(issue.code for issue in issues)


def issue_in(name: str) -> ValidationIssue:
    (issue,) = check(load_workspace(FIXTURES / "flows" / f"{name}.json"))
    return issue


# --- the fixture table -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", FLOW_FIXTURES, ids=lambda path: path.stem)
def test_each_fixture_reports_exactly_its_expected_codes(path):
    workspace = load_workspace(path)
    issues = check(workspace)
    assert codes(issues) == workspace["expect"]
    assert all(issue.severity == SEVERITY[issue.code] for issue in issues)


@pytest.mark.parametrize("path", [path for path in FLOW_FIXTURES if len(load_workspace(path)["flows"]) == 1
                                  and not load_workspace(path)["triggers"]], ids=lambda path: path.stem)
def test_a_single_flow_gets_the_same_codes_from_validate_flow(path):
    workspace = load_workspace(path)
    (flow,) = workspace["flows"]
    assert codes(validate_flow(flow["id"], flow["draft"], index_of(workspace))) == workspace["expect"]


def test_the_fixture_folder_covers_every_code_and_the_allowed_loops():
    covered = {code for path in FLOW_FIXTURES for code in load_workspace(path)["expect"]}
    assert covered == set(SEVERITY)
    assert {"waiting_loop_ok", "buttons_loop_ok", "delay_loop_ok"} <= {path.stem for path in FLOW_FIXTURES}


# --- what the admin reads --------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("fixture", "message"), [
    ("missing_setting", "Ask a question “What is your email? → (no field)” is not finished. "
                        "Choose the field to save the answer in."),
    ("missing_field", "Set field “Increase field #9 by 1” uses field #9, which does not exist in this workspace. "
                      "Choose another field."),
    ("condition_false_dangling", "The “false” exit of Condition “email has a value” leads nowhere, so the flow stops "
                                 "there."),
    ("randomizer_branch_dangling", "Branch “b” of Randomizer “a 70% · b 30%” leads nowhere, so the flow stops there."),
    ("bad_exit", "Send message “Ready? · buttons: Yes” has no “no” exit, so its connection to End is never used. "
                 "Remove it."),
    ("unguarded_cycle", "In flow “Main”, these steps can repeat forever without waiting for the contact: "
                        "Set field “Increase referral_points by 1” → Condition “referral_points is less than 10” → "
                        "back to Set field “Increase referral_points by 1”. "
                        "Put a question, buttons or a delay inside the loop, or break it."),
    ("trigger_flow_cycle", "These steps can repeat forever without waiting for the contact: "
                           "trigger “Points changed” → (flow “Bump”) Start → Set field “Increase referral_points by 1”"
                           " → back to trigger “Points changed”. "
                           "A trigger cannot wait, so break the loop: let trigger “Points changed” change another "
                           "field or tag than the one that starts it, or make it listen to another event. Or put a "
                           "question, buttons or a delay in the flow, so that it waits for the contact."),
    ("trigger_self_cycle", "These steps can repeat forever without waiting for the contact: trigger “Double up” → "
                           "back to trigger “Double up”. A trigger cannot wait, so break the loop: let trigger "
                           "“Double up” change another field or tag than the one that starts it, or make it listen "
                           "to another event."),
])
def test_messages_name_the_step_by_what_the_admin_sees_on_the_canvas(fixture, message):
    assert issue_in(fixture).message == message


@pytest.mark.parametrize(("fixture", "flow_id", "node_ids", "trigger_ids", "flow_ids"), [
    ("unguarded_cycle", 1, ("bump", "check"), (), (1,)),
    ("self_jump_cycle", 1, ("start", "hello", "again"), (), (1,)),
    ("cross_flow_cycle", None, ("start", "to_pong", "hello", "to_ping"), (), (1, 2)),
    ("trigger_self_cycle", None, (), (1,), ()),
    ("trigger_tag_cycle", None, (), (1, 2), ()),
    ("trigger_flow_cycle", None, ("start", "bump"), (1,), (1,)),
    ("json_get_trigger_cycle", None, ("start", "read"), (1,), (1,)),
    ("several_starts", 1, ("start", "start2"), (), ()),
    ("no_actions", None, (), (1,), ()),
])
def test_issues_carry_every_id_involved(fixture, flow_id, node_ids, trigger_ids, flow_ids):
    issue = issue_in(fixture)
    assert (issue.flow_id, issue.node_ids, issue.trigger_ids, issue.flow_ids) == (flow_id, node_ids, trigger_ids,
                                                                                   flow_ids)


def test_a_loop_across_flows_names_both_flows_and_pins_each_node_to_its_flow():
    issue = issue_in("cross_flow_cycle")
    assert "(flow “Ping”) Start → Go to flow “Pong” → (flow “Pong”) Start" in issue.message
    assert issue.flow_nodes == ((1, "start"), (1, "to_pong"), (2, "start"), (2, "hello"), (2, "to_ping"))


def test_template_problems_in_triggers_name_the_action_and_what_cannot_be_read():
    messages = sorted(issue.message for issue in check(load_workspace(FIXTURES / "flows" / "bad_template.json")))
    assert messages[1] == ("Trigger “Points changed”, action 1: The message template cannot be read: unexpected "
                           "“}}”. Check the {{ … }} and {% … %} parts.")
    assert messages[0].startswith("Send message “") and "The message template cannot be read" in messages[0]
    in_flow, in_trigger = check(load_workspace(FIXTURES / "flows" / "unknown_placeholder.json"))
    assert in_flow.node_ids == ("progress",) and in_flow.message.endswith(
        ": It inserts {{pointz}}, but there is no field called “pointz”. Create the field on the Fields page or "
        "correct the name.")
    assert in_trigger.message == ("Trigger “Points changed”, action 1: It inserts {{emial}}, but there is no field "
                               "called “emial”. Create the field on the Fields page or correct the name.")


def test_a_rule_whose_value_the_field_type_rejects_is_an_error_in_flows_and_triggers():
    workspace = load_workspace(FIXTURES / "flows" / "bad_rule_value.json")
    in_flow, in_trigger = check(workspace)
    assert (in_flow.code, in_flow.severity, in_flow.node_ids) == ("bad_rule_value", "error", ("enough",))
    assert in_flow.message == ("Condition “referral_points is at least “abc” and email contains “abc””: “abc” is not a "
                               "number, so the rule on referral_points can never hold as meant. Write a number.")
    assert in_trigger.message == ("Trigger “Rich”, in its conditions: “lots” is not a number, so the rule on "
                                  "referral_points can never hold as meant. Write a number.")


@pytest.mark.parametrize(("channels", "refused_on"), [
    ((), "Messenger 2,000, Instagram 1,000"),  # channels not known: every channel counts
    (("messenger", "telegram"), "Messenger 2,000"),
    (("telegram", "whatsapp"), None),  # both take 4,096 characters
])
def test_a_message_longer_than_a_channel_allows_is_a_warning(channels, refused_on):
    workspace = load_workspace(FIXTURES / "flows" / "long_message.json")
    flow = workspace["flows"][0]
    index = replace(index_of(workspace), channels=channels)
    issues = validate_flow(flow["id"], flow["draft"], index)
    if refused_on is None:
        assert issues == []
        return
    (issue,) = issues
    assert (issue.code, issue.severity, issue.node_ids) == ("long_message", "warning", ("essay",))
    assert issue.message.endswith(f": the message has 2,100 characters, more than a message may have on "
                                  f"{refused_on}: it would be refused there. Shorten it or split it into two "
                                  "messages.")


def test_trigger_problems_say_where_in_the_trigger_they_are():
    messages = [issue.message for issue in check(load_workspace(FIXTURES / "flows/trigger_missing_references.json"))]
    assert messages == [
        "Trigger “Reward” uses entry point #9 in its event filter, which does not exist in this workspace. "
        "Choose another entry point.",
        "Trigger “Reward” uses field #9 in its conditions, which does not exist in this workspace. "
        "Choose another field.",
        "Trigger “Reward” uses tag #9 in action 1, which does not exist in this workspace. Choose another tag.",
        "Trigger “Reward” uses flow #9 in action 2, which does not exist in this workspace. Choose another flow.",
    ]



def test_references_are_found_at_any_depth_under_any_key_naming_one():
    data = {"text": "Hi", "source_field_id": 7, "rules": [{"field_id": 1}, {"field_id": 8}],
            "extra": {"deep": [[{"fallback_tag_id": 5, "tag_identity": 6}]], "flow_id": None},
            "buttons": [{"id": "yes", "title": "Yes", "next_entry_point_id": 4}], "points": True}
    doc = {"nodes": [{"id": "start", "type": "start"}, {"id": "a", "type": "send_message", "data": data}],
           "edges": [{"id": "e1", "source": "start", "target": "a"}, {"id": "e2", "source": "a",
                                                                       "source_handle": "yes", "target": "a"}]}
    index = WorkspaceIndex(fields={1: "email"}, tags={1: "vip"}, entry_points={1: "giveaway"})
    missing = [issue.message.split(" uses ")[1].split(",")[0] for issue in validate_flow(1, doc, index)
               if issue.code.startswith("missing_")]
    assert missing == ["entry point #4", "field #7", "field #8", "tag #5"]  # tag_identity is not a reference

def test_an_issue_turns_into_json_for_the_builder():
    assert json.loads(json.dumps(issue_in("cross_flow_cycle").to_dict()))["flow_nodes"][0] == [1, "start"]
    assert issue_in("no_actions").to_dict() == {
        "code": "no_actions", "severity": "warning",
        "message": "Trigger “Nothing” has no actions, so it does nothing when it fires.",
        "flow_id": None, "node_ids": [], "trigger_ids": [1], "flow_ids": [], "flow_nodes": [],
    }


# --- the referral program and big flows ------------------------------------------------------------------------------

@pytest.mark.parametrize("copy", ["draft", "published"])
def test_the_classic_referral_program_has_no_problems(copy):
    workspace = load_workspace(FIXTURES / "referral_program.json")
    assert check(workspace, copy) == []
    for flow in workspace["flows"]:
        assert validate_flow(flow["id"], flow[copy], index_of(workspace)) == []


def test_a_10000_node_20000_edge_flow_validates_and_finds_its_loops():
    issues = validate_flow(1, random_flow(10_000, random.Random(3)), WorkspaceIndex(fields={1: "points"}))
    assert {issue.code for issue in issues} <= {"unguarded_cycle", "unreachable_node"}
    assert [issue.code for issue in issues].count("unguarded_cycle") >= 1


@pytest.mark.parametrize("enabled", [True, False])
def test_garbage_collection_paused_for_a_big_flow_is_left_as_it_was(enabled):
    was_enabled = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        validate_flow(1, random_flow(100, random.Random(3)), WorkspaceIndex())
        with pytest.raises(RuntimeError), paused_gc():
            assert not gc.isenabled()
            raise RuntimeError("the work inside failed")
        assert gc.isenabled() is enabled
    finally:
        gc.enable() if was_enabled else gc.disable()


def random_flow(size: int, rng: random.Random) -> dict:
    """A start, then nodes with two exits each (buttons, conditions, randomizers) wired at random: 20,000 edges."""
    kinds = [
        ("send_message", {"text": "Pick", "buttons": [{"id": "x", "title": "X"}, {"id": "y", "title": "Y"}]}),
        ("condition", {"rules": [{"field_id": 1, "op": ">", "value": 1}]}),
        ("randomizer", {"branches": [{"id": "x", "weight": 1}, {"id": "y", "weight": 1}]}),
    ]
    nodes = [{"id": "n0", "type": "start"}] + [
        {"id": f"n{i}", "type": kind, "data": data} for i, (kind, data) in enumerate(rng.choices(kinds, k=size - 1), 1)]
    nodes[-1] = {"id": nodes[-1]["id"], "type": "randomizer", "data": {"branches": [{"id": b, "weight": 1}
                                                                                     for b in "xyz"]}}
    exits = [("n0", "next")] + [(node["id"], handle) for node in nodes[1:]
                                for handle in NODE_TYPES[node["type"]].exits(node["data"])]
    edges = [{"id": f"e{n}", "source": source, "source_handle": handle, "target": f"n{rng.randrange(1, size)}"}
             for n, (source, handle) in enumerate(exits)]
    assert len(edges) == 2 * size
    return {"schema": 1, "nodes": nodes, "edges": edges}


# --- the API around the checks ---------------------------------------------------------------------------------------

def test_running_an_invalid_flow_raises_one_error_carrying_every_issue():
    issues = check(load_workspace(FIXTURES / "flows/unguarded_cycle.json"))
    assert has_errors(issues)
    assert not has_errors(check(load_workspace(FIXTURES / "flows/condition_false_dangling.json")))
    with pytest.raises(InvalidFlowError) as raised:
        raise InvalidFlowError(issues)
    assert raised.value.issues == issues
    assert str(raised.value).splitlines() == ["This flow cannot run until these problems are fixed:", issues[0].message]


def test_link_problems_are_passed_through_with_the_rest():
    lint = ValidationIssue("link_too_long", "warning", "The Telegram link is longer than 64 characters.")
    assert validate_workspace({}, [], WorkspaceIndex(), link_lint=[lint]) == [lint]


def test_workspace_index_reads_elements_in_the_workspace_format():
    index = WorkspaceIndex.from_dicts(fields=[{"id": 1, "name": "points"}, {"name": "no id yet"}],
                                      tags=[{"id": 2, "name": "vip"}], entry_points=[{"id": 3, "ref": "giveaway"}],
                                      flows=[{"id": 4, "name": "Share"}])
    assert (index.fields, index.tags, index.entry_points, index.flows) == (
        {1: "points"}, {2: "vip"}, {3: "giveaway"}, {4: "Share"})


def test_validate_flow_takes_the_stored_dict_and_reports_a_damaged_one():
    assert validate_flow(1, {}, WorkspaceIndex())[0].code == "no_start"
    (issue,) = validate_flow(1, {"nodes": "many"}, WorkspaceIndex())
    assert issue.code == "bad_document" and "'nodes' must be a list" in issue.message


# --- the flow document -----------------------------------------------------------------------------------------------

def test_an_empty_object_is_the_empty_flow_and_a_stored_flow_round_trips():
    assert load_flow({}).to_dict() == {"schema": 1, "nodes": [], "edges": []}
    stored = load_workspace(FIXTURES / "referral_program.json")["flows"][1]["draft"]
    assert load_flow(stored).to_dict() == stored


@pytest.mark.parametrize(("document", "problems"), [
    ([], ["A flow must be an object with 'nodes' and 'edges', not list."]),
    ({"schema": 2}, ["This flow was saved by a newer Referflow (flow schema 2); this version reads schema 1."]),
    ({"nodes": {}}, ["The flow: 'nodes' must be a list."]),
    ({"nodes": [{"id": "a"}, 5]}, ["Node 'a': 'type' is missing.", "Node #2 must be an object."]),
    ({"nodes": [{"id": "a", "type": "end", "position": {"x": "left"}}]}, ["Node 'a': 'position.x' must be a number."]),
    ({"nodes": [{"id": 1, "type": "end"}]}, ["Node #1: 'id' must be text."]),
    ({"edges": [{"id": "e1", "source": "a"}]}, ["Connection 'e1': 'target' is missing."]),
    ({"nodes": [{"id": "a", "type": "end"}] * 2}, ["Two nodes have the id 'a'; every node needs its own id."]),
])
def test_a_structurally_broken_document_is_refused_with_every_reason(document, problems):
    with pytest.raises(FlowDocumentError) as raised:
        load_flow(document)
    assert raised.value.problems == problems and isinstance(raised.value, ValueError)


@pytest.mark.parametrize(("node_type", "required"), [
    ("start", []),
    ("send_message", ["Write the message text."]),
    ("ask", ["Write the question.", "Choose the field to save the answer in."]),
    ("condition", ["Add at least one rule."]),
    ("set_field", ["Choose the field to change."]),
    ("tag", ["Choose the tag."]),
    ("send_referral_link", ["Choose the entry point the link opens."]),
    ("notify_referrer", ["Write the message for the referrer."]),
    ("json_get", ["Choose the field that holds the JSON.", "Write the path to read, for example order.items[0].sku.",
                  "Choose the field to save the value in."]),
    ("go_to_flow", ["Choose the flow to go to."]),
    ("delay", []),
    ("randomizer", []),
    ("give_coupon", ["Choose the coupon pool to take the code from.", "Choose the text field the code is saved in."]),
    ("end", []),
])
def test_a_new_node_asks_only_for_what_the_admin_must_choose(node_type, required):
    spec = NODE_TYPES[node_type]
    assert spec.required(spec.default_data()) == required


@pytest.mark.parametrize(("node_type", "data", "required"), [
    ("set_field", {"field_id": 1, "op": "increase", "value": "lots"}, ["Give the number to increase the field by."]),
    ("set_field", {"field_id": 1, "op": "double"}, ["Choose whether to set, increase, decrease or clear the field."]),
    ("condition", {"match": "most", "rules": [{"op": "≈"}]},
     ["Choose whether all or any of the rules must hold.", "Choose the field for every rule.",
      "Choose a comparison for every rule."]),
    ("condition", {"rules": [{"field_id": 1, "op": ">=", "value": ""}, {"field_id": 1, "op": "is_set"}]},
     ["Give every rule a value to compare with (or compare with “has no value”)."]),
    ("send_message", {"text": "Hi", "buttons": [{"id": "a", "title": " "}]}, ["Give every button a title."]),
    ("send_referral_link", {"entry_point_id": 1, "text": "Share!"},
     ["Put {{link}} in the text where the link should go."]),
    ("delay", {"seconds": 0}, ["Set how long to wait, in seconds."]),
    ("randomizer", {"branches": [{"id": "a", "weight": 0}]}, ["Give every branch a weight above 0."]),
    ("tag", {"tag_id": 1, "op": "toggle"}, ["Choose whether to add or remove the tag."]),
])
def test_unusable_settings_are_explained(node_type, data, required):
    assert NODE_TYPES[node_type].required(data) == required


NAMES = Names(fields={1: "referral_points", 2: "email", 3: "order"}, tags={1: "rewarded"},
              flows={2: "Check reward"}, entry_points={1: "giveaway2025"}, pools={1: "Spring"})


@pytest.mark.parametrize(("node_type", "data", "summary"), [
    ("send_message", {"text": "Hello!\nSecond line", "buttons": [{"id": "y", "title": "Yes"}]},
     "Hello! · buttons: Yes"),
    ("ask", {"text": "Your email?", "field_id": 2}, "Your email? → email"),
    ("condition", {"match": "any", "rules": [{"field_id": 1, "op": ">=", "value": 3},
                                             {"field_id": 2, "op": "is_not_set"}]},
     "referral_points is at least 3 or email has no value"),
    ("set_field", {"field_id": 1, "op": "decrease", "value": 2}, "Decrease referral_points by 2"),
    ("set_field", {"field_id": 2, "op": "set", "value": "a@b.c"}, "Set email to “a@b.c”"),
    ("set_field", {"field_id": 2, "op": "clear"}, "Clear email"),
    ("tag", {"tag_id": 1, "op": "remove"}, "Remove rewarded"),
    ("send_referral_link", {"entry_point_id": 1}, "giveaway2025"),
    ("json_get", {"source_field_id": 3, "path": "plan", "field_id": 2}, "plan from order into email"),
    ("go_to_flow", {"flow_id": 2}, "Check reward"),
    ("go_to_flow", {"flow_id": 7}, "flow #7"),
    ("delay", {"seconds": 7200}, "2 hours"),
    ("delay", {"seconds": 90}, "90 seconds"),
    ("randomizer", {"branches": [{"id": "a", "weight": 3}, {"id": "b", "weight": 1}]}, "a 75% · b 25%"),
    ("notify_referrer", {"text": "x" * 80}, "x" * 59 + "…"),
    ("give_coupon", {"pool_id": 1, "field_id": 2}, "A code from Spring into email"),
    ("give_coupon", {}, "A code from (no pool) into (no field)"),
])
def test_each_node_has_a_one_line_summary_for_the_canvas(node_type, data, summary):
    assert NODE_TYPES[node_type].summary(data, NAMES) == summary
