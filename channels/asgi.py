"""What wraps the one ASGI app the process serves: the public channels (webhooks, web chat) answer their paths before
the admin app's middleware, and the admin pages' security headers wrap everything. Each part installs its wrapper with
`wrap_app`, which keeps one fixed order whatever order they are installed in. It lives with the channels because
they are the public side; the admin pages (builder/web_security.py) use it too.
"""

from collections.abc import Callable

from starlette.applications import Starlette
from starlette.types import ASGIApp

# What wraps the whole app, innermost first. Whatever order the parts install theirs in, a request meets the
# security headers first, then the web chat, then the webhooks, then the admin app's own middleware (session, login).
WRAPPERS = ("hooks", "webchat", "security_headers")


def wrap_app(app: Starlette, name: str, wrap: Callable[[ASGIApp], ASGIApp]) -> None:
    """Put `wrap(inner)` around the whole app, outside every middleware, at `name`'s place in WRAPPERS. Installing a
    name again replaces its wrapper (the same app served again, as tests do), so each wraps the app once."""
    if name not in WRAPPERS:
        raise ValueError(f"'{name}' has no place among the app's wrappers {WRAPPERS}; add it where it belongs")
    wrappers: dict[str, Callable[[ASGIApp], ASGIApp]] | None = getattr(app.state, "referflow_wrappers", None)
    if wrappers is None:
        wrappers = app.state.referflow_wrappers = {}
        build_middleware = app.build_middleware_stack

        def build_wrapped() -> ASGIApp:
            stack = build_middleware()
            for layer in WRAPPERS:
                if layer in wrappers:
                    stack = wrappers[layer](stack)
            return stack

        app.build_middleware_stack = build_wrapped  # type: ignore[method-assign]
    wrappers[name] = wrap
