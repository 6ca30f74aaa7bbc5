"""Client addresses behind trusted proxies, same-site redirect targets, and which paths may be framed."""

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from builder.web_security import (
    PUBLIC_AREAS,
    WebSettings,
    client_address,
    install_security_headers,
    is_https,
    parse_forwarded_header,
    parse_secure_cookies,
    parse_trusted_proxies,
    public_area,
    safe_redirect_target,
)
from channels.asgi import wrap_app

TRUSTED = parse_trusted_proxies("10.0.0.0/8, 127.0.0.1, ::1")
PROXIES = WebSettings(trusted_proxies=TRUSTED)  # they write X-Forwarded-For and X-Forwarded-Proto
RFC_PROXIES = WebSettings(trusted_proxies=TRUSTED, forwarded_header="forwarded")  # they write Forwarded


def scope(peer: str, *headers: tuple[str, str], scheme: str = "http") -> dict:
    return {"type": "http", "client": (peer, 5000), "scheme": scheme,
            "headers": [(name.lower().encode(), value.encode()) for name, value in headers]}


@pytest.mark.parametrize(("peer", "headers", "expected"), [
    ("203.0.113.5", [("X-Forwarded-For", "1.2.3.4")], "203.0.113.5"),  # a stranger's header means nothing
    ("127.0.0.1", [], "127.0.0.1"),
    ("127.0.0.1", [("X-Forwarded-For", "198.51.100.7")], "198.51.100.7"),
    ("127.0.0.1", [("X-Forwarded-For", "6.6.6.6, 198.51.100.7, 10.2.3.4")], "198.51.100.7"),  # forged left part
    ("127.0.0.1", [("X-Forwarded-For", "6.6.6.6"), ("X-Forwarded-For", "198.51.100.7")], "198.51.100.7"),
    ("127.0.0.1", [("X-Forwarded-For", "garbage, 10.0.0.9")], "10.0.0.9"),
    ("127.0.0.1", [("X-Forwarded-For", "198.51.100.7:443")], "198.51.100.7"),
    ("127.0.0.1", [("Forwarded", "for=6.6.6.6"), ("X-Forwarded-For", "198.51.100.7")], "198.51.100.7"),
])
def test_client_address_behind_x_forwarded_for_proxies(peer: str, headers: list, expected: str) -> None:
    assert client_address(scope(peer, *headers), PROXIES) == expected


@pytest.mark.parametrize(("peer", "headers", "expected"), [
    ("203.0.113.5", [("Forwarded", "for=1.2.3.4")], "203.0.113.5"),
    ("::1", [("Forwarded", 'for="[2001:db8::7]:4711";proto=https')], "2001:db8::7"),
    ("127.0.0.1", [("Forwarded", "for=6.6.6.6, for=192.0.2.60;by=10.0.0.1")], "192.0.2.60"),
    ("127.0.0.1", [("Forwarded", "for=unknown")], "127.0.0.1"),
    ("127.0.0.1", [("Forwarded", "for=192.0.2.60"), ("X-Forwarded-For", "6.6.6.6")], "192.0.2.60"),
])
def test_client_address_behind_forwarded_proxies(peer: str, headers: list, expected: str) -> None:
    assert client_address(scope(peer, *headers), RFC_PROXIES) == expected


def test_https_is_believed_only_from_a_trusted_proxy_in_the_header_it_writes() -> None:
    assert is_https(scope("203.0.113.5", scheme="https"), PROXIES)
    assert not is_https(scope("203.0.113.5", ("X-Forwarded-Proto", "https")), PROXIES)
    assert is_https(scope("10.0.0.1", ("X-Forwarded-Proto", "https")), PROXIES)
    assert not is_https(scope("10.0.0.1", ("X-Forwarded-Proto", "http")), PROXIES)
    assert not is_https(scope("10.0.0.1", ("Forwarded", "for=192.0.2.1;proto=https")), PROXIES)
    assert is_https(scope("10.0.0.1", ("Forwarded", "for=192.0.2.1;proto=https")), RFC_PROXIES)
    assert not is_https(scope("10.0.0.1", ("X-Forwarded-Proto", "https")), RFC_PROXIES)


def test_settings_are_explained_when_wrong() -> None:
    with pytest.raises(ValueError, match=r"REFERFLOW_TRUSTED_PROXIES: 'proxy\.local' is not an IP address"):
        parse_trusted_proxies("10.0.0.1, proxy.local")
    with pytest.raises(ValueError, match="REFERFLOW_SECURE_COOKIES: 'maybe' is not understood"):
        parse_secure_cookies("maybe")
    with pytest.raises(ValueError, match="REFERFLOW_FORWARDED_HEADER: 'x-real-ip' is not understood"):
        parse_forwarded_header("x-real-ip")
    assert parse_forwarded_header(" Forwarded ") == "forwarded"
    assert parse_secure_cookies(None) is None
    assert parse_secure_cookies(" 1 ") is True


@pytest.mark.parametrize("target", [
    "/\\example.org/", "/\t/example.org/", "/\\\\example.org", "//example.org", "///example.org",
    "https://example.org", "http:/example.org", "javascript:alert(1)", "/\n/example.org", " /x", "example.org",
    "/\u3000/example.org", "", None,
])
def test_only_same_site_paths_are_redirect_targets(target: str | None) -> None:
    assert safe_redirect_target(target) == "/"


@pytest.mark.parametrize("target", ["/", "/flows/12", "/entry-points?tab=links", "/flows/%C2%B2", "/%5Cexample.org",
                                    "/a/./b"])
def test_local_paths_are_kept(target: str) -> None:
    assert safe_redirect_target(target) == target


async def test_the_web_chat_may_be_embedded_while_admin_pages_may_not() -> None:
    app = Starlette(routes=[Route("/{path:path}", lambda request: PlainTextResponse("hi"))])
    install_security_headers(app, WebSettings())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://test") as client:
        chat = (await client.get("/webchat/")).headers
        admin = (await client.get("/flows")).headers
    assert "frame-ancestors *" in chat["content-security-policy"]
    assert "x-frame-options" not in chat
    assert chat["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in admin["content-security-policy"]
    assert admin["x-frame-options"] == "DENY"


def test_the_web_chat_may_be_framed_and_webhooks_need_no_session() -> None:
    assert public_area("/webchat/").framable
    assert public_area("/webchat").framable
    assert not public_area("/hooks/telegram").framable
    assert public_area("/webchatter") is None
    assert not public_area("/login").framable


def test_public_areas_are_local_paths() -> None:
    for area in PUBLIC_AREAS:
        assert area.prefix.startswith("/") and not area.prefix.startswith("//")
        assert area.prefix == "/" + area.prefix.strip("/")


async def test_the_app_wrappers_keep_their_order_whatever_order_they_are_installed_in() -> None:
    app = Starlette(routes=[Route("/{path:path}", lambda request: PlainTextResponse("admin"))])
    install_security_headers(app, WebSettings())
    wrap_app(app, "webchat", lambda admin: _answer_under("/webchat", "chat", admin))
    wrap_app(app, "hooks", lambda admin: _answer_under("/hooks", "hooks", admin))
    install_security_headers(app, WebSettings())  # again: it replaces itself, it does not wrap twice
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://test") as client:
        answers = {path: await client.get(path) for path in ("/webchat/", "/hooks/telegram", "/flows")}
    assert {path: answer.text for path, answer in answers.items()} == {
        "/webchat/": "chat", "/hooks/telegram": "hooks", "/flows": "admin"}
    assert all(answer.headers.get_list("x-content-type-options") == ["nosniff"] for answer in answers.values())


def test_a_wrapper_without_a_place_is_refused() -> None:
    with pytest.raises(ValueError, match="'metrics' has no place among the app's wrappers"):
        wrap_app(Starlette(), "metrics", lambda inner: inner)


def _answer_under(prefix: str, text: str, inner: ASGIApp) -> ASGIApp:
    async def answer(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(prefix):
            await PlainTextResponse(text)(scope, receive, send)
            return
        await inner(scope, receive, send)
    return answer
