"""Fields & tags (being built)."""

from nicegui import ui

from builder.frame import frame


def create() -> None:
    with frame("Fields & tags"):
        ui.label("This page is being built.")
