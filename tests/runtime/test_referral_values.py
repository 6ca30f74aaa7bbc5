"""`{{referrals.*}}` in templates and the leaderboard periods: pure functions, table-driven."""

from datetime import UTC, date, datetime

import pytest

from runtime.referral_stats import BoardRow, ReferredPerson, format_board, format_people, period_key
from runtime.templates import render_template, template_problems

FIELDS = ("referral_points", "referrals_made")


@pytest.mark.parametrize(("text", "problems"), [
    ("You are number {{referrals.rank}} with {{referrals.count}} friends", []),
    ("{{ referrals.rank | default('—') }} · {% if referrals.count >= 3 %}gold{% endif %}", []),
    ("{{referrals.list}}\n{{referrals.top}}", []),
    ("{{referrals_made}} made", []),  # a field whose name starts like the values stays a field
    ("You have {{referrals.points}}", ["It inserts {{referrals.points}}, but referrals only have {{referrals.count}}, "
                                      "{{referrals.rank}}, {{referrals.list}}, {{referrals.top}}."]),
    ("{{referals.count}}", ["It inserts {{referals.count}}, but there is no field called “count”. Create the field "
                            "on the Fields page or correct the name."]),
])
def test_referral_values_are_known_to_validation(text: str, problems: list[str]) -> None:
    assert [message for _, message in template_problems(text, FIELDS)] == problems


@pytest.mark.parametrize(("text", "shown"), [
    ("#{{referrals.rank}} of them", "#2 of them"),
    ("{% if referrals.rank == 1 %}You lead!{% else %}{{ referrals.count }} so far{% endif %}", "5 so far"),
    ("{{ 10 - referrals.count }} to go", "5 to go"),
])
def test_referral_values_render_plain_and_with_jinja(text: str, shown: str) -> None:
    values = {"referrals.rank": 2, "referrals.count": 5}
    assert render_template(text, values.get).text == shown


@pytest.mark.parametrize(("period", "when", "key"), [
    ("week", date(2026, 12, 1), "week:2026-11-30"),  # a Tuesday: its Monday
    ("week", date(2026, 11, 30), "week:2026-11-30"),  # the Monday itself
    ("week", date(2026, 12, 6), "week:2026-11-30"),  # the Sunday still belongs to it
    ("week", date(2027, 1, 1), "week:2026-12-28"),  # across the new year
    ("month", datetime(2026, 12, 31, 23, 59, tzinfo=UTC), "month:2026-12"),
    ("all", date(2026, 12, 1), "all"),
])
def test_period_keys(period: str, when: date, key: str) -> None:
    assert period_key(period, when) == key


def test_an_unknown_period_is_explained() -> None:
    with pytest.raises(ValueError, match=r"There is no leaderboard period .year.; choose one of: week, month, all\."):
        period_key("year", date(2026, 12, 1))


def test_lists_read_as_text_and_say_when_empty() -> None:
    assert format_board([]) == "Nobody is on the board yet."
    assert format_people([]) == "Nobody has joined with your link yet."
    assert format_board([BoardRow(1, 4, "Ann R.", 3), BoardRow(1, 7, "Bob", 3)]) == "1. Ann R. — 3\n1. Bob — 3"
    assert format_people([ReferredPerson(5, "Cat", "2026-12-01 10:00:00.000000", False)]) == \
        "Cat · 1 Dec 2026 (not counted)"


def test_a_field_called_referrals_keeps_working_in_sums() -> None:
    values = {"referrals": 4, "referrals.count": 9}
    assert render_template("{{ referrals + 1 }} and {{referrals}}", values.get).text == "5 and 4"
    assert render_template("{{ referrals.count }}", {"referrals.count": 9}.get).text == "9"
