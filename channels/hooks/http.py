"""Calling the platforms' APIs: base addresses from settings, and their answers turned into the delivery worker's two
failures — a timeout, a 5xx or a 429 is a TemporaryFailure (retried); a 4xx is a PermanentFailure that keeps the
platform's own error text, which the admin reads on the contact's transcript and the Channels page.

Error texts never carry the request's address: Telegram's holds the bot token.
"""

import logging
import os
from dataclasses import dataclass
from typing import Any

import httpx

from channels.delivery import PermanentFailure, TemporaryFailure

DEFAULT_TIMEOUT = 10.0  # seconds for one API call; REFERFLOW_API_TIMEOUT changes it


def api_timeout(env: dict[str, str] | None = None) -> float:
    value = (os.environ if env is None else env).get("REFERFLOW_API_TIMEOUT", "").strip()
    try:
        seconds = float(value) if value else DEFAULT_TIMEOUT
    except ValueError:
        raise ValueError(f"REFERFLOW_API_TIMEOUT='{value}' is not a number of seconds") from None
    if not 0.1 <= seconds <= 120:
        raise ValueError(f"REFERFLOW_API_TIMEOUT='{value}': give between 0.1 and 120 seconds")
    return seconds


@dataclass(frozen=True)
class ApiUrls:
    """Where each platform's API is; tests point them at a stand-in server on 127.0.0.1."""

    telegram: str = "https://api.telegram.org"
    meta_graph: str = "https://graph.facebook.com/v21.0"  # Messenger, Instagram and WhatsApp share the Graph API
    viber: str = "https://chatapi.viber.com/pa"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "ApiUrls":
        env = os.environ if env is None else env
        defaults = cls()
        return cls(telegram=_base(env.get("REFERFLOW_TELEGRAM_API_URL"), defaults.telegram),
                   meta_graph=_base(env.get("REFERFLOW_META_GRAPH_URL"), defaults.meta_graph),
                   viber=_base(env.get("REFERFLOW_VIBER_API_URL"), defaults.viber))


def _base(value: str | None, default: str) -> str:
    value = (value or "").strip().rstrip("/")
    if value and not value.startswith(("https://", "http://")):
        raise ValueError(f"'{value}' is not an http(s) address for a platform API")
    return value or default


class PlatformApi:
    """One HTTP client for every platform call of the process (created in the event loop that uses it)."""

    def __init__(self, *, timeout: float = DEFAULT_TIMEOUT, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.timeout = timeout
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    async def call(self, method: str, url: str, *, platform: str, json: Any = None,
                   params: dict[str, str] | None = None, headers: dict[str, str] | None = None) -> dict[str, Any]:
        """The platform's JSON answer to a 2xx; raises TemporaryFailure or PermanentFailure otherwise."""
        response = await self.request(method, url, platform=platform, json=json, params=params, headers=headers)
        body = _json(response)
        if response.status_code == 429:
            raise TemporaryFailure(f"{platform}: {error_text(body) or 'Too Many Requests'}",
                                   retry_after=_retry_after(response, body))
        if response.status_code >= 500:
            raise TemporaryFailure(f"{platform}: {error_text(body) or f'server error (HTTP {response.status_code})'}")
        if response.status_code >= 400:
            text = error_text(body)
            raise PermanentFailure(f"{platform}: {text}" if text else
                                   f"{platform} refused the request (HTTP {response.status_code})")
        if not isinstance(body, dict):
            raise TemporaryFailure(f"{platform} answered with something that is not a JSON object")
        return body

    async def request(self, method: str, url: str, *, platform: str, json: Any = None,
                      params: dict[str, str] | None = None, headers: dict[str, str] | None = None) -> httpx.Response:
        """The platform's answer as it is, whatever its status (for platforms whose errors need their own reading:
        the Graph API answers throttling with HTTP 400); a timeout or an unreachable platform is a TemporaryFailure."""
        client = self._client or self._open()
        try:
            return await client.request(method, url, json=json, params=params, headers=headers)
        except httpx.TimeoutException:
            raise TemporaryFailure(f"{platform} did not answer within {self.timeout:g} s") from None
        except httpx.HTTPError as error:
            raise TemporaryFailure(f"{platform} could not be reached ({type(error).__name__})") from None

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _open(self) -> httpx.AsyncClient:
        logging.getLogger("httpx").setLevel(logging.WARNING)  # its INFO lines carry the URL: Telegram's has the token
        self._client = httpx.AsyncClient(timeout=self.timeout, transport=self._transport, trust_env=False,
                                         follow_redirects=False)
        return self._client


def error_text(body: object) -> str:
    """The platform's own words about an error: Telegram's `description`, the Graph API's `error.message`, Viber's
    `status_message`."""
    if not isinstance(body, dict):
        return ""
    error = body.get("error")
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return error["message"]
    for key in ("description", "status_message", "message"):
        if isinstance(body.get(key), str) and body[key]:
            return body[key]
    return ""


def _json(response: httpx.Response) -> object:
    try:
        return response.json()
    except ValueError:
        return None


def _retry_after(response: httpx.Response, body: object) -> float | None:
    parameters = body.get("parameters") if isinstance(body, dict) else None
    if isinstance(parameters, dict) and isinstance(parameters.get("retry_after"), int | float):
        return float(parameters["retry_after"])
    try:
        return float(response.headers.get("retry-after", ""))
    except ValueError:
        return None
