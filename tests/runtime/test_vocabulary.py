"""The product's words that are more than a list: durations as admins write them, and the reply window."""

from datetime import UTC, datetime, timedelta

import pytest

from runtime.vocabulary import DurationError, format_duration, parse_duration, window_closed

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(("text", "duration"), [
    ("30s", timedelta(seconds=30)),
    ("15m", timedelta(minutes=15)),
    ("1h30m", timedelta(minutes=90)),
    (" 2d ", timedelta(days=2)),
    ("1w", timedelta(weeks=1)),
    ("1.5h", timedelta(minutes=90)),
    ("2 days", timedelta(days=2)),
    ("1 hour 30 min", timedelta(minutes=90)),
    ("2H", timedelta(hours=2)),
])
def test_durations_read_as_admins_and_scenarios_write_them(text: str, duration: timedelta) -> None:
    assert parse_duration(text) == duration


@pytest.mark.parametrize("text", ["", "soon", "5", "1h and more", "1 ms", "2 dayz", "-1h"])
def test_anything_else_is_refused_with_an_example(text: str) -> None:
    with pytest.raises(DurationError, match=r"is not a duration; write e\.g\. 30s, 15m, 2h, 1d or 1h30m"):
        parse_duration(text)


@pytest.mark.parametrize(("seconds", "words"), [
    (1, "1 second"), (90, "90 seconds"), (60, "1 minute"), (7200, "2 hours"), (86400, "1 day"),
    (5400, "90 minutes"), (1.5, "1.5 seconds"),
])
def test_a_wait_is_said_in_the_largest_whole_unit(seconds: float, words: str) -> None:
    assert format_duration(seconds) == words


@pytest.mark.parametrize(("channel", "last", "open_"), [
    ("whatsapp", NOW - timedelta(hours=24), True),
    ("whatsapp", NOW - timedelta(hours=25), False),
    ("whatsapp", None, False),
    ("telegram", None, True),
    ("messenger", NOW - timedelta(days=30), True),
])
def test_only_whatsapp_closes_its_reply_window(channel: str, last: datetime | None, open_: bool) -> None:
    assert (window_closed(channel, last, NOW) is None) is open_
