"""The platform API client: what the delivery worker is told for each kind of answer, in the platform's words, and
never with the request's address (Telegram's holds the bot token)."""

import httpx
import pytest

from channels.delivery import PermanentFailure, TemporaryFailure
from channels.hooks.http import ApiUrls, PlatformApi

URL = "https://api.telegram.org/bot123:SECRET-TOKEN/sendMessage"


def _api(answer) -> PlatformApi:
    return PlatformApi(timeout=1.0, transport=httpx.MockTransport(answer))


@pytest.mark.parametrize(("status", "body", "failure", "text", "retry_after"), [
    (500, {"ok": False, "description": "Internal Server Error"}, TemporaryFailure,
     "Telegram: Internal Server Error", None),
    (502, None, TemporaryFailure, "Telegram: server error (HTTP 502)", None),
    (429, {"ok": False, "description": "Too Many Requests: retry after 7", "parameters": {"retry_after": 7}},
     TemporaryFailure, "Telegram: Too Many Requests: retry after 7", 7.0),
    (400, {"ok": False, "description": "Bad Request: chat not found"}, PermanentFailure,
     "Telegram: Bad Request: chat not found", None),
    (400, {"error": {"message": "(#100) Invalid parameter", "code": 100}}, PermanentFailure,
     "Telegram: (#100) Invalid parameter", None),
    (404, None, PermanentFailure, "Telegram refused the request (HTTP 404)", None),
])
async def test_answers_become_the_workers_failures(status, body, failure, text, retry_after) -> None:
    api = _api(lambda request: httpx.Response(status, json=body) if body is not None else httpx.Response(status))
    with pytest.raises(failure) as raised:
        await api.call("POST", URL, platform="Telegram", json={"chat_id": 1, "text": "hi"})
    assert str(raised.value) == text and "SECRET-TOKEN" not in str(raised.value)
    if retry_after is not None:
        assert raised.value.retry_after == retry_after
    await api.close()


async def test_a_timeout_and_an_unreachable_platform_are_temporary_and_name_no_address() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot connect to {request.url}", request=request)

    for answer, text in ((slow, "Telegram did not answer within 1 s"), (down, "Telegram could not be reached")):
        api = _api(answer)
        with pytest.raises(TemporaryFailure) as raised:
            await api.call("POST", URL, platform="Telegram")
        assert str(raised.value).startswith(text) and "SECRET-TOKEN" not in str(raised.value)
        await api.close()


async def test_a_2xx_gives_the_platforms_json() -> None:
    api = _api(lambda request: httpx.Response(200, json={"ok": True, "result": {"message_id": 5}}))
    assert await api.call("POST", URL, platform="Telegram") == {"ok": True, "result": {"message_id": 5}}
    await api.close()


def test_api_addresses_default_to_the_platforms_and_refuse_what_is_not_http() -> None:
    assert ApiUrls.from_env({}) == ApiUrls()
    assert ApiUrls.from_env({"REFERFLOW_TELEGRAM_API_URL": "http://127.0.0.1:9/"}).telegram == "http://127.0.0.1:9"
    with pytest.raises(ValueError, match="not an http"):
        ApiUrls.from_env({"REFERFLOW_VIBER_API_URL": "ftp://example.org"})
