"""Page routes name ids in ASCII digits only: anything else, or an id past SQLite's largest, shows the page's own
"not found" instead of a server error (issue 10)."""

import pytest
from nicegui.testing import User

from tests.builder.helpers import seed_demo

NOT_IDS = ["²", "٣", "１", "1²", "9" * 19, "1" + "0" * 22]  # '²'.isdigit() is true; int('٣') is 3


@pytest.mark.parametrize(("page", "marker"), [("flows", "flow-missing"), ("entry-points", "not-found"),
                                              ("triggers", "not-found"), ("contacts", "contact-missing")])
async def test_a_page_for_something_that_is_no_id_says_it_is_not_there(admin: User, app_env, page: str,
                                                                       marker: str) -> None:
    seed_demo(app_env)  # entry point, flow, trigger and contacts 1 and 2 exist: '١' must not find number 1
    for text in [*NOT_IDS, "١"]:
        await admin.open(f"/{page}/{text}")
        await admin.should_see(marker=marker)


async def test_an_existing_id_still_opens_its_page(admin: User, app_env) -> None:
    seed_demo(app_env)
    await admin.open("/contacts/1")
    await admin.should_not_see(marker="contact-missing")
    await admin.open("/entry-points/1")
    await admin.should_not_see(marker="not-found")
