"""HTTP-level protection of the web app: which paths are public, who the client really is behind trusted proxies,
whether the request came over HTTPS, safe redirect targets, and the security headers on every response.

Plain Starlette, no NiceGUI: public parts of the app (the web chat, webhooks) use the same registry and helpers.
"""

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from channels.asgi import wrap_app

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


# ------------------------------------------------------------------------------------------------- public areas


@dataclass(frozen=True)
class PublicArea:
    """A path (exact, or a prefix that covers everything below it) that needs no admin session.

    `framable`: other sites may embed its pages in an iframe (the web chat on customers' sites); admin pages never."""

    prefix: str
    exact: bool = False
    framable: bool = False

    def covers(self, path: str) -> bool:
        if self.exact:
            return path == self.prefix
        return path == self.prefix or path.startswith(self.prefix.rstrip("/") + "/")


# The one place that says what strangers may open. A public feature adds its prefix here.
PUBLIC_AREAS: tuple[PublicArea, ...] = (
    PublicArea("/login", exact=True),
    PublicArea("/login/complete", exact=True),  # trades a one-time ticket for a session cookie
    PublicArea("/_nicegui"),  # NiceGUI's scripts, styles and fonts
    PublicArea("/_nicegui_ws"),  # NiceGUI's websocket; each page client was created by an authorised page load
    PublicArea("/webchat", framable=True),  # the public web chat, embedded in customers' sites
    PublicArea("/hooks"),  # channels' webhooks: each verifies its own signature
)


def public_area(path: str) -> PublicArea | None:
    """The public area that covers `path` (the longest matching prefix), or None for an admin-only path."""
    matches = [area for area in PUBLIC_AREAS if area.covers(path)]
    return max(matches, key=lambda area: len(area.prefix)) if matches else None


# ------------------------------------------------------------------------------------------- proxies and clients


FORWARDED_HEADERS = ("x-forwarded-for", "forwarded")


@dataclass(frozen=True)
class WebSettings:
    """How the app sits on the network: the proxies whose forwarded headers are believed, which header they write,
    and the Secure flag.

    Only the header the proxies write is read: a proxy passes the other one on as the client sent it, so reading
    both would let anyone pick their own address. `x-forwarded-for` goes with X-Forwarded-Proto; `forwarded` is
    RFC 7239 (`for=` and `proto=`)."""

    trusted_proxies: tuple[Network, ...] = ()
    forwarded_header: str = "x-forwarded-for"
    secure_cookies: bool | None = None  # None: Secure exactly when the request came over HTTPS

    def trusts(self, address: str | None) -> bool:
        ip = _ip(address)
        return ip is not None and any(ip in network for network in self.trusted_proxies)


def parse_forwarded_header(text: str | None) -> str:
    """`REFERFLOW_FORWARDED_HEADER`: x-forwarded-for (the default) or forwarded."""
    value = (text or "x-forwarded-for").strip().lower()
    if value not in FORWARDED_HEADERS:
        raise ValueError(f"REFERFLOW_FORWARDED_HEADER: '{text}' is not understood; use x-forwarded-for or forwarded "
                         "(the header your proxy writes)")
    return value


def parse_trusted_proxies(text: str | None) -> tuple[Network, ...]:
    """`REFERFLOW_TRUSTED_PROXIES`: comma-separated IP addresses or networks (CIDR)."""
    networks = []
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(f"REFERFLOW_TRUSTED_PROXIES: '{part}' is not an IP address or network; write e.g. "
                             "10.0.0.5, 10.0.0.0/8 or ::1, separated by commas") from None
    return tuple(networks)


def parse_secure_cookies(text: str | None) -> bool | None:
    """`REFERFLOW_SECURE_COOKIES`: 1 (always Secure), 0 (never), auto or empty (when the request came over HTTPS)."""
    value = (text or "auto").strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    if value == "auto":
        return None
    raise ValueError(f"REFERFLOW_SECURE_COOKIES: '{text}' is not understood; use 1, 0 or auto")


def client_address(scope: Scope, settings: WebSettings) -> str:
    """The address of the person at the other end. Forwarded headers count only when the peer is a trusted proxy;
    the chain is then read from the right, past every trusted proxy, to the first address that is not one."""
    peer = scope.get("client")
    address = peer[0] if peer else None
    if address is None:
        return "unknown"
    if not settings.trusts(address):
        return address
    for hop in reversed(_forwarded_for(Headers(scope=scope), settings.forwarded_header)):
        if _ip(hop) is None:
            break  # what lies left of an unreadable entry came from the client and proves nothing
        address = hop
        if not settings.trusts(hop):
            break
    return address


def is_https(scope: Scope, settings: WebSettings) -> bool:
    """Whether the browser spoke HTTPS: directly, or to a trusted proxy that says so in its forwarded headers."""
    if scope.get("scheme") in ("https", "wss"):
        return True
    peer = scope.get("client")
    if not (peer and settings.trusts(peer[0])):
        return False
    headers = Headers(scope=scope)
    if settings.forwarded_header == "forwarded":
        forwarded = _forwarded_elements(headers)
        proto = forwarded[-1].get("proto", "") if forwarded else ""
    else:
        values = [value.strip() for line in headers.getlist("x-forwarded-proto") for value in line.split(",")]
        proto = values[-1] if values else ""
    return proto.lower() in ("https", "wss")


def cookie_is_secure(scope: Scope, settings: WebSettings) -> bool:
    return settings.secure_cookies if settings.secure_cookies is not None else is_https(scope, settings)


def _ip(text: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text) if text else None
    except ValueError:
        return None


def _forwarded_for(headers: Headers, header: str) -> list[str]:
    if header == "forwarded":
        return [_strip_port(element.get("for", "")) for element in _forwarded_elements(headers)]
    return [_strip_port(value.strip()) for line in headers.getlist("x-forwarded-for") for value in line.split(",")]


_FORWARDED_PAIR = re.compile(r'\s*([A-Za-z]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;,\s]*)\s*')


def _forwarded_elements(headers: Headers) -> list[dict[str, str]]:
    """RFC 7239 `Forwarded`: one dict per hop, e.g. {'for': '192.0.2.60', 'proto': 'https'}."""
    elements = []
    for line in headers.getlist("forwarded"):
        for element in line.split(","):
            pairs = {}
            for part in element.split(";"):
                match = _FORWARDED_PAIR.fullmatch(part)
                if match:
                    pairs[match.group(1).lower()] = match.group(2).strip('"')
            elements.append(pairs)
    return elements


def _strip_port(value: str) -> str:
    if value.startswith("["):  # [2001:db8::1]:4711
        return value[1:value.index("]")] if "]" in value else value
    if value.count(":") == 1:  # 192.0.2.60:4711
        return value.split(":")[0]
    return value


# ------------------------------------------------------------------------------------------------- redirects

_SAFE_PATH = re.compile(r"/(?![/\\])[!#-\[\]-~]*")  # printable ASCII without space or backslash, one leading '/'


def safe_redirect_target(target: str | None, default: str = "/") -> str:
    """A path on this site to go to after signing in, or `default`. Browsers read `\\` as `/` and drop tabs and
    newlines, so `/\\example.org` and `/<TAB>/example.org` lead off-site: anything but a plain local path is refused."""
    if not target or not _SAFE_PATH.fullmatch(target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or parts.path.startswith("//"):
        return default
    return target


# ---------------------------------------------------------------------------------------------- security headers

# NiceGUI renders its page with inline scripts and compiles Vue templates in the browser ('unsafe-eval'); Quasar and
# the flow canvas (a shadow root) set inline styles. Everything is loaded from this origin; nothing else is allowed.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self' 'unsafe-inline' 'unsafe-eval'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "media-src 'self' data: blob:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
])


def security_headers(path: str) -> list[tuple[str, str]]:
    area = public_area(path)
    framable = area is not None and area.framable
    ancestors = "frame-ancestors *" if framable else "frame-ancestors 'none'"
    headers = [
        ("content-security-policy", f"{CONTENT_SECURITY_POLICY}; {ancestors}"),
        ("referrer-policy", "strict-origin-when-cross-origin" if framable else "same-origin"),
        ("x-content-type-options", "nosniff"),
    ]
    if not framable:
        headers.append(("x-frame-options", "DENY"))
    return headers


class SecurityHeadersMiddleware:
    """Adds the security headers to every HTTP response, and the Secure flag to its cookies when the browser speaks
    HTTPS (or REFERFLOW_SECURE_COOKIES says so)."""

    def __init__(self, app: ASGIApp, settings: WebSettings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        extra = security_headers(path)
        admin = public_area(path) is None
        secure = cookie_is_secure(scope, self.settings)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in extra:
                    if name not in headers:
                        headers[name] = value
                    elif admin and name == "content-security-policy" and value not in headers.getlist(name):
                        headers.append(name, value)  # browsers enforce every policy: what a route set cannot loosen
                if secure:
                    _make_cookies_secure(headers)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _make_cookies_secure(headers: MutableHeaders) -> None:
    cookies = headers.getlist("set-cookie")
    if not cookies:
        return
    del headers["set-cookie"]
    for cookie in cookies:
        if not any(part.strip().lower() == "secure" for part in cookie.split(";")[1:]):
            cookie = f"{cookie}; Secure"
        headers.append("set-cookie", cookie)


def install_security_headers(app: Starlette, settings: WebSettings) -> None:
    """Wrap the whole app, outside every middleware (NiceGUI's session middleware included, whose cookie must get the
    Secure flag too), outside Starlette's error handler (500 pages get the headers as well) and outside the public
    channels' wrappers (their answers get the headers too)."""
    wrap_app(app, "security_headers", lambda inner: SecurityHeadersMiddleware(inner, settings))
