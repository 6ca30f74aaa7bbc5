"""Templates: the Referral program adds DOMAIN §4.1 in one go, never twice, laid out for the canvas, and it runs."""

import json
from itertools import combinations

import pytest
from sqlmodel import select

from runtime.opening import Inbound
from runtime.publishing import workspace_problems
from runtime.service import Runtime
from storage.db import Database
from storage.flows import create_flow, list_flows
from storage.models import CustomField, EntryPoint, Flow, Tag, Trigger
from storage.settings import SettingsUpdate, get_settings, save_settings
from storage.workspace_io import export_workspace
from storage.workspace_templates import (
    TEMPLATES,
    TemplateError,
    apply_template,
    changed_names,
    has_channels,
    load_template,
    preview_template,
    seed_demo_workspace,
    summarise_report,
)

COLUMN, ROW = 260, 200  # the canvas grid the template is laid out on


def test_every_template_names_an_existing_file_and_has_no_settings() -> None:
    for name, template in TEMPLATES.items():
        assert template.name == name and template.description and template.file.exists()
        assert "settings" not in load_template(name)  # never overwrites the admin's channel identities


def test_the_referral_program_creates_everything_of_the_classic_program(database: Database) -> None:
    with database.write_session() as session:
        report = apply_template(session=session, name="Referral program")
    assert report.created == {"settings": [], "fields": ["referral_points", "coupon_code"], "tags": ["rewarded"],
                              "coupon_pools": [], "flows": ["Share", "Check reward"], "entry_points": ["giveaway2025"],
                              "triggers": ["Referred a new contact", "Referred an existing contact"]}
    assert summarise_report(report) == (
        "Created 2 fields ('referral_points', 'coupon_code'), 1 tag ('rewarded'), 2 flows ('Share', 'Check reward'), "
        "1 entry point ('giveaway2025'), 2 triggers ('Referred a new contact', 'Referred an existing contact').")
    with database.session() as session:
        document = export_workspace(session=session)
        assert {f.name: f.status for f in list_flows(session=session)} == {"Share": "published",
                                                                            "Check reward": "published"}
    assert {(f["name"], f["type"]) for f in document["fields"]} == {("referral_points", "number"),
                                                                     ("coupon_code", "text")}
    [entry] = document["entry_points"]
    assert (entry["ref"], entry["response_type"], entry["referrals_enabled"]) == ("giveaway2025", "flow", True)
    assert entry["response_flow_id"] == _flow_id(document, "Share")
    new, existing = document["triggers"]
    assert [a["type"] for a in new["actions"]] == ["set_field", "notify_referrer", "start_flow"]
    assert new["actions"][0] | {"field_id": None} == {"type": "set_field", "field_id": None, "op": "increase",
                                                      "value": 1}
    assert new["actions"][1]["text"] == "{{referred.first_name}} joined with your link!"
    assert existing["event"] == "referred_existing_contact" and existing["actions"][0]["value"] == 0.5
    assert new["actions"][2]["flow_id"] == existing["actions"][1]["flow_id"] == _flow_id(document, "Check reward")


def _flow_id(document: dict, name: str) -> int:
    return next(flow["id"] for flow in document["flows"] if flow["name"] == name)


def test_the_template_has_no_problems(database: Database) -> None:
    with database.write_session() as session:
        save_settings(session=session, update=SettingsUpdate(bot_name="Shop", page_id="1234567890",
                                                             telegram_bot="shop_helper_bot"))
        apply_template(session=session, name="Referral program")
    with database.session() as session:
        assert workspace_problems(session=session) == []
        assert workspace_problems(session=session, use_draft=False) == []


def test_applying_twice_duplicates_nothing(database: Database) -> None:
    with database.write_session() as session:
        apply_template(session=session, name="Referral program")
    with database.write_session() as session:
        again = apply_template(session=session, name="Referral program")
    assert not again.changed
    assert summarise_report(again) == "Everything was already in place; nothing changed."
    with database.session() as session:
        counts = [len(session.exec(select(model)).all()) for model in (CustomField, Tag, Flow, EntryPoint, Trigger)]
    assert counts == [2, 1, 2, 1, 2]


def test_clashing_names_are_updated_and_reported(database: Database) -> None:
    with database.write_session() as session:
        create_flow(session=session, name="Share")
        session.add(CustomField(name="referral_points", type="text"))
    with database.session() as session:
        preview = preview_template(session=session, name="Referral program")
    assert changed_names(preview) == ["field 'referral_points'", "flow 'Share'"]
    with database.write_session() as session:
        report = apply_template(session=session, name="Referral program")
    assert summarise_report(report).startswith("Created 1 field ('coupon_code'), 1 tag ('rewarded'), 1 flow "
                                               "('Check reward'),")
    assert summarise_report(report).endswith("; updated 1 field ('referral_points'), 1 flow ('Share').")
    with database.session() as session:
        assert [f.status for f in list_flows(session=session) if f.name == "Share"] == ["published"]
        assert len(session.exec(select(Flow)).all()) == 2


def test_the_template_leaves_the_settings_alone(database: Database) -> None:
    with database.write_session() as session:
        save_settings(session=session, update=SettingsUpdate(bot_name="Shop", page_id="999", telegram_bot="x_bot"))
        apply_template(session=session, name="Referral program")
    with database.session() as session:
        settings = get_settings(session=session)
    assert (settings.bot_name, settings.page_id, settings.telegram_bot) == ("Shop", "999", "x_bot")


def test_has_channels_tells_whether_personal_links_can_be_built(database: Database) -> None:
    with database.session() as session:
        assert has_channels(session=session) is False
    with database.write_session() as session:
        save_settings(session=session, update=SettingsUpdate(bot_name="Shop", whatsapp_number="+1 555 123 4567"))
    with database.session() as session:
        assert has_channels(session=session) is True


def test_an_unknown_template_is_explained(database: Database) -> None:
    with database.write_session() as session, pytest.raises(TemplateError, match="no template called 'Quiz'"):
        apply_template(session=session, name="Quiz")


def test_the_demo_is_seeded_only_into_an_empty_workspace(database: Database) -> None:
    with database.write_session() as session:
        assert seed_demo_workspace(session=session) is True
    with database.write_session() as session:
        assert seed_demo_workspace(session=session) is False
    with database.session() as session:
        assert sorted(flow.name for flow in list_flows(session=session)) == ["Check reward", "Share"]


@pytest.mark.parametrize(("model", "values"), [
    (CustomField, {}), (Tag, {}), (Flow, {}), (EntryPoint, {"ref": "mine"}), (Trigger, {"event": "contact_created"})])
def test_any_own_definition_stops_the_seed(database: Database, model: type, values: dict) -> None:
    with database.write_session() as session:
        session.add(model(name="Mine", **values))
    with database.write_session() as session:
        assert seed_demo_workspace(session=session) is False
    with database.session() as session:
        assert session.exec(select(Flow.name).where(Flow.name == "Share")).all() == []
        assert session.exec(select(Trigger.name).where(Trigger.name != "Mine")).all() == []


@pytest.mark.parametrize("flow_name", ["Share", "Check reward"])
def test_the_flows_are_laid_out_left_to_right_without_overlaps(flow_name: str) -> None:
    [flow] = [f for f in load_template("Referral program")["flows"] if f["name"] == flow_name]
    positions = {node["id"]: (node["position"]["x"], node["position"]["y"]) for node in flow["draft"]["nodes"]}
    for edge in flow["draft"]["edges"]:  # every step moves one or more columns to the right
        (x1, _), (x2, _) = positions[edge["source"]], positions[edge["target"]]
        assert x2 - x1 >= COLUMN, edge
    for (a, (xa, ya)), (b, (xb, yb)) in combinations(positions.items(), 2):
        assert abs(xa - xb) >= COLUMN or abs(ya - yb) >= ROW, f"{a} and {b} overlap"
    assert flow["draft"] == flow["published"]


def test_the_branches_of_check_reward_sit_on_their_own_rows() -> None:
    [flow] = [f for f in load_template("Referral program")["flows"] if f["name"] == "Check reward"]
    rows = {node["id"]: node["position"]["y"] for node in flow["draft"]["nodes"]}
    reward_row = {rows[n] for n in ("coupon", "reward", "tag_rewarded", "end_rewarded")}
    progress_row = {rows[n] for n in ("progress", "end_progress")}
    assert len(reward_row) == len(progress_row) == 1 and reward_row != progress_row


@pytest.fixture
def runtime(database: Database) -> Runtime:
    with database.write_session() as session:
        save_settings(session=session, update=SettingsUpdate(bot_name="Giveaway bot", page_id="1234567890"))
        apply_template(session=session, name="Referral program")
    with Runtime(database) as runtime:
        yield runtime


def open_as(runtime: Runtime, user: str, name: str, link: str):
    return runtime.open_link(Inbound(text=link, channel="messenger", channel_user_id=user, first_name=name))


def texts_for(result, contact_id: int) -> list[str]:
    return [m["text"] for m in result.messages if m["contact_id"] == contact_id]


def test_the_classic_referral_program_runs_from_the_template(runtime: Runtime) -> None:
    ann = open_as(runtime, "psid-ann", "Ann", "https://m.me/1234567890?ref=giveaway2025")
    personal_link = f"https://m.me/1234567890?ref=giveaway2025-c{ann.contact_id}"
    assert any(personal_link in text for text in texts_for(ann, ann.contact_id))

    to_ann = []
    for user, name in [("psid-bob", "Bob"), ("psid-cat", "Cat"), ("psid-dan", "Dan")]:
        result = open_as(runtime, user, name, personal_link)
        assert result.referral == {"status": "counted", "kind": "new", "referrer_id": ann.contact_id}
        to_ann.append(texts_for(result, ann.contact_id))
        assert f"{name} joined with your link!" in to_ann[-1]

    assert "1 of 3 friends joined so far: 2 more to go. Keep sharing, the coupon unlocks at 3!" in to_ann[0]
    assert "2 of 3 friends joined so far: 1 more to go. Keep sharing, the coupon unlocks at 3!" in to_ann[1]
    assert "You did it, Ann! Three friends joined. Your coupon: FRIENDS3" in to_ann[2]

    status = open_as(runtime, "psid-ann", "Ann", "https://m.me/1234567890?ref=giveaway2025")
    assert status.fields["referral_points"] == 3 and status.fields["coupon_code"] == "FRIENDS3"
    assert "rewarded" in status.tags


def test_an_existing_contact_counts_half(runtime: Runtime) -> None:
    ann = open_as(runtime, "psid-ann", "Ann", "https://m.me/1234567890?ref=giveaway2025")
    open_as(runtime, "psid-bob", "Bob", "https://m.me/1234567890?ref=giveaway2025")  # Bob was here before
    result = open_as(runtime, "psid-bob", "Bob", f"https://m.me/1234567890?ref=giveaway2025-c{ann.contact_id}")
    assert result.referral["kind"] == "existing"
    assert any("0.5 of 3 friends joined so far: 2.5 more to go." in text for text in texts_for(result, ann.contact_id))


def test_the_template_file_is_valid_json_with_the_workspace_format() -> None:
    document = json.loads(TEMPLATES["Referral program"].file.read_text(encoding="utf-8"))
    assert (document["format"], document["version"]) == ("referflow-workspace", 1)
