"""Connecting Messenger and Instagram from the Channels page (NiceGUI's User; the Graph API is a stand-in on
127.0.0.1): the page and token are checked with Meta, the callback URL, the verify token (once) and the fields to
subscribe are shown, the secrets afterwards only masked; Instagram says it needs an Ice Breaker."""

import json

import pytest
from nicegui.testing import User
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from storage.db import Database

TOKEN = "EAAGpage" + "t" * 40
SECRET = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def graph_api(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> HTTPServer:
    def answer(body: dict):
        def handler(request: Request) -> Response:
            if request.headers.get("Authorization") != f"Bearer {TOKEN}":
                return Response(json.dumps({"error": {"message": "Invalid OAuth access token.", "code": 190}}),
                                400, content_type="application/json")
            return Response(json.dumps(body), content_type="application/json")
        return handler

    httpserver.expect_request("/v21.0/1234567890", method="GET").respond_with_handler(
        answer({"id": "1234567890", "name": "Giveaway Shop"}))
    httpserver.expect_request("/v21.0/me/messenger_profile", method="POST").respond_with_handler(
        answer({"result": "success"}))
    httpserver.expect_request("/v21.0/1234567890/subscribed_apps", method="POST").respond_with_handler(
        answer({"success": True}))
    httpserver.expect_request("/v21.0/17841400000000", method="GET").respond_with_handler(
        answer({"id": "17841400000000", "username": "giveaway.shop"}))
    monkeypatch.setenv("REFERFLOW_META_GRAPH_URL", httpserver.url_for("/v21.0"))
    return httpserver


async def test_connect_messenger_from_the_page(graph_api: HTTPServer, admin: User, app_database: Database) -> None:
    await admin.open("/channels")
    admin.find(marker="connect-messenger-page_id").type("1234567890")
    admin.find(marker="connect-messenger-access_token").type("EAAGwrong" + "w" * 40)
    admin.find(marker="connect-messenger-app_secret").type(SECRET)
    admin.find(marker="connect-messenger").click()
    await admin.should_see("Meta did not accept the Facebook page id and access token: Messenger: Invalid OAuth "
                           "access token. (code 190)", retries=50)

    admin.find(marker="connect-messenger-access_token").clear().type(TOKEN)
    admin.find(marker="connect-messenger").click()
    await admin.should_see("Subscribe to the fields: messages, messaging_postbacks, messaging_referrals.", retries=50)
    await admin.should_see("/hooks/messenger")
    await admin.should_see("Verify token (shown this once): ")
    await admin.should_see("Referflow set the page's Get Started button")
    with app_database.raw_connection() as connection:
        assert connection.execute("SELECT page_id FROM workspace_settings").fetchone() == ("1234567890",)

    await admin.open("/channels")  # as it stands afterwards: secrets masked, nothing in full
    await admin.should_not_see(TOKEN)
    await admin.should_not_see(SECRET)
    await admin.should_not_see("Verify token (shown this once)")
    await admin.should_see("Giveaway Shop")


async def test_connect_instagram_says_it_needs_an_ice_breaker(graph_api: HTTPServer, admin: User,
                                                              app_database: Database) -> None:
    await admin.open("/channels")
    admin.find(marker="connect-instagram-account_id").type("17841400000000")
    admin.find(marker="connect-instagram-access_token").type(TOKEN)
    admin.find(marker="connect-instagram-app_secret").type(SECRET)
    admin.find(marker="connect-instagram").click()
    await admin.should_see("Give the account at least one Ice Breaker: without one, ig.me links with a ref do not "
                           "reach new conversations.", retries=50)
    await admin.should_see("Subscribe to the fields: messages, messaging_postbacks, messaging_referral.")
