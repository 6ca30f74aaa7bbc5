"""The flow editor (being built)."""

from nicegui import ui

from builder.frame import frame


def create(flow_id: str) -> None:
    with frame("Flows"):
        ui.label("This page is being built.")
