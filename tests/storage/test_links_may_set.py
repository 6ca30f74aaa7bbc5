"""What links may write (issue 10, item 2): a link fills a field by its ID or name only when the field allows it;
the entry point's own default field and mappings always may. The runtime, the simulator and the link preview agree."""

import json
from pathlib import Path

import sqlalchemy as sa

from runtime.link_preview import preview_link
from runtime.opening import Inbound
from runtime.publishing import workspace_problems
from runtime.service import LIVE, RunOptions, Runtime
from runtime.simulator.sandbox import open_sandbox
from storage.db import Database, open_database
from storage.entry_points import EntryPointUpdate, update_entry_point
from storage.fields_tags import FieldUpdate, list_fields, update_field
from storage.migrate import upgrade
from storage.workspace_io import import_workspace
from storage.workspace_templates import apply_template

FIXTURE = Path(__file__).parents[1] / "fixtures" / "referral_program.json"
PAGE = "https://m.me/1234567890?ref="
FORGED = "giveaway2025--referral_points--99"
REFUSED = ("Links may not set the field 'referral_points', so the value '99' was not saved. Map the key on the entry "
           "point, or allow links to set the field on the Fields page.")


def demo(database: Database, document: dict | None = None) -> Database:
    with database.write_session() as session:
        import_workspace(session=session, document=document or json.loads(FIXTURE.read_text()))
    return database


def open_as(runtime: Runtime, ref: str, who: str = "mallory", options: RunOptions = LIVE) -> dict:
    return runtime.open_link(Inbound(text=PAGE + ref, channel="messenger", channel_user_id=who), options).to_dict()


def test_a_link_cannot_set_the_points_that_unlock_the_reward(database: Database) -> None:
    with Runtime(demo(database)) as runtime:
        result = open_as(runtime, FORGED)
        by_id = open_as(runtime, "giveaway2025--1--99", who="eve")
    assert "referral_points" not in result["contact"]["fields"]
    assert REFUSED in result["warnings"]
    assert result["entry"] == "giveaway2025"  # the person still enters the bot
    assert "referral_points" not in by_id["contact"]["fields"]
    assert REFUSED in by_id["warnings"]


def test_the_simulator_and_the_link_preview_say_the_same(database: Database) -> None:
    demo(database)
    sandbox = open_sandbox(database)
    with Runtime(sandbox, trace=True) as runtime:
        simulated = open_as(runtime, FORGED, options=RunOptions(use_draft=True))
    sandbox.dispose()
    preview = preview_link(database=database, text=PAGE + FORGED)
    assert REFUSED in simulated["warnings"]
    assert "referral_points" not in simulated["contact"]["fields"]
    [landing] = preview.payload
    assert (landing.field, landing.saved, landing.problem) == ("referral_points", None, REFUSED)


def test_other_fields_and_the_entry_points_own_mappings_still_fill(database: Database) -> None:
    demo(database)
    with database.write_session() as session:
        update_entry_point(session=session, entry_point_id=1, data=EntryPointUpdate(
            payload_mapping=[{"key": "pts", "field_id": 1}]))
    link = "giveaway2025--SPRING10--plan--gold--pts--2--referral_points--99"
    with Runtime(database) as runtime:
        result = open_as(runtime, link)
    assert result["contact"]["fields"] == {"coupon_code": "SPRING10", "plan": "gold", "referral_points": 2}
    assert result["warnings"] == [REFUSED]
    preview = preview_link(database=database, text=PAGE + link)
    assert [(land.field, land.saved, land.problem) for land in preview.payload] == [
        ("coupon_code", "SPRING10", None), ("plan", "gold", None), ("referral_points", "2", None),
        ("referral_points", None, REFUSED)]


def test_allowing_links_makes_the_field_settable_and_validation_warns(database: Database) -> None:
    demo(database)
    with database.session() as session:
        assert not any(p.code == "counter_set_by_links" for p in workspace_problems(session=session))
    with database.write_session() as session:
        update_field(session=session, field_id=1, data=FieldUpdate(name="referral_points", type="number",
                                                                   links_may_set=True))
    with Runtime(database) as runtime:
        assert open_as(runtime, FORGED)["contact"]["fields"]["referral_points"] == 99
    with database.session() as session:
        warnings = [p for p in workspace_problems(session=session) if p.code == "counter_set_by_links"]
    assert [(p.severity, p.message) for p in warnings] == [(
        "warning", "Links may set the field 'referral_points', but flow 'Check reward' tests it: anyone could edit a "
        "link to set it (…--referral_points--99). Turn off “Links may set this field” on the Fields page; an entry "
        "point's own payload mapping can still fill it.")]


def test_validation_warns_about_an_entry_point_that_maps_link_values_into_a_counter(database: Database) -> None:
    demo(database)
    with database.write_session() as session:
        update_entry_point(session=session, entry_point_id=1, data=EntryPointUpdate(
            payload_mapping=[{"key": "pts", "field_id": 1}]))
        warnings = [p.message for p in workspace_problems(session=session) if p.code == "counter_set_by_links"]
    assert warnings == [
        "Entry point 'giveaway2025' fills the field 'referral_points' from its links (payload key 'pts'), but flow "
        "'Check reward' tests it: anyone could edit the link to set it. Map another field there, unless the link is "
        "meant to set it."]


def test_an_edit_that_does_not_mention_the_setting_keeps_it(database: Database) -> None:
    demo(database)
    with database.write_session() as session:
        update_field(session=session, field_id=1, data=FieldUpdate(name="points", type="number"))
        assert {row.name: row.links_may_set for row in list_fields(session=session)}["points"] is False


def test_import_turns_it_off_for_fields_that_triggers_or_flows_count_with(database: Database) -> None:
    document = json.loads(FIXTURE.read_text())
    for field in document["fields"]:
        field.pop("links_may_set", None)
    demo(database, document)
    with database.session() as session:
        allowed = {row.name: row.links_may_set for row in list_fields(session=session)}
    assert allowed == {"referral_points": False, "coupon_code": True, "plan": True, "seats": True}


def test_the_referral_template_creates_its_points_field_locked(database: Database) -> None:
    with database.write_session() as session:
        apply_template(session=session, name="Referral program")
    with database.session() as session:
        allowed = {row.name: row.links_may_set for row in list_fields(session=session)}
    assert allowed["referral_points"] is False
    assert allowed["coupon_code"] is True


def test_migration_locks_the_counters_of_an_existing_workspace_and_keeps_the_rest(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    database = open_database(url=url, migrate=False)
    upgrade(database.engine, "0005")
    condition = {"nodes": [{"id": "c", "type": "condition", "position": {"x": 0, "y": 0},
                            "data": {"match": "all", "rules": [{"field_id": 3, "op": ">=", "value": 2}]}}],
                 "edges": []}
    with database.engine.begin() as connection:
        for field_id, name in ((1, "points"), (2, "coupon"), (3, "visits"), (4, "Visits")):  # a case-only pair too
            connection.execute(sa.text("INSERT INTO custom_field (id, name, type, description, created_at) VALUES "
                                       "(:id, :name, 'number', '', '2026-01-01 00:00:00')"), {"id": field_id,
                                                                                            "name": name})
        connection.execute(sa.text("INSERT INTO flow (id, name, draft, published, version, created_at, updated_at) "
                                   "VALUES (1, 'Check', '{}', :doc, 1, '2026-01-01', '2026-01-01')"),
                           {"doc": json.dumps(condition)})
        connection.execute(sa.text(
            "INSERT INTO \"trigger\" (id, name, event, conditions, actions, once_per_contact, enabled, position,"
            " created_at) VALUES (1, 'Reward', 'referred_new_contact', '{}', :actions, 0, 1, 0, '2026-01-01')"),
            {"actions": json.dumps([{"type": "set_field", "field_id": 1, "op": "increase", "value": 1}])})
    database.dispose()
    migrated = open_database(url=url)
    with migrated.session() as session:
        allowed = {row.name: row.links_may_set for row in list_fields(session=session)}
    migrated.dispose()
    assert allowed == {"points": False, "coupon": True, "visits": False, "Visits": True}
