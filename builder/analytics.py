"""Analytics: opens and referrals per entry point and per day, top referrers, the viral coefficient, CSV export."""

from dataclasses import dataclass
from datetime import UTC, datetime

from nicegui import ui

from builder.context import database
from builder.frame import frame
from runtime.referral_stats import PERIOD_NAMES, board
from storage.analytics import (
    PER_REFERRER,
    PERIODS,
    VIRAL_COEFFICIENT,
    AnalyticsQuery,
    AnalyticsSummary,
    EntryStats,
    csv_filename,
    list_entry_choices,
    summarise,
    summary_csv,
)

ALL = 0  # the entry point filter's "every entry point"
COLUMNS = [
    {"name": "name", "label": "Entry point", "field": "name", "align": "left"},
    {"name": "opens", "label": "Opens", "field": "opens"},
    {"name": "people", "label": "People", "field": "people"},
    {"name": "new", "label": "New", "field": "new"},
    {"name": "existing", "label": "Existing", "field": "existing"},
    {"name": "counted", "label": "Referrals", "field": "counted"},
    {"name": "self", "label": "Self", "field": "self"},
    {"name": "duplicate", "label": "Duplicate", "field": "duplicate"},
    {"name": "unknown", "label": "Unknown referrer", "field": "unknown"},
    {"name": "disabled", "label": "Referrals off", "field": "disabled"},
    {"name": "referrers", "label": "Referrers", "field": "referrers"},
    {"name": "per_referrer", "label": "Per referrer", "field": "per_referrer"},
    {"name": "joined", "label": "Joined by referral", "field": "joined"},
    {"name": "viral", "label": "K", "field": "viral"},
]
BOARD_SIZE = 10


@dataclass
class _Choice:
    period: str = "30d"
    entry: int = ALL
    board: str = "week"

    @property
    def query(self) -> AnalyticsQuery:
        return AnalyticsQuery(period=self.period, entry_point_id=self.entry or None)


def create() -> None:
    choice = _Choice()
    with frame("Analytics"):
        with ui.row().classes("w-full items-center gap-4"):
            ui.toggle({key: label for key, (label, _) in PERIODS.items()}, value=choice.period,
                      on_change=lambda e: _choose(choice, period=e.value)).props("no-caps").mark("period")
            ui.select(_entry_options(), value=ALL, label="Entry point",
                      on_change=lambda e: _choose(choice, entry=e.value)).props("dense outlined").classes(
                "w-64").mark("entry-filter")
            ui.space()
            ui.button("Download CSV", icon="download", on_click=lambda: _download(choice)).props(
                "outline").mark("download-csv")
        _report(choice)


def _entry_options() -> dict[int, str]:
    with database().session() as session:
        entries = list_entry_choices(session=session)
    return {ALL: "All entry points"} | {entry.id: f"{entry.name} ({entry.ref})" for entry in entries}


def _choose(choice: _Choice, *, period: str | None = None, entry: int | None = None,
            board_period: str | None = None) -> None:
    choice.period = period or choice.period
    choice.entry = choice.entry if entry is None else entry
    choice.board = board_period or choice.board
    _report.refresh()


def _download(choice: _Choice) -> None:
    summary = _summarise(choice)
    ui.download.content(summary_csv(summary).encode("utf-8-sig"), csv_filename(summary), "text/csv")


def _summarise(choice: _Choice) -> AnalyticsSummary:
    with database().session() as session:
        return summarise(session=session, query=choice.query)


@ui.refreshable
def _report(choice: _Choice) -> None:
    summary = _summarise(choice)
    _headline(summary)
    with ui.card().classes("w-full gap-1").mark("chart-card"):
        ui.label("Opens and referrals per day (UTC)").classes("text-lg font-medium")
        if not summary.total.opens and not summary.total.counted:
            ui.label("No link was opened in this period.").classes("text-slate-500").mark("no-activity")
        ui.echart(_chart(summary)).classes("w-full h-64").mark("chart")
    with ui.card().classes("w-full gap-2"):
        ui.label("Per entry point").classes("text-lg font-medium")
        _stats_table(summary)
        ui.label(VIRAL_COEFFICIENT).classes("text-sm text-slate-500").mark("viral-explained")
        ui.label(PER_REFERRER).classes("text-sm text-slate-500")
    _leaderboard(choice)


def _headline(summary: AnalyticsSummary) -> None:
    total = summary.total
    viral = summary.viral_coefficient()
    figures = [("Opens", f"{total.opens:,}"), ("Unique people", f"{total.people:,}"),
               ("New contacts", f"{total.new_contacts:,}"), ("Referrals counted", f"{total.counted:,}"),
               ("Referrals blocked", f"{total.blocked:,}"), ("Viral coefficient", _figure(viral)),
               ("Active contacts", f"{summary.active_contacts:,}"),
               ("Referred anyone", _percent(summary.referring_share)),
               ("Referral-link conversion", _percent(total.referral_conversion))]
    with ui.grid(columns=5).classes("w-full gap-3"):
        for label, value in figures:
            with ui.card().classes("flex-1 gap-0 py-3").mark(f"figure-{label.lower().replace(' ', '-')}"):
                ui.label(value).classes("text-2xl font-semibold text-indigo-700")
                ui.label(label).classes("text-sm text-slate-500")


def _figure(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _percent(share: float | None) -> str:
    return "—" if share is None else f"{100 * share:.0f}%" if share >= 0.1 or share == 0 else f"{100 * share:.1f}%"


def _chart(summary: AnalyticsSummary) -> dict:
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"data": ["Opens", "Referrals counted"], "top": 0},
        "grid": {"left": 40, "right": 20, "top": 36, "bottom": 28},
        "xAxis": {"type": "category", "data": [point.day.strftime("%b %d") for point in summary.days]},
        "yAxis": {"type": "value", "minInterval": 1},
        "series": [
            {"name": "Opens", "type": "bar", "data": [point.opens for point in summary.days], "color": "#6366f1"},
            {"name": "Referrals counted", "type": "line", "data": [point.referrals for point in summary.days],
             "color": "#10b981", "symbolSize": 6},
        ],
    }


def _stats_table(summary: AnalyticsSummary) -> None:
    rows = [_table_row(stats, summary) for stats in summary.rows]
    if len(summary.rows) != 1:
        rows.append(_table_row(summary.total, summary) | {"key": "total"})
    columns = [{"align": "right", "headerStyle": "white-space: normal; line-height: 1.2", **column}
               for column in COLUMNS]
    table = ui.table(rows=rows, columns=columns, row_key="key").props("flat dense bordered hide-bottom wrap-cells"
                                                                      ).classes("w-full").mark("stats-table")
    table.props["no-data-label"] = "No entry points yet."
    table.add_slot("body-cell-name", """
        <q-td :props="props" :class="props.row.key === 'total' ? 'font-semibold' : ''">
          <div>{{ props.value }}</div>
          <div v-if="props.row.ref" class="text-xs text-slate-500">{{ props.row.ref }}</div>
        </q-td>""")


def _table_row(stats: EntryStats, summary: AnalyticsSummary) -> dict:
    return {"key": stats.entry_point_id if stats.entry_point_id is not None else "none", "name": stats.name,
            "ref": stats.ref, "opens": stats.opens, "people": stats.people, "new": stats.new_contacts,
            "existing": stats.existing_contacts, "counted": stats.counted, "self": stats.blocked_self,
            "duplicate": stats.blocked_duplicate, "unknown": stats.blocked_unknown, "disabled": stats.blocked_disabled,
            "referrers": stats.referrers, "per_referrer": _figure(stats.per_referrer),
            "joined": stats.joined_by_referral, "viral": _figure(summary.viral_coefficient(stats))}


def _leaderboard(choice: _Choice) -> None:
    """The board contacts see in a leaderboard step (ranks from the database, ties share one), with full names."""
    with database().raw_connection() as connection:
        rows = board(connection, entry_point_id=choice.entry or None, period=choice.board, at=datetime.now(UTC),
                     limit=BOARD_SIZE)
    with ui.card().classes("w-full gap-2").mark("top-referrers"):
        with ui.row().classes("w-full items-center"):
            ui.label("Leaderboard").classes("text-lg font-medium")
            ui.space()
            periods = {key: name.capitalize() for key, name in PERIOD_NAMES.items()}
            ui.toggle(periods, value=choice.board, on_change=lambda e: _choose(choice, board_period=e.value)) \
                .props("no-caps dense").mark("board-period")
        ui.label("The same board a Leaderboard step sends contacts (they see first names and an initial, "
                 "“Ann R.”). Weeks start on Monday, UTC.").classes("text-sm text-slate-500")
        if not rows:
            ui.label(f"Nobody brought anyone in {PERIOD_NAMES[choice.board]}.").classes("text-slate-500").mark(
                "board-empty")
            return
        with ui.grid(columns="auto auto auto auto").classes("gap-x-4 gap-y-1 items-center"):
            for row in rows:
                ui.label(f"{row.rank}.").classes("text-slate-500").mark(f"rank-{row.contact_id}")
                ui.link(row.full_name or f"Contact {row.contact_id}", f"/contacts/{row.contact_id}").classes(
                    "text-indigo-700")
                ui.label(f"sees “{row.name}”").classes("text-xs text-slate-500")
                ui.label(f"{row.referrals:,} referral{'' if row.referrals == 1 else 's'}").classes(
                    "text-right w-full").mark(f"referrer-{row.contact_id}")
