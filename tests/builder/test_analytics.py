"""The analytics page: counts that follow the runtime's opens, the period and entry point filters, the CSV."""

import asyncio
import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from nicegui.testing import User

from runtime.opening import Inbound
from runtime.service import Runtime
from storage.analytics import AnalyticsQuery, summarise, summary_csv
from storage.db import Database, open_database
from tests.builder.helpers import figure
from tests.helpers import import_fixture

LINK = "https://m.me/1234567890?ref=giveaway2025"


@pytest.fixture
def app_database(app_env: Path, admin: User) -> Database:
    database = open_database(url=f"sqlite:///{app_env}")
    import_fixture(database)
    yield database
    database.dispose()


def open_link(database: Database, user: str, link: str, *, days_ago: int = 0) -> int:
    moment = datetime.now(UTC) - timedelta(days=days_ago)
    with Runtime(database, clock=lambda: moment) as runtime:
        return runtime.open_link(Inbound(text=link, channel="messenger", channel_user_id=user,
                                         first_name=user.title())).contact_id


def run_campaign(database: Database) -> int:
    """Ann brings Bob in; Ann tries her own link; Bob clicks again; Cat has a link with an unknown referrer; Dan
    opens a link no entry point knows. Returns Ann's id."""
    ann = open_link(database, "ann", LINK)
    open_link(database, "bob", f"{LINK}-c{ann}")
    open_link(database, "ann", f"{LINK}-c{ann}")
    open_link(database, "bob", f"{LINK}-c{ann}")
    open_link(database, "cat", f"{LINK}-c999999")
    open_link(database, "dan", "https://m.me/1234567890?ref=nothing-here")
    return ann


async def figure_becomes(user: User, name: str, expected: str) -> None:
    """Refreshes run in the background: wait a little for the figure, like should_see does."""
    for _ in range(20):
        if figure(user, name) == expected:
            return
        await asyncio.sleep(0.05)
    assert figure(user, name) == expected


def stats_rows(user: User) -> dict[str, dict]:
    return {row["name"]: row for row in user.find(marker="stats-table").elements.pop().rows}


async def test_counts_follow_the_opens_including_blocked_referrals(admin: User, app_database: Database) -> None:
    await admin.open("/analytics")
    await admin.should_see("No link was opened in this period.")
    assert figure(admin, "opens") == "0" and figure(admin, "viral-coefficient") == "—"

    ann = run_campaign(app_database)
    await admin.open("/analytics")
    await admin.should_not_see(marker="no-activity")
    assert [figure(admin, name) for name in ("opens", "unique-people", "new-contacts", "referrals-counted",
                                             "referrals-blocked", "viral-coefficient", "active-contacts",
                                             "referred-anyone", "referral-link-conversion")] == [
        "6", "4", "4", "1", "3", "0.25", "4", "25%", "25%"]
    rows = stats_rows(admin)
    giveaway = rows["Giveaway 2025"]
    assert (giveaway["opens"], giveaway["people"], giveaway["new"], giveaway["existing"]) == (5, 3, 3, 0)
    assert (giveaway["counted"], giveaway["self"], giveaway["duplicate"], giveaway["unknown"]) == (1, 1, 1, 1)
    assert rows["Unknown or switched-off links"]["opens"] == 1
    assert rows["Total"]["opens"] == 6
    await admin.should_see("1 referral")
    await admin.should_see(marker=f"referrer-{ann}")
    await admin.should_see("new contacts who joined through a referral link ÷ contacts active in the period")
    await admin.should_see("counted referrals ÷ people who referred at least one")
    assert (giveaway["per_referrer"], giveaway["joined"], giveaway["viral"]) == ("1.00", 1, "0.25")
    chart = admin.find(marker="chart").elements.pop()
    assert chart.options["series"][0]["data"][-1] == 6 and chart.options["series"][1]["data"][-1] == 1


async def test_the_period_and_the_entry_point_narrow_the_numbers(admin: User, app_database: Database) -> None:
    open_link(app_database, "old", LINK, days_ago=20)
    open_link(app_database, "new", LINK)
    open_link(app_database, "lost", "https://m.me/1234567890?ref=nothing-here")
    await admin.open("/analytics")
    assert figure(admin, "opens") == "3"
    with admin.client:
        admin.find(marker="period").elements.pop().set_value("7d")
    await figure_becomes(admin, "opens", "2")
    assert len(admin.find(marker="chart").elements.pop().options["xAxis"]["data"]) == 7
    with admin.client:
        admin.find(marker="entry-filter").elements.pop().set_value(1)
    await figure_becomes(admin, "opens", "1")
    assert list(stats_rows(admin)) == ["Giveaway 2025"]  # no total row for a single entry point


async def test_the_csv_holds_the_table(admin: User, app_database: Database) -> None:
    run_campaign(app_database)
    await admin.open("/analytics")
    admin.find(marker="download-csv").click()
    response = await admin.download.next()
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [row["Entry point"] for row in rows] == [
        "Giveaway 2025", "Unknown or switched-off links", "Total"]
    giveaway = rows[0]
    assert giveaway["Ref"] == "giveaway2025" and giveaway["Opens"] == "5" and giveaway["Referrals counted"] == "1"
    assert (giveaway["Blocked: self-referral"], giveaway["Blocked: duplicate"],
            giveaway["Blocked: unknown referrer"], giveaway["Blocked: referrals off"]) == ("1", "1", "1", "0")
    assert giveaway["Referrals per referrer"] == "1.0" and rows[1]["Referrals per referrer"] == ""
    assert giveaway["Joined through a referral link"] == "1" and giveaway["Referral-link opens"] == "4"
    assert giveaway["Viral coefficient (K)"] == "0.25" and rows[2]["Viral coefficient (K)"] == "0.25"


def test_all_time_starts_at_the_first_day_with_activity(database: Database) -> None:
    import_fixture(database)
    open_link(database, "early", LINK, days_ago=120)
    with database.session() as session:
        summary = summarise(session=session, query=AnalyticsQuery(period="all"))
        empty = summarise(session=session, query=AnalyticsQuery(period="90d"))
    assert len(summary.days) == 121 and summary.days[0].opens == 1 and summary.total.opens == 1
    assert empty.total.opens == 0 and len(empty.days) == 90
    assert summary_csv(empty).splitlines()[-1] == "Total,,0,0,0,0,0,0,0,0,0,0,,0,0,"


def test_k_stays_small_when_few_contacts_share(database: Database) -> None:
    """The old figure was 1 or more whenever it showed: here one contact in ten brings one friend."""
    import_fixture(database)
    sharer = open_link(database, "sharer", LINK)
    for number in range(9):
        open_link(database, f"quiet-{number}", LINK)
    open_link(database, "friend", f"{LINK}-c{sharer}")
    open_link(database, "friend", f"{LINK}-c{sharer}")  # a second click converts nothing more
    with database.session() as session:
        summary = summarise(session=session, query=AnalyticsQuery(period="7d"))
    assert summary.total.per_referrer == 1.0  # what the page used to call the viral coefficient
    assert summary.active_contacts == 11 and summary.viral_coefficient() == 0.09
    assert summary.referring_share == 1 / 11 and summary.total.referral_conversion == 0.5


def test_a_contact_who_only_writes_counts_as_active(database: Database) -> None:
    import_fixture(database)
    ann = open_link(database, "ann", LINK, days_ago=40)  # outside the period
    open_link(database, "bob", f"{LINK}-c{ann}")
    with Runtime(database) as runtime:
        runtime.reply(channel="messenger", channel_user_id="ann", text="hello")
    with database.session() as session:
        summary = summarise(session=session, query=AnalyticsQuery(period="30d"))
    assert summary.active_contacts == 2 and summary.viral_coefficient() == 0.5


async def test_the_leaderboard_shows_the_board_contacts_see(admin: User, app_database: Database) -> None:
    ann = open_link(app_database, "ann", LINK)
    bob = open_link(app_database, "bob", LINK)
    for friend in ("cat", "dan"):
        open_link(app_database, friend, f"{LINK}-c{ann}")
    open_link(app_database, "eve", f"{LINK}-c{bob}", days_ago=40)  # before this month and week
    open_link(app_database, "fay", f"{LINK}-c{bob}", days_ago=40)
    await admin.open("/analytics")
    await admin.should_see("2 referrals", marker=f"referrer-{ann}")
    await admin.should_not_see(marker=f"referrer-{bob}")
    await admin.should_see("sees “Ann”")
    with admin.client:
        admin.find(marker="board-period").elements.pop().set_value("all")
    await admin.should_see(marker=f"referrer-{bob}")
    ranks = [admin.find(marker=f"rank-{who}").elements.pop().text for who in (ann, bob)]
    assert ranks == ["1.", "1."]  # a tie shares the rank
    with admin.client:
        admin.find(marker="entry-filter").elements.pop().set_value(1)
    await admin.should_see(marker=f"referrer-{bob}")
