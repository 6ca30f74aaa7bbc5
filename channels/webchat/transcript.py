"""What the web chat reads of the database: only the visitor's own contact and transcript, found by the hashed id."""

import json
import sqlite3
from typing import Any

from channels.webchat.hub import button_titles

HISTORY_LIMIT = 200  # the most recent messages shown when a chat opens


def find_visitor(connection: sqlite3.Connection, *, channel_user_id: str) -> int | None:
    row = connection.execute("SELECT id FROM contact WHERE channel = 'webchat' AND channel_user_id = ?",
                             (channel_user_id,)).fetchone()
    return row[0] if row else None


def read_history(connection: sqlite3.Connection, *, contact_id: int) -> list[dict[str, Any]]:
    """The contact's last messages, oldest first, as the chat shows them (no admin data: text and buttons only)."""
    rows = connection.execute(
        "SELECT id, direction, text, buttons FROM message WHERE contact_id = ? ORDER BY id DESC LIMIT ?",
        (contact_id, HISTORY_LIMIT)).fetchall()
    return [{"id": message_id, "direction": direction, "text": text, "buttons": button_titles(_json_list(buttons))}
            for message_id, direction, text, buttons in reversed(rows)]


def _json_list(text: str | None) -> list:
    try:
        value = json.loads(text or "[]")
    except ValueError:
        return []
    return value if isinstance(value, list) else []
