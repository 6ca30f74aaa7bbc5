"""A small live workspace for delivery and clock tests: an entry point that says hello, waits, and says more."""

from datetime import UTC, datetime

WORKSPACE = {
    "format": "referflow-workspace", "version": 1,
    "settings": {"bot_name": "Test bot", "page_id": "1234567890"},
    "fields": [], "tags": [],
    "flows": [{"id": 1, "name": "Later", **{copy: {
        "schema": 1,
        "nodes": [{"id": "start", "type": "start", "position": {"x": 0, "y": 0}, "data": {}},
                  {"id": "hello", "type": "send_message", "position": {"x": 100, "y": 0},
                   "data": {"text": "Hello {{first_name}}"}},
                  {"id": "more", "type": "send_message", "position": {"x": 200, "y": 0},
                   "data": {"text": "One more thing"}},
                  {"id": "wait", "type": "delay", "position": {"x": 300, "y": 0}, "data": {"seconds": 60}},
                  {"id": "later", "type": "send_message", "position": {"x": 400, "y": 0},
                   "data": {"text": "A minute later, {{first_name}}"}}],
        "edges": [{"id": "e1", "source": "start", "source_handle": "next", "target": "hello"},
                  {"id": "e2", "source": "hello", "source_handle": "next", "target": "more"},
                  {"id": "e3", "source": "more", "source_handle": "next", "target": "wait"},
                  {"id": "e4", "source": "wait", "source_handle": "next", "target": "later"}],
    } for copy in ("draft", "published")}}],
    "triggers": [],
    "entry_points": [{"id": 1, "name": "Go", "ref": "go", "response_type": "flow", "response_flow_id": 1}],
}


class Clock:
    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now
