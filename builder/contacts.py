"""Contacts (being built)."""

from nicegui import ui

from builder.frame import frame


def create() -> None:
    with frame("Contacts"):
        ui.label("This page is being built.")


def create_detail(contact_id: str) -> None:
    with frame("contacts"):
        ui.label("This page is being built.")
