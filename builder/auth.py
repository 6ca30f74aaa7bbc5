"""Login: first-start password creation, sign-in with rate limiting, and the middleware guarding every page."""

from urllib.parse import quote

from fastapi import Request
from fastapi.responses import JSONResponse, RedirectResponse
from nicegui import app, run, ui
from starlette.middleware.base import BaseHTTPMiddleware

from builder.context import database
from builder.frame import use_colours
from storage.auth import admin_password_is_set, attempt_login, check_new_password, set_admin_password

PUBLIC_PATHS = {"/login"}


class AuthMiddleware(BaseHTTPMiddleware):
    """Every page and every API route needs a signed-in admin; NiceGUI's own assets stay public."""

    async def dispatch(self, request: Request, call_next):
        path = request.url.path
        if app.storage.user.get("authenticated") or path in PUBLIC_PATHS or path.startswith("/_nicegui"):
            return await call_next(request)
        if path.startswith("/api/"):
            return JSONResponse({"detail": "Sign in first: this API needs an admin session."}, status_code=401)
        return RedirectResponse(f"/login?redirect_to={quote(path)}")


def create(request: Request, redirect_to: str = "/") -> None:
    if not redirect_to.startswith("/") or redirect_to.startswith("//"):
        redirect_to = "/"
    if app.storage.user.get("authenticated"):
        ui.navigate.to(redirect_to)
        return
    use_colours()
    ui.page_title("Sign in · Referflow")
    ui.query("body").classes("bg-slate-100")
    client = request.client.host if request.client else "unknown"
    with ui.card().classes("absolute-center w-96 p-8 gap-3"):
        with ui.row().classes("items-center gap-2"):
            ui.icon("hub", size="md", color="indigo-7")
            ui.label("Referflow").classes("text-2xl font-semibold")
        with database().session() as session:
            first_start = not admin_password_is_set(session=session)
        if first_start:
            _setup_form(redirect_to)
        else:
            _login_form(client, redirect_to)


def _setup_form(redirect_to: str) -> None:
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
        _sign_in(redirect_to)

    confirm.on("keydown.enter", save)
    ui.button("Create password and sign in", on_click=save).classes("w-full").mark("create-password")


def _login_form(client: str, redirect_to: str) -> None:
    ui.label("Sign in to manage your bot.").classes("text-slate-600")
    password = ui.input("Admin password", password=True, password_toggle_button=True).classes("w-full").mark("password")
    error = ui.label().classes("text-negative text-sm").mark("login-error")

    async def submit() -> None:
        result = await run.io_bound(_attempt, client, password.value or "")
        if result.ok:
            _sign_in(redirect_to)
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


def _attempt(client: str, password: str):
    with database().write_session() as session:
        return attempt_login(session=session, client=client, password=password)


def _sign_in(redirect_to: str) -> None:
    app.storage.user["authenticated"] = True
    ui.navigate.to(redirect_to)
