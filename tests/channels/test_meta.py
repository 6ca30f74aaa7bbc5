"""Meta's webhooks and Send API bodies as Meta documents them: table tests of the pure functions of channels/meta."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from channels.meta import (
    MalformedWebhook,
    MetaEvent,
    answer_handshake,
    messenger_message,
    read_graph_error,
    read_webhook,
    sign,
    signature_matches,
    whatsapp_message,
)
from runtime.vocabulary import window_closed

BODY = b'{"object":"page","entry":[]}'


@pytest.mark.parametrize(("params", "expected"), [
    ({"hub.mode": "subscribe", "hub.verify_token": "tok", "hub.challenge": "1158201444"}, "1158201444"),
    ({"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1158201444"}, None),
    ({"hub.mode": "unsubscribe", "hub.verify_token": "tok", "hub.challenge": "1"}, None),
    ({"hub.verify_token": "tok", "hub.challenge": "1"}, None),
    ({"hub.mode": "subscribe", "hub.challenge": "1"}, None),
])
def test_the_handshake_echoes_the_challenge_only_for_our_verify_token(params, expected):
    assert answer_handshake(params, "tok") == expected


def test_no_verify_token_saved_answers_no_handshake():
    assert answer_handshake({"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "1"}, "") is None


@pytest.mark.parametrize(("header", "secret", "ok"), [
    (sign(BODY, "s3cret"), "s3cret", True),
    (sign(BODY, "s3cret").upper().replace("SHA256=", "sha256="), "s3cret", True),  # hex in capitals
    (sign(BODY, "other"), "s3cret", False),
    (sign(BODY + b" ", "s3cret"), "s3cret", False),
    (sign(BODY, "s3cret").replace("sha256=", "sha1="), "s3cret", False),
    ("", "s3cret", False),
    (None, "s3cret", False),
    (sign(BODY, ""), "", False),  # no app secret saved: nothing is accepted
])
def test_the_signature_is_hmac_sha256_of_the_raw_body_with_the_app_secret(header, secret, ok):
    assert signature_matches(BODY, header, secret) is ok


def _messenger(*items, obj="page", page="PAGE1"):
    return json.dumps({"object": obj, "entry": [{"id": page, "time": 1, "messaging": list(items)}]}).encode()


def _from(psid="PSID1", page="PAGE1", **rest):
    return {"sender": {"id": psid}, "recipient": {"id": page}, "timestamp": 1700000000000, **rest}


@pytest.mark.parametrize(("item", "expected"), [
    (_from(postback={"mid": "m_1", "title": "Get Started", "payload": "GET_STARTED",
                     "referral": {"ref": "giveaway2025-c42", "source": "SHORTLINK", "type": "OPEN_THREAD"}}),
     MetaEvent("open", "messenger", "PAGE1", "PSID1", "m_1", "giveaway2025-c42")),
    (_from(referral={"ref": "giveaway2025", "source": "SHORTLINK", "type": "OPEN_THREAD"}),
     MetaEvent("open", "messenger", "PAGE1", "PSID1", "referral:PSID1:1700000000000:giveaway2025", "giveaway2025")),
    (_from(postback={"mid": "m_2", "title": "Get Started", "payload": "GET_STARTED"}),
     MetaEvent("open", "messenger", "PAGE1", "PSID1", "m_2", "")),
    (_from(postback={"mid": "m_3", "title": "Yes", "payload": "b-yes"}),
     MetaEvent("message", "messenger", "PAGE1", "PSID1", "m_3", "b-yes")),
    (_from(message={"mid": "m_4", "text": "Gold", "quick_reply": {"payload": "b-gold"}}),
     MetaEvent("message", "messenger", "PAGE1", "PSID1", "m_4", "b-gold")),
    (_from(message={"mid": "m_5", "text": "hello there"}),
     MetaEvent("message", "messenger", "PAGE1", "PSID1", "m_5", "hello there")),
    (_from(message={"mid": "m_6", "text": "hi", "referral": {"ref": "promo", "source": "ADS"}}),
     MetaEvent("open", "messenger", "PAGE1", "PSID1", "m_6", "promo")),
])
def test_messenger_events_are_read_as_opens_and_messages(item, expected):
    assert read_webhook("messenger", _messenger(item)) == [expected]


@pytest.mark.parametrize("item", [
    _from(message={"mid": "m_7", "text": "sent by the page", "is_echo": True}),
    _from(delivery={"mids": ["m_1"], "watermark": 1}),
    _from(read={"watermark": 1}),
    _from(message={"mid": "m_8", "attachments": [{"type": "image"}]}),
    {"sender": {"user_ref": "abc"}, "recipient": {"id": "PAGE1"}, "optin": {"ref": "x"}},
])
def test_what_the_bot_does_not_answer_is_left_out(item):
    assert read_webhook("messenger", _messenger(item)) == []


def test_instagram_ig_me_referral_is_an_open_on_instagram():
    body = _messenger(_from("IGSID9", "IG1", referral={"ref": "giveaway2025", "source": "IGME", "type": "OPEN_THREAD"}),
                      obj="instagram", page="IG1")
    [event] = read_webhook("instagram", body)
    assert (event.kind, event.channel, event.bot, event.channel_user_id, event.text) == (
        "open", "instagram", "IG1", "IGSID9", "giveaway2025")


def test_several_events_in_one_body_come_in_order():
    body = _messenger(_from("A", message={"mid": "m_a", "text": "one"}),
                      _from("B", message={"mid": "m_b", "text": "two"}))
    assert [(e.channel_user_id, e.text) for e in read_webhook("messenger", body)] == [("A", "one"), ("B", "two")]


def _whatsapp(*messages, contacts=None, field="messages", statuses=None):
    value = {"messaging_product": "whatsapp",
             "metadata": {"display_phone_number": "15550001111", "phone_number_id": "PN1"},
             "contacts": [{"profile": {"name": "Ann Lee"}, "wa_id": "15551234567"}] if contacts is None else contacts,
             "messages": list(messages)}
    if statuses is not None:
        value = {"messaging_product": "whatsapp", "metadata": value["metadata"], "statuses": statuses}
    return json.dumps({"object": "whatsapp_business_account",
                       "entry": [{"id": "WABA1", "changes": [{"field": field, "value": value}]}]}).encode()


def _wa(kind, **rest):
    return {"from": "15551234567", "id": "wamid.X1", "timestamp": "1700000000", "type": kind, **rest}


@pytest.mark.parametrize(("message", "text"), [
    (_wa("text", text={"body": "/giveaway2025-c42"}), "/giveaway2025-c42"),
    (_wa("text", text={"body": "You were recommended by +15550009999"}), "You were recommended by +15550009999"),
    (_wa("interactive", interactive={"type": "button_reply", "button_reply": {"id": "b-yes", "title": "Yes"}}),
     "b-yes"),
    (_wa("interactive", interactive={"type": "list_reply", "list_reply": {"id": "b-4", "title": "Four"}}), "b-4"),
    (_wa("button", button={"payload": "b-ok", "text": "OK"}), "b-ok"),
])
def test_whatsapp_messages_carry_text_or_the_pressed_button(message, text):
    assert read_webhook("whatsapp", _whatsapp(message)) == [
        MetaEvent("message", "whatsapp", "PN1", "15551234567", "wamid.X1", text, "Ann", "Lee", "+15551234567")]


@pytest.mark.parametrize("body", [
    _whatsapp(_wa("image", image={"id": "1"})),
    _whatsapp(statuses=[{"id": "wamid.Y", "status": "delivered"}]),
    _whatsapp(_wa("text", text={"body": "x"}), field="account_update"),
])
def test_whatsapp_statuses_media_and_other_fields_are_left_out(body):
    assert read_webhook("whatsapp", body) == []


@pytest.mark.parametrize(("channel", "body"), [
    ("messenger", b"not json"),
    ("messenger", b"[1, 2]"),
    ("messenger", json.dumps({"object": "instagram", "entry": []}).encode()),
    ("messenger", json.dumps({"object": "page", "entry": {"id": 1}}).encode()),
    ("messenger", json.dumps({"object": "page", "entry": [{"messaging": [{"sender": "x"}]}]}).encode()),
    ("messenger", json.dumps({"object": "page", "entry": [{"messaging": [_from(message={"text": ["a"]})]}]}).encode()),
    ("whatsapp", json.dumps({"object": "page", "entry": []}).encode()),
    ("whatsapp", _whatsapp({"type": "text", "text": {"body": "no sender"}})),
    ("whatsapp", b"\xff\xfe"),
])
def test_a_body_that_is_not_the_channels_webhook_is_malformed(channel, body):
    with pytest.raises(MalformedWebhook):
        read_webhook(channel, body)


BUTTONS = [{"id": "b-yes", "title": "Yes"}, {"id": "b-no", "title": "No"}]


@pytest.mark.parametrize(("text", "buttons", "message"), [
    ("Welcome!", [], {"text": "Welcome!"}),
    ("Join?", BUTTONS, {"attachment": {"type": "template", "payload": {
        "template_type": "button", "text": "Join?", "buttons": [
            {"type": "postback", "title": "Yes", "payload": "b-yes"},
            {"type": "postback", "title": "No", "payload": "b-no"}]}}}),
    ("Pick", [{"id": f"b{i}", "title": f"Option {i}"} for i in range(4)], {"text": "Pick", "quick_replies": [
        {"content_type": "text", "title": f"Option {i}", "payload": f"b{i}"} for i in range(4)]}),
    ("x" * 641, BUTTONS[:1], {"text": "x" * 641, "quick_replies": [
        {"content_type": "text", "title": "Yes", "payload": "b-yes"}]}),
])
def test_the_send_api_body_answers_with_text_postback_buttons_or_quick_replies(text, buttons, message):
    assert messenger_message(recipient="PSID1", text=text, buttons=buttons) == {
        "recipient": {"id": "PSID1"}, "messaging_type": "RESPONSE", "message": message}


def test_a_long_button_title_is_cut_to_metas_20_characters():
    body = messenger_message(recipient="P", text="t", buttons=[{"id": "b", "title": "A very long button title"}])
    assert body["message"]["attachment"]["payload"]["buttons"][0]["title"] == "A very long button …"


@pytest.mark.parametrize(("buttons", "expected"), [
    ([], {"type": "text", "text": {"body": "Hi", "preview_url": False}}),
    (BUTTONS, {"type": "interactive", "interactive": {"type": "button", "body": {"text": "Hi"}, "action": {
        "buttons": [{"type": "reply", "reply": {"id": "b-yes", "title": "Yes"}},
                    {"type": "reply", "reply": {"id": "b-no", "title": "No"}}]}}}),
    ([{"id": f"b{i}", "title": f"O{i}"} for i in range(4)], {"type": "interactive", "interactive": {
        "type": "list", "body": {"text": "Hi"}, "action": {"button": "Choose", "sections": [
            {"title": "Options", "rows": [{"id": f"b{i}", "title": f"O{i}"} for i in range(4)]}]}}}),
])
def test_the_whatsapp_body_is_text_reply_buttons_or_a_list(buttons, expected):
    assert whatsapp_message(recipient="15551234567", text="Hi", buttons=buttons) == {
        "messaging_product": "whatsapp", "recipient_type": "individual", "to": "15551234567", **expected}


def _error(code, message, **rest):
    return json.dumps({"error": {"message": message, "type": "OAuthException", "code": code, **rest}}).encode()


@pytest.mark.parametrize(("channel", "status", "body", "temporary", "words"), [
    ("messenger", 400, _error(100, "(#100) No matching user found", error_subcode=2018001), False,
     "Messenger: (#100) No matching user found (code 100)"),
    ("messenger", 400, _error(10, "(#10) This message is sent outside of allowed window."), False,
     "Messenger: (#10) This message is sent outside of allowed window. (code 10)"),
    ("instagram", 400, _error(613, "Calls to this api have exceeded the rate limit."), True,
     "Instagram: Calls to this api have exceeded the rate limit. (code 613)"),
    ("messenger", 500, _error(2, "An unexpected error has occurred. Please retry your request later.",
                              is_transient=True), True,
     "Messenger: An unexpected error has occurred. Please retry your request later. (code 2)"),
    ("messenger", 502, b"<html>Bad gateway</html>", True, "Messenger: HTTP 502"),
    ("whatsapp", 400, _error(131026, "Message undeliverable", error_data={"details": "Receiver is incapable"}),
     False, "WhatsApp: Message undeliverable: Receiver is incapable (code 131026)"),
    ("whatsapp", 400, _error(131047, "Re-engagement message"), False,
     "WhatsApp: more than 24 hours have passed since the person's last message, so free text cannot be sent "
     "(Meta: Re-engagement message, code 131047)."),
])
def test_graph_errors_keep_metas_words_and_say_whether_to_retry(channel, status, body, temporary, words):
    error = read_graph_error(channel, status, body)
    assert (error.temporary, error.words) == (temporary, words)


NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(("last", "closed"), [
    (NOW - timedelta(hours=23, minutes=59), None),
    (NOW - timedelta(hours=24), None),
    (NOW - timedelta(hours=25), "WhatsApp: the person's last message was 25 hours ago; free text can be sent only "
                                "within 24 hours of it (message templates are not supported)."),
    (None, "WhatsApp: the person has not written to the bot, so free text cannot be sent to them."),
])
def test_whatsapp_free_text_only_within_24_hours_of_the_persons_last_message(last, closed):
    assert window_closed("whatsapp", last, NOW) == closed


@pytest.mark.parametrize(("channel", "new", "kind", "text"), [
    ("messenger", True, "open", "giveaway2025-c7"),
    ("messenger", False, "open", "giveaway2025-c7"),
    ("instagram", True, "open", "giveaway2025-c7"),
    ("whatsapp", True, "message", "/giveaway2025-c7"),
])
def test_the_bodies_built_for_the_simulator_read_back_as_the_same_open(channel, new, kind, text):
    from channels.meta import webhook_open

    body = webhook_open(channel, bot="42", user_id="9001", ref="giveaway2025-c7", event_id="e1", timestamp=1,
                        new_conversation=new, first_name="Ann")
    [event] = read_webhook(channel, body)
    assert (event.kind, event.bot, event.channel_user_id, event.text) == (kind, "42", "9001", text)


@pytest.mark.parametrize("channel", ["messenger", "instagram", "whatsapp"])
def test_a_pressed_button_reads_back_as_its_id(channel):
    from channels.meta import webhook_message

    body = webhook_message(channel, bot="42", user_id="9001", text="Yes", event_id="e2", timestamp=1000, button="b-yes")
    assert [(e.kind, e.event_id, e.text) for e in read_webhook(channel, body)] == [("message", "e2", "b-yes")]
