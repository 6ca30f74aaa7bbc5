"""The contacts list (server-side paging, sorting, search) and a contact's page, on data the runtime stored."""

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from nicegui import ui
from nicegui.testing import User

from runtime.opening import Inbound
from runtime.service import Runtime
from storage.contacts import ContactQuery, build_referral_tree, list_contacts, set_contact_field
from storage.db import Database, open_database
from tests.helpers import import_fixture

LINK = "https://m.me/1234567890?ref=giveaway2025"


def import_program(database: Database) -> None:
    import_fixture(database)


def add_people(path: Path, count: int, *, referred_by: dict[int, int] | None = None) -> None:
    """`count` contacts named Person 1..count, created a minute apart (Person 1 first), on messenger."""
    start = datetime(2026, 1, 1)
    db = sqlite3.connect(path)
    db.executemany("INSERT INTO contact (id, channel, channel_user_id, first_name, last_name, phone, referred_by_id,"
                   " first_ref, last_ref, created_at, last_seen_at)"
                   " VALUES (?, 'messenger', ?, ?, '', ?, ?, 'giveaway2025', 'giveaway2025', ?, ?)",
                   [(i, f"psid-{i}", f"Person {i}", f"1555000{i:04d}", (referred_by or {}).get(i),
                     stamp(start + timedelta(minutes=i)), stamp(start)) for i in range(1, count + 1)])
    db.executemany("INSERT INTO referral (entry_point_id, referrer_id, referrer_ref, referee_id, kind, status,"
                   " created_at) VALUES (1, ?, ?, ?, 'new', 'counted', ?)",
                   [(by, str(by), referee, stamp(start)) for referee, by in (referred_by or {}).items()])
    db.commit()
    db.close()


def stamp(moment: datetime) -> str:
    return moment.isoformat(" ", "microseconds")


def open_link(database: Database, user: str, name: str, link: str = LINK) -> int:
    with Runtime(database) as runtime:
        return runtime.open_link(Inbound(text=link, channel="messenger", channel_user_id=user,
                                         first_name=name)).contact_id


def table_rows(user: User, marker: str) -> list[dict]:
    return user.find(marker=marker).elements.pop().rows


def the_table(user: User) -> ui.table:
    return user.find(marker="contacts-table").elements.pop()


@pytest.fixture
def app_database(app_env: Path, admin: User) -> Database:
    """The signed-in app's own database, with the referral program imported."""
    database = open_database(url=f"sqlite:///{app_env}")
    import_program(database)
    yield database
    database.dispose()


# --- the list ---------------------------------------------------------------------------------------------------------

async def test_the_list_pages_on_the_server_and_searches(admin: User, app_database: Database, app_env: Path) -> None:
    add_people(app_env, 60, referred_by={2: 1, 3: 1, 4: 2})
    await admin.open("/contacts")
    await admin.should_see("60 contacts")
    rows = table_rows(admin, "contacts-table")
    assert [row["name"] for row in rows[:2]] == ["Person 60", "Person 59"] and len(rows) == 25
    table = admin.find(marker="contacts-table")
    table.trigger("request", {"pagination": {"page": 3, "rowsPerPage": 25, "sortBy": "created", "descending": True}})
    rows = table_rows(admin, "contacts-table")
    assert [row["name"] for row in rows][-3:] == ["Person 3", "Person 2", "Person 1"]
    assert [(row["name"], row["referred_by"], row["referred_by_id"]) for row in rows if row["referred_by_id"]] == [
        ("Person 4", "Person 2", 2), ("Person 3", "Person 1", 1), ("Person 2", "Person 1", 1)]
    assert the_table(admin).pagination["rowsNumber"] == 60

    table.trigger("request", {"pagination": {"page": 1, "rowsPerPage": 50, "sortBy": "referrals", "descending": True}})
    rows = table_rows(admin, "contacts-table")
    assert len(rows) == 50 and [(r["name"], r["referrals"]) for r in rows[:3]] == [
        ("Person 1", 2), ("Person 2", 1), ("Person 60", 0)]

    admin.find(marker="contact-search").type("person 4")
    await admin.should_see("11 contacts found")  # Person 4 and Person 40..49
    admin.find(marker="contact-search").clear().type("+1 555 0000 033")
    await admin.should_see("1 contact found")
    assert [row["name"] for row in table_rows(admin, "contacts-table")] == ["Person 33"]
    admin.find(marker="contact-search").clear().type("nobody like this")
    await admin.should_see("0 contacts found")
    assert the_table(admin).props["no-data-label"] == "No contact matches 'nobody like this'."


async def test_number_fields_are_columns(admin: User, app_database: Database) -> None:
    ann = open_link(app_database, "psid-ann", "Ann")
    open_link(app_database, "psid-bob", "Bob", f"{LINK}-c{ann}")
    await admin.open("/contacts")
    table = the_table(admin)
    assert [column["label"] for column in table.columns][-2:] == ["referral_points", "seats"]
    by_name = {row["name"]: row for row in table.rows}
    assert by_name["Ann"]["field_1"] == "1" and by_name["Ann"]["referrals"] == 1
    assert by_name["Bob"]["referred_by"] == "Ann" and by_name["Bob"]["field_1"] == "—"


async def test_an_empty_workspace_says_where_contacts_come_from(admin: User) -> None:
    await admin.open("/contacts")
    await admin.should_see("0 contacts")
    assert "open one of your entry links" in the_table(admin).props["no-data-label"]


# --- one contact ------------------------------------------------------------------------------------------------------

async def test_a_contact_page_shows_what_the_runtime_stored(admin: User, app_database: Database) -> None:
    ann = open_link(app_database, "psid-ann", "Ann")
    bob = open_link(app_database, "psid-bob", "Bob", f"{LINK}-c{ann}")
    open_link(app_database, "psid-ann", "Ann", f"{LINK}-c{ann}")  # a blocked self-referral

    await admin.open(f"/contacts/{ann}")
    await admin.should_see("psid-ann")
    await admin.should_see("They referred (2)")
    made = table_rows(admin, "referrals-made")
    assert [(r["other"], r["status"], r["kind"]) for r in made] == [
        ("Ann", "self-referral", "existing contact"), ("Bob", "counted", "new contact")]
    assert made[0]["entry"] == "Giveaway 2025 (giveaway2025)"
    assert admin.find(marker="field-referral_points").elements.pop().value == "1"
    await admin.should_see("Bob joined with your link!")  # the transcript
    await admin.should_see("Bob · messenger · brought in nobody yet")  # the referral tree
    await admin.should_see(marker="tag-giveaway")  # the entry point's segment

    await admin.open(f"/contacts/{bob}")
    await admin.should_see("They were referred (1)")
    assert [(r["other"], r["other_id"]) for r in table_rows(admin, "referrals-received")] == [("Ann", ann)]
    await admin.should_see("Nobody has joined through this contact's links yet.")


async def test_a_field_with_a_type_error_keeps_what_was_typed(admin: User, app_database: Database) -> None:
    ann = open_link(app_database, "psid-ann", "Ann")
    await admin.open(f"/contacts/{ann}")
    await admin.should_see("they do not run triggers or flows")
    admin.find(marker="field-referral_points").clear().type("abc")
    admin.find(marker="save-referral_points").click()
    await admin.should_see("Field 'referral_points' is a number; 'abc' was not saved.")
    assert admin.find(marker="field-referral_points").elements.pop().value == "abc"

    admin.find(marker="field-referral_points").clear().type("7")
    admin.find(marker="save-referral_points").click()
    await admin.should_see("Field 'referral_points' saved.")
    await admin.open(f"/contacts/{ann}")
    assert admin.find(marker="field-referral_points").elements.pop().value == "7"
    with Runtime(app_database) as runtime:  # the runtime sees the admin's value
        again = runtime.open_link(Inbound(text=LINK, channel="messenger", channel_user_id="psid-ann"))
    assert again.fields["referral_points"] == 7


async def test_tags_are_added_and_removed(admin: User, app_database: Database) -> None:
    ann = open_link(app_database, "psid-ann", "Ann")
    await admin.open(f"/contacts/{ann}")
    await admin.should_see("Tags changed here do not run triggers.")
    admin.find(marker="tag-picker").click()
    admin.find("rewarded").click()
    admin.find(marker="add-tag").click()
    await admin.should_see(marker="tag-rewarded")
    admin.find(marker="tag-giveaway").trigger("update:modelValue", False)  # the chip's x
    await admin.should_see("Tag 'giveaway' removed.")
    await admin.should_not_see(marker="tag-giveaway")
    await admin.open(f"/contacts/{ann}")
    await admin.should_see(marker="tag-rewarded")
    await admin.should_not_see(marker="tag-giveaway")


async def test_an_unknown_contact_is_said_so(admin: User) -> None:
    await admin.open("/contacts/999")
    await admin.should_see("There is no contact with ID 999.")
    await admin.open("/contacts/abc")
    await admin.should_see("There is no contact with ID abc.")


# --- the queries behind the pages -------------------------------------------------------------------------------------

def test_sorting_by_referrals_pages_through_referrers_then_the_rest(database: Database) -> None:
    import_program(database)
    referred_by = {i: 1 + i % 3 for i in range(4, 40)} | {40: 5, 41: 5}
    add_people(Path(database.engine.url.database), 45, referred_by=referred_by)
    made = {i: sum(1 for r in referred_by.values() if r == i) for i in range(1, 46)}
    for descending in (True, False):
        expected = sorted(made, key=lambda i: (made[i], i), reverse=descending)  # created follows the id here
        with database.session() as session:
            pages = [list_contacts(session=session, query=ContactQuery(sort="referrals", descending=descending,
                                                                       page=page)) for page in (1, 2)]
        assert [row.id for page in pages for row in page.rows] == expected


def test_a_search_matching_many_pages_like_one_matching_few(database: Database) -> None:
    import_program(database)
    add_people(Path(database.engine.url.database), 2100)
    with database.session() as session:
        many = list_contacts(session=session, query=ContactQuery(search="person", page=3))
        few = list_contacts(session=session, query=ContactQuery(search="person 1", page=2, sort="name",
                                                                   descending=False))
        past_the_end = list_contacts(session=session, query=ContactQuery(page=999))
    assert many.total == 2100 and [row.name for row in many.rows][:2] == ["Person 2050", "Person 2049"]
    ones = sorted(f"Person {i}" for i in range(1, 2101) if str(i).startswith("1"))  # 1, 10-19, 100-199, 1000-1999
    assert few.total == len(ones) == 1111 and [row.name for row in few.rows] == ones[25:50]
    assert past_the_end.query.page == 84 and [row.name for row in past_the_end.rows][-1] == "Person 1"


def test_the_referral_tree_goes_three_levels_deep_and_is_capped(database: Database) -> None:
    import_program(database)
    referred_by = {2: 1, 3: 1, 4: 2, 5: 4, 6: 5, 7: 1}  # 6 is four levels below 1
    add_people(Path(database.engine.url.database), 7, referred_by=referred_by)
    with database.session() as session:
        tree = build_referral_tree(session=session, contact_id=1)
        small = build_referral_tree(session=session, contact_id=1, cap=2)
    assert tree.per_level == {1: 3, 2: 1, 3: 1} and not tree.capped
    assert [(child.name, child.brought_in) for child in tree.root.children] == [
        ("Person 2", 1), ("Person 3", 0), ("Person 7", 0)]
    assert tree.root.children[0].children[0].children[0].name == "Person 5"
    assert small.capped and small.shown == 2


def test_a_field_edit_checks_the_type(database: Database) -> None:
    import_program(database)
    add_people(Path(database.engine.url.database), 1)
    with database.write_session() as session:
        with pytest.raises(ValueError, match=r"Field 'seats' is a number; 'many' was not saved\."):
            set_contact_field(session=session, contact_id=1, field_id=4, text="many")
        assert set_contact_field(session=session, contact_id=1, field_id=4, text="2,5").value == 2.5
        assert set_contact_field(session=session, contact_id=1, field_id=4, text=" ").value is None
