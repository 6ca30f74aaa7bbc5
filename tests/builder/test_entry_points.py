"""The Entry points pages through NiceGUI's User: list, editor, links, the paste box and the counts."""

import json
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from nicegui import ui
from nicegui.testing import User
from nicegui.testing.user_interaction import UserInteraction
from sqlmodel import select

from builder import entry_point_links
from runtime.opening import Inbound
from runtime.qr import qr_png, qr_svg
from runtime.service import Runtime
from storage.db import Database
from storage.entry_points import EntryPointCreate, EntryPointUpdate, create_entry_point, update_entry_point
from storage.models import EntryPoint, Flow, WorkspaceSettings
from storage.workspace_io import import_workspace
from tests.builder.helpers import choose, text_of, value_of

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "referral_program.json"
GIVEAWAY = "https://m.me/1234567890?ref=giveaway2025"

WAITS = 50  # the paste box answers from a worker thread: a busy machine takes longer than 0.3 s


@pytest.fixture
def demo(app_database: Database) -> Database:
    """The demo workspace: every channel set up, entry point 1 is giveaway2025."""
    with app_database.write_session() as session:
        import_workspace(session=session, document=json.loads(FIXTURE.read_text()))
    return app_database


def open_link(database: Database, user: str, link: str, first_name: str = "") -> int:
    with Runtime(database) as runtime:
        return runtime.open_link(Inbound(text=link, channel="messenger", channel_user_id=user,
                                         first_name=first_name)).contact_id








def stored(database: Database, ref: str) -> EntryPoint | None:
    with database.session() as session:
        return session.query(EntryPoint).filter_by(ref=ref).one_or_none()


# ------------------------------------------------------------------------------------------------ creating


async def test_a_new_entry_point_is_created_and_listed(admin: User, app_database: Database) -> None:
    await admin.open("/entry-points")
    await admin.should_see("No entry points yet.")
    admin.find(marker="new-entry-point").click()
    await admin.should_see(marker="save-entry-point")
    admin.find(marker="name").type("Black Friday")
    admin.find(marker="ref").type("black-friday")
    admin.find(marker="response_message").type("Hi {{first_name}}, here is your deal!")
    admin.find(marker="save-entry-point").click()
    await admin.should_see("Entry point “Black Friday” saved.")

    entry = stored(app_database, "black-friday")
    assert entry.name == "Black Friday" and entry.response_message == "Hi {{first_name}}, here is your deal!"
    await admin.open("/entry-points")
    await admin.should_see("Black Friday")
    await admin.should_see("Hi {{first_name}}, here is your deal!")
    assert text_of(admin, f"opens-{entry.id}") == "0"


async def test_the_ref_is_checked_while_typing(admin: User, demo: Database) -> None:
    await admin.open("/entry-points/new")
    admin.find(marker="ref").type("black--friday")
    await admin.should_see("contains '--', which links use to separate payload values")
    admin.find(marker="ref").clear().type("giveaway2025")
    await admin.should_see("The entry point 'Giveaway 2025' already uses the ref 'giveaway2025'")
    admin.find(marker="ref").clear().type("spring-c42")
    await admin.should_see("ends with '-c42', which links read as a referrer's contact id")
    admin.find(marker="ref").clear().type("spring")
    await admin.should_not_see("already uses the ref")
    await admin.should_see("https://m.me/1234567890?ref=spring")  # the links follow the ref as it is typed


async def test_saving_keeps_what_was_typed_and_marks_each_problem(admin: User, demo: Database) -> None:
    await admin.open("/entry-points/new")
    admin.find(marker="ref").type("giveaway2025")
    next(iter(admin.find(marker="response_type").elements)).value = "flow"  # the User cannot click a toggle's button
    admin.find(marker="add-json-row").click()
    await admin.should_see(marker="json-path-0")
    admin.find(marker="json-path-0").type("order..sku")
    admin.find(marker="save-entry-point").click()
    await admin.should_see("Nothing was saved: fix the fields marked in red.")
    await admin.should_see("Give the entry point a name")
    await admin.should_see("The JSON path 'order..sku' is not valid")
    await admin.should_see("Choose the field that receives this value.")
    assert value_of(admin, "ref") == "giveaway2025" and value_of(admin, "json-path-0") == "order..sku"

    admin.find(marker="name").type("Spring")
    admin.find(marker="json-path-0").clear().type("order.items[0].sku")
    choose(admin, "json-field-0", "coupon_code (text)")
    admin.find(marker="save-entry-point").click()
    await admin.should_see("The entry point 'Giveaway 2025' already uses the ref 'giveaway2025'")
    await admin.should_see("Choose the flow this entry point starts.")
    assert stored(demo, "spring") is None

    admin.find(marker="ref").clear().type("spring")
    choose(admin, "response_flow_id", "Share")
    admin.find(marker="save-entry-point").click()
    await admin.should_see("Entry point “Spring” saved.")
    entry = stored(demo, "spring")
    assert entry.response_type == "flow" and entry.json_mapping == [{"path": "order.items[0].sku", "field_id": 2}]


async def test_editing_saves_payload_and_json_mappings(admin: User, demo: Database) -> None:
    await admin.open("/entry-points/1")
    assert value_of(admin, "json-path-0") == "plan" and value_of(admin, "json-path-1") == "seats"
    admin.find(marker="name").clear().type("Giveaway 2026")
    admin.find(marker="remove-json-0").click()
    await admin.should_not_see(marker="json-path-1")
    admin.find(marker="add-payload-row").click()
    await admin.should_see(marker="payload-key-0")
    admin.find(marker="add-payload-row").click()
    await admin.should_see(marker="payload-key-1")
    admin.find(marker="payload-key-0").type("gold--")
    await admin.should_see("A key cannot contain '--' or a long dash")  # checked while typing
    admin.find(marker="payload-key-0").clear().type("gold")
    choose(admin, "payload-field-0", "plan (text)")
    admin.find(marker="payload-key-1").type("GOLD")
    choose(admin, "payload-field-1", "seats (number)")
    admin.find(marker="save-entry-point").click()
    await admin.should_see("The key 'GOLD' is mapped twice")
    assert stored(demo, "giveaway2025").name == "Giveaway 2025"

    admin.find(marker="payload-key-1").clear().type("vip-seats")
    choose(admin, "segment_tag_id", "rewarded")
    admin.find(marker="referral_policy").click()
    UserInteraction(admin, admin.find(marker="referral_policy").elements, "Count every open").click()
    admin.find(marker="save-entry-point").click()
    await admin.should_see("Entry point “Giveaway 2026” saved.")

    entry = stored(demo, "giveaway2025")
    assert entry.name == "Giveaway 2026" and entry.referral_policy == "every_open" and entry.segment_tag_id == 2
    assert entry.payload_mapping == [{"key": "gold", "field_id": 3}, {"key": "vip-seats", "field_id": 4}]
    assert entry.json_mapping == [{"path": "seats", "field_id": 4}]
    await admin.open("/entry-points/1")
    assert value_of(admin, "payload-key-1") == "vip-seats" and value_of(admin, "json-path-0") == "seats"


async def test_the_whatsapp_pattern_can_be_tried_live(admin: User, demo: Database) -> None:
    await admin.open("/entry-points/1")
    admin.find(marker="whatsapp_pattern").type(r"recommended by (?P<referrer>\+?\d{7,15}")
    await admin.should_see("not a valid regular expression")
    admin.find(marker="whatsapp_pattern").clear().type(r"recommended by (?P<referrer>\+?\d{7,15})")
    admin.find(marker="sample").type("Hi! I was recommended by +15551234567")
    await admin.should_see("Matches: referrer = +15551234567.")
    admin.find(marker="sample").clear().type("Hello")
    await admin.should_see("No match")


async def test_a_pattern_that_cannot_run_in_linear_time_is_refused(admin: User, demo: Database) -> None:
    await admin.open("/entry-points/1")
    admin.find(marker="whatsapp_pattern").type(r"recommended by (?P<referrer>\d+)(?= Hello)")
    admin.find(marker="sample").type("Hi! I was recommended by 42 Hello")
    await admin.should_see("The WhatsApp text pattern uses a lookahead, (?=...) or (?!...), which Referflow does not "
                           "support")
    await admin.should_not_see("Matches:")
    admin.find(marker="save-entry-point").click()
    await admin.should_see("uses a lookahead")
    assert stored(demo, "giveaway2025").whatsapp_pattern == ""


async def test_a_stored_pattern_re2_refuses_is_explained_when_the_entry_point_opens(admin: User,
                                                                                   demo: Database) -> None:
    with demo.write_session() as session:  # stored before patterns ran on RE2, past today's checks
        session.get(EntryPoint, 1).whatsapp_pattern = r"(?P<referrer>\d+)\1"
    await admin.open("/entry-points/1")
    pattern = admin.find(marker="whatsapp_pattern").elements.pop()
    assert pattern.error.startswith("The WhatsApp text pattern uses a backreference such as \\1 or (?P=name), which "
                                    "Referflow does not support")


# ------------------------------------------------------------------------------------------------ links


async def test_each_channel_gets_links_a_qr_code_and_downloads(admin: User, demo: Database) -> None:
    await admin.open("/entry-points/1")
    assert text_of(admin, "entry-link-messenger") == GIVEAWAY
    assert text_of(admin, "referral-link-messenger") == GIVEAWAY + "-c{{user_id}}"
    assert text_of(admin, "entry-link-whatsapp") == "https://wa.me/15551234567?text=/giveaway2025"
    assert text_of(admin, "referral-link-telegram") == "https://t.me/giveaway_helper_bot?start=giveaway2025-c{{user_id}}"
    for channel in ("messenger", "instagram", "whatsapp", "telegram", "viber", "webchat"):
        await admin.should_see(marker=f"qr-{channel}")
    admin.find(marker="copy-entry-link-messenger").click()
    await admin.should_see("Link copied to the clipboard.")

    admin.find(marker="download-png-messenger").click()
    assert (await admin.download.next()).content == qr_png(GIVEAWAY)
    admin.find(marker="download-svg-telegram").click()
    assert (await admin.download.next()).content == qr_svg("https://t.me/giveaway_helper_bot?start=giveaway2025")


async def test_links_show_the_channel_limits_they_break(admin: User, demo: Database) -> None:
    ref = "summer-sale-for-everyone-who-follows-our-page-2025"  # 50 characters: fits, but not with -c and an id
    with demo.write_session() as session:
        entry = create_entry_point(session=session, data=EntryPointCreate(name="Summer", ref=ref))
    await admin.open(f"/entry-points/{entry.id}")
    await admin.should_see("Telegram accepts at most 64 characters in a ref", marker="problem-telegram")
    await admin.should_see(marker="fits-messenger")


async def test_a_tab_whose_link_breaks_a_limit_is_marked_and_offers_no_qr_code(admin: User, demo: Database) -> None:
    ref = "summer-sale-for-everyone-who-follows-our-page-and-shares-it-in-2025"  # 67 characters: too long for Telegram
    with demo.write_session() as session:
        entry = create_entry_point(session=session, data=EntryPointCreate(name="Summer", ref=ref))
    await admin.open(f"/entry-points/{entry.id}")
    await admin.should_see(marker="tab-problem-telegram")
    await admin.should_see(marker="no-qr-telegram")
    await admin.should_see("No QR code: Telegram would refuse this link.")
    await admin.should_not_see(marker="qr-telegram")
    await admin.should_not_see(marker="download-png-telegram")
    await admin.should_not_see(marker="tab-problem-whatsapp")
    await admin.should_see(marker="qr-messenger")


async def test_typing_in_ref_keeps_the_chosen_tab(admin: User, demo: Database) -> None:
    await admin.open("/entry-points/1")
    admin.find(marker="tab-telegram").click()
    panels = next(iter(admin.find(kind=ui.tab_panels).elements))
    assert panels.value == "telegram"
    admin.find(marker="ref").type("-x")
    await admin.should_see("https://t.me/giveaway_helper_bot?start=giveaway2025-x", marker="entry-link-telegram")
    panels = next(iter(admin.find(kind=ui.tab_panels).elements))  # drawn again for the new ref
    assert panels.value == "telegram"


async def test_an_entry_point_that_starts_a_flow_can_create_the_first_flow_in_place(admin: User,
                                                                                    app_database: Database) -> None:
    await admin.open("/entry-points/new")
    admin.find(marker="name").type("Spring")
    admin.find(marker="ref").type("spring")
    next(iter(admin.find(marker="response_type").elements)).value = "flow"  # the User cannot click a toggle
    await admin.should_see("There is no flow yet: create one here, then build it on the Flows page.")
    admin.find(marker="create-flow").click()
    await admin.should_see(marker="new-flow-dialog")
    assert value_of(admin, "new-flow-name") == "Spring welcome"
    admin.find(marker="confirm-create-flow").click()
    await admin.should_see("Flow “Spring welcome” created and chosen.")
    with app_database.session() as session:
        [flow] = session.exec(select(Flow)).all()
    assert value_of(admin, "response_flow_id") == flow.id and value_of(admin, "name") == "Spring"  # nothing lost
    admin.find(marker="save-entry-point").click()
    await admin.should_see("Entry point “Spring” saved.")
    assert stored(app_database, "spring").response_flow_id == flow.id


async def test_a_new_workspace_links_to_its_own_web_chat(admin: User, app_database: Database) -> None:
    """With no channel filled in, Referflow's own web chat is there: its link works with no set-up."""
    with app_database.write_session() as session:
        entry = create_entry_point(session=session, data=EntryPointCreate(name="Spring", ref="spring"))
        settings = session.get(WorkspaceSettings, 1)
    await admin.open(f"/entry-points/{entry.id}")
    await admin.should_not_see("No channel is set up yet")
    await admin.should_not_see(marker="entry-link-messenger")
    assert text_of(admin, "entry-link-webchat") == (
        f"{settings.served_url}/webchat/?p={settings.webchat_own_account}&ref=spring")


async def test_an_unknown_entry_point_is_explained(admin: User) -> None:
    await admin.open("/entry-points/999")
    await admin.should_see("This entry point does not exist")


# ------------------------------------------------------------------------------------------------ counts, deleting


async def test_the_list_counts_opens_new_contacts_and_referrals(admin: User, demo: Database) -> None:
    await admin.open("/entry-points")
    await admin.should_see("Giveaway 2025")
    await admin.should_see("Starts flow “Share”")
    await admin.should_see("giveaway", marker="entry-point-list")
    assert [text_of(admin, f"{name}-1") for name in ("opens", "new", "referrals")] == ["0", "0", "0"]

    ann = open_link(demo, "psid-ann", GIVEAWAY, "Ann")
    open_link(demo, "psid-bob", f"{GIVEAWAY}-c{ann}", "Bob")
    open_link(demo, "psid-bob", f"{GIVEAWAY}-c{ann}", "Bob")  # counted once: "count each person once"
    open_link(demo, "psid-ann", GIVEAWAY, "Ann")
    open_link(demo, "psid-cat", "https://m.me/1234567890?ref=unknown", "Cat")  # no entry point: not in any row

    await admin.open("/entry-points")
    assert [text_of(admin, f"{name}-1") for name in ("opens", "new", "referrals")] == ["4", "2", "1"]


async def test_deleting_says_what_is_recorded_and_asks_first(admin: User, demo: Database) -> None:
    ann = open_link(demo, "psid-ann", GIVEAWAY, "Ann")
    open_link(demo, "psid-bob", f"{GIVEAWAY}-c{ann}", "Bob")
    await admin.open("/entry-points/1")
    admin.find(marker="delete-entry-point").click()
    await admin.should_see("2 opens and 1 counted referral are recorded for it.")
    await admin.should_see("so are the 2 triggers that listen to it")
    admin.find("Cancel").click()
    assert stored(demo, "giveaway2025") is not None

    admin.find(marker="delete-entry-point").click()
    admin.find(marker="confirm-delete").click()
    await admin.should_see("No entry points yet.")
    assert stored(demo, "giveaway2025") is None


# ------------------------------------------------------------------------------------------------ the paste box


async def test_the_paste_box_explains_referrer_payload_and_json(admin: User, demo: Database) -> None:
    with demo.write_session() as session:
        update_entry_point(session=session, entry_point_id=1,
                           data=EntryPointUpdate(payload_mapping=[{"key": "code", "field_id": 2}]))
    ann = open_link(demo, "psid-ann", GIVEAWAY, "Ann")
    await admin.open("/entry-points")
    admin.find(marker="paste-link").type(f"{GIVEAWAY}-c{ann}--SPRING--4--2--code--X1--seats--abc--color--red")
    await admin.should_see("Messenger", marker="parsed-channel", retries=WAITS)
    await admin.should_see("Giveaway 2025 (giveaway2025)", marker="parsed-entry", retries=WAITS)
    await admin.should_see(f"{ann} → Ann (contact #{ann} on messenger)", marker="parsed-referrer", retries=WAITS)
    await admin.should_see("coupon_code (by default payload field)", marker="payload-landing-0", retries=WAITS)
    await admin.should_see("saved as SPRING", marker="payload-landing-0", retries=WAITS)
    await admin.should_see("seats (by field ID)", marker="payload-landing-1", retries=WAITS)
    await admin.should_see("saved as 2", marker="payload-landing-1", retries=WAITS)
    await admin.should_see("coupon_code (by this entry point's payload mapping)", marker="payload-landing-2",
                           retries=WAITS)
    await admin.should_see("Field 'seats' is a number; 'abc' was not saved.", marker="payload-landing-3", retries=WAITS)
    await admin.should_see("No custom field has the ID or name 'color'", marker="payload-landing-4", retries=WAITS)

    admin.find(marker="paste-link").clear().type(
        'https://m.me/1234567890?ref=giveaway2025-c999jsondata--{"plan":"pro","seats":"three"}')
    await admin.should_see("No contact has the contact ID '999'", marker="parsed-referrer-note", retries=WAITS)
    await admin.should_see("plan (by JSON mapping)", marker="json-landing-0", retries=WAITS)
    await admin.should_see("saved as pro", marker="json-landing-0", retries=WAITS)
    await admin.should_see("Field 'seats' is a number; 'three' was not saved.", marker="json-landing-1", retries=WAITS)

    admin.find(marker="paste-link").clear().type("https://t.me/giveaway_helper_bot?start=giveawy2025--gold")
    await admin.should_see("Telegram", marker="parsed-channel", retries=WAITS)
    await admin.should_see("No entry point has the ref 'giveawy2025'. Did you mean 'giveaway2025'?", retries=WAITS)
    await admin.should_see("none — the person gets the default reply", marker="parsed-entry", retries=WAITS)
    await admin.should_see("The payload was not saved because the link's entry point is not known",
                           marker="payload-landing-0", retries=WAITS)


async def test_the_paste_box_shows_channel_limit_problems(admin: User, demo: Database) -> None:
    await admin.open("/entry-points")
    admin.find(marker="paste-link").type("https://ig.me/m/giveaway.shop?ref=giveaway2025--gold%20member")
    await admin.should_see("Instagram refs may only use letters, digits", marker="parsed-lint", retries=WAITS)
    await admin.should_see("saved as gold member", marker="payload-landing-0", retries=WAITS)


async def test_the_paste_box_shows_what_the_bot_would_do_and_saves_nothing(admin: User, demo: Database) -> None:
    ann = open_link(demo, "psid-ann", GIVEAWAY, "Ann")
    with demo.session() as session:
        contacts = session.execute(sa.text("SELECT count(*) FROM contact")).scalar_one()
    await admin.open("/entry-points")
    admin.find(marker="paste-link").type(f"{GIVEAWAY}-c{ann}--SPRING")
    await admin.should_see("Starts flow “Share”", marker="preview-response", retries=WAITS)
    await admin.should_see("coupon_code = SPRING", marker="preview-fields", retries=WAITS)
    await admin.should_see(f"To Ann (contact #{ann} on messenger): ")  # the referrer's trigger notifies her
    with demo.session() as session:
        assert session.execute(sa.text("SELECT count(*) FROM contact")).scalar_one() == contacts
        assert session.execute(sa.text("SELECT count(*) FROM referral")).scalar_one() == 0


async def test_the_paste_box_previews_what_the_entry_point_says_now(admin: User, demo: Database) -> None:
    """The preview runs on the app's live runtime, which keeps the workspace's definitions between opens: an edit
    made since the last preview is what the next one shows."""
    await admin.open("/entry-points")
    admin.find(marker="paste-link").type(f"{GIVEAWAY}--SPRING")
    await admin.should_see("Starts flow “Share”", marker="preview-response", retries=WAITS)
    with demo.write_session() as session:
        entry = session.exec(select(EntryPoint).where(EntryPoint.ref == "giveaway2025")).one()
        entry.response_type, entry.response_message = "message", "Thanks for dropping by!"
        session.add(entry)
    admin.find(marker="paste-link").clear().type(f"{GIVEAWAY}--AUTUMN")
    await admin.should_see("Thanks for dropping by!", marker="preview-response", retries=WAITS)


async def test_the_paste_box_says_when_a_preview_cannot_run(admin: User, demo: Database,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A database that does not answer leaves no stale explanation on screen: the box says the preview failed."""
    await admin.open("/entry-points")
    admin.find(marker="paste-link").type(f"{GIVEAWAY}--SPRING")
    await admin.should_see("coupon_code (by default payload field)", marker="payload-landing-0", retries=WAITS)

    def locked(**_: object) -> None:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(entry_point_links, "preview_link", locked)
    admin.find(marker="paste-link").clear().type(f"{GIVEAWAY}--AUTUMN")
    await admin.should_see(marker="preview-failed", retries=WAITS)
    await admin.should_not_see(marker="breakdown")
