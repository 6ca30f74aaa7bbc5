"""Analytics: opens and referrals per entry point and per day, top referrers, the viral coefficient, CSV export."""

from dataclasses import dataclass

from nicegui import ui

from builder.context import database
from builder.frame import frame
from storage.analytics import (
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
    {"name": "viral", "label": "Viral coeff.", "field": "viral"},
]


@dataclass
class _Choice:
    period: str = "30d"
    entry: int = ALL

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


def _choose(choice: _Choice, *, period: str | None = None, entry: int | None = None) -> None:
    choice.period = period or choice.period
    choice.entry = choice.entry if entry is None else entry
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
    _top_referrers(summary)


def _headline(summary: AnalyticsSummary) -> None:
    total = summary.total
    viral = "—" if total.viral_coefficient is None else f"{total.viral_coefficient:.2f}"
    figures = [("Opens", f"{total.opens:,}"), ("Unique people", f"{total.people:,}"),
               ("New contacts", f"{total.new_contacts:,}"), ("Referrals counted", f"{total.counted:,}"),
               ("Referrals blocked", f"{total.blocked:,}"), ("Viral coefficient", viral)]
    with ui.row().classes("w-full gap-3 no-wrap"):
        for label, value in figures:
            with ui.card().classes("flex-1 gap-0 py-3").mark(f"figure-{label.lower().replace(' ', '-')}"):
                ui.label(value).classes("text-2xl font-semibold text-indigo-700")
                ui.label(label).classes("text-sm text-slate-500")


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
    rows = [_table_row(stats) for stats in summary.rows]
    if len(summary.rows) != 1:
        rows.append(_table_row(summary.total) | {"key": "total"})
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


def _table_row(stats: EntryStats) -> dict:
    return {"key": stats.entry_point_id if stats.entry_point_id is not None else "none", "name": stats.name,
            "ref": stats.ref, "opens": stats.opens, "people": stats.people, "new": stats.new_contacts,
            "existing": stats.existing_contacts, "counted": stats.counted, "self": stats.blocked_self,
            "duplicate": stats.blocked_duplicate, "unknown": stats.blocked_unknown, "disabled": stats.blocked_disabled,
            "referrers": stats.referrers,
            "viral": "—" if stats.viral_coefficient is None else f"{stats.viral_coefficient:.2f}"}


def _top_referrers(summary: AnalyticsSummary) -> None:
    with ui.card().classes("w-full gap-1").mark("top-referrers"):
        ui.label("Top referrers").classes("text-lg font-medium")
        if not summary.top_referrers:
            ui.label("Nobody brought anyone in during this period.").classes("text-slate-500")
            return
        with ui.grid(columns="auto auto auto").classes("gap-x-4 gap-y-1"):
            for rank, referrer in enumerate(summary.top_referrers, start=1):
                ui.label(f"{rank}.").classes("text-slate-500")
                ui.link(referrer.name, f"/contacts/{referrer.contact_id}").classes("text-indigo-700")
                ui.label(f"{referrer.counted:,} referral{'' if referrer.counted == 1 else 's'}").classes(
                    "text-right w-full").mark(f"referrer-{referrer.contact_id}")
