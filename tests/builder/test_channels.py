"""The Channels page through NiceGUI's User: each channel's state and activity, what connecting takes, and the web
chat's links, embed snippet and open button."""

import asyncio

from nicegui.testing import User

from channels.delivery import DeliveryWorker, OutboxItem, PermanentFailure
from runtime.opening import Inbound
from runtime.service import Runtime
from storage.db import Database
from storage.models import WorkspaceSettings
from tests.builder.helpers import text_of
from tests.helpers import import_fixture


async def test_a_new_workspace_has_a_connected_web_chat_and_says_what_the_others_take(admin: User) -> None:
    await admin.open("/channels")
    assert text_of(admin, "state-webchat") == "Connected"
    await admin.should_see("No entry points yet: create one to get a web chat link.")
    assert text_of(admin, "state-telegram") == "Not connected"
    await admin.should_see("Create a bot with @BotFather and copy its token.")
    assert text_of(admin, "pending-telegram") == "0"
    assert text_of(admin, "last-event-webchat") == "never"


async def test_web_chat_links_snippet_and_open_button_per_entry_point(admin: User, app_database: Database) -> None:
    import_fixture(app_database)
    await admin.open("/channels")  # the fixture points web chat links at another chat
    assert text_of(admin, "webchat-link-giveaway2025") == "https://chat.example.com/webchat/?p=acc-123&ref=giveaway2025"
    assert text_of(admin, "webchat-where") == ("Links lead to the web chat at https://chat.example.com/webchat, set "
                                               "in Settings.")

    with app_database.write_session() as session:  # left to Referflow: its own chat
        settings = session.get(WorkspaceSettings, 1)
        settings.webchat_base_url = settings.webchat_account_id = ""
        session.add(settings)
    link = f"{settings.served_url}/webchat/?p={settings.webchat_own_account}&ref=giveaway2025"
    await admin.open("/channels")
    assert text_of(admin, "webchat-link-giveaway2025") == link
    assert text_of(admin, "webchat-where") == f"Referflow serves it at {settings.served_url}/webchat."
    snippet = text_of(admin, "embed-snippet")
    assert snippet.startswith("<script ") and link.replace("&", "&amp;") in snippet
    admin.find(marker="open-chat-giveaway2025").click()  # opens the chat in a new tab (no error here)


async def test_activity_pending_messages_and_the_last_delivery_error(admin: User, app_database: Database) -> None:
    import_fixture(app_database)
    with Runtime(app_database, outbox=True) as live:
        for user in ("tg-ann", "tg-bob"):
            live.open_link(Inbound(text="/start giveaway2025", channel="telegram", channel_user_id=user,
                                   first_name=user))

    async def refuses_bob(item: OutboxItem) -> None:
        if item.channel_user_id == "tg-bob":
            raise PermanentFailure("Bad Request: chat not found")
        accepted.append(item.id)

    accepted: list[int] = []
    worker = DeliveryWorker(app_database)
    worker.register_sender("telegram", refuses_bob)
    await worker.run_once()
    await worker.stop()
    assert accepted  # Ann's went out
    with Runtime(app_database, outbox=True) as live:  # one more open: its messages wait (nobody delivers telegram)
        live.open_link(Inbound(text="/start giveaway2025", channel="telegram", channel_user_id="tg-cat",
                               first_name="Cat"))

    await admin.open("/channels")
    assert text_of(admin, "contacts-telegram") == "3"
    assert text_of(admin, "last-event-telegram") == "just now"
    assert int(text_of(admin, "pending-telegram")) >= 1
    assert int(text_of(admin, "failed-telegram")) >= 1
    assert text_of(admin, "last-error-telegram").endswith(
        "1 attempt, not delivered): Bad Request: chat not found")
    assert text_of(admin, "state-telegram") == "Links only — not connected"  # the fixture has a bot username


async def test_an_open_channels_page_follows_new_activity(admin: User, app_database: Database) -> None:
    import_fixture(app_database)
    await admin.open("/channels")
    assert text_of(admin, "pending-telegram") == "0"
    with Runtime(app_database, outbox=True) as live:
        live.open_link(Inbound(text="/start giveaway2025", channel="telegram", channel_user_id="tg-ann",
                               first_name="Ann"))
    for _ in range(100):  # redrawn within a few seconds, no reload
        if text_of(admin, "contacts-telegram") == "1":
            break
        await asyncio.sleep(0.1)
    assert text_of(admin, "contacts-telegram") == "1"
    assert text_of(admin, "pending-telegram") != "0"
