"""Inbound text made storable and bounded before an open reads it (issue 10)."""

import pytest

from runtime.inbound import CHANNEL_TEXT_LIMITS, Inbound, ParseCache, clean_inbound, storable_text
from runtime.vocabulary import CHANNELS


@pytest.mark.parametrize(("text", "expected"), [
    ("Ann", "Ann"),
    ("Zoë 😀", "Zoë 😀"),
    ("Ann \ud83d", "Ann \ufffd"),  # an emoji cut in the middle
    ("\ude00Ann", "\ufffdAnn"),
    ("\ud83d\ude00", "😀"),  # two halves of one emoji, as a UTF-16 decoder may leave them
    ("a\x00b", "a\ufffdb"),
    ("\udcf0\udc9f", "\ufffd\ufffd"),  # bytes that were not UTF-8, as Python decodes them from argv
    ("\u202eevil\u200f", "\u202eevil\u200f"),  # direction marks are text; they are rendered as text, never run
])
def test_storable_text_replaces_only_what_cannot_be_stored(text: str, expected: str) -> None:
    assert storable_text(text) == expected
    storable_text(text).encode("utf-8")


def test_a_clean_inbound_is_left_as_it_is() -> None:
    inbound = Inbound(text="giveaway2025", channel="messenger", channel_user_id="ann", first_name="Ann")
    assert clean_inbound(inbound) == (inbound, ())


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_flood_is_cut_before_it_is_cleaned(channel: str) -> None:
    cleaned, warnings = clean_inbound(Inbound(text="\ud800" * 1_000_000, channel=channel, channel_user_id="x"))
    assert len(cleaned.text) < 100_000 and set(cleaned.text) == {"\ufffd"}
    limit = CHANNEL_TEXT_LIMITS[channel]
    assert len(warnings) == 1 and f"longer than the {limit:,} characters" in warnings[0]


def test_the_parse_cache_is_bounded_by_the_memory_it_holds() -> None:
    cache = ParseCache(max_entries=4096, max_bytes=1_000_000)
    refs = ("giveaway2025",)
    for number in range(200):
        text = f"giveaway2025--{number}--" + "x" * 20_000
        assert cache.parse(text, refs, "webchat")[1] == text[:4096]
    assert cache.bytes <= 1_000_000
    assert 0 < len(cache) < 200


def test_the_parse_cache_keeps_a_link_opened_again_and_again() -> None:
    cache = ParseCache(max_entries=3)
    first = cache.parse("giveaway2025-c42", ("giveaway2025",), "messenger")
    for number in range(10):
        assert cache.parse("giveaway2025-c42", ("giveaway2025",), "messenger") is first
        cache.parse(f"other{number}", ("giveaway2025",), "messenger")
    assert len(cache) == 3
