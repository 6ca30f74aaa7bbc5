"""The flow engine and triggers against a real database: every node type, replies, delays, guards, templates."""

from datetime import UTC, datetime, timedelta

import pytest

from runtime.opening import Inbound
from runtime.service import LIVE, RunOptions, Runtime
from runtime.turn import MAX_FLOW_STEPS, MAX_TRIGGER_DEPTH, Turn
from storage.db import Database
from storage.workspace_io import import_workspace

FIELDS = [
    {"id": 1, "name": "points", "type": "number"},
    {"id": 2, "name": "email", "type": "text"},
    {"id": 3, "name": "age", "type": "number"},
    {"id": 4, "name": "order", "type": "json"},
    {"id": 5, "name": "sku", "type": "text"},
    {"id": 6, "name": "color", "type": "text"},
]
TAGS = [{"id": 1, "name": "vip"}, {"id": 2, "name": "lead"}]


def flow(flow_id: int, name: str, nodes: list[tuple], edges: list[tuple]) -> dict:
    """nodes: (id, type, data); edges: (source, handle, target). Published and draft alike."""
    document = {
        "schema": 1,
        "nodes": [{"id": "start", "type": "start", "position": {"x": 0, "y": 0}, "data": {}}]
        + [{"id": i, "type": t, "position": {"x": 100 * n, "y": 0}, "data": d} for n, (i, t, d) in enumerate(nodes)],
        "edges": [{"id": f"e{n}", "source": s, "source_handle": h, "target": t} for n, (s, h, t) in enumerate(edges)],
    }
    return {"id": flow_id, "name": name, "draft": document, "published": document}


def workspace(flows: list[dict], triggers: list[dict] = (), response_flow: int | None = 1) -> dict:
    return {
        "format": "referflow-workspace", "version": 1,
        "settings": {"bot_name": "Test bot", "page_id": "1234567890", "telegram_bot": "test_helper_bot"},
        "fields": FIELDS, "tags": TAGS, "flows": flows, "triggers": list(triggers),
        "entry_points": [{"id": 1, "name": "Go", "ref": "go", "response_type": "flow" if response_flow else "message",
                          "response_flow_id": response_flow, "response_message": "" if response_flow else "Hi!"}],
    }


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def make_runtime(database: Database):
    runtimes = []

    def make(document: dict, **options) -> Runtime:
        with database.write_session() as session:
            import_workspace(session=session, document=document)
        runtime = Runtime(database, clock=options.pop("clock", Clock()), **options)
        runtimes.append(runtime)
        return runtime

    yield make
    for runtime in runtimes:
        runtime.close()


def join(runtime: Runtime, user: str = "u1", name: str = "Ann", ref: str = "go", channel: str = "messenger",
         options: RunOptions = LIVE):
    return runtime.open_link(Inbound(text=ref, channel=channel, channel_user_id=user, first_name=name), options)


def said(result) -> list[str]:
    return [m["text"] for m in result.messages]


# ------------------------------------------------------------------------------------------------ nodes


def test_messages_templates_and_fallbacks(make_runtime) -> None:
    runtime = make_runtime(workspace([flow(1, "Hello", [
        ("hi", "send_message", {"text": "Hi {{first_name}} from {{bot_name}}! Email: {{email|not given}}."}),
        ("who", "send_message", {"text": "Your referrer: {{referrer.first_name}}."}),
    ], [("start", "next", "hi"), ("hi", "next", "who")])]))
    result = join(runtime)
    assert said(result) == ["Hi Ann from Test bot! Email: not given.", "Your referrer: ."]
    assert result.warnings == ["'{{referrer.first_name}}' has no value for Ann (contact 1); it was left out of the "
                               "message."]  # the person, as the admin knows them


def test_templates_count_and_a_failing_one_sends_readable_text_with_a_warning(make_runtime) -> None:
    runtime = make_runtime(workspace([flow(1, "Progress", [
        ("bump", "set_field", {"field_id": 1, "op": "increase", "value": 1}),
        ("left", "send_message", {"text": "{% if points >= 3 %}Coupon!{% else %}{{ 3 - points }} more to go, "
                                          "{{ first_name | upper }}{% endif %}"}),
        ("age", "send_message", {"text": "In ten years you are {{ age + 10 }}."}),
        ("button", "send_message", {"text": "Go", "buttons": [{"id": "b", "title": "{{ 3 - points }} left"}]}),
    ], [("start", "next", "bump"), ("bump", "next", "left"), ("left", "next", "age"), ("age", "next", "button")])]))
    result = join(runtime)
    assert said(result) == ["2 more to go, ANN", "In ten years you are .", "Go"]
    assert result.messages[-1]["buttons"] == [{"id": "b", "title": "2 left"}]
    assert result.warnings == ["The message to Ann (contact 1) could not be filled in: 'age' has no value, so the "
                               "template could not be worked out. It was sent without its template parts: “In ten "
                               "years you are .”."]


def test_a_condition_in_a_template_needs_no_placeholder(make_runtime) -> None:
    runtime = make_runtime(workspace([flow(1, "Hello", [
        ("hi", "send_message", {"text": "{% if points %}Welcome back!{% else %}Welcome!{% endif %}"}),
        ("mail", "set_field", {"field_id": 2, "op": "set", "value": "{% if points %}old{% else %}new{% endif %}"}),
    ], [("start", "next", "hi"), ("hi", "next", "mail")])]))
    result = join(runtime)
    assert said(result) == ["Welcome!"] and result.fields["email"] == "new"


def test_a_message_longer_than_the_contacts_channel_allows_is_sent_with_a_warning(make_runtime) -> None:
    terms = ("terms", "send_message", {"text": "{{first_name}}: " + "x" * 2000})
    runtime = make_runtime(workspace([flow(1, "Terms", [terms], [("start", "next", "terms")])]))
    on_messenger = join(runtime)
    assert on_messenger.warnings == ["The message to Ann (contact 1) has 2,005 characters, but Messenger allows at "
                                     "most 2,000: Messenger would refuse it. Shorten it or split it in two."]
    assert join(runtime, user="t1", channel="telegram").warnings == []  # Telegram takes 4,096


def test_buttons_wait_and_each_button_is_its_own_exit(make_runtime) -> None:
    runtime = make_runtime(workspace([flow(1, "Menu", [
        ("menu", "send_message", {"text": "Pick one", "buttons": [{"id": "a", "title": "Apples"},
                                                                  {"id": "b", "title": "Bananas"}]}),
        ("apples", "send_message", {"text": "Apples it is"}),
        ("bananas", "send_message", {"text": "Bananas it is"}),
    ], [("start", "next", "menu"), ("menu", "a", "apples"), ("menu", "b", "bananas")])]))
    first = join(runtime)
    assert first.messages[-1]["buttons"] == [{"id": "a", "title": "Apples"}, {"id": "b", "title": "Bananas"}]
    wrong = runtime.reply(channel="messenger", channel_user_id="u1", text="Cherries")
    assert said(wrong) == ["Please choose one of: Apples, Bananas."]
    chosen = runtime.reply(channel="messenger", channel_user_id="u1", text="bananas")
    assert said(chosen) == ["Bananas it is"]
    after = runtime.reply(channel="messenger", channel_user_id="u1", text="hello?")
    assert said(after) == ["Hi Ann! How can I help?"]  # the flow ended: the default reply answers


def test_ask_checks_the_type_retries_then_saves(make_runtime) -> None:
    runtime = make_runtime(workspace([flow(1, "Ask", [
        ("q", "ask", {"text": "How old are you?", "field_id": 3, "retry_text": "A number, please."}),
        ("thanks", "send_message", {"text": "Thanks, {{age}} it is."}),
    ], [("start", "next", "q"), ("q", "next", "thanks")])]))
    assert said(join(runtime)) == ["How old are you?"]
    retry = runtime.reply(channel="messenger", channel_user_id="u1", text="old enough")
    assert said(retry) == ["A number, please."] and retry.fields == {}
    saved = runtime.reply(channel="messenger", channel_user_id="u1", text="42")
    assert said(saved) == ["Thanks, 42 it is."] and saved.fields == {"age": 42}
    assert [e["type"] for e in saved.events] == ["field_changed"]


def test_the_trace_records_each_connection_taken_even_when_two_exits_lead_to_one_step(make_runtime) -> None:
    runtime = make_runtime(workspace([flow(1, "Either way", [
        ("check", "condition", {"match": "all", "rules": [{"field_id": 1, "op": ">", "value": 5}]}),
        ("done", "send_message", {"text": "done"}),
    ], [("start", "next", "check"), ("check", "true", "done"), ("check", "false", "done")])]), trace=True)
    taken = [(step["edge_id"], step["source"], step["handle"], step["target"])
             for step in join(runtime).trace if step["kind"] == "edge"]
    assert taken == [("e0", "start", "next", "check"), ("e2", "check", "false", "done")]  # no points: false


def test_conditions_set_field_and_tags(make_runtime) -> None:
    runtime = make_runtime(workspace([flow(1, "Score", [
        ("inc", "set_field", {"field_id": 1, "op": "increase", "value": 2}),
        ("dec", "set_field", {"field_id": 1, "op": "decrease", "value": 0.5}),
        ("email", "set_field", {"field_id": 2, "op": "set", "value": "{{first_name}}@example.com"}),
        ("check", "condition", {"match": "all", "rules": [{"field_id": 1, "op": ">=", "value": 1.5},
                                                           {"field_id": 2, "op": "contains", "value": "ann"}]}),
        ("vip", "tag", {"tag_id": 1, "op": "add"}),
        ("unlead", "tag", {"tag_id": 2, "op": "remove"}),
        ("no", "send_message", {"text": "not yet"}),
        ("clear", "set_field", {"field_id": 2, "op": "clear"}),
    ], [("start", "next", "inc"), ("inc", "next", "dec"), ("dec", "next", "email"), ("email", "next", "check"),
        ("check", "true", "vip"), ("check", "false", "no"), ("vip", "next", "unlead"), ("unlead", "next", "clear")])]))
    result = join(runtime)
    assert result.fields == {"points": 1.5}
    assert result.tags == ["vip"]
    types = [e["type"] for e in result.events]
    assert types.count("field_changed") == 4 and "tag_added" in types and "tag_removed" not in types



def test_what_a_turn_knows_of_a_contact_follows_every_change_it_makes(make_runtime) -> None:
    """Templates and results read a contact once per turn and then follow the turn's own changes: the messages and
    the reply's fields and tags must match what a fresh read of the database gives."""
    runtime = make_runtime(workspace([
        flow(1, "Hello", [("q", "ask", {"text": "Ready, {{first_name}}? ({{points|0}})", "field_id": 6})],
             [("start", "next", "q")]),
        flow(2, "Changes", [
            ("inc", "set_field", {"field_id": 1, "op": "increase", "value": 2}),
            ("mail", "set_field", {"field_id": 2, "op": "set", "value": "{{first_name}}@example.com"}),
            ("m1", "send_message", {"text": "points {{points}}, email {{email}}, color {{color}}"}),
            ("set", "set_field", {"field_id": 1, "op": "set", "value": 7}),
            ("clear", "set_field", {"field_id": 2, "op": "clear"}),
            ("m2", "send_message", {"text": "points {{points}}, email {{email|gone}}"}),
            ("vip", "tag", {"tag_id": 1, "op": "add"}),
            ("unlead", "tag", {"tag_id": 2, "op": "remove"}),
        ], [("start", "next", "inc"), ("inc", "next", "mail"), ("mail", "next", "m1"), ("m1", "next", "set"),
            ("set", "next", "clear"), ("clear", "next", "m2"), ("m2", "next", "vip"), ("vip", "next", "unlead")]),
    ], triggers=[{"id": 1, "name": "Go on", "event": "field_changed", "field_id": 6,
                  "actions": [{"type": "add_tag", "tag_id": 2}, {"type": "start_flow", "flow_id": 2}]}]))
    assert said(join(runtime)) == ["Ready, Ann? (0)"]
    reply = runtime.reply(channel="messenger", channel_user_id="u1", text="blue")
    assert said(reply) == ["points 2, email Ann@example.com, color blue", "points 7, email gone"]
    assert (reply.fields, reply.tags) == runtime.contact_data(reply.contact_id) == ({"points": 7, "color": "blue"},
                                                                                     ["vip"])

def test_send_referral_link_uses_the_contacts_channel(make_runtime) -> None:
    runtime = make_runtime(workspace([flow(1, "Share", [
        ("link", "send_referral_link", {"entry_point_id": 1, "text": "Share this: {{link}}"}),
    ], [("start", "next", "link")])]))
    on_messenger = join(runtime)
    assert said(on_messenger) == [f"Share this: https://m.me/1234567890?ref=go-c{on_messenger.contact_id}"]
    on_telegram = join(runtime, user="t1", channel="telegram")
    assert said(on_telegram) == [f"Share this: https://t.me/test_helper_bot?start=go-c{on_telegram.contact_id}"]
    on_viber = join(runtime, user="v1", channel="viber")  # no Viber identity configured
    assert said(on_viber) == [] and "No referral link could be built" in on_viber.warnings[0]


def test_notify_referrer_reaches_the_person_who_shared(make_runtime) -> None:
    runtime = make_runtime(workspace([flow(1, "Welcome", [
        ("tell", "notify_referrer", {"text": "{{referred.first_name}} is here thanks to you, {{first_name}}!"}),
    ], [("start", "next", "tell")])]))
    ann = join(runtime)
    assert said(ann) == []  # nobody referred Ann
    bob = join(runtime, user="u2", name="Bob", ref=f"go-c{ann.contact_id}")
    assert bob.messages == [{"contact_id": ann.contact_id, "text": "Bob is here thanks to you, Ann!", "flow_id": 1,
                             "node_id": "tell"}]


def test_json_get_and_go_to_flow(make_runtime) -> None:
    runtime = make_runtime(workspace([
        flow(1, "Order", [("sku", "json_get", {"source_field_id": 4, "path": "items[0].sku", "field_id": 5}),
                          ("jump", "go_to_flow", {"flow_id": 2})],
             [("start", "next", "sku"), ("sku", "next", "jump")]),
        flow(2, "Confirm", [("ok", "send_message", {"text": "Ordered {{sku}}"})], [("start", "next", "ok")]),
    ]))
    def order_arrives(turn: Turn) -> None:  # an order arrives in the JSON field before the person opens the link
        turn.db.execute("INSERT INTO contact (channel, channel_user_id, first_name, last_name, phone, first_ref,"
                        " last_ref, created_at, last_seen_at) VALUES ('messenger', 'u1', 'Ann', '', '', '', '',"
                        " '2026-01-01 00:00:00.000000', '2026-01-01 00:00:00.000000')")
        turn.db.execute("INSERT INTO field_value VALUES (1, 4, '{\"items\":[{\"sku\":\"A-7\"}]}',"
                        " '2026-01-01 00:00:00.000000')")

    runtime._run(order_arrives)
    result = join(runtime)
    assert said(result) == ["Ordered A-7"]
    assert result.fields["sku"] == "A-7"


def test_delay_waits_for_the_clock(make_runtime) -> None:
    clock = Clock()
    runtime = make_runtime(workspace([flow(1, "Later", [
        ("now", "send_message", {"text": "See you in an hour"}),
        ("wait", "delay", {"seconds": 3600}),
        ("later", "send_message", {"text": "An hour later, {{first_name}}"}),
    ], [("start", "next", "now"), ("now", "next", "wait"), ("wait", "next", "later")])]), clock=clock)
    assert said(join(runtime)) == ["See you in an hour"]
    assert runtime.tick(timedelta(minutes=59)).woken == 0
    typed = runtime.reply(channel="messenger", channel_user_id="u1", text="are you there?")
    assert said(typed) == ["Hi Ann! How can I help?"]  # a delay is not answered by typing
    woken = runtime.tick(timedelta(minutes=61))
    assert woken.woken == 1 and said(woken) == ["An hour later, Ann"]
    assert runtime.tick(timedelta(hours=5)).woken == 0  # a wake-up runs once
    clock.now += timedelta(hours=2)


def test_randomizer_is_seeded(make_runtime) -> None:
    document = workspace([flow(1, "Coin", [
        ("coin", "randomizer", {"branches": [{"id": "heads", "weight": 1}, {"id": "tails", "weight": 1}]}),
        ("h", "send_message", {"text": "heads"}), ("t", "send_message", {"text": "tails"}),
    ], [("start", "next", "coin"), ("coin", "heads", "h"), ("coin", "tails", "t")])])
    seeded = RunOptions(seed=7)
    first = make_runtime(document)
    outcomes = [said(join(first, user=f"u{n}", options=seeded))[0] for n in range(12)]
    assert set(outcomes) == {"heads", "tails"}
    again = make_runtime(document)
    assert [said(join(again, user=f"u{n}", options=seeded))[0] for n in range(12)] == outcomes  # same branches


def test_end_node_and_dangling_exit_both_finish(make_runtime) -> None:
    runtime = make_runtime(workspace([flow(1, "Short", [
        ("a", "send_message", {"text": "one"}), ("stop", "end", {}), ("b", "send_message", {"text": "never"}),
    ], [("start", "next", "a"), ("a", "next", "stop"), ("stop", "next", "b")])]))
    assert said(join(runtime)) == ["one"]


# ------------------------------------------------------------------------------------------------ guards


def test_a_loop_without_waiting_is_stopped(make_runtime) -> None:
    runtime = make_runtime(workspace([flow(1, "Spin", [
        ("add", "set_field", {"field_id": 1, "op": "increase", "value": 1}),
    ], [("start", "next", "add"), ("add", "next", "add")])]))
    result = join(runtime)
    assert result.fields["points"] == MAX_FLOW_STEPS - 1
    assert any(f"stopped after {MAX_FLOW_STEPS} steps" in w for w in result.warnings)


def test_a_trigger_chain_is_cut_at_the_depth_limit(make_runtime) -> None:
    runtime = make_runtime(workspace([flow(1, "Touch", [
        ("add", "set_field", {"field_id": 1, "op": "increase", "value": 1}),
    ], [("start", "next", "add")])], triggers=[
        {"id": 1, "name": "Again", "event": "field_changed", "field_id": 1,
         "actions": [{"type": "set_field", "field_id": 1, "op": "increase", "value": 1}]},
    ]))
    result = join(runtime)
    assert result.fields["points"] == MAX_TRIGGER_DEPTH + 1
    assert any("set each other off" in w for w in result.warnings)


# ------------------------------------------------------------------------------------------------ triggers


def test_trigger_conditions_filters_and_once_per_contact(make_runtime) -> None:
    runtime = make_runtime(workspace([flow(1, "Hi", [("hi", "send_message", {"text": "hi"})],
                                           [("start", "next", "hi")])], triggers=[
        {"id": 1, "name": "Welcome once", "event": "entry_point_opened", "entry_point_id": 1, "once_per_contact": True,
         "actions": [{"type": "send_message", "text": "Welcome, {{first_name}}!"},
                     {"type": "set_field", "field_id": 1, "op": "set", "value": 10}]},
        {"id": 2, "name": "Big points", "event": "field_changed", "field_id": 1,
         "conditions": {"match": "all", "rules": [{"field_id": 1, "op": ">", "value": 5}]},
         "actions": [{"type": "add_tag", "tag_id": 1}]},
        {"id": 3, "name": "Tagged", "event": "tag_added", "tag_id": 1,
         "actions": [{"type": "start_flow", "flow_id": 1}]},
    ]), trace=True)
    first = join(runtime)
    assert said(first) == ["Welcome, Ann!", "hi", "hi"]  # trigger message, tagged → flow, then the response flow
    assert first.tags == ["vip"]
    second = join(runtime)
    assert said(second) == ["hi"]  # "Welcome once" does not run again
    kinds = [step["kind"] for step in second.trace]
    assert "trigger_skipped" in kinds
