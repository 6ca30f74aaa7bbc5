"""Workspace import/export: round trips, idempotent re-imports, id remapping, and every kind of broken document."""

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, func, select

from storage.db import Database, open_database
from storage.fields_tags import FieldCreate, create_field
from storage.models import (
    Contact,
    ContactTag,
    CustomField,
    EntryPoint,
    FieldValue,
    Flow,
    Tag,
    Trigger,
    WorkspaceSettings,
)
from storage.workspace_checks import FORMAT, FORMAT_VERSION, check_workspace
from storage.workspace_io import ImportReport, WorkspaceImportError, export_workspace, import_workspace, preview_import

FIXTURE = Path(__file__).parents[1] / "fixtures" / "referral_program.json"
TABLES = (CustomField, Tag, Flow, EntryPoint, Trigger, WorkspaceSettings, Contact, FieldValue, ContactTag)
DELETE = object()


def load_fixture() -> dict:
    return json.loads(FIXTURE.read_text())


def import_document(database: Database, document: object) -> ImportReport:
    with database.write_session() as session:
        return import_workspace(session=session, document=document)


def export(database: Database) -> dict:
    with database.session() as session:
        return export_workspace(session=session)


def count_rows(database: Database) -> dict[str, int]:
    with database.session() as session:
        return {table.__name__: session.exec(select(func.count()).select_from(table)).one() for table in TABLES}


def add_all(database: Database, *rows: object) -> None:
    with database.write_session() as session:
        session.add_all(rows)


def ids_by_name(session: Session) -> dict[str, dict[str, int]]:
    return {
        "fields": {row.name: row.id for row in session.exec(select(CustomField))},
        "tags": {row.name: row.id for row in session.exec(select(Tag))},
        "flows": {row.name: row.id for row in session.exec(select(Flow))},
        "entry_points": {row.ref: row.id for row in session.exec(select(EntryPoint))},
    }


def node(flow: dict, node_id: str) -> dict:
    return next(item for item in flow["nodes"] if item["id"] == node_id)


def test_an_imported_fixture_exports_as_the_fixture_plus_defaults(database: Database) -> None:
    fixture = load_fixture()
    import_document(database, fixture)
    exported = export(database)
    assert exported.keys() == fixture.keys() | {"coupon_pools"}  # a section the fixture leaves out exports empty
    assert exported["coupon_pools"] == []
    assert exported["settings"] == fixture["settings"]
    for kind in ("fields", "tags", "flows", "entry_points", "triggers"):
        assert len(exported[kind]) == len(fixture[kind])
        for mine, theirs in zip(exported[kind], fixture[kind], strict=True):
            assert mine | theirs == mine, f"{kind}: {theirs} is not part of {mine}"
    assert exported["entry_points"][0]["whatsapp_pattern"] == ""  # keys the fixture leaves out take table defaults
    assert exported["entry_points"][0]["referrer_match"] == "id"
    assert exported["triggers"][0]["field_id"] is None


def test_an_export_moves_to_a_fresh_database_unchanged(database: Database, tmp_path: Path) -> None:
    import_document(database, load_fixture())
    exported = export(database)
    other = open_database(url=f"sqlite:///{tmp_path / 'other.db'}")
    try:
        import_document(other, exported)
        assert export(other) == exported
    finally:
        other.dispose()


def test_ids_are_kept_on_an_empty_database(database: Database) -> None:
    fixture = load_fixture()
    report = import_document(database, fixture)
    for kind, ids in report.ids.items():
        assert ids == {element["id"]: element["id"] for element in fixture.get(kind, [])}
    with database.session() as session:
        assert ids_by_name(session)["fields"] == {"referral_points": 1, "coupon_code": 2, "plan": 3, "seats": 4}
    assert report.created["entry_points"] == ["giveaway2025"]
    assert report.updated["settings"] == list(fixture["settings"])


def test_importing_twice_changes_nothing(database: Database) -> None:
    first = import_document(database, load_fixture())
    counts, exported = count_rows(database), export(database)
    second = import_document(database, load_fixture())
    assert not second.changed
    assert {kind: names for kind, names in second.unchanged.items() if kind != "settings"} == \
           {kind: names for kind, names in first.created.items() if kind != "settings"}
    assert second.unchanged["settings"] == first.updated["settings"]
    assert count_rows(database) == counts
    assert export(database) == exported


def test_taken_ids_are_remapped_everywhere(database: Database) -> None:
    add_all(database, *(CustomField(name=f"legacy_{n}") for n in range(5)), *(Tag(name=f"old_{n}") for n in range(3)),
            *(Flow(name=f"Old {n}") for n in range(3)), EntryPoint(name="Old", ref="old"),
            EntryPoint(name="Older", ref="older"))
    report = import_document(database, load_fixture())
    with database.session() as session:
        ids = ids_by_name(session)
        entry = session.exec(select(EntryPoint).where(EntryPoint.ref == "giveaway2025")).one()
        new_contact = session.exec(select(Trigger).where(Trigger.name == "Referred a new contact")).one()
        share, check = (session.exec(select(Flow).where(Flow.name == name)).one() for name in ("Share", "Check reward"))
    fields, tags, flows = ids["fields"], ids["tags"], ids["flows"]
    assert fields["referral_points"] not in {1, 2, 3, 4, 5}
    assert report.ids["fields"][1] == fields["referral_points"]
    assert new_contact.entry_point_id == entry.id == ids["entry_points"]["giveaway2025"]
    assert new_contact.actions[0]["field_id"] == fields["referral_points"]
    assert new_contact.actions[2]["flow_id"] == flows["Check reward"]
    for document in (check.draft, check.published):
        assert node(document, "enough")["data"]["rules"][0]["field_id"] == fields["referral_points"]
        assert node(document, "tag_rewarded")["data"]["tag_id"] == tags["rewarded"]
    assert node(share.published, "link")["data"]["entry_point_id"] == entry.id
    assert (entry.response_flow_id, entry.default_field_id, entry.segment_tag_id) == \
           (flows["Share"], fields["coupon_code"], tags["giveaway"])
    assert [item["field_id"] for item in entry.json_mapping] == [fields["plan"], fields["seats"]]
    assert not import_document(database, load_fixture()).changed  # remapped copies compare equal on the next import


def test_an_existing_element_is_matched_by_its_natural_key_and_keeps_its_id(database: Database) -> None:
    add_all(database, CustomField(id=7, name="referral_points", description="old"),
            EntryPoint(id=5, name="Old name", ref="giveaway2025"))
    report = import_document(database, load_fixture())
    assert report.updated["fields"] == ["referral_points"]
    assert report.updated["entry_points"] == ["giveaway2025"]
    assert report.ids["fields"][1] == 7
    with database.session() as session:
        trigger = session.exec(select(Trigger).where(Trigger.name == "Referred a new contact")).one()
        assert session.get(EntryPoint, 5).name == "Giveaway 2025"
        assert session.get(CustomField, 7).type == "number"
    assert (trigger.entry_point_id, trigger.actions[0]["field_id"]) == (5, 7)


def test_a_deleted_field_id_is_not_handed_out_again(database: Database) -> None:
    add_all(database, CustomField(name="gone"))  # id 1, given out by the database as the app's pages do
    with database.write_session() as session:
        session.delete(session.get(CustomField, 1))
    report = import_document(database, load_fixture())
    assert report.ids["fields"] == {1: 5, 2: 2, 3: 3, 4: 4}


def test_contacts_field_values_and_other_definitions_survive_an_import(database: Database) -> None:
    add_all(database, CustomField(id=1, name="referral_points", type="number"), CustomField(id=10, name="vip_level"),
            Tag(id=5, name="vip"), Contact(id=1, channel="telegram", channel_user_id="42", first_name="Ann"))
    add_all(database, FieldValue(contact_id=1, field_id=1, value="2"),
            FieldValue(contact_id=1, field_id=10, value='"gold"'), ContactTag(contact_id=1, tag_id=5))
    import_document(database, load_fixture())
    with database.session() as session:
        assert session.get(Contact, 1).first_name == "Ann"
        assert session.get(FieldValue, (1, 1)).value == "2"
        assert session.get(FieldValue, (1, 10)).value == '"gold"'
        assert session.get(ContactTag, (1, 5)) is not None
        assert ids_by_name(session)["fields"]["vip_level"] == 10


def test_a_partial_document_keeps_the_settings_and_everything_it_does_not_mention(database: Database) -> None:
    import_document(database, load_fixture())
    before = export(database)
    report = import_document(database, {"format": FORMAT, "version": FORMAT_VERSION, "tags": [{"name": "vip"}]})
    assert report.created["tags"] == ["vip"]
    assert report.ids["tags"] == {}  # an element without an id cannot be referenced, so it has no mapping
    after = export(database)
    assert after["settings"] == before["settings"]
    assert after["tags"] == [*before["tags"], {"id": 3, "name": "vip", "description": ""}]
    assert {key: value for key, value in after.items() if key != "tags"} == \
           {key: value for key, value in before.items() if key != "tags"}


def test_a_reference_may_point_at_an_element_already_in_the_workspace(database: Database) -> None:
    add_all(database, CustomField(id=10, name="vip_level"))
    clear_vip = {"type": "set_field", "field_id": 10, "op": "clear"}
    document = {"format": FORMAT, "version": FORMAT_VERSION,
                "triggers": [{"name": "Welcome", "event": "contact_created", "actions": [clear_vip]}]}
    # on its own the document cannot know field 10; importing into this workspace, it can
    assert check_workspace(document) == ["triggers[0] ('Welcome'): actions[0].field_id 10 is not a field in this "
                                         "document"]
    import_document(database, document)
    assert export(database)["triggers"][0]["actions"][0]["field_id"] == 10


def test_preview_reports_the_import_without_writing(database: Database) -> None:
    with database.session() as session:
        preview = preview_import(session=session, document=load_fixture())
    assert set(count_rows(database).values()) == {0}
    assert preview.to_dict() == import_document(database, load_fixture()).to_dict()


BROKEN = [
    pytest.param((), [], "a workspace document must be a JSON object, not a list", id="not an object"),
    pytest.param(("format",), "referflow-flow", "'format' must be 'referflow-workspace', not 'referflow-flow'",
                 id="wrong format"),
    pytest.param(("version",), 2, "written by a newer Referflow (format version 2)", id="newer version"),
    pytest.param(("version",), "1", "'version' must be 1, not '1'", id="version as text"),
    pytest.param(("colour",), "blue", "the document has an unknown key 'colour'", id="unknown top-level key"),
    pytest.param(("fields",), {}, "fields must be a list, not an object", id="section not a list"),
    pytest.param(("settings", "telegram_bot"), "giveaway", "settings.telegram_bot: Telegram bot usernames always end "
                 "in 'bot'", id="invalid setting"),
    pytest.param(("settings", "bot_name"), 5, "settings.bot_name must be text, not a number", id="setting type"),
    pytest.param(("fields", 1, "type"), "integer", "fields[1] ('coupon_code'): type 'integer' is not one of text, "
                 "number, boolean, date, datetime, json", id="field type"),
    pytest.param(("fields", 0, "name"), DELETE, "fields[0]: 'name' is missing", id="missing key"),
    pytest.param(("fields", 0, "id"), 0, "fields[0] ('referral_points'): id must be a whole number from 1 to "
                 "2,147,483,647, not 0", id="bad id"),
    pytest.param(("fields", 3, "name"), "plan", "fields[3] ('plan'): the name 'plan' is already used by fields[2]",
                 id="duplicate field name"),
    pytest.param(("tags", 1, "name"), "giveaway", "tags[1] ('giveaway'): the name 'giveaway' is already used by "
                 "tags[0]", id="duplicate tag name"),
    pytest.param(("tags", 1, "id"), 1, "tags[1] ('rewarded'): the id 1 is already used by tags[0]",
                 id="duplicate id"),
    pytest.param(("flows", 1, "name"), "Share", "flows[1] ('Share'): the name 'Share' is already used by flows[0]",
                 id="duplicate flow name"),
    pytest.param(("flows", 0, "draft"), {"nodes": []}, "flows[0] ('Share'): draft must be a flow document with a list "
                 "'nodes' and a list 'edges'", id="flow without edges"),
    pytest.param(("flows", 1, "published", "nodes", 1, "data", "rules", 0, "field_id"), 9,
                 "flows[1] ('Check reward'): published.nodes[1].data.rules[0].field_id 9 is not a field in this "
                 "document or the workspace", id="flow node field"),
    pytest.param(("flows", 0, "draft", "nodes", 1, "data", "entry_point_id"), 3, "flows[0] ('Share'): draft.nodes[1]"
                 ".data.entry_point_id 3 is not an entry point", id="flow node entry point"),
    pytest.param(("entry_points", 0, "ref"), "give--away", "entry_points[0] (ref 'give--away'): the ref 'give--away' "
                 "contains '--'", id="double hyphen ref"),
    pytest.param(("entry_points", 0, "ref"), "giveaway-", "cannot start or end with a hyphen", id="trailing hyphen"),
    pytest.param(("entry_points", 1), {"id": 2, "name": "Copy", "ref": "giveaway2025"}, "entry_points[1] (ref "
                 "'giveaway2025'): the ref 'giveaway2025' is already used by entry_points[0]", id="duplicate ref"),
    pytest.param(("entry_points", 0, "response_type"), "video", "entry_points[0] (ref 'giveaway2025'): response_type "
                 "'video' is not one of message, flow", id="response type"),
    pytest.param(("entry_points", 0, "referral_policy"), "always", "referral_policy 'always' is not one of "
                 "first_only, every_open", id="referral policy"),
    pytest.param(("entry_points", 0, "referrer_match"), "email", "referrer_match 'email' is not one of id, phone, "
                 "id_or_phone", id="referrer match"),
    pytest.param(("entry_points", 0, "whatsapp_pattern"), r"(?P<referrer>\d+", "entry_points[0] (ref "
                 "'giveaway2025'): the WhatsApp text pattern is not a valid regular expression", id="bad regex"),
    pytest.param(("entry_points", 0, "whatsapp_pattern"), r"(?P<referrer>\d+) from \1", "entry_points[0] (ref "
                 "'giveaway2025'): the WhatsApp text pattern uses a backreference such as \\1 or (?P=name), which "
                 "Referflow does not support", id="regex RE2 cannot run"),
    pytest.param(("entry_points", 0, "active"), "yes", "active must be true or false, not text", id="flag type"),
    pytest.param(("entry_points", 0, "segment_tag_id"), 7, "entry_points[0] (ref 'giveaway2025'): segment_tag_id 7 "
                 "is not a tag in this document or the workspace", id="segment tag"),
    pytest.param(("entry_points", 0, "response_flow_id"), "1", "response_flow_id must be the id of a flow (a whole "
                 "number), not text", id="reference type"),
    pytest.param(("entry_points", 0, "json_mapping", 0), {"path": "plan"}, "json_mapping[0] must be an object with "
                 "a text 'path' and a 'field_id'", id="json mapping"),
    pytest.param(("entry_points", 0, "refferals_enabled"), False, "entry_points[0] (ref 'giveaway2025'): unknown key "
                 "'refferals_enabled'", id="misspelt key"),
    pytest.param(("triggers", 0, "event"), "contact_deleted", "triggers[0] ('Referred a new contact'): event "
                 "'contact_deleted' is not one of contact_created", id="trigger event"),
    pytest.param(("triggers", 0, "actions", 0, "field_id"), 9, "triggers[0] ('Referred a new contact'): "
                 "actions[0].field_id 9 is not a field in this document or the workspace", id="action field"),
    pytest.param(("triggers", 1, "actions", 1, "flow_id"), 5, "triggers[1] ('Referred an existing contact'): "
                 "actions[1].flow_id 5 is not a flow", id="action flow"),
    pytest.param(("triggers", 0, "actions", 2), {"type": "start_flow"}, "actions[2] (start_flow) needs 'flow_id'",
                 id="action without target"),
    pytest.param(("triggers", 0, "actions", 0, "type"), "give_points", "actions[0].type 'give_points' is not one of",
                 id="action type"),
    pytest.param(("triggers", 0, "conditions", "rules"), [{"field_id": 1, "op": "=>", "value": 3}],
                 "conditions.rules[0].op '=>' is not one of ==", id="condition op"),
    pytest.param(("triggers", 1, "name"), "Referred a new contact", "triggers[1] ('Referred a new contact'): the name "
                 "'Referred a new contact' is already used by triggers[0]", id="duplicate trigger name"),
]


@pytest.mark.parametrize(("path", "value", "expected"), BROKEN)
def test_a_broken_document_is_refused_naming_the_element(database: Database, path: tuple, value: object,
                                                         expected: str) -> None:
    document = edit(load_fixture(), path, value)
    with pytest.raises(WorkspaceImportError) as refused:
        import_document(database, document)
    assert any(expected in problem for problem in refused.value.problems), refused.value.problems
    assert expected in str(refused.value)
    assert set(count_rows(database).values()) == {0}


def edit(document: dict, path: tuple, value: object) -> object:
    if not path:
        return value
    *parents, last = path
    target = document
    for key in parents:
        target = target[key]
    if value is DELETE:
        del target[last]
    elif isinstance(target, list) and last == len(target):
        target.append(value)
    else:
        target[last] = value
    return document


# --- hostile documents (issue 10, item 7): reported problems, never crashes ------------------------------------------

def nested(depth: int) -> object:
    value: object = "deep"
    for _ in range(depth):
        value = [value]
    return value


HOSTILE = [
    pytest.param(("fields", 0, "id"), 2**63, "fields[0] ('referral_points'): id must be a whole number from 1 to "
                 "2,147,483,647, not 9223372036854775808", id="id of 2^63"),
    pytest.param(("fields", 0, "id"), 2**63 - 1, "fields[0] ('referral_points'): id must be a whole number from 1 "
                 "to 2,147,483,647, not 9223372036854775807", id="largest sqlite id"),
    pytest.param(("triggers", 0, "position"), 2**64, "triggers[0] ('Referred a new contact'): position must be a "
                 "whole number from 0 to 2,147,483,647, not 18446744073709551616", id="position of 2^64"),
    pytest.param(("flows", 0, "version"), 2**63, "flows[0] ('Share'): version must be a whole number from 1 to "
                 "2,147,483,647, not 9223372036854775808", id="version of 2^63"),
    pytest.param(("flows", 0, "draft", "nodes", 1, "data", "text"), nested(350), "the document nests lists and "
                 "objects more than 64 levels deep (at flows[0].draft.nodes[1].data.text", id="350 levels of nesting"),
    pytest.param(("fields", 1, "description"), "Cut emoji \ud83d", "fields[1].description contains a character that "
                 "cannot be stored (a lone surrogate, such as half of an emoji cut in two): 'Cut emoji \\ud83d'",
                 id="lone surrogate"),
    pytest.param(("fields", 2, "name"), "42", "fields[2] ('42'): a field name cannot be only digits", id="digits name"),
    pytest.param(("fields", 2, "name"), " plan", "fields[2] (' plan'): name ' plan' has spaces around it; write it "
                 "as 'plan'", id="name with spaces"),
    pytest.param(("tags", 1, "name"), "rewarded ", "tags[1] ('rewarded '): name 'rewarded ' has spaces around it",
                 id="tag name with spaces"),
    pytest.param(("fields", 3, "name"), "Plan", "fields[3] ('Plan'): the name 'Plan' is already used by fields[2] "
                 "(names ignore upper and lower case)", id="case-only duplicate field"),
    pytest.param(("tags", 1, "name"), "Giveaway", "tags[1] ('Giveaway'): the name 'Giveaway' is already used by "
                 "tags[0] (names ignore upper and lower case)", id="case-only duplicate tag"),
    pytest.param(("flows", 1, "name"), "share", "flows[1] ('share'): the name 'share' is already used by flows[0] "
                 "(names ignore upper and lower case)", id="case-only duplicate flow"),
    pytest.param(("triggers", 1, "name"), "referred a NEW contact", "triggers[1] ('referred a NEW contact'): the name "
                 "'referred a NEW contact' is already used by triggers[0]", id="case-only duplicate trigger"),
    pytest.param(("entry_points", 1), {"id": 2, "name": "Copy", "ref": "GiveAway2025"}, "entry_points[1] (ref "
                 "'GiveAway2025'): the ref 'GiveAway2025' is already used by entry_points[0] (names ignore upper and "
                 "lower case)", id="case-only duplicate ref"),
]


@pytest.mark.parametrize(("path", "value", "expected"), HOSTILE)
def test_a_hostile_document_is_a_reported_problem(database: Database, path: tuple, value: object,
                                                  expected: str) -> None:
    document = edit(load_fixture(), path, value)
    with pytest.raises(WorkspaceImportError) as refused:
        import_document(database, document)
    assert any(expected in problem for problem in refused.value.problems), refused.value.problems
    assert set(count_rows(database).values()) == {0}
    with database.session() as session:
        assert check_workspace(document, session=session) == refused.value.problems
        with pytest.raises(WorkspaceImportError):
            preview_import(session=session, document=document)


def test_a_name_that_differs_from_the_workspace_only_in_case_is_refused(database: Database) -> None:
    import_document(database, load_fixture())
    document = load_fixture()
    document["flows"][0]["name"] = "SHARE"
    document["entry_points"][0]["ref"] = "Giveaway2025"
    with pytest.raises(WorkspaceImportError) as refused:
        import_document(database, document)
    assert refused.value.problems == [
        "flows[0] ('SHARE'): the workspace already has a flow called 'Share', and names ignore upper and lower case; "
        "write it as 'Share' to update that one",
        "entry_points[0] (ref 'Giveaway2025'): the workspace already has the ref 'giveaway2025', and names ignore "
        "upper and lower case; write it as 'giveaway2025' to update that one",
    ]
    assert [flow.name for flow in list_flows_of(database)] == ["Share", "Check reward"]


def list_flows_of(database: Database) -> list[Flow]:
    with database.session() as session:
        return list(session.exec(select(Flow).order_by(Flow.id)))


def test_a_field_id_at_the_database_limit_is_refused_so_new_fields_can_still_be_created(database: Database) -> None:
    document = {"format": FORMAT, "version": FORMAT_VERSION, "fields": [{"id": 2**63 - 1, "name": "huge"}]}
    with pytest.raises(WorkspaceImportError, match="id must be a whole number from 1 to 2,147,483,647"):
        import_document(database, document)
    with database.write_session() as session:
        field = create_field(session=session, data=FieldCreate(name="visits", type="number"))
    assert (field.id, field.name) == (1, "visits")


def test_a_workspace_holding_a_huge_id_from_before_the_limit_gets_a_problem_not_a_crash(database: Database) -> None:
    if database.is_postgres:
        pytest.skip("only an old SQLite file can hold such an id: PostgreSQL's integer ids refuse it")
    add_all(database, Tag(id=2**63 - 1, name="huge"))
    document = {"format": FORMAT, "version": FORMAT_VERSION, "tags": [{"name": "new"}, {"name": "huge"}]}
    with pytest.raises(WorkspaceImportError) as refused:
        import_document(database, document)
    assert refused.value.problems == ["tags: this workspace already gave out ids above 2,147,483,647 (imported before "
                                      "ids had a limit), so new tags cannot get an id within it"]


def test_import_document_writes_in_one_short_transaction_after_planning(database: Database) -> None:
    """The CLI's and the Settings page's import: checked and planned outside the write, then written in bulk."""
    from storage.workspace_io import import_document as import_outside

    report = import_outside(database=database, document=load_fixture())
    assert report.created["fields"] == ["referral_points", "coupon_code", "plan", "seats"]
    assert export(database)["fields"][0] | {"id": 1} == {
        "id": 1, "name": "referral_points", "type": "number", "description": load_fixture()["fields"][0].get(
            "description", ""), "links_may_set": False}
    assert import_outside(database=database, document=load_fixture()).changed is False
    with pytest.raises(WorkspaceImportError, match="cannot be only digits"):
        import_outside(database=database, document=edit(load_fixture(), ("fields", 2, "name"), "42"))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12)
KEYS = st.sampled_from(["id", "name", "type", "ref", "event", "draft", "published", "version", "actions",
                        "conditions", "position", "field_id", "payload_mapping", "links_may_set", "description"])
NUMBER = st.integers(min_value=-2, max_value=9) | st.integers(min_value=2**62, max_value=2**70)
ELEMENT = st.dictionaries(KEYS, JSON | NUMBER, max_size=6)
NAME = st.text(alphabet="abcAB _7\ud800", min_size=1, max_size=6)
TAG = st.fixed_dictionaries({"name": NAME}, optional={"id": NUMBER, "description": JSON})
FLOW = st.fixed_dictionaries({"name": NAME}, optional={"id": NUMBER, "version": NUMBER})
ANY_SECTIONS = st.dictionaries(st.sampled_from(["fields", "tags", "flows", "entry_points", "triggers"]),
                               st.lists(ELEMENT, max_size=3) | JSON, max_size=5)
NEAR_VALID = st.fixed_dictionaries({}, optional={  # checks pass often, so that writes happen too
    "tags": st.lists(TAG, max_size=3, unique_by=lambda tag: tag["name"].lower()),
    "flows": st.lists(FLOW, max_size=3, unique_by=lambda flow: flow["name"].lower())})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sections=ANY_SECTIONS | NEAR_VALID)
def test_any_document_is_imported_or_refused_with_problems_never_a_crash(database: Database,
                                                                        sections: dict) -> None:
    document = {"format": FORMAT, "version": FORMAT_VERSION, **sections}
    try:
        import_document(database, document)
    except WorkspaceImportError as error:
        assert error.problems and all(isinstance(problem, str) for problem in error.problems)
