"""One rule for names (issue 10, item 12): refs and field, tag, flow and trigger names are unique ignoring case in
every storage function the pages call, and a workspace that already holds case-only duplicates still opens."""

from pathlib import Path

import pytest
import sqlalchemy as sa
from pydantic import ValidationError

from runtime.publishing import workspace_problems
from storage.db import Database, open_database
from storage.entry_points import EntryPointCreate, EntryPointError, check_ref, create_entry_point
from storage.fields_tags import (
    FieldCreate,
    TagCreate,
    TagUpdate,
    create_field,
    create_tag,
    field_context,
    tag_context,
    update_tag,
)
from storage.flows import FlowError, create_flow, duplicate_flow, import_flow, rename_flow
from storage.migrate import upgrade
from storage.triggers import TriggerCreate, create_trigger, trigger_context
from tests.helpers import import_fixture


@pytest.fixture
def demo(database: Database) -> Database:
    import_fixture(database)
    return database


def test_flows_differing_only_in_case_cannot_coexist(demo: Database) -> None:
    with demo.write_session() as session, pytest.raises(FlowError) as caught:
        create_flow(session=session, name="share")
    assert str(caught.value) == "There is already a flow called 'Share' (names ignore upper and lower case)."
    with demo.write_session() as session, pytest.raises(FlowError, match="There is already a flow called 'Share'"):
        rename_flow(session=session, flow_id=2, name="SHARE")
    with demo.write_session() as session:
        assert rename_flow(session=session, flow_id=1, name="share").name == "share"  # its own name, recased
        create_flow(session=session, name="Share (COPY)")
        assert duplicate_flow(session=session, flow_id=1).name == "share (copy 2)"
        imported = import_flow(session=session, document={"format": "referflow-flow", "name": "SHARE", "flow": None})
        assert imported.name == "SHARE (2)"


def test_refs_differing_only_in_case_cannot_coexist(demo: Database) -> None:
    expected = ("The entry point 'Giveaway 2025' already uses the ref 'giveaway2025'; every ref must be unique "
                "(refs ignore upper and lower case).")
    with demo.session() as session:
        assert check_ref(session=session, ref="GiveAway2025") == expected
        assert check_ref(session=session, ref="GiveAway2025", entry_point_id=1) is None
    with demo.write_session() as session, pytest.raises(EntryPointError) as caught:
        create_entry_point(session=session, data=EntryPointCreate(name="Copy", ref="GIVEAWAY2025"))
    assert caught.value.problems == {"ref": expected}


def test_triggers_fields_and_tags_ignore_case_in_the_storage_functions(demo: Database) -> None:
    with demo.write_session() as session:
        with pytest.raises(ValidationError, match="There is already a trigger called 'Referred a new contact'"):
            create_trigger(session=session, data=TriggerCreate.model_validate(
                {"name": "REFERRED A NEW CONTACT", "event": "contact_created",
                 "actions": [{"type": "add_tag", "tag_id": 1}]}, context=trigger_context(session=session)))
        with pytest.raises(ValidationError, match="There is already a field called 'referral_points'"):
            create_field(session=session, data=FieldCreate(name="Referral_Points"))
        with pytest.raises(ValidationError, match="There is already a tag called 'giveaway'"):
            create_tag(session=session, data=TagCreate(name="GiveAway"))
        with pytest.raises(ValidationError, match="There is already a tag called 'giveaway'"):
            update_tag(session=session, tag_id=2, data=TagUpdate(name="GIVEAWAY"))
        assert update_tag(session=session, tag_id=1, data=TagUpdate(name="Giveaway")).name == "Giveaway"
        with pytest.raises(ValidationError, match="cannot be only digits"):
            FieldCreate.model_validate({"name": "42"}, context=field_context(session=session))
        with pytest.raises(ValidationError, match="There is already a tag called 'rewarded'"):
            TagCreate.model_validate({"name": " Rewarded "}, context=tag_context(session=session))


def test_a_database_with_case_only_duplicates_still_opens_and_keeps_them(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    database = open_database(url=url, migrate=False)
    upgrade(database.engine, "0005")
    with database.engine.begin() as connection:
        for flow_id, name in ((1, "Share"), (2, "share")):
            connection.execute(sa.text("INSERT INTO flow (id, name, draft, version, created_at, updated_at) VALUES "
                                       "(:id, :name, '{}', 1, '2026-01-01', '2026-01-01')"), {"id": flow_id,
                                                                                         "name": name})
        for entry_id, ref in ((1, "promo"), (2, "Promo")):
            connection.execute(sa.text("INSERT INTO entry_point (id, name, ref, active, response_type,"
                                       " response_message, payload_mapping, json_mapping, referrals_enabled,"
                                       " referral_policy, whatsapp_pattern, referrer_match, created_at) VALUES"
                                       " (:id, :ref, :ref, 1, 'message', 'Hi', '[]', '[]', 1, 'first_only', '',"
                                       " 'id', '2026-01-01')"), {"id": entry_id, "ref": ref})
    database.dispose()
    migrated = open_database(url=url)
    with migrated.write_session() as session:
        assert {flow for (flow,) in session.execute(sa.text("SELECT name FROM flow"))} == {"Share", "share"}
        warnings = [p.message for p in workspace_problems(session=session) if p.code == "names_differ_in_case"]
        assert warnings == [
            "The flows 'Share' and 'share' differ only in upper and lower case. Rename all but one: names ignore "
            "case, so saving one of them asks for a free name.",
            "The entry point refs 'promo' and 'Promo' differ only in upper and lower case. Rename all but one: names "
            "ignore case, so saving one of them asks for a free name."]
        with pytest.raises(FlowError, match="There is already a flow called 'Share'"):
            rename_flow(session=session, flow_id=2, name="share")  # saving one of them asks for a free name
        assert rename_flow(session=session, flow_id=2, name="Share later").name == "Share later"
    migrated.dispose()
