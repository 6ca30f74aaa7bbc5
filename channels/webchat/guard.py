"""What keeps the public web chat safe: visitor identities, size caps and rate limits.

A visitor is known by a long random secret that only their browser holds (localStorage). The contact's
`channel_user_id` is a hash of it, so admins never see the secret and nobody can act as a visitor without it; no
public route takes a contact id, a message id or a channel user id.
"""

import hashlib
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from channels.ratelimit import RateLimit, RateLimiter

SECRET_PATTERN = re.compile(r"[A-Za-z0-9_-]{32,128}")
NAME_LIMIT = 60
TEXT_LIMIT = 1000  # characters in one typed reply
ADDRESS_LIMIT = 2000  # characters of the chat page's address (a ref with its payload)
BODY_LIMIT = 8192  # bytes of any request body, far above what the limits above need
SOCKET_MESSAGE_LIMIT = 512  # bytes of what a browser may send on its websocket (only the hello)


class VisitorError(ValueError):
    """A request the chat refuses; the message is shown to the visitor in the chat."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def visitor_user_id(secret: object) -> str:
    """The contact's channel user id for this visitor secret (a one-way hash)."""
    if not isinstance(secret, str) or not SECRET_PATTERN.fullmatch(secret):
        raise VisitorError("This chat could not identify your browser; reload the page to start again.", 400)
    return "v" + hashlib.sha256(b"referflow-webchat\x00" + secret.encode()).hexdigest()[:40]


def check_text(text: object) -> str:
    if not isinstance(text, str) or not text.strip():
        raise VisitorError("Type a message first.", 422)
    if len(text) > TEXT_LIMIT:
        raise VisitorError(f"Messages can be at most {TEXT_LIMIT:,} characters; yours has {len(text):,}. "
                           "Shorten it and send it again.", 413)
    return text.strip()


def check_name(name: object) -> str:
    if name is None:
        return ""
    if not isinstance(name, str):
        raise VisitorError("Your name must be text.", 422)
    cleaned = " ".join("".join(ch for ch in name if ch.isprintable()).split())
    if len(cleaned) > NAME_LIMIT:
        raise VisitorError(f"A name can be at most {NAME_LIMIT} characters.", 422)
    return cleaned


def check_address(address: object) -> str:
    if not isinstance(address, str) or not address:
        raise VisitorError("This chat link is incomplete; open the link you were given again.", 422)
    if len(address) > ADDRESS_LIMIT:
        raise VisitorError(f"This chat link is longer than {ADDRESS_LIMIT:,} characters; ask for a shorter one.", 413)
    return address


@dataclass(frozen=True)
class Limits:
    visitor: RateLimit = RateLimit(burst=10, per_minute=30)
    address: RateLimit = RateLimit(burst=60, per_minute=300)
    chats_per_visitor: int = 5  # open chats (tabs) at once
    chats_per_address: int = 100

    @classmethod
    def from_env(cls, env: dict[str, str]) -> "Limits":
        """`REFERFLOW_WEBCHAT_VISITOR_RATE` and `REFERFLOW_WEBCHAT_ADDRESS_RATE` as `BURST/PER_MINUTE`, e.g. `10/30`;
        `REFERFLOW_WEBCHAT_CHATS_PER_ADDRESS`: how many chats one address may keep open at once."""
        defaults = cls()
        chats = env.get("REFERFLOW_WEBCHAT_CHATS_PER_ADDRESS", "").strip()
        if chats and not (chats.isdigit() and int(chats) > 0):
            raise ValueError(f"REFERFLOW_WEBCHAT_CHATS_PER_ADDRESS='{chats}' must be a whole number above 0.")
        return cls(visitor=_parse_rate(env.get("REFERFLOW_WEBCHAT_VISITOR_RATE"), defaults.visitor),
                   address=_parse_rate(env.get("REFERFLOW_WEBCHAT_ADDRESS_RATE"), defaults.address),
                   chats_per_address=int(chats) if chats else defaults.chats_per_address)


def _parse_rate(text: str | None, default: RateLimit) -> RateLimit:
    if not text:
        return default
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)\s*", text)
    if not match or int(match[1]) < 1:
        raise ValueError(f"'{text}' is not a web chat rate limit; write BURST/PER_MINUTE, e.g. 10/30.")
    return RateLimit(int(match[1]), float(match[2]))


class Gate:
    """One process's limits: every public request spends a token of its visitor and of its address, and open chats
    are counted per visitor and per address."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.visitors = RateLimiter(limits.visitor)
        self.addresses = RateLimiter(limits.address)
        self._chats: Counter[str] = Counter()

    @contextmanager
    def open_chat(self, *, address: str, visitor: str) -> Iterator[None]:
        """Count one open chat for as long as it is open; refuse one beyond the limits."""
        if self._chats["a:" + address] >= self.limits.chats_per_address:
            raise VisitorError("Too many chats are open from your network; close some and try again.", 429)
        if self._chats["v:" + visitor] >= self.limits.chats_per_visitor:
            raise VisitorError("This chat is open in too many tabs; close some and reload this one.", 429)
        keys = ("a:" + address, "v:" + visitor)
        self._chats.update(keys)
        try:
            yield
        finally:
            self._chats.subtract(keys)
            for key in keys:
                if self._chats[key] <= 0:
                    del self._chats[key]

    def check(self, *, address: str, visitor: str | None = None) -> None:
        if not self.addresses.allow(address):
            raise VisitorError("Too many messages from your network right now; wait a minute and try again.", 429)
        if visitor is not None and not self.visitors.allow(visitor):
            raise VisitorError("You are sending messages very fast; wait a few seconds and try again.", 429)
