"""Overview: what the workspace holds, at a glance."""

from nicegui import ui
from sqlmodel import func, select

from builder.context import database
from builder.frame import frame
from runtime.vocabulary import COUNTED_STATUSES
from storage.coupons import empty_pool_warnings
from storage.models import Contact, CustomField, EntryPoint, Flow, Referral, Trigger


def create() -> None:
    with frame("Overview"):
        with database().session() as session:
            warnings = empty_pool_warnings(session=session)
        for warning in warnings:
            with ui.row().classes("w-full items-center gap-2 rounded bg-red-50 p-3").mark("pool-warning"):
                ui.icon("warning", color="red-7")
                ui.label(warning).classes("text-red-800")
                ui.link("Coupon pools", "/coupons").classes("ml-auto")
        counts = _count_everything()
        with ui.row().classes("w-full gap-4"):
            for label, value in counts.items():
                with ui.card().classes("w-40 items-start gap-0").mark(f"count-{label.lower().replace(' ', '-')}"):
                    ui.label(f"{value:,}").classes("text-3xl font-semibold text-indigo-700")
                    ui.label(label).classes("text-slate-500")


def _count_everything() -> dict[str, int]:
    tables = {"Contacts": Contact, "Entry points": EntryPoint, "Flows": Flow, "Triggers": Trigger,
              "Custom fields": CustomField}
    with database().session() as session:
        counts = {label: session.exec(select(func.count()).select_from(table)).one() for label, table in tables.items()}
        counts["Referrals"] = session.exec(
            select(func.count()).select_from(Referral).where(Referral.status.in_(COUNTED_STATUSES))
        ).one()
    return counts
