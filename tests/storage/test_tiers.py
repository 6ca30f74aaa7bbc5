"""Milestone tiers (issue 16 item 3) and the demo's "Tiers, leaderboard and coupon pool" example: each tier's reward
is given once, also when one referral takes the points past two tiers; its scenario passes from the file and from
the Simulator page's saved copy."""

from pathlib import Path

from runtime.opening import Inbound
from runtime.service import Runtime
from runtime.simulator.sandbox import open_sandbox, reset_sandbox
from runtime.simulator.scenarios import SimulatedClock, run_scenario, run_scenario_file
from storage.coupons import add_codes, list_pools
from storage.db import Database
from storage.models import Scenario
from storage.scenarios import seed_demo_scenario
from storage.settings import seed_demo_settings
from storage.workspace_templates import apply_template, seed_demo_workspace, seed_tiers_example

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "scenarios"
LINK = "https://m.me/1234567890?ref=friends-club"


def open_as(runtime: Runtime, user: str, link: str):
    return runtime.open_link(Inbound(text=link, channel="messenger", channel_user_id=user, first_name=user.title()))


def texts(result, contact_id: int) -> list[str]:
    return [m["text"] for m in result.messages if m["contact_id"] == contact_id]


def test_a_jump_past_two_tiers_gives_both_rewards_once_each(database: Database) -> None:
    with database.write_session() as session:
        seed_demo_settings(session=session)
        apply_template(session=session, name="Tiers, leaderboard and coupon pool")
        add_codes(session=session, pool_id=list_pools(session=session)[0].id, text="CODE-A\nCODE-B")
    with Runtime(database) as runtime:
        ann = open_as(runtime, "ann", LINK)
        known = open_as(runtime, "kim", LINK)  # a contact before any referral: later worth 3 points at once
        open_as(runtime, "bob", f"{LINK}-c{ann.contact_id}")
        jump = open_as(runtime, "kim", f"{LINK}-c{ann.contact_id}")  # 1 -> 4: past tier 3
        assert jump.referral == {"status": "counted", "kind": "existing", "referrer_id": ann.contact_id}
        to_ann = texts(jump, ann.contact_id)
        assert to_ann[0] == "Kim came back through your link: 3 points! Your points: 4."
        assert "3 points, Ann! Your coupon code: CODE-A" in to_ann
        cat = open_as(runtime, "cat", f"{LINK}-c{ann.contact_id}")  # 4 -> 5: tier 5 only; tier 3 is not given again
        assert texts(cat, ann.contact_id) == ["Cat joined with your link! Your points: 5.",
                                              "5 points: you are a silver member of the Friends club, Ann!"]
        dan = open_as(runtime, "dan", f"{LINK}-c{known.contact_id}")  # Kim: 1 point
        assert texts(dan, known.contact_id) == ["Dan joined with your link! Your points: 1."]
        for user in ("eve", "fay"):
            open_as(runtime, user, f"{LINK}-c{known.contact_id}")  # Kim reaches 3: the second code
        again = open_as(runtime, "ann", LINK)  # Kim's three friends were friends of Ann's friend: 5 + 3
        assert again.fields["tier_code"] == "CODE-A" and again.fields["tier_points"] == 8
        assert {"tier_3", "tier_5"} <= set(again.tags) and "tier_10" not in again.tags
        assert open_as(runtime, "kim", LINK).fields["tier_code"] == "CODE-B"


def test_the_jump_from_two_to_five_gives_tier_3_and_tier_5_in_one_open(database: Database) -> None:
    with database.write_session() as session:
        seed_demo_settings(session=session)
        apply_template(session=session, name="Tiers, leaderboard and coupon pool")
    with Runtime(database) as runtime:
        ann = open_as(runtime, "ann", LINK)
        open_as(runtime, "kim", LINK)
        for user in ("bob", "cat"):
            open_as(runtime, user, f"{LINK}-c{ann.contact_id}")
        jump = open_as(runtime, "kim", f"{LINK}-c{ann.contact_id}")  # 2 -> 5
        to_ann = texts(jump, ann.contact_id)
        assert to_ann == [
            "Kim came back through your link: 3 points! Your points: 5.",
            "3 points, Ann! Our coupon codes are all given out right now; we will send yours as soon as new ones "
            "arrive.",
            "5 points: you are a silver member of the Friends club, Ann!"]
        assert any("Coupon pool 'Tier rewards' has no codes left" in warning for warning in jump.warnings)
        later = open_as(runtime, "dan", f"{LINK}-c{ann.contact_id}")  # 6 points: no tier is given twice
        assert texts(later, ann.contact_id) == ["Dan joined with your link! Your points: 6."]


def test_the_scenario_file_proves_tiers_pool_exhaustion_and_second_level_credit(tmp_path: Path) -> None:
    report = run_scenario_file(FIXTURES / "tiers_leaderboard_pool.json", live_url=f"sqlite:///{tmp_path}/live.db")
    assert report.passed, report.to_text()
    assert len(report.steps) == 9


def test_the_demo_seeds_the_example_and_its_saved_scenario_passes_in_the_sandbox(database: Database) -> None:
    with database.write_session() as session:  # what the app does on its first start
        assert seed_demo_workspace(session=session)
        seed_demo_settings(session=session)
        seed_demo_scenario(session=session)
        seed_tiers_example(session=session)
    with database.session() as session:
        [pool] = list_pools(session=session)
        assert (pool.name, pool.left) == ("Tier rewards", 1)
        saved = {row.name: row.document for row in session.exec(Scenario.__table__.select()).mappings()}
    assert set(saved) == {"Classic referral program", "Tiers, leaderboard and coupon pool"}
    sandbox = open_sandbox(database)
    for document in saved.values():
        reset_sandbox(sandbox)  # as the Simulator page does before running a saved scenario
        clock = SimulatedClock()
        with Runtime(sandbox, clock=clock) as runtime:
            report = run_scenario(runtime, clock, document)
        assert report.passed, report.to_text()
    sandbox.dispose()
    with database.session() as session:
        assert list_pools(session=session)[0].left == 1  # the simulator used its own copy of the code
