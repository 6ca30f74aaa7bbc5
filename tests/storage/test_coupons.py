"""Coupon pools: each code is given once, an empty pool takes the "none left" exit and warns the admin; and
second-level referral credit, never deeper than two levels."""

import pytest

from runtime.opening import Inbound
from runtime.service import Runtime
from storage.coupons import CouponError, add_codes, create_pool, empty_pool_warnings, get_pool, list_pools
from storage.db import Database
from storage.workspace_io import import_workspace
from tests.helpers import coupon_workspace


@pytest.fixture
def setup(database: Database):
    def make(codes: str = "SPRING-1\nSPRING-2", **options) -> Runtime:
        with database.write_session() as session:
            pool = create_pool(session=session, name="Spring")
            add_codes(session=session, pool_id=pool.id, text=codes)
            import_workspace(session=session, document=coupon_workspace(**options))
        return Runtime(database)
    return make


def open_as(runtime: Runtime, user: str, link: str, name: str = ""):
    return runtime.open_link(Inbound(text=link, channel="messenger", channel_user_id=user, first_name=name or user))


def texts(result, contact_id: int | None = None) -> list[str]:
    return [m["text"] for m in result.messages if contact_id is None or m["contact_id"] == contact_id]


def test_each_code_is_given_once_then_the_flow_takes_the_none_left_exit(setup, database: Database) -> None:
    with setup() as runtime:
        first, second, third = (open_as(runtime, user, "shop") for user in ("ann", "bob", "cat"))
        assert texts(first) == ["Your code: SPRING-1"] and first.fields["coupon"] == "SPRING-1"
        assert texts(second) == ["Your code: SPRING-2"]
        assert texts(third) == ["Sorry, all codes are gone."] and "coupon" not in third.fields
        assert any("Coupon pool 'Spring' has no codes left; cat (contact 3) got none." in w for w in third.warnings)
        again = open_as(runtime, "ann", "shop")  # a code once given is never given again, not even to its owner
        assert texts(again) == ["Sorry, all codes are gone."] and again.fields["coupon"] == "SPRING-1"
    with database.session() as session:
        pool = get_pool(session=session, pool_id=1)
        assert (pool.total, pool.left, pool.given, pool.misses) == (2, 0, 2, 2)
        assert empty_pool_warnings(session=session) == [
            "Coupon pool 'Spring' has no codes left. 2 people were to get one and got none. Add codes, or flows take "
            "their “none left” exit."]


def test_codes_added_later_are_given_and_the_warning_goes(setup, database: Database) -> None:
    with setup(codes="ONLY") as runtime:
        open_as(runtime, "ann", "shop")
        assert texts(open_as(runtime, "bob", "shop")) == ["Sorry, all codes are gone."]
        with database.write_session() as session:
            report = add_codes(session=session, pool_id=1, text="ONLY, LATER-1;LATER-1\n  \n bad code \n" + "x" * 65)
        assert report.added == 1 and report.already == ["ONLY", "LATER-1"] and len(report.refused) == 2
        assert report.sentence().startswith("Added 1 code; 2 already in the pool ('ONLY', 'LATER-1'); 2 not saved")
        assert texts(open_as(runtime, "cat", "shop")) == ["Your code: LATER-1"]
    with database.session() as session:
        assert [(p.name, p.left, p.total) for p in list_pools(session=session)] == [("Spring", 0, 2)]
    with database.write_session() as session:
        add_codes(session=session, pool_id=1, text="MORE")
    with database.session() as session:
        assert empty_pool_warnings(session=session) == []


def test_a_trigger_action_gives_a_code_and_warns_when_none_is_left(setup) -> None:
    give = {"name": "Coupon for referrers", "event": "referred_new_contact", "entry_point_id": 2,
            "actions": [{"type": "give_coupon", "pool_id": 1, "field_id": 1},
                        {"type": "send_message", "text": "Thanks! Code: {{coupon}}"}]}
    with setup(codes="ONE", triggers=[give]) as runtime:
        zoe = open_as(runtime, "zoe", "friends")
        first = open_as(runtime, "amy", f"friends-c{zoe.contact_id}")
        assert texts(first, zoe.contact_id) == ["Thanks! Code: ONE"]
        second = open_as(runtime, "ben", f"friends-c{zoe.contact_id}")
        assert texts(second, zoe.contact_id) == ["Thanks! Code: ONE"]  # she keeps her code; no second one exists
        assert any("has no codes left" in w for w in second.warnings)


def test_pool_names_are_checked(database: Database) -> None:
    with database.write_session() as session:
        create_pool(session=session, name="Spring")
        with pytest.raises(CouponError, match="already a coupon pool called 'Spring'"):
            create_pool(session=session, name="spring")
        with pytest.raises(CouponError, match="Give the coupon pool a name"):
            create_pool(session=session, name="  ")


SECOND = {"name": "Second level", "event": "referred_second_level", "entry_point_id": 2,
          "actions": [{"type": "set_field", "field_id": 2, "op": "increase", "value": 1},
                      {"type": "send_message", "text": "{{referred.first_name}} joined through a friend of yours!"}]}


def test_second_level_credit_reaches_two_levels_and_no_deeper(setup) -> None:
    with setup(second_level=True, triggers=[SECOND]) as runtime:
        zoe = open_as(runtime, "zoe", "friends", "Zoe")
        amy = open_as(runtime, "amy", f"friends-c{zoe.contact_id}", "Amy")
        assert not any(e["type"] == "referred_second_level" for e in amy.events)  # Zoe had no referrer
        ben = open_as(runtime, "ben", f"friends-c{amy.contact_id}", "Ben")
        second = [e for e in ben.events if e["type"] == "referred_second_level"]
        assert second == [{"type": "referred_second_level", "contact_id": zoe.contact_id,
                           "other_contact_id": ben.contact_id, "entry_point_id": 2,
                           "data": {"via": amy.contact_id}}]
        assert texts(ben, zoe.contact_id) == ["Ben joined through a friend of yours!"]
        cat = open_as(runtime, "cat", f"friends-c{ben.contact_id}", "Cat")
        assert texts(cat, amy.contact_id) == ["Cat joined through a friend of yours!"]
        assert texts(cat, zoe.contact_id) == []  # three levels up: nothing
        assert open_as(runtime, "zoe", "friends").fields["points"] == 1


def test_second_level_credit_is_off_unless_the_entry_point_asks(setup) -> None:
    with setup(triggers=[SECOND]) as runtime:
        zoe = open_as(runtime, "zoe", "friends")
        amy = open_as(runtime, "amy", f"friends-c{zoe.contact_id}")
        ben = open_as(runtime, "ben", f"friends-c{amy.contact_id}")
        assert not any(e["type"] == "referred_second_level" for e in ben.events)
        assert texts(ben, zoe.contact_id) == []


def test_the_simulator_gives_its_own_copy_of_the_codes_and_a_reset_hands_them_out_afresh(setup, database) -> None:
    from runtime.simulator.sandbox import open_sandbox, reset_sandbox, sync_definitions

    with setup(codes="LIVE-1") as runtime:
        assert texts(open_as(runtime, "real", "shop")) == ["Your code: LIVE-1"]
    sandbox = open_sandbox(database)
    with Runtime(sandbox) as simulated:
        assert texts(open_as(simulated, "sim-1", "shop")) == ["Your code: LIVE-1"]  # the sandbox's own copy
        assert texts(open_as(simulated, "sim-2", "shop")) == ["Sorry, all codes are gone."]
        with database.write_session() as session:
            add_codes(session=session, pool_id=1, text="LIVE-2")
        sync_definitions(live=database, sandbox=sandbox)  # a sync keeps the simulated claims
        assert texts(open_as(simulated, "sim-3", "shop")) == ["Your code: LIVE-2"]
        reset_sandbox(sandbox)
        assert texts(open_as(simulated, "sim-4", "shop")) == ["Your code: LIVE-1"]
    with database.session() as session:
        assert get_pool(session=session, pool_id=1).left == 1  # the live pool: LIVE-2 is still free
    sandbox.dispose()


def test_the_workspace_format_carries_pools_by_name_and_remaps_pool_references(database: Database) -> None:
    from storage.workspace_io import WorkspaceImportError, export_workspace

    with database.write_session() as session:
        create_pool(session=session, name="Older")  # takes id 1: the document's pool 1 gets another id
        document = {**coupon_workspace(), "coupon_pools": [{"id": 1, "name": "Spring"}]}
        report = import_workspace(session=session, document=document)
        assert report.created["coupon_pools"] == ["Spring"] and report.ids["coupon_pools"] == {1: 2}
        add_codes(session=session, pool_id=2, text="SECRET-1")
        exported = export_workspace(session=session)
    assert exported["coupon_pools"] == [{"id": 1, "name": "Older"}, {"id": 2, "name": "Spring"}]
    assert "SECRET-1" not in str(exported)  # codes never travel
    give = next(n for n in exported["flows"][0]["draft"]["nodes"] if n["type"] == "give_coupon")
    assert give["data"] == {"pool_id": 2, "field_id": 1}
    with database.write_session() as session, pytest.raises(WorkspaceImportError, match="not a pool name"):
        import_workspace(session=session, document={"format": "referflow-workspace", "version": 1,
                                                    "coupon_pools": [{"name": "bad/name"}]})


@pytest.mark.parametrize(("text", "codes"), [
    ("code,note\nA-1,first\nA-2,second\n", "A-1\nA-2"),
    ('"Coupon code";"valid until"\n"B-1";2026-12-31', "B-1"),
    ("C-1\nC-2", "C-1\nC-2"),  # a plain list has no header to drop
])
def test_an_uploaded_file_gives_its_first_column_without_a_header(text: str, codes: str) -> None:
    from storage.coupons import codes_in_file

    assert codes_in_file(text) == codes
