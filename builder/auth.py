"""Login: first-start password creation, sign-in with rate limiting, the middleware guarding every page, and the
server-side admin session (a new random token in an HttpOnly cookie at every sign-in, deleted at sign-out).

Signing in happens over NiceGUI's websocket, which cannot set cookies; so the page hands the browser a one-time,
one-minute ticket bound to that browser, and /login/complete trades it for the session cookie in a plain HTTP
response (and gives the browser a new NiceGUI session id, so nothing from before the sign-in carries over)."""

import asyncio
import uuid
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import JSONResponse, RedirectResponse
from nicegui import Client, app, background_tasks, run, ui
from starlette.concurrency import run_in_threadpool
from starlette.middleware.base import BaseHTTPMiddleware

from builder.context import database
from builder.theme import use_colours
from builder.web_security import WebSettings, client_address, cookie_is_secure, public_area, safe_redirect_target
from storage.auth import (
    DEVICE_LIFETIME,
    SESSION_LIFETIME,
    admin_password_is_set,
    attempt_login,
    check_new_password,
    end_session,
    issue_login_ticket,
    redeem_login_ticket,
    remember_device,
    session_is_valid,
    set_admin_password,
)

SESSION_COOKIE = "referflow_session"
DEVICE_COOKIE = "referflow_device"  # marks a browser that signed in before (storage.auth.remember_device)


def web_settings() -> WebSettings:
    return getattr(app.state, "referflow_web", None) or WebSettings()


def _signed_in(token: str | None) -> bool:
    if not token:
        return False
    with database().session() as session:
        return session_is_valid(session=session, token=token)


class AuthMiddleware(BaseHTTPMiddleware):
    """Every page and every API route needs a signed-in admin; the public areas (web_security.PUBLIC_AREAS) do not."""

    async def dispatch(self, request: Request, call_next):
        path = request.url.path
        if public_area(path) is not None or await run_in_threadpool(_signed_in, request.cookies.get(SESSION_COOKIE)):
            return await call_next(request)
        if path.startswith("/api/"):
            return JSONResponse({"detail": "Sign in first: this API needs an admin session."}, status_code=401)
        return RedirectResponse(f"/login?redirect_to={quote(path)}")


def complete_login(request: Request, ticket: str = "") -> RedirectResponse:
    """GET /login/complete?ticket=…: the ticket becomes a new session cookie; anything else goes back to the login."""
    browser_id = request.session.get("id")
    with database().write_session() as session:
        redeemed = redeem_login_ticket(session=session, ticket=ticket, browser_id=browser_id)
        device = remember_device(session=session, token=request.cookies.get(DEVICE_COOKIE)) if redeemed else None
    if redeemed is None:
        return RedirectResponse("/login?incomplete=1", status_code=303)
    token, target = redeemed
    request.session["id"] = str(uuid.uuid4())  # a fresh NiceGUI browser id: pre-login user storage is left behind
    response = RedirectResponse(safe_redirect_target(target), status_code=303)
    secure = cookie_is_secure(request.scope, web_settings())
    response.set_cookie(SESSION_COOKIE, token, max_age=int(SESSION_LIFETIME.total_seconds()), path="/",
                        httponly=True, samesite="lax", secure=secure)
    response.set_cookie(DEVICE_COOKIE, device, max_age=int(DEVICE_LIFETIME.total_seconds()), path="/",
                        httponly=True, samesite="lax", secure=secure)
    return response


async def sign_out() -> None:
    """End this browser's admin session for good and send its open tabs back to the login."""
    current = ui.context.client
    token = current.request.cookies.get(SESSION_COOKIE)
    await run.io_bound(_end_session, token)
    app.storage.user.clear()
    for client in list(Client.instances.values()):
        if client is current or not token or _cookie_of(client) != token:
            continue
        with client:
            ui.navigate.to("/login")
        background_tasks.create(_delete_soon(client), name="close signed-out tab")
    ui.navigate.to("/login")


def _end_session(token: str | None) -> None:
    with database().write_session() as session:
        end_session(session=session, token=token)


def _cookie_of(client: Client) -> str | None:
    try:
        return client.request.cookies.get(SESSION_COOKIE)
    except (AttributeError, RuntimeError):
        return None


async def _delete_soon(client: Client) -> None:
    await asyncio.sleep(1)  # time to deliver the navigation; then its events have nowhere to go
    if client.id in Client.instances:
        client.delete()


def create(request: Request, redirect_to: str = "/", incomplete: str = "") -> RedirectResponse | None:
    redirect_to = safe_redirect_target(redirect_to)
    if _signed_in(request.cookies.get(SESSION_COOKIE)):
        return RedirectResponse(redirect_to, status_code=303)
    use_colours()
    ui.page_title("Sign in · Referflow")
    ui.query("body").classes("bg-slate-100")
    client = client_address(request.scope, web_settings())
    browser_id = request.session.get("id", "")
    with ui.card().classes("absolute-center w-96 p-8 gap-3"):
        with ui.row().classes("items-center gap-2"):
            ui.icon("hub", size="md", color="indigo-7")
            ui.label("Referflow").classes("text-2xl font-semibold")
        with database().session() as session:
            first_start = not admin_password_is_set(session=session)
        if first_start:
            _setup_form(browser_id, redirect_to)
        else:
            device = request.cookies.get(DEVICE_COOKIE)
            _login_form(client, device, browser_id, redirect_to, INCOMPLETE if incomplete else "")
    return None


def _setup_form(browser_id: str, redirect_to: str) -> None:
    ui.label("Welcome! Choose the admin password for this Referflow.").classes("text-slate-600")
    password = ui.input("New password", password=True, password_toggle_button=True)
    password.classes("w-full").mark("new-password")
    confirm = ui.input("Repeat the password", password=True).classes("w-full").mark("confirm-password")
    error = ui.label().classes("text-negative text-sm").mark("login-error")

    async def save() -> None:
        problem = check_new_password(password.value, confirm.value)
        if problem:
            error.text = problem
            return
        if not await run.io_bound(_create_password, password.value):
            error.text = "A password was set meanwhile; reload the page and sign in."
            return
        await _sign_in(browser_id, redirect_to)

    confirm.on("keydown.enter", save)
    ui.button("Create password and sign in", on_click=save).classes("w-full").mark("create-password")


INCOMPLETE = ("That sign-in did not go through: it took longer than a minute, or this browser did not keep the "
              "site's cookies (with REFERFLOW_SECURE_COOKIES=1 browsers keep them over https only). Sign in again.")


def _login_form(client: str, device: str | None, browser_id: str, redirect_to: str, problem: str = "") -> None:
    ui.label("Sign in to manage your bot.").classes("text-slate-600")
    password = ui.input("Admin password", password=True, password_toggle_button=True).classes("w-full").mark("password")
    error = ui.label(problem).classes("text-negative text-sm").mark("login-error")

    async def submit() -> None:
        result = await run.io_bound(_attempt, client, device, password.value or "")
        if result.ok:
            await _sign_in(browser_id, redirect_to)
        else:
            error.text = result.message
            password.value = ""

    password.on("keydown.enter", submit)
    ui.button("Sign in", on_click=submit).classes("w-full").mark("sign-in")


def _create_password(password: str) -> bool:
    with database().write_session() as session:
        if admin_password_is_set(session=session):
            return False
        set_admin_password(session=session, password=password)
        return True


def _attempt(client: str, device: str | None, password: str):
    with database().write_session() as session:
        return attempt_login(session=session, client=client, password=password, device=device)


async def _sign_in(browser_id: str, redirect_to: str) -> None:
    ticket = await run.io_bound(_issue_ticket, browser_id, redirect_to)
    ui.navigate.to(f"/login/complete?ticket={ticket}")


def _issue_ticket(browser_id: str, redirect_to: str) -> str:
    with database().write_session() as session:
        return issue_login_ticket(session=session, browser_id=browser_id, redirect_to=redirect_to)
