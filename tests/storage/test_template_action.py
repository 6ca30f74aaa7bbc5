"""The action "set a field from a template", added through the trigger-action catalogue alone (runtime/actions.py and
its step in runtime/triggers.py): imported with a workspace, checked before publishing, and run when a link opens."""

import copy
import json
from pathlib import Path

import pytest

from runtime.opening import Inbound
from runtime.service import Runtime
from runtime.validation import WorkspaceIndex, validate_workspace
from storage.db import Database
from storage.workspace_checks import check_workspace
from storage.workspace_io import import_workspace

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "referral_program.json"
GREETING, LATEST_FRIEND = 5, 6


def program_with_template_actions() -> dict:
    """The referral program, plus: whoever opens the giveaway gets a greeting; a referrer notes who joined last."""
    document = json.loads(FIXTURE.read_text())
    document["fields"] += [{"id": GREETING, "name": "greeting", "type": "text"},
                           {"id": LATEST_FRIEND, "name": "latest_friend", "type": "text"}]
    document["triggers"] += [
        {"id": 3, "name": "Greet", "event": "entry_point_opened", "entry_point_id": 1,
         "actions": [{"type": "set_field_from_template", "field_id": GREETING,
                      "text": "Hi {{ first_name | upper }}, welcome on {{ channel }}"}]},
        {"id": 4, "name": "Remember the friend", "event": "referred_new_contact", "entry_point_id": 1,
         "actions": [{"type": "set_field_from_template", "field_id": LATEST_FRIEND,
                      "text": "{{referred.first_name}} (contact {{referred.user_id}})"}]},
    ]
    return document


@pytest.fixture
def runtime(database: Database) -> Runtime:
    with database.write_session() as session:
        import_workspace(session=session, document=program_with_template_actions())
    with Runtime(database) as runtime:
        yield runtime


def open_as(runtime: Runtime, user: str, name: str, link: str):
    return runtime.open_link(Inbound(text=link, channel="messenger", channel_user_id=user, first_name=name))


def test_opening_a_link_fills_the_fields_from_their_templates(runtime: Runtime) -> None:
    ann = open_as(runtime, "psid-ann", "Ann", "https://m.me/1234567890?ref=giveaway2025")
    assert ann.fields["greeting"] == "Hi ANN, welcome on messenger"

    bob = open_as(runtime, "psid-bob", "Bob", f"https://m.me/1234567890?ref=giveaway2025-c{ann.contact_id}")
    assert bob.fields["greeting"] == "Hi BOB, welcome on messenger"
    ann_again = open_as(runtime, "psid-ann", "Ann", "https://m.me/1234567890?ref=giveaway2025")
    assert ann_again.fields["latest_friend"] == f"Bob (contact {bob.contact_id})"  # the referrer's field


def test_the_workspace_import_accepts_the_action_and_says_what_it_needs() -> None:
    document = program_with_template_actions()
    assert check_workspace(document) == []
    del document["triggers"][2]["actions"][0]["text"]
    assert check_workspace(document) == ["triggers[2] ('Greet'): actions[0] (set_field_from_template) needs 'text'"]


@pytest.mark.parametrize(("action", "message"), [
    ({"field_id": None, "text": "Hi {{first_name}}"},
     "Trigger “Greet” is not finished. In action 1, choose the field to fill in."),
    ({"field_id": GREETING, "text": ""},
     "Trigger “Greet” is not finished. In action 1, write the template whose text the field gets."),
    ({"field_id": GREETING, "text": "Hi {{ first_name"}, "Trigger “Greet”, action 1: "),
    ({"field_id": GREETING, "text": "Hi {{nickname}}"},
     "Trigger “Greet”, action 1: It inserts {{nickname}}, but there is no field called “nickname”."),
])
def test_validation_reports_a_missing_field_or_a_bad_template(action: dict, message: str) -> None:
    document = program_with_template_actions()
    trigger = copy.deepcopy(document["triggers"][2]) | {"actions": [{"type": "set_field_from_template", **action}]}
    index = WorkspaceIndex.from_dicts(fields=document["fields"], tags=document["tags"], flows=document["flows"],
                                      entry_points=document["entry_points"])
    problems = validate_workspace({}, [trigger], index)
    assert [problem.severity for problem in problems] == ["error"]
    assert problems[0].message.startswith(message)
