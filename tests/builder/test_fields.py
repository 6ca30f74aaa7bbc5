from pathlib import Path

import pytest
from nicegui import ui
from nicegui.testing import User

from storage.db import open_database
from storage.fields_tags import list_fields
from storage.models import ContactTag, FieldValue
from tests.builder.helpers import choose, seed_demo, value_of


@pytest.fixture
def demo(app_env: Path) -> Path:
    """The demo referral program in the app's database, with two contacts: one with points, one tagged rewarded."""
    seed_demo(app_env, FieldValue(contact_id=1, field_id=1, value="3"), FieldValue(contact_id=2, field_id=1, value="1"),
              ContactTag(contact_id=2, tag_id=2))
    return app_env


async def test_lists_fields_with_ids_types_and_counts(demo: Path, admin: User) -> None:
    await admin.open("/fields")
    await admin.should_see("referral_points")
    await admin.should_see(marker="field-id-4")
    row = next(iter(admin.find(marker="field-1").elements))
    texts = {getattr(child, "text", None) for child in row.descendants()}
    assert {"1", "referral_points", "Number", "2"} <= texts  # id, name, type, contacts with a value
    await admin.should_see("Received the referral coupon")  # a tag's description


async def test_copy_button_says_what_it_copied(demo: Path, admin: User) -> None:
    await admin.open("/fields")
    admin.find(marker="copy-field-2").click()
    await admin.should_see("Field ID 2 (coupon_code) copied.")


async def test_create_field_keeps_bad_input_and_explains(demo: Path, admin: User) -> None:
    await admin.open("/fields")
    admin.find(marker="new-field").click()
    admin.find(marker="field-name").type("12345")
    admin.find(marker="save-field").click()
    await admin.should_see("A field name cannot be only digits")
    assert value_of(admin, "field-name") == "12345"
    admin.find(marker="field-name").clear().type("Referral_Points")
    admin.find(marker="save-field").click()
    await admin.should_see("There is already a field called 'referral_points'")
    admin.find(marker="field-name").clear().type("points-2")
    admin.find(marker="save-field").click()
    await admin.should_see("A field name uses only letters, digits and underscores")
    admin.find(marker="field-name").clear().type("loyalty points")
    admin.find(marker="save-field").click()
    await admin.should_see("it is written in {{templates}} and in links")
    admin.find(marker="field-name").clear().type("birthday")
    choose(admin, "field-type", "Date")
    admin.find(marker="field-description").type("When to send the birthday coupon")
    admin.find(marker="save-field").click()
    await admin.should_see("Field 'birthday' created (ID 5).")
    await admin.should_see(marker="field-5")
    await admin.should_see("When to send the birthday coupon")


async def test_rename_field_and_type_is_locked_once_contacts_have_values(demo: Path, admin: User) -> None:
    await admin.open("/fields")
    admin.find(marker="edit-field-1").click()
    await admin.should_see("2 contacts already have a value in this field, so its type stays number")
    assert not next(iter(admin.find(marker="field-type").elements)).enabled
    admin.find(marker="field-name").clear().type("points")
    admin.find(marker="save-field").click()
    await admin.should_see("Field 'points' saved (ID 1).")
    admin.find(marker="edit-field-2").click()  # no values yet: the type may change
    choose(admin, "field-type", "Number")
    admin.find(marker="save-field").click()
    await admin.should_see("Field 'coupon_code' saved (ID 2).")
    database = open_database(url=f"sqlite:///{demo}")
    with database.session() as session:
        fields = {row.id: (row.name, row.type) for row in list_fields(session=session)}
    database.dispose()
    assert fields[1] == ("points", "number") and fields[2] == ("coupon_code", "number")


async def test_whether_links_may_set_a_field_is_shown_and_edited(demo: Path, admin: User) -> None:
    await admin.open("/fields")
    points = {getattr(child, "text", None) for child in next(iter(admin.find(marker="field-links-1").elements))
              .descendants()}
    plan = {getattr(child, "text", None) for child in next(iter(admin.find(marker="field-links-3").elements))
            .descendants()}
    assert "Not allowed" in points and "Allowed" in plan
    admin.find(marker="edit-field-3").click()
    await admin.should_see("Links may set this field")
    await admin.should_see("A link can fill this field by naming its ID or name, e.g. giveaway2025--plan--5.")
    assert value_of(admin, "field-links-may-set") is True
    admin.find(marker="field-links-may-set").click()
    admin.find(marker="save-field").click()
    await admin.should_see("Field 'plan' saved (ID 3).")
    database = open_database(url=f"sqlite:///{demo}")
    with database.session() as session:
        allowed = {row.name: row.links_may_set for row in list_fields(session=session)}
    database.dispose()
    assert allowed == {"referral_points": False, "coupon_code": True, "plan": False, "seats": True}


async def test_delete_field_lists_what_uses_it_and_the_values_lost(demo: Path, admin: User) -> None:
    await admin.open("/fields")
    admin.find(marker="delete-field-1").click()
    await admin.should_see(marker="delete-dialog")
    await admin.should_see("Flow “Check reward” · Condition step “enough” (draft and published)")
    await admin.should_see("Trigger “Referred a new contact” · action 1 (set field)")
    await admin.should_see("The values of 2 contacts will be deleted.")
    admin.find(marker="cancel").click()
    await admin.should_see(marker="field-1")

    admin.find(marker="delete-field-3").click()
    await admin.should_see("Entry point “Giveaway 2025” (giveaway2025) · JSON path “plan”")
    await admin.should_see("This mapping is removed.")
    admin.find(marker="confirm-delete").click()
    await admin.should_see("Field 'plan' deleted.")
    await admin.should_not_see(marker="field-3")


async def test_tags_create_rename_and_delete(demo: Path, admin: User) -> None:
    await admin.open("/fields")
    admin.find(marker="new-tag").click()
    admin.find(marker="tag-name").type("Giveaway")
    admin.find(marker="save-tag").click()
    await admin.should_see("There is already a tag called 'giveaway'")
    assert value_of(admin, "tag-name") == "Giveaway"
    admin.find(marker="tag-name").clear().type("vip")
    admin.find(marker="tag-description").type("Spent over 100")
    admin.find(marker="save-tag").click()
    await admin.should_see("Tag 'vip' created.")
    await admin.should_see("Spent over 100")

    admin.find(marker="edit-tag-2").click()
    admin.find(marker="tag-name").clear().type("coupon sent")
    admin.find(marker="save-tag").click()
    await admin.should_see("Tag 'coupon sent' saved.")
    await admin.should_see(kind=ui.label, content="coupon sent")  # the list shows the new name

    admin.find(marker="delete-tag-2").click()
    await admin.should_see("Flow “Check reward” · Tag step “tag_rewarded” (draft and published)")
    await admin.should_see("1 contact will lose this tag.")
    admin.find(marker="confirm-delete").click()
    await admin.should_see("Tag 'coupon sent' deleted.")
    await admin.should_not_see(marker="tag-2")

    admin.find(marker="delete-tag-1").click()
    await admin.should_see("Entry point “Giveaway 2025” (giveaway2025) · segment tag")


async def test_empty_workspace_says_what_fields_are_for(admin: User) -> None:
    await admin.open("/fields")
    await admin.should_see(marker="no-fields")
    await admin.should_see(marker="no-tags")
