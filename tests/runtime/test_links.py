"""Entry point links: what an admin builds, pastes and reads back, channel by channel."""

import json
import re

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from runtime.link_reading import count_repeats, extract_ref, match_whatsapp_text, parse_link, parse_ref
from runtime.links import (
    ChannelIdentities,
    LinkError,
    LintProblem,
    PayloadItem,
    build_link,
    build_ref,
    check_entry_ref,
    lint_link,
    referral_template,
)
from runtime.vocabulary import CHANNELS

SHOP = ChannelIdentities(
    page_id="123456",
    instagram_username="@shop",
    whatsapp_number="+1 555 0100",
    telegram_bot="@ShopBot",
    viber_uri="shopbot",
    webchat_base_url="https://app.example.com/webchat/",
    webchat_account_id="acc-1",
)
REFS = ["giveaway", "giveaway2025", "campaign1", "black", "black-friday", "promo", "promo-cats"]
RECOMMENDED = r"You were recommended by (?P<referrer>\+?\d{7,15})"


def summary(parsed):
    """What an admin sees in the simulator: entry, referrer, payload as (key, value) pairs, JSON."""
    return parsed.entry, parsed.referrer, [(item.key, item.value) for item in parsed.payload], parsed.json


# --- the ref grammar ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("ref", "expected"), [
    ("giveaway2025", ("giveaway2025", None, [], None)),
    ("giveaway2025-c42", ("giveaway2025", "42", [], None)),
    ("giveaway--456", ("giveaway", None, [(None, "456")], None)),
    ("giveaway--738--gold--514--7", ("giveaway", None, [("738", "gold"), ("514", "7")], None)),
    ("giveaway--value1--738--value2--514--value3",
     ("giveaway", None, [(None, "value1"), ("738", "value2"), ("514", "value3")], None)),
    ("giveaway2025-c42--456", ("giveaway2025", "42", [(None, "456")], None)),
    ('giveawayjsondata--{"plan":"pro","seats":3}', ("giveaway", None, [], {"plan": "pro", "seats": 3})),
    ('giveaway2025-c42jsondata--{"plan":"pro"}', ("giveaway2025", "42", [], {"plan": "pro"})),
    ("giveawayjsondata--eyJwbGFuIjoicHJvIn0", ("giveaway", None, [], {"plan": "pro"})),
    ("giveawayjsondata--eyJwbGFuIjoicHJvIn0=", ("giveaway", None, [], {"plan": "pro"})),
    ('giveawayjsondata--{"note":"a--b – c"}', ("giveaway", None, [], {"note": "a--b – c"})),
    ("black-friday", ("black-friday", None, [], None)),
    ("black", ("black", None, [], None)),
    ("black--friday", ("black", None, [(None, "friday")], None)),
    ("black-friday-c7--vip", ("black-friday", "7", [(None, "vip")], None)),
    ("promo-cats", ("promo-cats", None, [], None)),
    ("promo-c42", ("promo", "42", [], None)),
    ("promo-cats-c42--toy", ("promo-cats", "42", [(None, "toy")], None)),
    ("campaign1-c0042", ("campaign1", "0042", [], None)),
    ("giveaway--", ("giveaway", None, [(None, "")], None)),
    ("giveaway--738----514--7", ("giveaway", None, [("738", ""), ("514", "7")], None)),
    ("giveaway----738--gold", ("giveaway", None, [(None, ""), ("738", "gold")], None)),
    ("giveaway--hello world--city--São Paulo & Rio?",
     ("giveaway", None, [(None, "hello world"), ("city", "São Paulo & Rio?")], None)),
    ("giveaway-- 738 --gold", ("giveaway", None, [("738", "gold")], None)),
    ("giveaway---5", ("giveaway", None, [(None, "-5")], None)),
    ("  giveaway2025-c42  ", ("giveaway2025", "42", [], None)),
], ids=lambda value: value if isinstance(value, str) else None)
def test_parse_ref_reads_entry_referrer_and_payload(ref, expected):
    assert summary(parse_ref(ref, REFS)) == expected


@pytest.mark.parametrize(("ref", "normalised", "expected"), [
    ("giveaway–456", "giveaway--456", ("giveaway", None, [(None, "456")], None)),
    ("giveaway—738—gold", "giveaway--738--gold", ("giveaway", None, [("738", "gold")], None)),
    ("giveaway–value1–738–value2–514–value3", "giveaway--value1--738--value2--514--value3",
     ("giveaway", None, [(None, "value1"), ("738", "value2"), ("514", "value3")], None)),
    ('giveawayjsondata—{"plan":"pro"}', 'giveawayjsondata--{"plan":"pro"}', ("giveaway", None, [], {"plan": "pro"})),
    ('giveawayjsondata–{"range":"1–5"}', 'giveawayjsondata--{"range":"1–5"}',
     ("giveaway", None, [], {"range": "1–5"})),
], ids=["en dash", "em dash", "seed multiple payloads", "em dash before json", "dash inside json kept"])
def test_parse_ref_reads_a_long_dash_as_double_hyphen(ref, normalised, expected):
    parsed = parse_ref(ref, REFS)
    assert (parsed.ref, summary(parsed)) == (normalised, expected)
    assert any("long dash" in warning for warning in parsed.warnings)


@pytest.mark.parametrize(("ref", "entry_refs", "expected", "warning"), [
    ("xyz", [], (None, None, [], None), "No entry point has the ref 'xyz'."),
    ("xyz-c5--a--b--c", [], (None, "5", [(None, "a"), ("b", "c")], None), "'xyz'"),
    ('shopjsondata--{"a":1}', [], (None, None, [], {"a": 1}), "'shop'"),
    ("giveawya--5", REFS, (None, None, [(None, "5")], None), "Did you mean 'giveaway'?"),
    ("promo-c42", ["promo-cats"], (None, "42", [], None), "'promo'"),
    ("giveaway2025-c42x", ["giveaway2025"], (None, None, [], None), "'giveaway2025-c42x'"),
    ("--5", REFS, (None, None, [(None, "5")], None), "names no entry point"),
    ("giveaway2025-c{{user_id}}", REFS, ("giveaway2025", None, [], None), "{{user_id}} placeholder"),
    ("", REFS, (None, None, [], None), "has no ref"),
    ("giveaway----gold", REFS, ("giveaway", None, [], None), "'gold' has no field ID or name"),
], ids=["unknown", "unknown keeps parts", "unknown json", "close match", "no longer ref", "tail does not fit",
        "no entry", "template placeholder", "empty", "missing key"])
def test_parse_ref_turns_bad_input_into_warnings(ref, entry_refs, expected, warning):
    parsed = parse_ref(ref, entry_refs)
    assert summary(parsed) == expected
    assert any(warning in text for text in parsed.warnings), parsed.warnings


@pytest.mark.parametrize(("ref", "warning"), [
    ('giveaway-c9jsondata--{"plan":', "could not be read (Expecting value at character 9)"),
    ("giveaway-c9jsondata--!!!", "could not be read"),
    ("giveaway-c9jsondata--bm90IGpzb24", "could not be read"),
    ("giveaway-c9jsondata--[1, 2]", "not a list"),
    ('giveaway-c9jsondata--"pro"', "not a piece of text"),
    ("giveaway-c9jsondata--3", "not a number"),
    ("giveaway-c9jsondata--null", "not true, false or null"),
    ("giveaway-c9jsondata--", "followed by no data"),
    ("giveaway-c9jsondata--" + "[" * 100_000, "could not be read"),
], ids=["malformed", "neither json nor base64", "base64 of non-json", "list", "text", "number", "null", "empty",
        "deeply nested"])
def test_bad_json_is_a_warning_and_the_rest_still_applies(ref, warning):
    parsed = parse_ref(ref, REFS)
    assert summary(parsed) == ("giveaway", "9", [], None)
    assert any(warning in text for text in parsed.warnings), parsed.warnings


def test_parse_ref_without_problems_has_no_warnings():
    assert parse_ref("giveaway2025-c42--738--gold", REFS).warnings == ()


# --- reading pasted links -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "channel", "ref"), [
    ("https://m.me/FB_PAGE_ID?ref=giveaway", "messenger", "giveaway"),
    ("https://m.me/FB_PAGE_ID?ref=campaign1-c{{user_id}}", "messenger", "campaign1-c{{user_id}}"),
    ("http://www.messenger.com/t/123456?ref=giveaway", "messenger", "giveaway"),
    ("m.me/FB_PAGE_ID?ref=giveaway", "messenger", "giveaway"),
    ("HTTPS://M.ME/Page?REF=giveaway", "messenger", "giveaway"),
    ("https://ig.me/m/INSTAGRAM_USERNAME?ref=giveaway", "instagram", "giveaway"),
    ("https://wa.me/15550100?text=/giveaway", "whatsapp", "giveaway"),
    ("https://wa.me/15550100?text=giveaway", "whatsapp", "giveaway"),
    ("https://wa.me/15550100?text=%2Fgiveaway--hello%20world", "whatsapp", "giveaway--hello world"),
    ("https://api.whatsapp.com/send?phone=15550100&text=/giveaway", "whatsapp", "giveaway"),
    ("https://t.me/BOT_USERNAME?start=giveaway", "telegram", "giveaway"),
    ("https://t.me/ShopBot?start=Z2l2ZWF3YXktLWhlbGxvIHdvcmxk", "telegram", "giveaway--hello world"),
    ("tg://resolve?domain=ShopBot&start=giveaway2025-c42", "telegram", "giveaway2025-c42"),
    ("/start giveaway2025-c42", "telegram", "giveaway2025-c42"),
    ("/start@ShopBot giveaway", "telegram", "giveaway"),
    ("/start", "telegram", ""),
    ("https://t.me/ShopBot?start=IQ", "telegram", "IQ"),
    ("viber://pa?chatURI=BOT_USERNAME&context=giveaway", "viber", "giveaway"),
    ("https://app.chitchatbot.com/bots/webchat/?p=CHITCHATBOT_ACCOUNT_ID&ref=giveaway", "webchat", "giveaway"),
    ("https://app.chitchatbot.ai/webchat/?p=xxx-account-id-xxx?ref=giveaway2025-c{{user_id}}", "webchat",
     "giveaway2025-c{{user_id}}"),
    ("app.example.com/webchat/?p=acc-1&amp;ref=giveaway", "webchat", "giveaway"),
    ("  'https://m.me/page?ref=giveaway'  ", "messenger", "giveaway"),
    ("“https://m.me/page?ref=giveaway”", "messenger", "giveaway"),
    ("<https://m.me/page?ref=giveaway>", "messenger", "giveaway"),
    ("https://m.me/page?ref=giveaway.", "messenger", "giveaway"),
    ("Join us: https://m.me/page?ref=giveaway!", "messenger", "giveaway"),
    ("(see https://m.me/page?ref=giveaway)", "messenger", "giveaway"),
    ("https://m.me/page?ref=giveaway%2D%2D456", "messenger", "giveaway--456"),
    ("https://m.me/page?ref=giveaway--John Smith", "messenger", "giveaway--John Smith"),
    ("https://m.me/page?ref=giveaway--%2B4412345", "messenger", "giveaway--+4412345"),
    ("https://m.me/page?ref=giveaway--v1%2E", "messenger", "giveaway--v1."),
    ("https://m.me/page?ref=giveaway\nhttps://t.me/bot?start=other", "messenger", "giveaway"),
    ("https://m.me/page", "messenger", ""),
    ("giveaway2025-c42", None, "giveaway2025-c42"),
    ("/giveaway", None, "giveaway"),
    ("?ref=giveaway", None, "giveaway"),
    ("giveaway--a%20b", None, "giveaway--a b"),
    ("", None, ""),
])
def test_extract_ref_finds_the_ref_in_what_admins_paste(text, channel, ref):
    assert extract_ref(text)[:2] == (channel, ref)


@pytest.mark.parametrize(("text", "ref", "warning"), [
    ("https://app.chitchatbot.ai/webchat/?p=xxx?ref=giveaway2025", "giveaway2025", "second '?'"),
    ("https://m.me/page?ref=giveaway--hello%2520world", "giveaway--hello world", "URL-encoded twice"),
])
def test_extract_ref_repairs_with_a_warning(text, ref, warning):
    _, found, warnings = extract_ref(text)
    assert found == ref
    assert any(warning in text for text in warnings)


def test_extract_ref_of_a_clean_link_has_no_warnings():
    assert extract_ref("https://m.me/page?ref=giveaway--456") == ("messenger", "giveaway--456", ())


# --- parse_link: the simulator's view of a pasted link ----------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("https://m.me/FB_PAGE_ID?ref=giveaway--456", ("giveaway", None, [(None, "456")], None)),
    ("https://m.me/FB_PAGE_ID?ref=giveaway–value1–738–value2–514–value3",
     ("giveaway", None, [(None, "value1"), ("738", "value2"), ("514", "value3")], None)),
    ("https://m.me/FB_PAGE_ID?ref=campaign1-c{{user_id}}", ("campaign1", None, [], None)),
    ("https://m.me/FB_PAGE_ID?ref=campaign1-c314", ("campaign1", "314", [], None)),
    ("https://app.chitchatbot.ai/webchat/?p=xxx-account-id-xxx?ref=giveaway2025-c{{user_id}}",
     ("giveaway2025", None, [], None)),
    ("https://app.chitchatbot.ai/webchat/?p=xxx-account-id-xxx?ref=giveaway2025-c77", ("giveaway2025", "77", [], None)),
    ('https://m.me/FB_PAGE_ID?ref=giveawayjsondata—{"plan":"pro","seats":3}',
     ("giveaway", None, [], {"plan": "pro", "seats": 3})),
    ("https://wa.me/15550100?text=/black-friday-c9--vip", ("black-friday", "9", [(None, "vip")], None)),
    ("/start promo-cats-c5", ("promo-cats", "5", [], None)),
    ("/start Z2l2ZWF3YXktYzQyLS1jaXR5LS1Tw6NvIFBhdWxv", ("giveaway", "42", [("city", "São Paulo")], None)),
])
def test_parse_link_reads_seed_and_channel_links(text, expected):
    assert summary(parse_link(text, REFS)) == expected


@pytest.mark.parametrize(("start", "entry_refs", "entry"), [
    ("YS0tYiBj", ["YS0tYiBj"], "YS0tYiBj"),
    ("YS0tYiBj", ["a"], "a"),
    ("IQ", [], None),
])
def test_parse_link_prefers_a_plain_telegram_start_that_names_an_entry_point(start, entry_refs, entry):
    # "YS0tYiBj" is also base64 for "a--b c"; "IQ" is base64 for "!", which has no '--' and so is never a ref
    parsed = parse_link(f"https://t.me/ShopBot?start={start}", entry_refs)
    assert parsed.entry == entry
    assert parsed.ref == ("a--b c" if entry == "a" else start)


def test_parse_link_to_dict_has_the_exact_shape():
    parsed = parse_link("https://ig.me/m/shop?ref=giveaway2025-c42--738--gold", REFS)
    assert parsed.to_dict() == {
        "channel": "instagram",
        "ref": "giveaway2025-c42--738--gold",
        "entry": "giveaway2025",
        "referrer": "42",
        "payload": [{"key": "738", "value": "gold"}],
        "json": None,
        "warnings": [],
        "lint": [],
    }


def test_parse_link_reports_channel_limits_of_the_pasted_link():
    parsed = parse_link('https://ig.me/m/shop?ref=giveawayjsondata--{"plan":"pro"}', REFS)
    assert parsed.json == {"plan": "pro"}
    assert [problem.to_dict()["code"] for problem in parsed.lint] == ["invalid_characters"]
    assert parse_link("https://t.me/ShopBot?start=giveaway--a b", REFS).lint[0].code == "invalid_characters"


def test_parse_link_keeps_each_warning_once():
    parsed = parse_link("https://m.me/p?ref=xyz--a%2520b", [])
    assert len(parsed.warnings) == len(set(parsed.warnings)) == 2


# --- building links -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("channel", "ref", "link"), [
    ("messenger", "giveaway", "https://m.me/123456?ref=giveaway"),
    ("instagram", "giveaway", "https://ig.me/m/shop?ref=giveaway"),
    ("whatsapp", "giveaway", "https://wa.me/15550100?text=/giveaway"),
    ("telegram", "giveaway", "https://t.me/ShopBot?start=giveaway"),
    ("viber", "giveaway", "viber://pa?chatURI=shopbot&context=giveaway"),
    ("webchat", "giveaway", "https://app.example.com/webchat/?p=acc-1&ref=giveaway"),
    ("messenger", "giveaway--hello world&more?", "https://m.me/123456?ref=giveaway--hello%20world%26more%3F"),
    ("messenger", "giveaway--v1.", "https://m.me/123456?ref=giveaway--v1%2E"),
    ("whatsapp", "giveaway--a/b", "https://wa.me/15550100?text=/giveaway--a%2Fb"),
    ("telegram", "giveaway--hello world", "https://t.me/ShopBot?start=Z2l2ZWF3YXktLWhlbGxvIHdvcmxk"),
    ("instagram", 'giveawayjsondata--{"plan":"pro"}', "https://ig.me/m/shop?ref=giveawayjsondata--eyJwbGFuIjoicHJvIn0"),
    ("messenger", "giveaway2025-c{{user_id}}", "https://m.me/123456?ref=giveaway2025-c{{user_id}}"),
])
def test_build_link_encodes_the_ref_as_each_channel_needs(channel, ref, link):
    assert build_link(channel, ref, SHOP) == link


def test_build_link_avoids_a_double_slash_after_the_webchat_address():
    identities = ChannelIdentities(webchat_base_url="https://app.example.com/webchat", webchat_account_id="acc-1")
    assert build_link("webchat", "giveaway", identities) == "https://app.example.com/webchat/?p=acc-1&ref=giveaway"


@pytest.mark.parametrize("channel", CHANNELS)
def test_build_link_explains_a_channel_that_is_not_set_up(channel):
    with pytest.raises(LinkError, match="workspace settings"):
        build_link(channel, "giveaway", ChannelIdentities(whatsapp_number="+"))


def test_build_link_rejects_an_unknown_channel_with_a_readable_error():
    with pytest.raises(ValueError, match="'sms' is not a channel"):
        build_link("sms", "giveaway", SHOP)


@pytest.mark.parametrize(("identities", "channels"), [
    (SHOP, list(CHANNELS)),
    (ChannelIdentities(), []),
    (ChannelIdentities(page_id="1", whatsapp_number="+ -", webchat_base_url="https://x.example"), ["messenger"]),
    (ChannelIdentities(telegram_bot=" @bot ", webchat_base_url="https://x.example", webchat_account_id="a"),
     ["telegram", "webchat"]),
])
def test_configured_channels_lists_channels_with_an_identity(identities, channels):
    assert identities.configured_channels() == channels


@pytest.mark.parametrize(("channel", "link"), [
    ("messenger", "https://m.me/123456?ref=giveaway2025-c{{user_id}}"),
    ("instagram", "https://ig.me/m/shop?ref=giveaway2025-c{{user_id}}"),
    ("whatsapp", "https://wa.me/15550100?text=/giveaway2025-c{{user_id}}"),
    ("telegram", "https://t.me/ShopBot?start=giveaway2025-c{{user_id}}"),
    ("viber", "viber://pa?chatURI=shopbot&context=giveaway2025-c{{user_id}}"),
    ("webchat", "https://app.example.com/webchat/?p=acc-1&ref=giveaway2025-c{{user_id}}"),
])
def test_referral_template_leaves_the_user_id_placeholder_readable(channel, link):
    assert referral_template(channel, "giveaway2025", SHOP) == link


def test_referral_template_filled_in_names_the_referrer():
    link = referral_template("webchat", "giveaway2025", SHOP).replace("{{user_id}}", "42")
    assert summary(parse_link(link, REFS)) == ("giveaway2025", "42", [], None)


def test_referral_template_rejects_an_invalid_entry_ref():
    with pytest.raises(LinkError, match="contains spaces"):
        referral_template("messenger", "black friday", SHOP)


@pytest.mark.parametrize(("kwargs", "ref"), [
    ({}, "giveaway"),
    ({"referrer": 42}, "giveaway-c42"),
    ({"referrer": "0042"}, "giveaway-c0042"),
    ({"referrer": "{{user_id}}"}, "giveaway-c{{user_id}}"),
    ({"payload": [PayloadItem(None, "456")]}, "giveaway--456"),
    ({"payload": [PayloadItem("738", "gold"), PayloadItem("514", "7")]}, "giveaway--738--gold--514--7"),
    ({"referrer": 42, "payload": [PayloadItem(None, "a"), PayloadItem(" city ", "")]}, "giveaway-c42--a--city--"),
    ({"payload": [PayloadItem("note", "-x-")]}, "giveaway--note---x-"),
    ({"json": {"plan": "pro", "seats": 3}}, 'giveawayjsondata--{"plan":"pro","seats":3}'),
    ({"referrer": 7, "json": {"plan": "pro"}, "encode_json": True}, "giveaway-c7jsondata--eyJwbGFuIjoicHJvIn0"),
])
def test_build_ref_writes_the_grammar(kwargs, ref):
    assert build_ref("giveaway", **kwargs) == ref


@pytest.mark.parametrize(("entry", "kwargs", "message"), [
    ("black friday", {}, "contains spaces"),
    ("giveaway", {"referrer": "abc"}, "contact id"),
    ("giveaway", {"referrer": -5}, "contact id"),
    ("giveaway", {"referrer": True}, "contact id"),
    ("giveaway", {"payload": [PayloadItem(None, "a")], "json": {"a": 1}}, "not both"),
    ("giveaway", {"payload": [PayloadItem("1", "a"), PayloadItem(None, "b")]}, "Only the first"),
    ("giveaway", {"payload": [PayloadItem(" ", "a")]}, "needs a field ID"),
    ("giveaway", {"payload": [PayloadItem(None, "a--b")]}, "separate payload values"),
    ("giveaway", {"payload": [PayloadItem("738", "a–b")]}, "long dash"),
    ("giveaway", {"payload": [PayloadItem("738", "a-"), PayloadItem("1", "b")]}, "ends with '-'"),
    ("giveaway", {"json": [1, 2]}, "must be an object"),
    ("giveaway", {"json": {"when": {1, 2}}}, "may only hold"),
    ("giveaway", {"json": {"n": float("nan")}}, "may only hold"),
])
def test_build_ref_refuses_what_would_not_read_back(entry, kwargs, message):
    with pytest.raises(LinkError, match=message):
        build_ref(entry, **kwargs)


# --- entry refs -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("ref", ["giveaway2025", "black-friday", "promo-cats", "a_b", "promo-c5x", "X"])
def test_check_entry_ref_accepts_the_grammar(ref):
    assert check_entry_ref(ref) is None


@pytest.mark.parametrize(("ref", "reason"), [
    ("", "cannot be empty"),
    ("black friday", "contains spaces"),
    ("café", "contains 'é'"),
    ("-black", "start or end with a hyphen"),
    ("black-", "start or end with a hyphen"),
    ("black--friday", "contains '--'"),
    ("giveaway-c42", "ends with '-c42'"),
    ("myjsondata", "contains 'jsondata'"),
])
def test_check_entry_ref_explains_what_is_wrong(ref, reason):
    assert reason in check_entry_ref(ref)


# --- channel limits -------------------------------------------------------------------------------------------------

LONG_ID = "9223372036854775807"


@pytest.mark.parametrize(("channel", "ref", "codes"), [
    ("messenger", "a" * 2083, []),
    ("messenger", "a" * 2084, ["too_long"]),
    ("messenger", "a" * 2062 + "-c{{user_id}}", []),
    ("messenger", "a" * 2063 + "-c{{user_id}}", ["too_long"]),
    ("instagram", "giveaway-c42--738--gold=1", []),
    ("instagram", "giveaway--hello world", ["invalid_characters"]),
    ("instagram", 'giveawayjsondata--{"plan":"pro"}', []),
    ("instagram", "a" * 2084, ["too_long"]),
    ("instagram", "a b" * 1000, ["invalid_characters", "too_long"]),
    ("telegram", "a" * 64, []),
    ("telegram", "a" * 65, ["too_long"]),
    ("telegram", "a" * 43 + "-c{{user_id}}", []),
    ("telegram", "a" * 44 + "-c{{user_id}}", ["too_long"]),
    ("telegram", "giveaway--hello world", []),
    ("telegram", 'giveawayjsondata--{"plan":"pro","seats":3,"coupon":"SPRING"}', ["too_long"]),
    ("telegram", "giveaway-c{{user_id}}--hello world", ["cannot_encode"]),
    ("whatsapp", "a b" * 2000, []),
    ("viber", "a b" * 2000, []),
    ("webchat", "a b" * 2000, []),
    (None, "a b" * 2000, []),
    ("sms", "a b", []),
])
def test_lint_link_explains_channel_limits(channel, ref, codes):
    assert [problem.code for problem in lint_link(channel, ref)] == codes


@pytest.mark.parametrize(("channel", "ref", "words"), [
    ("telegram", "a" * 44 + "-c{{user_id}}", ["64", "65", "longest possible contact id"]),
    ("telegram", "giveaway--" + "x y" * 20, ["64", "base64"]),
    ("instagram", "giveaway--a b&c", ["contains spaces and '&'", "letters, digits"]),
    ("instagram", "giveaway--a b&c!?*(", ["contains spaces, '&', '!', '?', '*' and more"]),
    ("messenger", "a" * 3000, ["2083", "3000"]),
])
def test_lint_messages_are_sentences_an_admin_can_act_on(channel, ref, words):
    (problem,) = lint_link(channel, ref)
    assert problem.message[0].isupper() and problem.message.endswith(".")
    for word in words:
        assert word in problem.message


def test_lint_problem_to_dict():
    problem = LintProblem("telegram", "too_long", "Too long.")
    assert problem.to_dict() == {"channel": "telegram", "code": "too_long", "message": "Too long."}


# --- WhatsApp text referrals ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "pattern", "expected"), [
    ("You were recommended by +79991234567 Hello", RECOMMENDED, {"referrer": "+79991234567"}),
    ("You were recommended by 79991234567", RECOMMENDED, {"referrer": "79991234567"}),
    ("Hello there", RECOMMENDED, None),
    ("You were recommended by 123", RECOMMENDED, None),
    ("Hi! code giveaway2025 from 42", r"code (?P<ref>\w+) from (?P<referrer>\d+)",
     {"ref": "giveaway2025", "referrer": "42"}),
    ("hello", r"(?P<ref>/\w+)?hello", None),
])
def test_match_whatsapp_text_reads_named_groups(text, pattern, expected):
    assert match_whatsapp_text(text, pattern) == expected


def test_match_whatsapp_text_reads_the_seed_referral_link():
    link = "https://wa.me/15550100?text=You%20were%20recommended%20by%20+79991234567%20Hello"
    _, text, _ = extract_ref(link)
    assert match_whatsapp_text(text, RECOMMENDED) == {"referrer": "+79991234567"}


@pytest.mark.parametrize(("pattern", "message"), [
    (r"recommended by (?P<referrer>\d+", "not a valid regular expression"),
    (r"recommended by (\d+)", "needs a named group"),
    (r"recommended by (?P<phone>\d+)", "needs a named group"),
    # what Python's re runs by backtracking, RE2 refuses; each refusal names the construct
    (r"recommended by (?P<referrer>\d+)(?= Hello)",
     r"uses a lookahead, \(\?=\.\.\.\) or \(\?!\.\.\.\), which Referflow does not support"),
    (r"(?<=by )(?P<referrer>\d+)", "uses a lookbehind"),
    (r"(?P<referrer>\d)\1", "uses a backreference"),
    (r"(?P<referrer>\d)(?P=referrer)", "uses a backreference"),
    (r"(?P<referrer>(?>\d+))", "uses an atomic group"),
    (r"(?P<referrer>\d++)", "uses a possessive quantifier"),
    (r"by (?P<referrer>\d+)\Z", r"uses \\Z \(write \\z for the end of the message\)"),
    (r"(?P<referrer>\d{1001})", "uses a repetition count over 1,000"),
    ("(?P<referrer>\ud83d)", "uses a character that is not valid text"),
])
def test_match_whatsapp_text_explains_an_unusable_pattern(pattern, message):
    with pytest.raises(LinkError, match=message):
        match_whatsapp_text("recommended by 42", pattern)


@pytest.mark.parametrize(("text", "pattern", "expected"), [
    ("You were recommended by +79991234567", r"recommended by (?<referrer>\+?\d{7,15})", {"referrer": "+79991234567"}),
    ("by 42\n", r"by (?P<referrer>\d+)\z", None),  # \z is the very end, as in Python's \Z
    ("by ٤٢", r"by (?P<referrer>\d+)", None),  # \d is ASCII digits only
    ("a" * 51 + "!", r"(?P<referrer>(a+)+)$", None),  # exponential for a backtracking engine, linear for RE2
    ("a" * 4096, r"(?P<referrer>(a+)+)$", {"referrer": "a" * 4096}),
])
def test_match_whatsapp_text_runs_on_re2(text, pattern, expected):
    assert match_whatsapp_text(text, pattern) == expected


@pytest.mark.parametrize(("warnings", "expected"), [
    ([], []),
    (["a", "b"], ["a", "b"]),
    (["a", "b", "a", "a"], ["a (3 times)", "b"]),
    (["x"] * 500_001, ["x (500,001 times)"]),
])
def test_count_repeats_gives_each_warning_once(warnings, expected):
    assert count_repeats(warnings) == expected


# --- properties -----------------------------------------------------------------------------------------------------

PREFIXES = ["", "https://m.me/p?ref=", "https://t.me/b?start=", "https://wa.me/1?text=/", "viber://pa?context=",
            "https://x.example/?p=1?ref=", "/start ", "giveaway", "giveawayjsondata--", "giveaway-c"]


@settings(max_examples=300)
@given(prefix=st.sampled_from(PREFIXES), text=st.text(), entry_refs=st.lists(st.text(max_size=12), max_size=4))
def test_parse_link_never_raises(prefix, text, entry_refs):
    parsed = parse_link(prefix + text, entry_refs)
    json.dumps(parsed.to_dict())
    assert extract_ref(prefix + text)[0] in (None, *CHANNELS)


@pytest.mark.parametrize("text", [
    " " * 100_000 + "x",
    "'" * 50_000 + "x" + " '" * 50_000,
    "https://m.me/p?ref=x" + ")" * 100_000 + "a",
    "https://m.me/p?ref=x" + " )" * 100_000,
    "giveaway" + "-c1" * 50_000 + "x--",
    "?" + "a" * 100_000 + "?" * 100_000,
    "a.b/" + "?ref=" * 50_000,
], ids=["spaces", "quotes", "brackets", "spaced brackets", "referrer-like", "question marks", "query keys"])
def test_parse_link_reads_huge_pathological_input_in_one_pass(text):
    assert parse_link(text, REFS).ref is not None


ENTRIES = st.from_regex(r"[A-Za-z0-9_]{1,8}(-[A-Za-z0-9_]{1,8}){0,2}", fullmatch=True).filter(
    lambda ref: check_entry_ref(ref) is None)
# Values a link can carry: anything typeable (spaces, unicode, & ? % / = and single hyphens), but not '--' or a
# long dash (the payload separator), not control characters, and without spaces at the ends.
SAFE_CHARS = st.characters(blacklist_categories=("Cc", "Cs")) | st.sampled_from(list(" &?%/=#+-.:,{}\"'é€😀–"))
VALUES = st.text(SAFE_CHARS, max_size=10).filter(
    lambda value: "--" not in value and not re.search("[–—]", value) and value == value.strip())
KEYS = VALUES.filter(bool) | st.integers(1, 10**6).map(str)
ITEMS = st.tuples(st.one_of(st.none(), VALUES), st.lists(st.tuples(KEYS, VALUES), max_size=3))
JSON_TEXT = st.text(SAFE_CHARS, max_size=8)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | JSON_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(JSON_TEXT, inner, max_size=3),
    max_leaves=8,
)
JSON_OBJECTS = st.dictionaries(JSON_TEXT, JSON_VALUES, max_size=4)
REFERRERS = st.none() | st.integers(0, 2**63 - 1) | st.from_regex(r"[0-9]{1,19}", fullmatch=True)


def payload_items(default, pairs):
    items = [] if default is None else [PayloadItem(None, default)]
    return items + [PayloadItem(key, value) for key, value in pairs]


def can_travel(ref):
    """Literal %XX text reads as double encoding, and spaces at the ends of a ref are trimmed."""
    return not re.search("%[0-9A-Fa-f]{2}", ref) and ref == ref.strip()


@settings(max_examples=300)
@given(channel=st.sampled_from(CHANNELS), entry=ENTRIES, referrer=REFERRERS, items=ITEMS, use_json=st.booleans(),
       data=JSON_OBJECTS, encode_json=st.booleans())
def test_build_link_round_trips_through_parse_link(channel, entry, referrer, items, use_json, data, encode_json):
    payload = [] if use_json else payload_items(*items)
    tokens = [text for item in payload for text in (item.key, item.value) if text is not None]
    assume(not any(token.endswith("-") for token in tokens[:-1]))
    ref = build_ref(entry, referrer=referrer, payload=payload, json=data if use_json else None,
                    encode_json=encode_json)
    assume(can_travel(ref))
    parsed = parse_link(build_link(channel, ref, SHOP), [entry])
    expected_referrer = None if referrer is None else str(referrer)
    assert (parsed.channel, parsed.entry, parsed.referrer) == (channel, entry, expected_referrer)
    assert parsed.payload == tuple(payload)
    assert parsed.json == (data if use_json else None)
    assert parsed.warnings == ()


@given(entry=ENTRIES, referrer=REFERRERS, items=ITEMS)
def test_build_ref_round_trips_through_parse_ref(entry, referrer, items):
    payload = payload_items(*items)
    tokens = [text for item in payload for text in (item.key, item.value) if text is not None]
    assume(not any(token.endswith("-") for token in tokens[:-1]))
    ref = build_ref(entry, referrer=referrer, payload=payload)
    assume(ref == ref.strip())
    parsed = parse_ref(ref, [entry, entry + "-x"])
    assert (parsed.entry, parsed.referrer, parsed.payload) == (entry, None if referrer is None else str(referrer),
                                                               tuple(payload))


@given(ref=st.text(SAFE_CHARS).filter(lambda ref: "{{user_id}}" not in ref))
def test_telegram_start_values_only_use_the_allowed_characters(ref):
    start = build_link("telegram", ref, SHOP).removeprefix("https://t.me/ShopBot?start=")
    assert re.fullmatch("[A-Za-z0-9_-]*", start)


@given(ref=ENTRIES)
def test_every_valid_entry_ref_builds_a_personal_link_on_every_channel(ref):
    for channel in CHANNELS:
        link = referral_template(channel, ref, SHOP)
        filled = link.replace("{{user_id}}", LONG_ID)
        assert (parse_link(filled, [ref]).entry, parse_link(filled, [ref]).referrer) == (ref, LONG_ID)


@given(channel=st.sampled_from(CHANNELS), ref=ENTRIES, contact_id=st.integers(1, 2**63 - 1))
def test_the_referral_template_filled_in_is_the_link_built_for_that_contact(channel, ref, contact_id):
    template = referral_template(channel, ref, SHOP)  # the runtime sends links made from it
    assert template.replace("{{user_id}}", str(contact_id)) == build_link(channel, build_ref(ref, referrer=contact_id),
                                                                         SHOP)
