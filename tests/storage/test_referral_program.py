"""The classic referral program of DOMAIN §4.1, end to end from the workspace fixture."""


import pytest

from runtime.opening import Inbound
from runtime.service import Runtime
from storage.db import Database
from tests.helpers import import_fixture


@pytest.fixture
def runtime(database: Database) -> Runtime:
    import_fixture(database)
    with Runtime(database) as runtime:
        yield runtime


def open_as(runtime: Runtime, user: str, name: str, link: str):
    return runtime.open_link(Inbound(text=link, channel="messenger", channel_user_id=user, first_name=name))


def texts_for(result, contact_id: int) -> list[str]:
    return [m["text"] for m in result.messages if m["contact_id"] == contact_id]


def test_three_friends_earn_the_reward(runtime: Runtime) -> None:
    ann = open_as(runtime, "psid-ann", "Ann", "https://m.me/1234567890?ref=giveaway2025")
    personal_link = f"https://m.me/1234567890?ref=giveaway2025-c{ann.contact_id}"
    assert any(personal_link in text for text in texts_for(ann, ann.contact_id))

    progress = []
    for user, name in [("psid-bob", "Bob"), ("psid-cat", "Cat"), ("psid-dan", "Dan")]:
        result = open_as(runtime, user, name, personal_link)
        assert result.referral == {"status": "counted", "kind": "new", "referrer_id": ann.contact_id}
        to_ann = texts_for(result, ann.contact_id)
        assert f"{name} joined with your link!" in to_ann
        progress.append(to_ann)
        # the newcomer gets their own personal link from the "Share" flow
        assert any(f"giveaway2025-c{result.contact_id}" in text for text in texts_for(result, result.contact_id))

    assert any("1 of 3 friends" in text for text in progress[0])
    assert any("2 of 3 friends" in text for text in progress[1])
    assert any("FRIENDS3" in text for text in progress[2])

    again = open_as(runtime, "psid-ann", "Ann", personal_link)  # Ann opens her own link
    assert again.referral["status"] == "self"
    assert again.fields["referral_points"] == 3
    assert "rewarded" in again.tags


def test_self_referral_and_double_clicks_change_nothing(runtime: Runtime) -> None:
    ann = open_as(runtime, "psid-ann", "Ann", "https://m.me/1234567890?ref=giveaway2025")
    link = f"https://m.me/1234567890?ref=giveaway2025-c{ann.contact_id}"
    selfish = open_as(runtime, "psid-ann", "Ann", link)
    assert selfish.referral["status"] == "self"
    assert texts_for(selfish, ann.contact_id) == [m["text"] for m in selfish.messages
                                                  if "joined with your link" not in m["text"]]
    first = open_as(runtime, "psid-bob", "Bob", link)
    twice = open_as(runtime, "psid-bob", "Bob", link)
    assert first.referral["status"] == "counted" and twice.referral["status"] == "duplicate"
    assert texts_for(twice, ann.contact_id) == []  # Ann hears nothing about a repeat click
    status = open_as(runtime, "psid-ann", "Ann", "https://m.me/1234567890?ref=giveaway2025")
    assert status.fields["referral_points"] == 1
