"""The Coupon pools page: create a pool, paste codes, see how many are left; an empty pool warns here and on the
Overview."""

from pathlib import Path

from nicegui.testing import User

from runtime.opening import Inbound
from runtime.service import Runtime
from storage.coupons import add_codes, create_pool
from storage.db import open_database
from storage.workspace_io import import_workspace
from tests.builder.helpers import text_of, value_of
from tests.helpers import coupon_workspace


async def test_create_a_pool_paste_codes_and_see_how_many_are_left(admin: User) -> None:
    await admin.open("/coupons")
    await admin.should_see(marker="no-pools")
    admin.find(marker="create-pool").click()
    await admin.should_see("Give the coupon pool a name.")
    admin.find(marker="pool-name").type("Spring coupons")
    admin.find(marker="create-pool").click()
    await admin.should_see("Coupon pool 'Spring coupons' created; paste its codes below.")
    await admin.should_see(marker="pool-1")
    assert text_of(admin, "pool-left-1") == "0 of 0 left · 0 given"
    await admin.should_see(marker="pool-warning-1")  # nothing to give yet
    admin.find(marker="pool-codes-1").type("SPRING-1\nSPRING-2, SPRING-2\nnot a code")
    admin.find(marker="add-codes-1").click()
    await admin.should_see("Spring coupons: Added 2 codes; 1 already in the pool ('SPRING-2'); 1 not saved")
    assert text_of(admin, "pool-left-1") == "2 of 2 left · 0 given"
    await admin.should_not_see(marker="pool-warning-1")
    admin.find(marker="pool-name").type("spring COUPONS")
    admin.find(marker="create-pool").click()
    await admin.should_see("There is already a coupon pool called 'Spring coupons'")
    assert value_of(admin, "pool-name") == "spring COUPONS"  # kept, to be fixed


async def test_an_empty_pool_warns_on_the_overview_and_its_page(app_env: Path, admin: User) -> None:
    database = open_database(url=f"sqlite:///{app_env}")
    with database.write_session() as session:
        pool = create_pool(session=session, name="Spring")
        add_codes(session=session, pool_id=pool.id, text="ONLY-ONE")
        import_workspace(session=session, document=coupon_workspace())
    with Runtime(database) as runtime:
        for user in ("ann", "bob"):
            runtime.open_link(Inbound(text="shop", channel="messenger", channel_user_id=user, first_name=user))
    database.dispose()
    await admin.open("/")
    await admin.should_see("Coupon pool 'Spring' has no codes left. 1 person was to get one and got none.")
    await admin.open("/coupons")
    await admin.should_see(marker="pool-warning-1")
    assert text_of(admin, "pool-left-1") == "0 of 1 left · 1 given"


async def test_a_trigger_on_second_level_credit_gives_a_code_from_a_pool(app_env: Path, admin: User) -> None:
    from sqlmodel import select

    from storage.models import CustomField, Trigger
    from tests.builder.helpers import choose

    database = open_database(url=f"sqlite:///{app_env}")
    with database.write_session() as session:
        create_pool(session=session, name="Spring")
        import_workspace(session=session, document=coupon_workspace())
        session.add(CustomField(name="points_total", type="number"))
    database.dispose()
    await admin.open("/triggers/new")
    admin.find(marker="trigger-name").type("Grand referrer coupon")
    choose(admin, "trigger-event", "A friend's friend joined (second level)")
    admin.find(marker="add-action").click()
    await admin.should_see(marker="action-0-type")
    choose(admin, "action-0-type", "Give a coupon code")
    await admin.should_see(marker="action-0-pool")
    choose(admin, "action-0-pool", "Spring")
    field_select = next(iter(admin.find(marker="action-0-field").elements))
    assert list(field_select.options.values()) == ["coupon"]  # only text fields can hold a code
    choose(admin, "action-0-field", "coupon")
    admin.find(marker="save-trigger").click()
    await admin.should_see("Trigger 'Grand referrer coupon' saved.")
    database = open_database(url=f"sqlite:///{app_env}")
    with database.session() as session:
        trigger = session.exec(select(Trigger).where(Trigger.name == "Grand referrer coupon")).one()
    database.dispose()
    assert trigger.event == "referred_second_level"
    assert trigger.actions == [{"type": "give_coupon", "pool_id": 1, "field_id": 1}]
