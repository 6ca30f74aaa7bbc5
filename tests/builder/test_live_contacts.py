"""Live data in the builder: a contact's conversation with where each message's delivery stands, the referral tree and
Analytics from live opens, and the public address the web chat links are built from."""


import pytest
from nicegui.testing import User

from channels.delivery import DeliveryWorker, OutboxItem, PermanentFailure, TemporaryFailure
from runtime.opening import Inbound
from runtime.service import Runtime
from storage.db import Database
from storage.models import WorkspaceSettings
from tests.builder.helpers import figure
from tests.helpers import import_fixture


@pytest.fixture
def live(app_database: Database) -> Runtime:
    import_fixture(app_database)
    with Runtime(app_database, outbox=True) as runtime:
        yield runtime


def open_live(runtime: Runtime, user: str, name: str, ref: str) -> int:
    # telegram: no sender in the running app, so only the test's worker below delivers
    return runtime.open_link(Inbound(text=f"/start {ref}", channel="telegram", channel_user_id=user,
                                     first_name=name)).contact_id


async def deliver_once(database: Database) -> None:
    async def telegram(item: OutboxItem) -> None:
        if item.text == "Bob joined with your link!":
            raise PermanentFailure("Forbidden: bot was blocked by the user")
        if item.channel_user_id == "tg-bob":
            raise TemporaryFailure("Too Many Requests: retry after 30", retry_after=30)

    worker = DeliveryWorker(database)
    worker.register_sender("telegram", telegram)
    await worker.run_once()
    await worker.stop()


async def test_a_contact_page_shows_each_messages_delivery(admin: User, app_database: Database,
                                                           live: Runtime) -> None:
    ann = open_live(live, "tg-ann", "Ann", "giveaway2025")
    bob = open_live(live, "tg-bob", "Bob", f"giveaway2025-c{ann}")
    await deliver_once(app_database)

    await admin.open(f"/contacts/{ann}")
    await admin.should_see("Not delivered: Forbidden: bot was blocked by the user (1 attempt)")
    await admin.should_see(marker="delivery-sent")  # her welcome and personal link went out

    await admin.open(f"/contacts/{bob}")
    await admin.should_see("Pending, will retry: Too Many Requests: retry after 30 (1 attempt)")
    await admin.should_not_see(marker="delivery-sent")  # nothing of Bob's overtakes his first message
    await admin.should_not_see("Not delivered")


async def test_an_open_contact_page_shows_new_live_messages(admin: User, live: Runtime) -> None:
    ann = open_live(live, "tg-ann", "Ann", "giveaway2025")
    await admin.open(f"/contacts/{ann}")
    await admin.should_see(marker="delivery-pending")
    await admin.should_not_see("Cat joined with your link!")
    open_live(live, "tg-cat", "Cat", f"giveaway2025-c{ann}")
    await admin.should_see("Cat joined with your link!", retries=60)  # redrawn within a few seconds, no reload


async def test_live_opens_fill_the_referral_tree_and_analytics(admin: User, live: Runtime) -> None:
    ann = open_live(live, "tg-ann", "Ann", "giveaway2025")
    open_live(live, "tg-bob", "Bob", f"giveaway2025-c{ann}")
    await admin.open(f"/contacts/{ann}")
    await admin.should_see("Bob · telegram · brought in nobody yet")  # the referral tree
    await admin.open("/analytics")
    assert [figure(admin, name) for name in ("opens", "new-contacts", "referrals-counted")] == ["2", "2", "1"]
    await admin.should_see(marker=f"referrer-{ann}")


async def test_the_public_address_is_saved_and_bad_input_is_explained(admin: User, app_database: Database) -> None:
    await admin.open("/settings")
    admin.find(marker="public_url").type("bot.example.com")
    admin.find(marker="telegram_bot").type("shop_helper")
    admin.find(marker="save-settings").click()
    await admin.should_see("Nothing was saved: fix the fields marked in red.", retries=50)
    assert admin.find(marker="public_url").elements.pop().error.startswith("The public address must look like")
    assert admin.find(marker="telegram_bot").elements.pop().error  # both problems shown at once
    admin.find(marker="public_url").clear().type("https://bot.example.com/")
    admin.find(marker="telegram_bot").clear()
    admin.find(marker="save-settings").click()
    await admin.should_see("Settings saved.", retries=50)
    with app_database.session() as session:
        settings = session.get(WorkspaceSettings, 1)
    assert settings.public_url == "https://bot.example.com"
    await admin.open("/channels")
    await admin.should_see("Referflow serves it at https://bot.example.com/webchat.")
