"""Login attempts: the per-address limit and the per-account pause that grows after many failures from anywhere."""

from datetime import timedelta

import pytest

import storage.auth
from storage.auth import (
    ACCOUNT_FREE_FAILURES,
    ACCOUNT_MAX_PAUSE,
    DEVICE_MAX_FAILURES,
    account_paused_until,
    attempt_login,
    remember_device,
    set_admin_password,
)
from storage.models import utcnow

PASSWORD = "correct-horse-battery"


@pytest.fixture
def session(database):
    with database.write_session() as session:
        set_admin_password(session=session, password=PASSWORD)
        yield session


def fail_from_many_addresses(session, count: int, start) -> None:
    for n in range(count):
        result = attempt_login(session=session, client=f"203.0.113.{n}", password="guess", now=start)
        assert not result.ok


def test_the_pause_doubles_with_each_failure_up_to_a_ceiling(session) -> None:
    now = utcnow()
    fail_from_many_addresses(session, ACCOUNT_FREE_FAILURES - 1, now)
    assert account_paused_until(session=session, now=now) is None
    pauses = []
    for n in range(8):
        result = attempt_login(session=session, client=f"198.51.100.{n}", password="guess", now=now)
        until = account_paused_until(session=session, now=now)
        assert "Sign-in to this account is paused" in result.message
        assert f"Try again at {until:%H:%M} UTC" in result.message
        pauses.append(until - now)
        now = until  # the attacker tries again the moment the pause ends
    assert pauses == [timedelta(minutes=m) for m in (1, 2, 4, 8, 15, 15, 15, 15)]
    assert max(pauses) == ACCOUNT_MAX_PAUSE  # the admin is never locked out for longer


def test_while_paused_even_the_right_password_is_refused_unchecked(session, monkeypatch) -> None:
    now = utcnow()
    fail_from_many_addresses(session, ACCOUNT_FREE_FAILURES, now)
    monkeypatch.setattr(storage.auth, "verify_password", lambda *args: pytest.fail("checked while paused"))
    result = attempt_login(session=session, client="192.0.2.1", password=PASSWORD, now=now + timedelta(seconds=50))
    assert not result.ok
    assert "(in 1 minute)." in result.message


def test_after_the_pause_the_right_password_gets_in_and_the_count_starts_over(session) -> None:
    now = utcnow()
    fail_from_many_addresses(session, ACCOUNT_FREE_FAILURES, now)
    later = now + timedelta(minutes=1, seconds=1)
    assert attempt_login(session=session, client="192.0.2.1", password=PASSWORD, now=later).ok
    assert account_paused_until(session=session, now=later) is None
    fail_from_many_addresses(session, ACCOUNT_FREE_FAILURES - 1, later)
    assert account_paused_until(session=session, now=later) is None


def test_failures_older_than_a_day_are_forgotten(session) -> None:
    long_ago = utcnow() - timedelta(hours=25)
    fail_from_many_addresses(session, ACCOUNT_FREE_FAILURES + 3, long_ago)
    assert attempt_login(session=session, client="192.0.2.1", password=PASSWORD).ok


def test_a_browser_that_signed_in_before_is_not_held_up_by_an_attack_from_elsewhere(session) -> None:
    device = remember_device(session=session, token=None)
    now = utcnow()
    fail_from_many_addresses(session, ACCOUNT_FREE_FAILURES + 4, now)  # the attack goes on: paused for 15 minutes
    assert account_paused_until(session=session, now=now) is not None
    assert "paused" in attempt_login(session=session, client="192.0.2.1", password=PASSWORD, now=now).message
    assert not attempt_login(session=session, client="192.0.2.1", password="typo", device=device, now=now).ok
    assert attempt_login(session=session, client="192.0.2.1", password=PASSWORD, device=device, now=now).ok
    assert remember_device(session=session, token=device) == device  # kept, with a fresh lifetime


def test_a_known_browser_that_keeps_failing_is_paused_like_any_other(session) -> None:
    device = remember_device(session=session, token=None)
    now = utcnow()
    fail_from_many_addresses(session, ACCOUNT_FREE_FAILURES, now)
    for n in range(DEVICE_MAX_FAILURES):
        result = attempt_login(session=session, client=f"192.0.2.{n}", password="guess", device=device, now=now)
        assert "That password is not right." in result.message
    result = attempt_login(session=session, client="192.0.2.99", password=PASSWORD, device=device, now=now)
    assert not result.ok
    assert "Sign-in to this account is paused" in result.message


def test_a_made_up_device_token_is_no_exemption(session) -> None:
    now = utcnow()
    fail_from_many_addresses(session, ACCOUNT_FREE_FAILURES, now)
    result = attempt_login(session=session, client="192.0.2.1", password=PASSWORD, device="made-up", now=now)
    assert not result.ok
    assert remember_device(session=session, token="made-up") != "made-up"
