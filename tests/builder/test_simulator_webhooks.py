"""The simulator's "as the channel's real webhook": an open delivered as Messenger's or WhatsApp's own webhook body,
through the live route's code on the sandbox, and the same delivery again changing nothing."""

import pytest
import sqlalchemy as sa
from nicegui.testing import User

from storage.db import Database
from tests.builder.helpers import choose, element
from tests.helpers import import_fixture

GIVEAWAY = "https://m.me/1234567890?ref=giveaway2025"


@pytest.fixture
def demo(app_database: Database) -> Database:
    """The demo referral program."""
    import_fixture(app_database)
    return app_database


def count(database: Database, table: str) -> int:
    with database.engine.connect() as connection:
        return connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()


def sandbox(user: User) -> Database:
    from nicegui import app

    return app.state.referflow_simulator.database


async def open_by_webhook(user: User, name: str, link: str | None = None) -> None:
    if link is not None:
        user.find(marker="link").clear().type(link)
    user.find(marker="person-name").clear().type(name)
    if not element(user, "as-webhook").value:
        user.find(marker="as-webhook").click()
    user.find(marker="open").click()
    await user.should_see(f"{name} opened ")


async def test_a_messenger_referral_arrives_as_metas_webhook_and_a_redelivery_changes_nothing(
        admin: User, demo: Database) -> None:
    await admin.open("/simulator")
    await open_by_webhook(admin, "Ann", GIVEAWAY)
    await admin.should_see("Delivered as Messenger's webhook")
    await admin.should_see("Invite your friends with your personal link: https://m.me/1234567890?ref=giveaway2025-c1"
                           "\nThree friends who join get you a coupon!")
    choose(admin, "referrer", "Ann · #1 · Messenger")
    await open_by_webhook(admin, "Bob")
    await admin.should_see("Referral counted", marker="referral-status")
    await admin.should_see("Bob joined with your link!")
    people, referrals, messages = (count(sandbox(admin), t) for t in ("contact", "referral", "message"))
    admin.find(marker="deliver-again").click()
    await admin.should_see("Messenger delivered the same webhook again")
    await admin.should_see("The same event id came in again, so nothing changed", marker="webhook-duplicate")
    await admin.should_see("already processed; nothing changed this time")
    await admin.should_see("Nothing: no event, no trigger, no message.", marker="timeline-empty")
    assert (count(sandbox(admin), "contact"), count(sandbox(admin), "referral"), count(sandbox(admin), "message")) \
        == (people, referrals, messages)


async def test_the_body_shown_is_the_one_meta_sends_for_a_new_conversation(
        admin: User, demo: Database) -> None:
    from nicegui import ui

    await admin.open("/simulator")
    await open_by_webhook(admin, "Ann", GIVEAWAY)
    [code] = admin.find(kind=ui.code).elements
    assert '"object": "page"' in code.content
    assert '"payload": "GET_STARTED"' in code.content
    assert '"ref": "giveaway2025"' in code.content


async def test_a_whatsapp_open_is_the_ref_as_a_text_message(admin: User, demo: Database) -> None:
    from nicegui import ui

    await admin.open("/simulator")
    await open_by_webhook(admin, "Wes", "https://wa.me/15551234567?text=/giveaway2025")
    await admin.should_see("Delivered as WhatsApp's webhook")
    [code] = admin.find(kind=ui.code).elements
    assert '"body": "/giveaway2025"' in code.content
    await admin.should_see("Invite your friends with your personal link: https://wa.me/15551234567?text="
                           "/giveaway2025-c1")


async def test_telegram_and_viber_opens_arrive_as_their_own_updates(admin: User, demo: Database) -> None:
    from nicegui import ui

    await admin.open("/simulator")
    await open_by_webhook(admin, "Tom", "https://t.me/giveaway_helper_bot?start=giveaway2025")
    await admin.should_see("Delivered as Telegram's webhook")
    [code] = admin.find(kind=ui.code).elements
    assert '"text": "/start giveaway2025"' in code.content
    await admin.should_see("Invite your friends with your personal link: https://t.me/giveaway_helper_bot?start="
                           "giveaway2025-c1")
    admin.find(marker="deliver-again").click()
    await admin.should_see("The same event id came in again, so nothing changed", marker="webhook-duplicate")
    await open_by_webhook(admin, "Val", "viber://pa?chatURI=giveawaybot&context=giveaway2025")
    await admin.should_see("Delivered as Viber's webhook")
    [code] = admin.find(kind=ui.code).elements
    assert '"event": "conversation_started"' in code.content and '"context": "giveaway2025"' in code.content
    await admin.should_see("Invite your friends with your personal link: viber://pa?chatURI=giveawaybot&context="
                           "giveaway2025-c2")
    assert count(sandbox(admin), "contact") == 2
