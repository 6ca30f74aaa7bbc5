"""The open chats of this app process, and the web chat's sender: the outbox worker's push to a visitor's browser."""

import asyncio
import json
import logging
from typing import Any

from starlette.websockets import WebSocket

from channels.delivery import OutboxItem, TemporaryFailure

log = logging.getLogger(__name__)
SEND_TIMEOUT = 5.0  # seconds a browser may take to accept one pushed message before its socket counts as gone


class OpenChat:
    """One visitor's websocket; sends are serialised so that a push and the history never interleave."""

    def __init__(self, socket: WebSocket) -> None:
        self.socket = socket
        self._lock = asyncio.Lock()

    async def send(self, data: dict[str, Any]) -> None:
        async with self._lock:
            await asyncio.wait_for(self.socket.send_text(json.dumps(data, ensure_ascii=False)), SEND_TIMEOUT)


class ChatHub:
    """Visitors' open chats by their contact's channel user id (a visitor may have several tabs open)."""

    def __init__(self) -> None:
        self._chats: dict[str, set[OpenChat]] = {}
        self._contacts: dict[str, int] = {}  # channel user id -> contact id, for the visitors with a chat open

    def attach(self, channel_user_id: str, chat: OpenChat, contact_id: int | None) -> None:
        self._chats.setdefault(channel_user_id, set()).add(chat)
        self.know(channel_user_id, contact_id)

    def know(self, channel_user_id: str, contact_id: int | None) -> None:
        """The contact behind a visitor (known once their first open has created it)."""
        if contact_id is not None and channel_user_id in self._chats:
            self._contacts[channel_user_id] = contact_id

    def reachable(self) -> set[int]:
        """The contacts with a chat open on this process: the outbox worker claims only their messages here, so
        another process never takes (and backs off on) a message for a visitor connected to this one."""
        return {self._contacts[user] for user in list(self._chats) if user in self._contacts}

    def detach(self, channel_user_id: str, chat: OpenChat) -> None:
        chats = self._chats.get(channel_user_id)
        if chats is not None:
            chats.discard(chat)
            if not chats:
                del self._chats[channel_user_id]
                self._contacts.pop(channel_user_id, None)

    def open_chats(self) -> int:
        return sum(len(chats) for chats in self._chats.values())

    async def deliver(self, item: OutboxItem) -> None:
        """The sender registered for `webchat`: push one outbox message to every open chat of its visitor. With no
        chat open here the message stays pending (TemporaryFailure) until the visitor connects again."""
        chats = list(self._chats.get(item.channel_user_id, ()))
        if not chats:
            raise TemporaryFailure("The visitor has no chat open; the message waits until they come back.")
        data = {"type": "message", "message": pushed_message(item)}
        results = await asyncio.gather(*(chat.send(data) for chat in chats), return_exceptions=True)
        for chat, result in zip(chats, results, strict=True):
            if isinstance(result, BaseException):
                log.info("web chat socket of %s dropped: %r", item.channel_user_id, result)
                self.detach(item.channel_user_id, chat)
        if all(isinstance(result, BaseException) for result in results):
            raise TemporaryFailure("The visitor's chat closed before the message arrived; it waits for them.")


def pushed_message(item: OutboxItem) -> dict[str, Any]:
    return {"id": item.message_id, "direction": "out", "text": item.text,
            "buttons": button_titles(item.buttons)}


def button_titles(buttons: list[dict[str, Any]] | None) -> list[str]:
    return [str(button.get("title", "")) for button in buttons or () if isinstance(button, dict)]
