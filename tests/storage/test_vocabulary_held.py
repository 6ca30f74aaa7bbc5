"""Places that must spell the vocabulary's words out (a migration's CHECK constraint, a table's columns, a
dataclass's fields) hold exactly the words of runtime/vocabulary.py, in its order."""

import dataclasses
import re
from pathlib import Path

import pytest

from channels.catalogue import CATALOGUE
from runtime.links import ChannelIdentities
from runtime.vocabulary import (
    CHANNEL_IDENTITY,
    CHANNELS,
    COUNTED_STATUSES,
    IDENTITY_FIELDS,
    REFERRAL_OUTCOMES,
    REFERRAL_STATUS_NAMES,
    REFERRAL_STATUSES,
    TRIGGER_EVENTS,
)
from storage.models import WorkspaceSettings
from storage.settings import SettingsUpdate

MIGRATIONS = Path(__file__).resolve().parents[2] / "storage" / "migrations" / "versions"


def check_constraint_words(name: str) -> tuple[str, ...]:
    """The words of the first migration's CHECK constraint `name` ("channel IN ('messenger', ...)")."""
    text = (MIGRATIONS / "0001_initial_schema.py").read_text()
    check = re.search(rf'CheckConstraint\("\w+ IN \(([^)]*)\)", name=\'{name}\'\)', text)
    assert check, f"no CHECK constraint {name} in the first migration"
    return tuple(re.findall(r"'([^']*)'", check[1]))


@pytest.mark.parametrize(("constraint", "words"), [
    ("known_channel", CHANNELS),
    ("known_status", REFERRAL_STATUSES),
])
def test_the_first_migrations_checks_hold_the_vocabulary(constraint: str, words: tuple[str, ...]) -> None:
    assert check_constraint_words(constraint) == words


def test_the_migration_that_added_second_level_events_allows_every_trigger_event() -> None:
    text = (MIGRATIONS / "0012_coupon_pools_second_level.py").read_text()
    old = re.search(r"OLD_EVENTS = \(([^)]*)\)", text)
    assert old, "no OLD_EVENTS in migration 0012"
    events = re.findall(r'"(\w+)"', old[1])
    assert (*events[:4], "referred_second_level", *events[4:]) == TRIGGER_EVENTS
    assert 'NEW_EVENTS = (*OLD_EVENTS[:4], "referred_second_level", *OLD_EVENTS[4:])' in text


def test_counted_referrals_are_the_migrations_counted_ones() -> None:
    later = (MIGRATIONS / "0011_referral_scores.py").read_text()
    assert f"status IN ({', '.join(repr(status) for status in COUNTED_STATUSES)})" in later


def test_every_channel_identity_is_a_setting_a_link_and_a_column_in_the_vocabularys_order() -> None:
    assert [field.name for field in dataclasses.fields(ChannelIdentities)] == list(IDENTITY_FIELDS)
    assert [name for name in SettingsUpdate.model_fields if name in IDENTITY_FIELDS] == list(IDENTITY_FIELDS)
    assert [name for name in WorkspaceSettings.model_fields if name in IDENTITY_FIELDS] == list(IDENTITY_FIELDS)
    assert set(CHANNEL_IDENTITY) == set(CHANNELS) and set(CHANNEL_IDENTITY.values()) <= set(IDENTITY_FIELDS)
    assert sorted(info.name for info in CATALOGUE) == sorted(CHANNELS)


def test_every_referral_status_has_its_words() -> None:
    assert set(REFERRAL_STATUS_NAMES) == set(REFERRAL_STATUSES)
    assert set(REFERRAL_STATUSES) <= set(REFERRAL_OUTCOMES)
