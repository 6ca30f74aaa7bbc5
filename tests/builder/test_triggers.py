from pathlib import Path

import pytest
from nicegui import ui
from nicegui.testing import User

from storage.db import open_database
from storage.models import Trigger, TriggerRun
from tests.builder.helpers import choose, seed_demo, value_of


@pytest.fixture
def demo(app_env: Path) -> Path:
    """The demo referral program in the app's database; its first trigger ran 3 times for two referrers."""
    seed_demo(app_env, TriggerRun(trigger_id=1, contact_id=1, runs=2), TriggerRun(trigger_id=1, contact_id=2, runs=1))
    return app_env


def stored_triggers(db_path: Path) -> dict[str, Trigger]:
    database = open_database(url=f"sqlite:///{db_path}")
    with database.session() as session:
        from sqlmodel import select

        triggers = {trigger.name: trigger for trigger in session.exec(select(Trigger))}
    database.dispose()
    return triggers


async def test_list_describes_each_trigger(demo: Path, admin: User) -> None:
    await admin.open("/triggers")
    await admin.should_see("Referred a new contact via giveaway2025")
    await admin.should_see("increase referral_points by 1, then notify the referrer, then start flow Check reward")
    await admin.should_see("Referred an existing contact via giveaway2025")
    await admin.should_see("· no conditions")
    await admin.should_see(kind=ui.label, content="ran 3 times", marker="runs-1")
    await admin.should_see(kind=ui.label, content="ran 0 times", marker="runs-2")
    await admin.should_not_see(marker="problem")


async def test_enable_switch_saves_at_once(demo: Path, admin: User) -> None:
    await admin.open("/triggers")
    admin.find(marker="enabled-2").click()
    await admin.should_see("Trigger 'Referred an existing contact' is off.")
    assert stored_triggers(demo)["Referred an existing contact"].enabled is False
    admin.find(marker="enabled-2").click()
    await admin.should_see("Trigger 'Referred an existing contact' is on.")
    assert stored_triggers(demo)["Referred an existing contact"].enabled is True


async def test_create_trigger_shows_errors_next_to_rows_and_keeps_input(demo: Path, admin: User) -> None:
    await admin.open("/triggers/new")
    admin.find(marker="save-trigger").click()
    await admin.should_see("Give the trigger a name.")
    await admin.should_see("Add at least one action")

    admin.find(marker="trigger-name").type("Welcome gift")
    choose(admin, "trigger-event", "A new contact arrives")
    await admin.should_see(marker="trigger-filter")
    admin.find(marker="add-condition").click()
    await admin.should_see(marker="condition-0-field")
    choose(admin, "condition-0-field", "seats (number)")
    choose(admin, "condition-0-op", "is at least")
    admin.find(marker="condition-0-value").type("two")
    admin.find(marker="add-action").click()
    await admin.should_see(marker="action-0-type")
    choose(admin, "action-0-type", "Set field")
    await admin.should_see(marker="action-0-field")
    choose(admin, "action-0-field", "coupon_code (text)")
    await admin.should_see(kind=ui.select, marker="action-0-field", content="coupon_code (text)")
    choose(admin, "action-0-op", "increase by")
    await admin.should_see(kind=ui.input, marker="action-0-value", content="By")
    admin.find(marker="action-0-value").type("1")
    admin.find(marker="save-trigger").click()
    await admin.should_see("Nothing was saved: fix the parts marked in red.")
    await admin.should_see("Field 'seats' is a number; 'two' was not saved.")
    await admin.should_see("Only number fields can be increased or decreased; 'coupon_code' is text.")
    assert value_of(admin, "trigger-name") == "Welcome gift"
    assert value_of(admin, "condition-0-value") == "two"
    assert "Welcome gift" not in stored_triggers(demo)

    admin.find(marker="condition-0-value").clear().type("2")
    choose(admin, "action-0-op", "set to")
    admin.find(marker="action-0-value").clear().type("WELCOME10")
    admin.find(marker="add-action").click()
    await admin.should_see(marker="action-1-type")
    choose(admin, "action-1-type", "Send message")
    await admin.should_see(marker="action-1-text")
    admin.find(marker="action-1-text").type("Here is your code: {{coupon_code}}")
    admin.find(marker="save-trigger").click()
    await admin.should_see("Trigger 'Welcome gift' saved.")
    await admin.should_see(marker="no-problems")
    trigger = stored_triggers(demo)["Welcome gift"]
    assert trigger.event == "contact_created" and trigger.entry_point_id is None
    assert trigger.conditions == {"match": "all", "rules": [{"field_id": 4, "op": ">=", "value": 2}]}
    assert trigger.actions == [{"type": "set_field", "field_id": 2, "op": "set", "value": "WELCOME10"},
                               {"type": "send_message", "text": "Here is your code: {{coupon_code}}"}]


async def test_edit_reorder_and_delete_a_trigger(demo: Path, admin: User) -> None:
    await admin.open("/triggers/1")
    assert value_of(admin, "trigger-name") == "Referred a new contact"
    assert value_of(admin, "action-0-value") == "1"
    admin.find(marker="action-2-up").click()  # start the flow before notifying
    await admin.should_see(marker="action-1-flow")
    admin.find(marker="action-0-remove").click()
    await admin.should_not_see(marker="action-2-type")
    admin.find(marker="trigger-name").clear().type("Referred an EXISTING contact")
    admin.find(marker="save-trigger").click()
    await admin.should_see("There is already a trigger called 'Referred an existing contact'")
    admin.find(marker="trigger-name").clear().type("Welcome the referrer")
    admin.find(marker="save-trigger").click()
    await admin.should_see("Trigger 'Welcome the referrer' saved.")
    trigger = stored_triggers(demo)["Welcome the referrer"]
    assert [action["type"] for action in trigger.actions] == ["start_flow", "notify_referrer"]

    admin.find(marker="delete-trigger").click()
    await admin.should_see("Delete the trigger 'Welcome the referrer'?")
    admin.find(marker="confirm-delete").click()
    await admin.should_see(marker="new-trigger")  # back on the list
    await admin.should_not_see(kind=ui.link, content="Welcome the referrer")
    assert "Welcome the referrer" not in stored_triggers(demo)


async def test_a_trigger_loop_is_shown_while_editing_and_saved_switched_off(demo: Path, admin: User) -> None:
    await admin.open("/triggers/new")
    admin.find(marker="trigger-name").type("Points echo")
    choose(admin, "trigger-event", "A field changes")
    await admin.should_see(kind=ui.select, marker="trigger-filter", content="Any field")
    choose(admin, "trigger-filter", "referral_points")
    admin.find(marker="add-action").click()
    await admin.should_see(marker="action-0-type")
    choose(admin, "action-0-type", "Set field")
    await admin.should_see(marker="action-0-field")
    choose(admin, "action-0-field", "referral_points (number)")
    await admin.should_see(kind=ui.input, marker="action-0-value", content="e.g. 1")  # a number field's input
    admin.find(marker="action-0-value").type("5")
    # before saving: the loop, and advice that fits a trigger
    await admin.should_see("For the settings above, not saved yet:")
    await admin.should_see("can repeat forever without waiting for the contact: trigger “Points echo” → back to "
                           "trigger “Points echo”. A trigger cannot wait, so break the loop: let trigger “Points "
                           "echo” change another field or tag than the one that starts it, or make it listen to "
                           "another event.")
    admin.find(marker="save-trigger").click()
    await admin.should_see("Trigger 'Points echo' was saved switched off, so that it cannot run in a loop.")
    await admin.should_see("Saved switched off: it would run in a loop (see Checks).")
    await admin.should_see("If this trigger were switched on:")
    assert value_of(admin, "trigger-enabled") is False
    assert stored_triggers(demo)["Points echo"].enabled is False

    await admin.open("/triggers")
    await admin.should_see("set referral_points to 5")
    trigger_id = stored_triggers(demo)["Points echo"].id
    admin.find(marker=f"enabled-{trigger_id}").click()
    await admin.should_see("Trigger 'Points echo' was not switched on. It stays off: These steps can repeat forever")
    assert value_of(admin, f"enabled-{trigger_id}") is False
    assert stored_triggers(demo)["Points echo"].enabled is False


async def test_a_trigger_without_a_loop_is_saved_on(demo: Path, admin: User) -> None:
    await admin.open("/triggers/1")
    await admin.should_see("No problems found with this trigger.")
    admin.find(marker="save-trigger").click()
    await admin.should_see("Trigger 'Referred a new contact' saved.")
    assert stored_triggers(demo)["Referred a new contact"].enabled is True


async def test_trigger_messages_offer_fields_and_the_person_who_joined(demo: Path, admin: User) -> None:
    await admin.open("/triggers/1")
    await admin.should_see(marker="action-1-text")
    admin.find(marker="action-1-text").clear().type("Thanks! {{")
    await admin.should_see(kind=ui.chip, content="referred.first_name")
    await admin.should_see(kind=ui.chip, content="referral_points")
    admin.find(kind=ui.chip, content="referral_points").click()
    assert value_of(admin, "action-1-text") == "Thanks! {{referral_points}}"


async def test_unknown_trigger_says_so(admin: User) -> None:
    await admin.open("/triggers/999")
    await admin.should_see("There is no trigger '999'")
    await admin.open("/triggers")
    await admin.should_see(marker="no-triggers")


async def test_an_action_fills_a_field_from_a_template(demo: Path, admin: User) -> None:
    await admin.open("/triggers/new")
    admin.find(marker="trigger-name").type("Remember the friend")
    admin.find(marker="add-action").click()
    await admin.should_see(marker="action-0-type")
    choose(admin, "action-0-type", "Set field from a template")
    await admin.should_see(marker="action-0-text")
    await admin.should_see(marker="action-0-suggestions")  # placeholders on offer, {{referred.*}} among them
    choose(admin, "action-0-field", "plan (text)")
    admin.find(marker="action-0-text").type("{{referred.first_name}} joined")
    admin.find(marker="save-trigger").click()
    await admin.should_see("Trigger 'Remember the friend' saved.")
    await admin.should_see(marker="no-problems")
    assert stored_triggers(demo)["Remember the friend"].actions == [
        {"type": "set_field_from_template", "field_id": 3, "text": "{{referred.first_name}} joined"}]

    await admin.open("/triggers")
    await admin.should_see("set plan to “{{referred.first_name}} joined”")
