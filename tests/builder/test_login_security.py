"""The admin login as an attacker tries it: copied cookies, replayed tickets, forwarded headers, many addresses,
and the security headers of every response (issue 10, items 9, 10 and 11)."""

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from nicegui import Client, core
from nicegui.testing import User

import storage.auth
from tests.helpers import ADMIN_PASSWORD


async def sign_in(user: User, password: str = ADMIN_PASSWORD, path: str = "/login") -> None:
    await user.open(path)
    user.find(marker="password").type(password)
    user.find(marker="sign-in").click()


@asynccontextmanager
async def another_browser(cookies: httpx.Cookies | None = None) -> AsyncIterator[httpx.AsyncClient]:
    """A second browser on the same app, e.g. one holding a copy of the victim's cookies."""
    transport = httpx.ASGITransport(core.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test", cookies=cookies) as client:
        yield client


async def lands_on(client: httpx.AsyncClient, path: str) -> str:
    response = await client.get(path, follow_redirects=True)
    assert response.status_code == 200
    return response.url.path


# ------------------------------------------------------------------------------------------ 9. session fixation


async def test_a_cookie_from_before_sign_in_is_not_signed_in_after_it(app_env, user: User) -> None:
    await user.open("/login")
    planted = httpx.Cookies(user.http_client.cookies)  # what an attacker set or copied before the admin signs in
    assert planted.get("session")
    user.find(marker="password").type(ADMIN_PASSWORD)
    user.find(marker="sign-in").click()
    await user.should_see(marker="navigation", retries=50)
    async with another_browser(planted) as attacker:
        assert await lands_on(attacker, "/settings") == "/login"
    assert user.http_client.cookies.get("session") != planted.get("session")  # a new NiceGUI browser id too
    assert await lands_on(user.http_client, "/settings") == "/settings"


async def test_a_cookie_copied_before_log_out_stays_dead_after_the_next_sign_in(admin: User) -> None:
    copied = httpx.Cookies(admin.http_client.cookies)
    async with another_browser(copied) as attacker:
        assert await lands_on(attacker, "/settings") == "/settings"  # the copy works while the session lives
        admin.find(marker="logout").click()
        await admin.should_see("Sign in to manage your bot.", retries=50)
        assert await lands_on(attacker, "/settings") == "/login"
        await sign_in(admin)
        await admin.should_see(marker="navigation", retries=50)
        assert await lands_on(attacker, "/settings") == "/login"
    assert await lands_on(admin.http_client, "/settings") == "/settings"


async def test_log_out_closes_pages_opened_with_a_copy_of_the_cookie(admin: User) -> None:
    """A page already open in another browser with a copied cookie stops taking events once the admin logs out."""
    async with another_browser(httpx.Cookies(admin.http_client.cookies)) as attacker:
        page = await attacker.get("/settings")
    client_id = re.search(r"'client_id': '([0-9a-f-]+)'", page.text).group(1)
    assert client_id in Client.instances
    admin.find(marker="logout").click()
    await admin.should_see("Sign in to manage your bot.", retries=50)
    for _ in range(40):
        if client_id not in Client.instances:
            break
        await asyncio.sleep(0.1)
    assert client_id not in Client.instances


async def test_a_login_ticket_works_once_and_only_in_its_own_browser(app_env, user: User) -> None:
    await sign_in(user)
    await user.should_see(marker="navigation", retries=50)
    ticket_url = next(path for path in user.back_history if path.startswith("/login/complete?ticket="))
    async with another_browser() as stranger:
        await stranger.get("/login")
        assert await lands_on(stranger, ticket_url) == "/login"
        assert "referflow_session" not in stranger.cookies
    await user.open(ticket_url.replace("/login/complete", "/login").replace("ticket", "incomplete"))
    await user.should_see(marker="navigation", retries=50)  # the admin's own session was not touched by that
    async with another_browser(httpx.Cookies(user.http_client.cookies)) as same_browser:
        del same_browser.cookies["referflow_session"]
        assert await lands_on(same_browser, ticket_url) == "/login"  # already used


async def test_the_session_cookies_are_http_only_and_not_for_other_sites(admin: User) -> None:
    for name in ("referflow_session", "referflow_device"):
        cookie = next(c for c in admin.http_client.cookies.jar if c.name == name)
        assert cookie.has_nonstandard_attr("HttpOnly")
        assert cookie.get_nonstandard_attr("SameSite").lower() == "lax"
        assert not cookie.secure  # plain HTTP without a proxy that says otherwise


# ------------------------------------------------------------------------ 10. rate limits behind trusted proxies


@pytest.fixture
def behind_proxy(app_env, monkeypatch: pytest.MonkeyPatch) -> None:
    """The app behind a reverse proxy on this machine (NiceGUI's test client connects from 127.0.0.1)."""
    monkeypatch.setenv("REFERFLOW_TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1")


async def fail_five_times(user: User) -> None:
    await user.open("/login")
    for left in (4, 3, 2, 1, 0):
        user.find(marker="password").type("wrong password")
        user.find(marker="sign-in").click()
        await user.should_see(f"That password is not right. {left} tr", retries=50)


async def test_behind_a_trusted_proxy_each_client_has_its_own_limit(behind_proxy, user: User) -> None:
    user.http_client.headers["X-Forwarded-For"] = "203.0.113.9, 10.1.2.3"  # the client, then an inner proxy
    await fail_five_times(user)
    user.find(marker="password").type(ADMIN_PASSWORD)
    user.find(marker="sign-in").click()
    await user.should_see("Too many wrong passwords. Try again in 10 minutes.", retries=50)
    user.http_client.headers["X-Forwarded-For"] = "198.51.100.4"  # another person behind the same proxy
    await sign_in(user)
    await user.should_see(marker="navigation", retries=50)


@pytest.fixture
def behind_rfc_proxy(behind_proxy, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REFERFLOW_FORWARDED_HEADER", "forwarded")


async def test_the_forwarded_header_is_read_from_a_trusted_proxy_that_writes_it(behind_rfc_proxy, user: User) -> None:
    user.http_client.headers["Forwarded"] = 'for="[2001:db8::7]:4711";proto=https'
    await fail_five_times(user)
    user.http_client.headers["X-Forwarded-For"] = "198.51.100.4"  # passed on as the client sent it: not read
    await sign_in(user)
    await user.should_see("Too many wrong passwords. Try again in 10 minutes.", retries=50)
    user.http_client.headers["Forwarded"] = "for=192.0.2.60"
    await sign_in(user)
    await user.should_see(marker="navigation", retries=50)


async def test_forwarded_headers_from_an_untrusted_peer_change_nothing(app_env, user: User) -> None:
    user.http_client.headers["X-Forwarded-For"] = "203.0.113.9"
    await fail_five_times(user)
    user.http_client.headers["X-Forwarded-For"] = "198.51.100.4"
    user.http_client.headers["Forwarded"] = "for=192.0.2.60"
    await sign_in(user)
    await user.should_see("Too many wrong passwords. Try again in 10 minutes.", retries=50)
    await user.should_not_see(marker="navigation")


async def test_many_addresses_pause_the_account_and_paused_tries_are_not_checked(
        behind_proxy, user: User, monkeypatch: pytest.MonkeyPatch) -> None:
    for n in range(10):  # storage.auth.ACCOUNT_FREE_FAILURES
        user.http_client.headers["X-Forwarded-For"] = f"203.0.113.{n + 1}"
        await sign_in(user, "wrong password")
        await user.should_see("That password is not right.", retries=50)
    await user.should_see("Sign-in to this account is paused after 10 or more wrong passwords", retries=50)
    checked = []
    verify = storage.auth.verify_password
    monkeypatch.setattr(storage.auth, "verify_password", lambda *args: checked.append(args) or verify(*args))
    user.http_client.headers["X-Forwarded-For"] = "198.51.100.77"  # a fresh address, with the right password
    await sign_in(user)
    await user.should_see("Try again at", retries=50)
    await user.should_see("(in 1 minute)")
    await user.should_not_see(marker="navigation")
    await sign_in(user, "another guess")
    await user.should_see("Sign-in to this account is paused", retries=50)
    assert checked == []  # neither the right password nor the guess was even checked


async def test_the_admin_s_own_browser_gets_in_while_an_attack_pauses_the_account(admin: User, app_database) -> None:
    admin.find(marker="logout").click()
    await admin.should_see("Sign in to manage your bot.", retries=50)
    with app_database.write_session() as session:  # wrong passwords from all over the world, still coming
        for n in range(storage.auth.ACCOUNT_FREE_FAILURES + 5):
            storage.auth.attempt_login(session=session, client=f"203.0.113.{n}", password="guess")
        assert storage.auth.account_paused_until(session=session) is not None
    device = admin.http_client.cookies["referflow_device"]
    del admin.http_client.cookies["referflow_device"]  # as a browser that never signed in here, it is held up ...
    await sign_in(admin)
    await admin.should_see("A browser that has signed in here before is not held up.", retries=50)
    await admin.should_not_see(marker="navigation")
    admin.http_client.cookies.set("referflow_device", device, domain="test.local")
    await sign_in(admin)  # ... as the admin's own browser, it is not
    await admin.should_see(marker="navigation", retries=50)


# -------------------------------------------------------------------------------------------- 11. headers


def assert_not_framable(response: httpx.Response) -> None:
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy
    assert "default-src 'self'" in policy
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"


async def test_every_admin_response_forbids_framing(admin: User) -> None:
    for path in ("/login", "/", "/flows", "/assets/dist/canvas.js", "/no-such-page"):
        assert_not_framable(await admin.http_client.get(path))
    async with another_browser() as stranger:
        assert_not_framable(await stranger.get("/settings"))  # the redirect to the login
        assert_not_framable(await stranger.get("/api/anything"))  # the 401


@pytest.fixture
def secure_cookies(app_env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REFERFLOW_SECURE_COOKIES", "1")


async def test_secure_cookies_setting_marks_every_cookie_secure(secure_cookies, user: User) -> None:
    response = await user.http_client.get("/login")
    assert "secure" in response.headers["set-cookie"].lower().split("; ")


async def test_https_said_by_a_trusted_proxy_makes_cookies_secure(behind_proxy, user: User) -> None:
    async def cookie_flags(**headers: str) -> list[str]:
        user.http_client.cookies.clear()  # a first visit, so the browser id cookie is set
        response = await user.http_client.get("/login", headers=headers)
        return response.headers["set-cookie"].lower().split("; ")

    assert "secure" not in await cookie_flags()
    assert "secure" in await cookie_flags(**{"X-Forwarded-Proto": "https"})
    assert "secure" not in await cookie_flags(**{"X-Forwarded-Proto": "http"})


async def test_over_https_the_session_cookie_is_secure(app_env, user: User) -> None:
    user.http_client = httpx.AsyncClient(transport=httpx.ASGITransport(core.app), base_url="https://test")
    await sign_in(user)
    await user.should_see(marker="navigation", retries=50)
    cookies = {cookie.name: cookie for cookie in user.http_client.cookies.jar}
    assert cookies["referflow_session"].secure
    assert cookies["referflow_device"].secure
    assert cookies["session"].secure


async def test_https_claimed_by_an_untrusted_peer_is_not_believed(app_env, user: User) -> None:
    user.http_client.headers["X-Forwarded-Proto"] = "https"
    response = await user.http_client.get("/login")
    assert "secure" not in response.headers["set-cookie"].lower().split("; ")


async def test_an_incomplete_sign_in_says_why(app_env, user: User) -> None:
    await user.open("/login/complete?ticket=made-up")
    await user.should_see("That sign-in did not go through: it took longer than a minute", retries=50)
    await user.should_not_see(marker="navigation")


@pytest.fixture
def old_session(app_env) -> str:
    """The session of an admin who signed in with an older password, before REFERFLOW_ADMIN_PASSWORD changed it."""
    from storage.auth import ensure_admin_account, issue_login_ticket, redeem_login_ticket
    from storage.db import open_database

    database = open_database(url=f"sqlite:///{app_env}")
    with database.write_session() as session:
        ensure_admin_account(session=session, password="the-old-password")
        ticket = issue_login_ticket(session=session, browser_id="b", redirect_to="/")
        token, _ = redeem_login_ticket(session=session, ticket=ticket, browser_id="b")
    database.dispose()
    return token


async def test_a_new_admin_password_signs_out_old_sessions(old_session: str, user: User) -> None:
    user.http_client.cookies.set("referflow_session", old_session, domain="test.local")
    assert await lands_on(user.http_client, "/settings") == "/login"


@pytest.mark.parametrize("target", ["/\\example.org/", "/\t/example.org/", "/\\\\example.org", "//example.org",
                                    "https://example.org"])
async def test_a_signed_in_admin_opening_the_login_stays_on_the_site(admin: User, target: str) -> None:
    response = await admin.http_client.get("/login", params={"redirect_to": target})
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    response = await admin.http_client.get("/login", params={"redirect_to": "/fields"})
    assert response.headers["location"] == "/fields"
