"""Connecting Messenger, Instagram and WhatsApp (what the Channels page and `referflow channels connect` call): the
id and token are checked with Meta, Messenger gets its Get Started button, and the admin is told the callback URL,
the verify token and the webhook fields — against a stand-in Graph API that checks each request as Meta documents."""

import json

import pytest
from cryptography.fernet import Fernet
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from channels.hooks import ConnectError, Hooks
from channels.hooks.http import ApiUrls, PlatformApi
from channels.meta_live import meta_hook_channels
from runtime.service import Runtime
from storage.channel_connections import get_connection, list_connections
from storage.db import Database
from storage.secrets import SecretBox

TOKEN = "EAAGpage" + "x" * 40
SECRET = "0123456789abcdef0123456789abcdef"


class Worker:
    def __init__(self) -> None:
        self.channels: list[str] = []

    def register_sender(self, channel, sender, policy=None, *, reachable=None) -> None:
        self.channels.append(channel)


@pytest.fixture
async def hooks(database: Database, httpserver: HTTPServer):
    box = SecretBox(Fernet(Fernet.generate_key()))
    with Runtime(database, outbox=True) as runtime:
        hooks = Hooks(database=database, runtime=runtime, worker=Worker(), box=box,
                      urls=ApiUrls(meta_graph=httpserver.url_for("/v21.0")), api=PlatformApi(),
                      channels={spec.name: spec for spec in meta_hook_channels()},
                      public_url=lambda: "https://bot.example.com")
        yield hooks
        await hooks.api.close()


def identities(database: Database) -> dict:
    with database.raw_connection() as connection:
        row = connection.execute("SELECT page_id, whatsapp_number, instagram_username FROM workspace_settings"
                                 " WHERE id = 1").fetchone()
    return dict(zip(("page_id", "whatsapp_number", "instagram_username"), row, strict=True))


def bearer(request: Request) -> bool:
    return request.headers.get("Authorization") == f"Bearer {TOKEN}" and "access_token" not in request.args


def answer(request: Request, body: dict, *, expect_json: dict | None = None) -> Response:
    if not bearer(request) or (expect_json is not None and json.loads(request.get_data() or b"null") != expect_json):
        return Response(json.dumps({"error": {"message": "Invalid OAuth access token.", "code": 190}}), status=400,
                        content_type="application/json")
    return Response(json.dumps(body), content_type="application/json")


async def test_connecting_messenger_checks_the_page_sets_get_started_and_says_what_to_subscribe(
        hooks: Hooks, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/v21.0/1234567890", method="GET", query_string="fields=id%2Cname").respond_with_handler(
        lambda r: answer(r, {"id": "1234567890", "name": "Giveaway Shop"}))
    httpserver.expect_request("/v21.0/me/messenger_profile", method="POST").respond_with_handler(
        lambda r: answer(r, {"result": "success"}, expect_json={"get_started": {"payload": "GET_STARTED"}}))
    httpserver.expect_request("/v21.0/1234567890/subscribed_apps", method="POST", query_string=(
        "subscribed_fields=messages%2Cmessaging_postbacks%2Cmessaging_referrals")).respond_with_handler(
        lambda r: answer(r, {"success": True}))

    result = await hooks.connect("messenger", {"page_id": " 1234567890 ", "access_token": TOKEN,
                                               "app_secret": SECRET})

    assert len(httpserver.log) == 3 and all(response.status_code == 200 for _, response in httpserver.log)
    saved = get_connection(database=hooks.database, box=hooks.box, channel="messenger")
    assert (saved.bot_id, saved.settings["name"], saved.secrets) == (
        "1234567890", "Giveaway Shop", {"access_token": TOKEN, "app_secret": SECRET})
    assert result.notes[0] == "Callback URL: https://bot.example.com/hooks/messenger"
    assert result.notes[1] == f"Verify token (shown this once): {saved.verify_token}"
    assert len(saved.verify_token) >= 24
    assert "Subscribe to the fields: messages, messaging_postbacks, messaging_referrals." in result.notes
    assert saved.masked() == {"access_token": "••••xxxx", "app_secret": "••••cdef",
                              "verify_token": "••••" + saved.verify_token[-4:]}
    assert hooks.worker.channels == ["messenger"]  # delivering starts
    assert identities(hooks.database)["page_id"] == "1234567890"  # m.me links are built with it


async def test_a_token_meta_refuses_is_explained_in_metas_words_and_nothing_is_saved(
        hooks: Hooks, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/v21.0/1234567890", method="GET").respond_with_json(
        {"error": {"message": "Invalid OAuth access token - Cannot parse access token", "type": "OAuthException",
                   "code": 190}}, status=400)
    with pytest.raises(ConnectError) as refused:
        await hooks.connect("messenger", {"page_id": "1234567890", "access_token": TOKEN, "app_secret": SECRET})
    assert str(refused.value) == ("Meta did not accept the Facebook page id and access token: Messenger: Invalid "
                                  "OAuth access token - Cannot parse access token (code 190)")
    assert list_connections(database=hooks.database, box=hooks.box) == []


@pytest.mark.parametrize(("values", "words"), [
    ({"page_id": "my-page", "access_token": TOKEN, "app_secret": SECRET},
     "The Facebook page id is the number Meta shows for it (digits only), not 'my-page'."),
    ({"page_id": "1234567890", "access_token": "EAAG", "app_secret": SECRET},
     "The access token looks cut short or has spaces in it: copy it again from the Meta app."),
    ({"page_id": "1234567890", "access_token": TOKEN, "app_secret": ""},
     "The app secret is the 32 letters and digits under App settings > Basic in the Meta app."),
])
async def test_what_the_admin_typed_wrong_is_said_before_asking_meta(hooks: Hooks, httpserver: HTTPServer, values,
                                                                    words) -> None:
    with pytest.raises(ConnectError) as refused:
        await hooks.connect("messenger", values)
    assert str(refused.value) == words
    assert httpserver.log == []


async def test_connecting_whatsapp_reads_the_number_and_instagram_notes_the_ice_breaker(
        hooks: Hooks, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/v21.0/106540352242922", method="GET").respond_with_handler(lambda r: answer(
        r, {"id": "106540352242922", "display_phone_number": "+1 555-000-1111", "verified_name": "Giveaway"}))
    httpserver.expect_request("/v21.0/17841400000000", method="GET").respond_with_handler(lambda r: answer(
        r, {"id": "17841400000000", "username": "giveaway.shop"}))
    whatsapp = await hooks.connect("whatsapp", {"phone_number_id": "106540352242922", "access_token": TOKEN,
                                                "app_secret": SECRET})
    instagram = await hooks.connect("instagram", {"account_id": "17841400000000", "access_token": TOKEN,
                                                  "app_secret": SECRET})
    assert whatsapp.connection.settings["display_phone_number"] == "+1 555-000-1111"
    assert identities(hooks.database)["whatsapp_number"] == "15550001111"  # wa.me/15550001111?text=/REF
    assert identities(hooks.database)["instagram_username"] == "giveaway.shop"
    assert "Subscribe to the fields: messages." in whatsapp.notes
    assert instagram.notes[-1] == ("Give the account at least one Ice Breaker: without one, ig.me links with a ref "
                                   "do not reach new conversations.")
    lines = await hooks.channels["whatsapp"].status(hooks, whatsapp.connection)
    assert ("Number", "+1 555-000-1111") in lines
    assert ("Callback URL", "https://bot.example.com/hooks/whatsapp") in lines
    assert [request.path for request, _ in httpserver.log] == ["/v21.0/106540352242922", "/v21.0/17841400000000"]
