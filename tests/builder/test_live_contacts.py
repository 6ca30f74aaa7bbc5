"""A live conversation on a contact's page: every message the bot sent with where its delivery stands."""

import json
from pathlib import Path

import pytest
from nicegui.testing import User

from channels.delivery import DeliveryWorker, OutboxItem, PermanentFailure, TemporaryFailure
from runtime.opening import Inbound
from runtime.service import Runtime
from storage.db import Database
from storage.workspace_io import import_workspace

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "referral_program.json"


@pytest.fixture
def live(app_database: Database) -> Runtime:
    with app_database.write_session() as session:
        import_workspace(session=session, document=json.loads(FIXTURE.read_text()))
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
