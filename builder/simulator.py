"""Simulator (being built)."""

from nicegui import ui

from builder.frame import frame


def create() -> None:
    with frame("Simulator"):
        ui.label("This page is being built.")
