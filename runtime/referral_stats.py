"""Referral counts, leaderboards and "my referrals": the engine's SQL for them, one function per statement.

Ranks never load contacts. Every counted referral adds one to the referrer's row in `referral_score` for each board
it belongs to: its entry point and every entry point (`entry_point_id` 0), each for this week, this month and all
time. A rank is then one index range count (`ix_referral_score_board`): 1 + the referrers of that board with more
referrals. Equal counts share a rank (1, 2, 2, 4); the top list breaks the tie by who got there first.

Decisions where the brief was silent:
- Weeks start on Monday and months on the 1st, in UTC, as the turn's clock reads them.
- A referrer with no counted referral on a board has no rank there (`None`): they are not on the board.
- "My referrals" lists each person who joined with the contact's link once (their first attempt), newest first,
  with whether they counted; blocked self-referrals are left out.
- Names shown to other contacts are masked: first name and the initial of the last name ("Ann R."); nobody's full
  last name, phone or id leaves the bot this way.

The SQL is plain SQL-92 plus `ON CONFLICT ... DO UPDATE` (SQLite 3.24+, PostgreSQL 9.5+), so it can move into a
shared store module unchanged but for the parameter style.
"""

import sqlite3
from dataclasses import dataclass
from datetime import date, datetime, timedelta

EVERY_ENTRY_POINT = 0
PERIODS = ("week", "month", "all")
PERIOD_NAMES = {"week": "this week", "month": "this month", "all": "all time"}
MAX_LIST = 50  # people one message lists, whatever a node asks for


@dataclass(frozen=True)
class BoardRow:
    rank: int
    contact_id: int
    name: str  # masked: "Ann R."
    referrals: int
    full_name: str = ""  # for the admin's Analytics page only


@dataclass(frozen=True)
class ReferredPerson:
    contact_id: int
    name: str  # masked
    joined_at: str  # the stored timestamp text of their first attempt
    counted: bool


def period_key(period: str, when: datetime | date) -> str:
    """The board a moment belongs to: 'all', 'week:2026-11-30' (its Monday) or 'month:2026-12'."""
    day = when.date() if isinstance(when, datetime) else when
    if period == "week":
        return f"week:{(day - timedelta(days=day.weekday())).isoformat()}"
    if period == "month":
        return f"month:{day.year:04d}-{day.month:02d}"
    if period == "all":
        return "all"
    raise ValueError(f"There is no leaderboard period '{period}'; choose one of: {', '.join(PERIODS)}.")


def mask_name(first_name: str | None, last_name: str | None) -> str:
    """'Ann R.' for Ann Rivers; 'Ann' without a last name; 'Someone' without any name."""
    first = " ".join((first_name or "").split())
    initial = (last_name or "").strip()[:1].upper()
    if not first:
        return f"Someone {initial}." if initial else "Someone"
    return f"{first} {initial}." if initial else first


def add_referral_score(db: sqlite3.Connection, *, referrer_id: int, entry_point_id: int, at: datetime,
                       stamp: str) -> None:
    """One counted referral for `referrer_id`: +1 on each of the six boards it belongs to."""
    rows = [(entry, period_key(period, at), referrer_id, stamp)
            for entry in (entry_point_id, EVERY_ENTRY_POINT) for period in PERIODS]
    db.executemany(
        "INSERT INTO referral_score (entry_point_id, period, contact_id, referrals, reached_at) VALUES (?, ?, ?, 1, ?)"
        " ON CONFLICT (entry_point_id, period, contact_id) DO UPDATE"
        " SET referrals = referral_score.referrals + 1, reached_at = excluded.reached_at", rows)


def score_of(db: sqlite3.Connection, *, contact_id: int, entry_point_id: int, period: str) -> int:
    row = db.execute("SELECT referrals FROM referral_score WHERE entry_point_id = ? AND period = ? AND contact_id = ?",
                     (entry_point_id, period, contact_id)).fetchone()
    return row[0] if row else 0


def rank_of(db: sqlite3.Connection, *, contact_id: int, entry_point_id: int, period: str) -> int | None:
    """The contact's place on a board (`period` is a period key), or None when they are not on it."""
    row = db.execute(
        "SELECT 1 + (SELECT count(*) FROM referral_score o WHERE o.entry_point_id = s.entry_point_id"
        " AND o.period = s.period AND o.referrals > s.referrals)"
        " FROM referral_score s WHERE s.entry_point_id = ? AND s.period = ? AND s.contact_id = ?",
        (entry_point_id, period, contact_id)).fetchone()
    return row[0] if row else None


def top_of(db: sqlite3.Connection, *, entry_point_id: int, period: str, limit: int) -> list[BoardRow]:
    """The first `limit` referrers of a board, with their ranks (ties share one)."""
    rows = db.execute(
        "SELECT s.contact_id, c.first_name, c.last_name, s.referrals,"
        " 1 + (SELECT count(*) FROM referral_score o WHERE o.entry_point_id = s.entry_point_id"
        " AND o.period = s.period AND o.referrals > s.referrals)"
        " FROM referral_score s JOIN contact c ON c.id = s.contact_id"
        " WHERE s.entry_point_id = ? AND s.period = ?"
        " ORDER BY s.referrals DESC, s.reached_at, s.contact_id LIMIT ?",
        (entry_point_id, period, max(0, min(limit, MAX_LIST)))).fetchall()
    return [BoardRow(rank, contact_id, mask_name(first, last), referrals, f"{first or ''} {last or ''}".strip())
            for contact_id, first, last, referrals, rank in rows]


def board(db: sqlite3.Connection, *, entry_point_id: int | None, period: str, at: datetime,
          limit: int = 10) -> list[BoardRow]:
    """The board contacts see for an entry point (None: every entry point) and a period (week, month, all)."""
    entry = EVERY_ENTRY_POINT if entry_point_id is None else entry_point_id
    return top_of(db, entry_point_id=entry, period=period_key(period, at), limit=limit)


def referred_people(db: sqlite3.Connection, *, referrer_id: int, entry_point_id: int | None,
                    limit: int) -> list[ReferredPerson]:
    """Who joined with the contact's link (on one entry point, or any when None), newest first."""
    entry = "" if entry_point_id is None else " AND r.entry_point_id = ?"
    params = (referrer_id, *(() if entry_point_id is None else (entry_point_id,)), max(0, min(limit, MAX_LIST)))
    rows = db.execute(
        "SELECT r.referee_id, c.first_name, c.last_name, min(r.created_at) AS joined,"
        " max(CASE WHEN r.status IN ('counted', 'repeat') THEN 1 ELSE 0 END)"
        " FROM referral r JOIN contact c ON c.id = r.referee_id"
        f" WHERE r.referrer_id = ? AND r.status <> 'self'{entry}"
        " GROUP BY r.referee_id, c.first_name, c.last_name ORDER BY joined DESC, r.referee_id DESC LIMIT ?",
        params).fetchall()
    return [ReferredPerson(referee, mask_name(first, last), str(joined), bool(counted))
            for referee, first, last, joined, counted in rows]


def counted_referrals(db: sqlite3.Connection, *, referrer_id: int, entry_point_id: int | None) -> int:
    """How many of the contact's referrals counted (on one entry point, or all of them)."""
    entry = "" if entry_point_id is None else " AND entry_point_id = ?"
    row = db.execute(f"SELECT count(*) FROM referral WHERE referrer_id = ? AND status IN ('counted', 'repeat'){entry}",
                     (referrer_id, *(() if entry_point_id is None else (entry_point_id,)))).fetchone()
    return row[0]


# ---------------------------------------------------------------------------------------------- the words


def format_board(rows: list[BoardRow]) -> str:
    """'1. Ann R. — 12' lines; an empty board says so."""
    if not rows:
        return "Nobody is on the board yet."
    return "\n".join(f"{row.rank}. {row.name} — {row.referrals}" for row in rows)


def format_people(people: list[ReferredPerson]) -> str:
    """'Ann R. · 1 Dec 2026' lines, with '(not counted)' for people who did not count."""
    if not people:
        return "Nobody has joined with your link yet."
    return "\n".join(f"{person.name} · {_day(person.joined_at)}{'' if person.counted else ' (not counted)'}"
                     for person in people)


def _day(stamp: str) -> str:
    try:
        day = date.fromisoformat(stamp[:10])
    except ValueError:
        return stamp[:10]
    return f"{day.day} {day.strftime('%b')} {day.year}"


# ---------------------------------------------------------------------------------------------- template values

REFERRAL_KEYS = ("count", "rank", "list", "top")  # {{referrals.count}}, … in any template


@dataclass(frozen=True)
class Scope:
    """Which board `{{referrals.*}}` reads: any template reads every entry point, all time; a leaderboard or
    my-referrals step narrows it to its own entry point and period."""

    entry_point_id: int | None = None  # None: every entry point
    period: str = "all"
    limit: int = 10


def referral_value(db: sqlite3.Connection, *, contact_id: int, key: str, at: datetime, scope: Scope) -> object:
    """The value of `{{referrals.KEY}}` for a contact; None for an unknown key or a contact not on the board."""
    entry = EVERY_ENTRY_POINT if scope.entry_point_id is None else scope.entry_point_id
    board = period_key(scope.period, at)
    if key == "count":
        return score_of(db, contact_id=contact_id, entry_point_id=entry, period=board)
    if key == "rank":
        return rank_of(db, contact_id=contact_id, entry_point_id=entry, period=board)
    if key == "top":
        return format_board(top_of(db, entry_point_id=entry, period=board, limit=scope.limit))
    if key == "list":
        return format_people(referred_people(db, referrer_id=contact_id, entry_point_id=scope.entry_point_id,
                                             limit=scope.limit))
    return None
