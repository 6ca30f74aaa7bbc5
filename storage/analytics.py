"""Analytics: link opens and referrals per entry point, per period and per day, aggregated in SQL; CSV export.

Decisions where the brief was silent:
- Periods end today and count whole UTC days: "last 7 days" is today and the 6 days before it.
- "New contacts" are people an entry point brought into the bot for the first time in the period; "existing contacts"
  are the other people who opened it (unique people minus new ones).
- "Counted" referrals are the statuses counted and repeat (counted again under "count every open"); the blocked ones
  are self, duplicate, unknown referrer and disabled (referrals switched off for the entry point).
- Opens of unknown or switched-off links have no entry point; they get their own row, so the totals add up.
- The viral coefficient K is the new contacts who joined through a referral link (counted as new referrals) divided
  by the contacts active in the period: everyone who opened a link or wrote to the bot. For one entry point the
  numerator is that entry point's; the denominator stays everyone active, so the entry points' K add up to the
  total. The old figure (counted referrals ÷ people who referred at least one) is kept as "referrals per referrer":
  it is at least 1 whenever it shows, so it says nothing about how viral the bot is.
- "Referral-link opens" are the opens of links that carried a referrer (every referral attempt, blocked or not);
  their conversion is the share of them that brought a new contact in.
"""

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from runtime.vocabulary import COUNTED_STATUSES
from storage.models import sql_list

PERIODS = {"7d": ("Last 7 days", 7), "30d": ("Last 30 days", 30), "90d": ("Last 90 days", 90),
           "all": ("All time", None)}
COUNTED = sql_list(COUNTED_STATUSES)
NO_ENTRY_POINT = "Unknown or switched-off links"
VIRAL_COEFFICIENT = ("Viral coefficient K: how many new contacts each active contact brought in through a referral "
                     "link (new contacts who joined through a referral link ÷ contacts active in the period, that "
                     "is everyone who opened a link or wrote to the bot). Above 1 the bot grows by itself; 0.25 "
                     "means every four active contacts bring one new one.")
PER_REFERRER = ("Referrals per referrer: counted referrals ÷ people who referred at least one. It is at least 1 "
                "whenever it shows, however few contacts share their link.")


@dataclass(frozen=True)
class AnalyticsQuery:
    period: str = "30d"
    entry_point_id: int | None = None  # None: every entry point

    def __post_init__(self) -> None:
        if self.period not in PERIODS:
            object.__setattr__(self, "period", "30d")


@dataclass(frozen=True)
class EntryStats:
    entry_point_id: int | None
    name: str
    ref: str
    opens: int = 0
    people: int = 0
    new_contacts: int = 0
    counted: int = 0
    blocked_self: int = 0
    blocked_duplicate: int = 0
    blocked_unknown: int = 0
    blocked_disabled: int = 0
    referrers: int = 0
    joined_by_referral: int = 0  # new contacts who joined through a referral link
    referral_opens: int = 0  # opens of links carrying a referrer, counted or blocked

    @property
    def existing_contacts(self) -> int:
        return self.people - self.new_contacts

    @property
    def blocked(self) -> int:
        return self.blocked_self + self.blocked_duplicate + self.blocked_unknown + self.blocked_disabled

    @property
    def per_referrer(self) -> float | None:
        return round(self.counted / self.referrers, 2) if self.referrers else None

    @property
    def referral_conversion(self) -> float | None:
        """The share of referral-link opens that brought a new contact in, 0..1."""
        return self.joined_by_referral / self.referral_opens if self.referral_opens else None


@dataclass(frozen=True)
class DayPoint:
    day: date
    opens: int
    referrals: int


@dataclass(frozen=True)
class AnalyticsSummary:
    query: AnalyticsQuery
    first_day: date | None  # None for "all time" without any activity
    last_day: date
    rows: list[EntryStats]
    total: EntryStats
    days: list[DayPoint]
    active_contacts: int = 0  # everyone who opened a link or wrote to the bot in the period

    def viral_coefficient(self, stats: EntryStats | None = None) -> float | None:
        """K for the total (or one row): new contacts who joined through a referral link ÷ active contacts."""
        stats = stats or self.total
        return round(stats.joined_by_referral / self.active_contacts, 2) if self.active_contacts else None

    @property
    def referring_share(self) -> float | None:
        """The share of active contacts who referred anyone (counted) in the period, 0..1."""
        return min(1.0, self.total.referrers / self.active_contacts) if self.active_contacts else None


def summarise(*, session: Session, query: AnalyticsQuery, now: datetime | None = None) -> AnalyticsSummary:
    """Everything the analytics page shows for one period (and optionally one entry point)."""
    today = (now or datetime.now(UTC)).date()
    days = PERIODS[query.period][1]
    first_day = today - timedelta(days=days - 1) if days else None
    where = _Where(since=f"{first_day.isoformat()} 00:00:00" if first_day else "", entry=query.entry_point_id)
    rows = _entry_rows(session, where)
    total = _total(session, where, query)
    series = _series(session, where, first_day, today)
    return AnalyticsSummary(query, series[0].day if series else first_day, today, rows, total, series,
                            _active_contacts(session, where))


@dataclass(frozen=True)
class EntryChoice:
    id: int
    name: str
    ref: str


def list_entry_choices(*, session: Session) -> list[EntryChoice]:
    return [EntryChoice(*row) for row in _rows(session, "SELECT id, name, ref FROM entry_point"
                                                        " ORDER BY name COLLATE NOCASE, id")]


@dataclass(frozen=True)
class _Where:
    since: str  # '' for all time
    entry: int | None

    def sql(self, table: str = "", *, nullable: bool = False) -> str:
        """The period and entry point condition, written so that SQLite ranges over ix_*_entry_time per entry point
        (a bare created_at range would read the whole table). `nullable`: the table keeps rows without entry point."""
        column = f"{table}.entry_point_id" if table else "entry_point_id"
        created = f"{table}.created_at" if table else "created_at"
        if self.entry is not None:
            return f"{column} = :entry AND {created} >= :since"
        entries = f"{column} IN (SELECT id FROM entry_point)"
        return f"({entries} OR {column} IS NULL) AND {created} >= :since" if nullable else \
            f"{entries} AND {created} >= :since"

    @property
    def params(self) -> dict[str, Any]:
        return {"since": self.since, "entry": self.entry}


_OPENS = "count(*), count(DISTINCT contact_id), coalesce(sum(is_new_contact), 0)"
_REFERRALS = (f"coalesce(sum(status IN {COUNTED}), 0), coalesce(sum(status = 'self'), 0),"
              " coalesce(sum(status = 'duplicate'), 0), coalesce(sum(status = 'unknown_referrer'), 0),"
              f" coalesce(sum(status = 'disabled'), 0), count(DISTINCT CASE WHEN status IN {COUNTED}"
              " THEN referrer_id END), count(DISTINCT CASE WHEN status = 'counted' AND kind = 'new'"
              " THEN referee_id END), count(*)")


def _entry_rows(session: Session, where: _Where) -> list[EntryStats]:
    opens = {row[0]: row[1:] for row in _rows(
        session, f"SELECT entry_point_id, {_OPENS} FROM link_open WHERE {where.sql(nullable=True)}"
                 " GROUP BY entry_point_id", **where.params)}
    referrals = {row[0]: row[1:] for row in _rows(
        session, f"SELECT entry_point_id, {_REFERRALS} FROM referral WHERE {where.sql()} GROUP BY entry_point_id",
        **where.params)}
    only = " WHERE id = :entry" if where.entry is not None else ""
    entries = _rows(session, f"SELECT id, name, ref FROM entry_point{only} ORDER BY name COLLATE NOCASE, id",
                    entry=where.entry)
    if None in opens:
        entries.append((None, NO_ENTRY_POINT, ""))
    return [_stats(entry_id, name, ref, opens.get(entry_id), referrals.get(entry_id))
            for entry_id, name, ref in entries]


def _total(session: Session, where: _Where, query: AnalyticsQuery) -> EntryStats:
    opens = _rows(session, f"SELECT {_OPENS} FROM link_open WHERE {where.sql(nullable=True)}", **where.params)[0]
    referrals = _rows(session, f"SELECT {_REFERRALS} FROM referral WHERE {where.sql()}", **where.params)[0]
    return _stats(query.entry_point_id, "Total", "", opens, referrals)


def _stats(entry_id: int | None, name: str, ref: str, opens: tuple | None, referrals: tuple | None) -> EntryStats:
    opens = opens or (0, 0, 0)
    referrals = referrals or (0,) * 8
    return EntryStats(entry_id, name, ref, *opens, *referrals)


def _series(session: Session, where: _Where, first_day: date | None, today: date) -> list[DayPoint]:
    """One point per day from the period's first day (for all time: the first day with activity) to today."""
    opens = dict(_rows(session, f"SELECT substr(created_at, 1, 10) AS day, count(*) FROM link_open"
                                f" WHERE {where.sql(nullable=True)} GROUP BY day", **where.params))
    referrals = dict(_rows(session, f"SELECT substr(created_at, 1, 10) AS day, count(*) FROM referral"
                                    f" WHERE {where.sql()} AND status IN {COUNTED} GROUP BY day", **where.params))
    if first_day is None:
        seen = [date.fromisoformat(day) for day in (*opens, *referrals)]
        if not seen:
            return []
        first_day = min(seen)
    span = (max(today, first_day) - first_day).days + 1
    points = []
    for offset in range(span):
        day = first_day + timedelta(days=offset)
        points.append(DayPoint(day, opens.get(day.isoformat(), 0), referrals.get(day.isoformat(), 0)))
    return points


def _active_contacts(session: Session, where: _Where) -> int:
    """Everyone who opened any link or wrote to the bot in the period, whichever entry point is chosen."""
    return _rows(session, "SELECT count(*) FROM (SELECT contact_id FROM link_open WHERE created_at >= :since"
                          " UNION SELECT contact_id FROM message WHERE direction = 'in' AND created_at >= :since) a",
                 since=where.since)[0][0]


# --- CSV --------------------------------------------------------------------------------------------------------------

CSV_COLUMNS = (
    ("Entry point", "name"), ("Ref", "ref"), ("Opens", "opens"), ("Unique people", "people"),
    ("New contacts", "new_contacts"), ("Existing contacts", "existing_contacts"), ("Referrals counted", "counted"),
    ("Blocked: self-referral", "blocked_self"), ("Blocked: duplicate", "blocked_duplicate"),
    ("Blocked: unknown referrer", "blocked_unknown"), ("Blocked: referrals off", "blocked_disabled"),
    ("Referring contacts", "referrers"), ("Referrals per referrer", "per_referrer"),
    ("Joined through a referral link", "joined_by_referral"), ("Referral-link opens", "referral_opens"),
)


def summary_csv(summary: AnalyticsSummary) -> str:
    """The per-entry-point table and its total, one row each, as CSV text."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([title for title, _ in CSV_COLUMNS] + ["Viral coefficient (K)"])
    for stats in [*summary.rows, summary.total]:
        viral = summary.viral_coefficient(stats)
        writer.writerow(["" if (value := getattr(stats, name)) is None else value for _, name in CSV_COLUMNS]
                        + ["" if viral is None else viral])
    return buffer.getvalue()


def csv_filename(summary: AnalyticsSummary) -> str:
    period = PERIODS[summary.query.period][0].lower().replace(" ", "-")
    return f"referflow-analytics-{period}-{summary.last_day.isoformat()}.csv"


def _rows(session: Session, sql: str, **params: Any) -> list[tuple]:
    return [tuple(row) for row in session.connection().execute(sa.text(sql), params)]
