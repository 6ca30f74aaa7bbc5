"""Login attempts: the per-address limit and the per-account pause that grows after many failures from anywhere."""

from datetime import timedelta

import pytest

import storage.auth
from storage.auth import (
    ACCOUNT_FREE_FAILURES,
    ACCOUNT_MAX_PAUSE,
    account_paused_until,
    attempt_login,
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
    assert result.message.endswith("(in 1 minute).")


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
