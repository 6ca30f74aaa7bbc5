"""Entry points (being built)."""

from nicegui import ui

from builder.frame import frame


def create() -> None:
    with frame("Entry points"):
        ui.label("This page is being built.")


def create_editor(entry_point_id: str) -> None:
    with frame("entry_points"):
        ui.label("This page is being built.")
