"""Flows (being built)."""

from nicegui import ui

from builder.frame import frame


def create() -> None:
    with frame("Flows"):
        ui.label("This page is being built.")
