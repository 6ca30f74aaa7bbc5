"""The admin UI's colours, shared by the login page and the page frame."""

from nicegui import ui

PRIMARY = "#4338ca"  # Tailwind's indigo-700, the header's colour: Quasar's light blue reads as a disabled button


def use_colours() -> None:
    """Buttons without a colour of their own (Sign in, Save settings) take the app's indigo, not Quasar's blue."""
    ui.colors(primary=PRIMARY)
