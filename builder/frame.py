"""The shared page layout: header, left navigation, content column."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from nicegui import ElementFilter, ui

from builder.auth import sign_out
from builder.context import database
from builder.theme import use_colours
from storage.settings import get_settings

# (path, label, icon) — only pages that exist; later capabilities add theirs here.
NAVIGATION = [
    ("/", "Overview", "dashboard"),
    ("/flows", "Flows", "account_tree"),
    ("/entry-points", "Entry points", "link"),
    ("/fields", "Fields & tags", "label"),
    ("/triggers", "Triggers", "bolt"),
    ("/coupons", "Coupon pools", "redeem"),
    ("/channels", "Channels", "podcasts"),
    ("/contacts", "Contacts", "people"),
    ("/analytics", "Analytics", "insights"),
    ("/simulator", "Simulator", "science"),
    ("/settings", "Settings", "settings"),
]




def show_bot_name(name: str) -> None:
    """The header of the page being looked at shows the bot's new name at once, not after a reload."""
    for label in ElementFilter(kind=ui.label, marker="bot-name"):
        label.set_text(name)


_ASK_BEFORE_LEAVING = """<script>
window.addEventListener("beforeunload", (event) => {
  if (window.referflowUnsaved) { event.preventDefault(); event.returnValue = ""; }
});
</script>"""


class UnsavedChanges:
    """While `has_changes()` says the form holds edits not saved yet, leaving the page (the navigation, a link, a
    reload, closing the tab) asks first, with the browser's own "Leave site?" question; saving lets it go quietly."""

    def __init__(self, has_changes: Callable[[], bool]) -> None:
        self.has_changes = has_changes
        self.unsaved = False
        ui.add_head_html(_ASK_BEFORE_LEAVING)
        ui.timer(0.4, self.check)

    def check(self) -> None:
        """Tell the browser at once (call it after saving, before navigating away)."""
        unsaved = bool(self.has_changes())
        if unsaved != self.unsaved:
            self.unsaved = unsaved
            ui.run_javascript(f"window.referflowUnsaved = {'true' if unsaved else 'false'}")


@contextmanager
def frame(title: str) -> Iterator[ui.column]:
    with database().session() as session:
        bot_name = get_settings(session=session).bot_name
    use_colours()
    ui.page_title(f"{title} · Referflow")
    ui.add_css("body { background: #f6f7fb; }")
    with ui.header().classes("items-center bg-indigo-700 px-4 py-2 gap-3"):
        ui.icon("hub", size="sm")
        ui.label("Referflow").classes("text-lg font-semibold")
        ui.label(bot_name).classes("text-indigo-100").mark("bot-name")
        ui.space()
        ui.button("Log out", icon="logout", on_click=sign_out).props("flat color=white").mark("logout")
    with ui.left_drawer(value=True, bordered=True).classes("bg-white p-0").props("width=210"):
        with ui.list().classes("w-full").mark("navigation"):
            for path, label, icon in NAVIGATION:
                with ui.item(on_click=lambda path=path: ui.navigate.to(path)).classes("rounded"):
                    with ui.item_section().props("avatar"):
                        ui.icon(icon, color="indigo-7" if label == title else "grey-7")
                    with ui.item_section():
                        ui.item_label(label).classes("font-semibold" if label == title else "")
    with ui.column().classes("w-full max-w-5xl mx-auto p-6 gap-4") as content:
        ui.label(title).classes("text-2xl font-semibold text-slate-800")
        yield content

