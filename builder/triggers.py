"""Triggers (being built)."""

from nicegui import ui

from builder.frame import frame


def create() -> None:
    with frame("Triggers"):
        ui.label("This page is being built.")


def create_editor(trigger_id: str) -> None:
    with frame("triggers"):
        ui.label("This page is being built.")
