"""Contacts: a searchable, server-side paged list, and one contact's page (identity, fields, tags, referrals,
transcript, referral tree)."""

import json
from datetime import datetime
from typing import Any

from nicegui import ui

from builder.context import database
from builder.frame import frame
from runtime.values import FieldValueError, read_id
from runtime.vocabulary import REFERRAL_STATUS_NAMES
from storage.contacts import (
    PAGE_SIZES,
    ContactDetail,
    ContactPage,
    ContactQuery,
    FieldEntry,
    ReferralEntry,
    TranscriptMessage,
    TreeNode,
    add_contact_tag,
    build_referral_tree,
    get_contact,
    list_contact_fields,
    list_contact_referrals,
    list_contact_tags,
    list_contacts,
    list_messages,
    list_tag_choices,
    remove_contact_tag,
    set_contact_field,
    transcript_version,
)

COLUMNS = [
    {"name": "name", "label": "Name", "field": "name", "align": "left", "sortable": True},
    {"name": "channel", "label": "Channel", "field": "channel", "align": "left"},
    {"name": "created", "label": "Created (UTC)", "field": "created", "align": "left", "sortable": True,
     "sortOrder": "da"},
    {"name": "referred_by", "label": "Referred by", "field": "referred_by", "align": "left"},
    {"name": "referrals", "label": "Referrals", "field": "referrals", "align": "right", "sortable": True,
     "sortOrder": "da"},
]
STATUS_COLORS = {"counted": "positive", "repeat": "teal", "duplicate": "orange", "self": "negative",
                 "unknown_referrer": "grey", "disabled": "grey"}


def create() -> None:
    with frame("Contacts"):
        with ui.row().classes("w-full items-end gap-4"):
            search = ui.input("Search", placeholder="Name, channel user ID, phone or #ID").props(
                "clearable debounce=400 outlined dense").classes("w-96").mark("contact-search")
            with search.add_slot("prepend"):
                ui.icon("search")
            ui.space()
            count = ui.label().classes("text-slate-500").mark("contact-count")
        table = ui.table(rows=[], columns=COLUMNS, row_key="id", pagination={
            "rowsPerPage": PAGE_SIZES[0], "page": 1, "sortBy": "created", "descending": True, "rowsNumber": 0,
        }).classes("w-full").props("flat bordered").mark("contacts-table")
        table.props["rows-per-page-options"] = list(PAGE_SIZES)
        _add_link_slots(table)
        table.on("request", lambda e: _show_page(table, count, search.value, e.args["pagination"]), ["pagination"])
        search.on_value_change(lambda: _show_page(table, count, search.value, {**table.pagination, "page": 1}))
        _show_page(table, count, "", table.pagination)


def _add_link_slots(table: ui.table) -> None:
    table.add_slot("body-cell-name", """
        <q-td :props="props">
          <a :href="'/contacts/' + props.row.id"
             class="text-indigo-700 font-medium hover:underline">{{ props.value }}</a>
          <div class="text-xs text-slate-500">{{ props.row.channel_user_id }}</div>
        </q-td>""")
    table.add_slot("body-cell-referred_by", """
        <q-td :props="props">
          <a v-if="props.row.referred_by_id" :href="'/contacts/' + props.row.referred_by_id"
             class="text-indigo-700 hover:underline">{{ props.value }}</a>
          <span v-else class="text-slate-400">—</span>
        </q-td>""")
    table.add_slot("body-cell-channel", """
        <q-td :props="props"><q-badge outline color="indigo" :label="props.value" /></q-td>""")


def _show_page(table: ui.table, count: ui.label, search: str | None, pagination: dict) -> None:
    query = ContactQuery(search=search or "", sort=pagination.get("sortBy") or "created",
                         descending=bool(pagination.get("descending")), page=pagination.get("page") or 1,
                         page_size=pagination.get("rowsPerPage") or PAGE_SIZES[0])
    with database().session() as session:
        page = list_contacts(session=session, query=query)
    table.columns = COLUMNS + [{"name": f"field_{f.id}", "label": f.name, "field": f"field_{f.id}", "align": "right"}
                               for f in page.number_fields]
    table.rows = _table_rows(page)
    table.pagination = {"rowsPerPage": page.query.page_size, "page": page.query.page, "sortBy": page.query.sort,
                        "descending": page.query.descending, "rowsNumber": page.total}
    table.props["no-data-label"] = _empty_text(page.query.search)
    count.text = f"{page.total:,} contact{'' if page.total == 1 else 's'}" + (" found" if page.query.search else "")


def _table_rows(page: ContactPage) -> list[dict[str, Any]]:
    return [{"id": row.id, "name": row.name, "channel": row.channel, "channel_user_id": row.channel_user_id,
             "created": _when(row.created_at), "referred_by_id": row.referred_by_id,
             "referred_by": row.referred_by_name, "referrals": row.referrals,
             **{f"field_{f.id}": _number(row.numbers.get(f.id)) for f in page.number_fields}}
            for row in page.rows]


def _empty_text(search: str) -> str:
    if search:
        return f"No contact matches '{search}'."
    return "No contacts yet: people appear here when they open one of your entry links."


# --- one contact ------------------------------------------------------------------------------------------------------

def create_detail(contact_id: str) -> None:
    with database().session() as session:
        number = read_id(contact_id)
        contact = get_contact(session=session, contact_id=number) if number is not None else None
    with frame("Contacts"):
        ui.link("← All contacts", "/contacts").classes("text-indigo-700 -mt-2").mark("back-to-contacts")
        if contact is None:
            ui.label(f"There is no contact with ID {contact_id}.").classes("text-lg").mark("contact-missing")
            return
        with ui.row().classes("items-center gap-3"):
            ui.label(contact.name).classes("text-xl font-semibold").mark("contact-name")
            ui.badge(contact.channel, color="indigo").props("outline")
            ui.label(f"ID {contact.id}").classes("text-slate-500")
        with ui.row().classes("w-full gap-4 items-stretch no-wrap"):
            _identity_card(contact)
            _tags_card(contact.id)
        _fields_card(contact.id)
        _referrals_card(contact.id)
        _tree_card(contact.id)
        _transcript_card(contact.id)


def _identity_card(contact: ContactDetail) -> None:
    referred_by = contact.referred_by_name if contact.referred_by_id else "—"
    facts = [("Channel", contact.channel), ("Channel user ID", contact.channel_user_id),
             ("First name", contact.first_name or "—"), ("Last name", contact.last_name or "—"),
             ("Phone", contact.phone or "—"), ("First ref", contact.first_ref or "—"),
             ("Last ref", contact.last_ref or "—"), ("Created (UTC)", _when(contact.created_at)),
             ("Last seen (UTC)", _when(contact.last_seen_at))]
    with ui.card().classes("flex-grow gap-1").mark("contact-identity"):
        ui.label("Identity").classes("text-lg font-medium")
        with ui.grid(columns="auto 1fr").classes("gap-x-6 gap-y-1 text-sm"):
            for label, value in facts:
                ui.label(label).classes("text-slate-500")
                ui.label(value).classes("break-all")
            ui.label("Referred by").classes("text-slate-500")
            if contact.referred_by_id:
                ui.link(referred_by, f"/contacts/{contact.referred_by_id}").classes("text-indigo-700")
            else:
                ui.label(referred_by)


def _tags_card(contact_id: int) -> None:
    with ui.card().classes("w-80 gap-2").mark("contact-tags"):
        ui.label("Tags").classes("text-lg font-medium")
        _tags(contact_id)
        ui.label("Tags changed here do not run triggers.").classes("text-xs text-slate-500")


@ui.refreshable
def _tags(contact_id: int) -> None:
    with database().session() as session:
        current = list_contact_tags(session=session, contact_id=contact_id)
        choices = {t.id: t.name for t in list_tag_choices(session=session) if t not in current}
    with ui.row().classes("gap-1"):
        for tag in current:
            ui.chip(tag.name, removable=True, color="indigo-1",
                    on_value_change=lambda _, t=tag: _remove_tag(contact_id, t.id, t.name)).mark(f"tag-{tag.name}")
        if not current:
            ui.label("No tags.").classes("text-slate-500")
    if choices:
        with ui.row().classes("items-center gap-2 no-wrap"):
            picker = ui.select(choices, label="Add a tag").props("dense outlined").classes("w-44").mark("tag-picker")
            ui.button(icon="add", on_click=lambda: _add_tag(contact_id, picker.value)).props(
                "flat round dense").mark("add-tag")


def _add_tag(contact_id: int, tag_id: int | None) -> None:
    if tag_id is None:
        ui.notify("Choose a tag to add first.", type="warning")
        return
    with database().write_session() as session:
        add_contact_tag(session=session, contact_id=contact_id, tag_id=tag_id)
    _tags.refresh()


def _remove_tag(contact_id: int, tag_id: int, name: str) -> None:
    with database().write_session() as session:
        remove_contact_tag(session=session, contact_id=contact_id, tag_id=tag_id)
    ui.notify(f"Tag '{name}' removed.")
    _tags.refresh()


def _fields_card(contact_id: int) -> None:
    with database().session() as session:
        entries = list_contact_fields(session=session, contact_id=contact_id)
    with ui.card().classes("w-full gap-2").mark("contact-fields"):
        ui.label("Fields").classes("text-lg font-medium")
        ui.label("Values you save here are stored as typed; they do not run triggers or flows. "
                 "Leave a field empty to clear it.").classes("text-sm text-slate-500")
        if not entries:
            ui.label("This workspace has no custom fields yet.").classes("text-slate-500")
        with ui.grid(columns=2).classes("w-full gap-x-6 gap-y-1"):
            for entry in entries:
                _field_input(contact_id, entry)


def _field_input(contact_id: int, entry: FieldEntry) -> None:
    with ui.row().classes("items-start gap-1 no-wrap w-full"):
        field_input = ui.input(f"{entry.name} ({entry.type})", value=_shown(entry.value, entry.type)).props(
            "outlined dense").classes("flex-grow").mark(f"field-{entry.name}")
        field_input.props["hint"] = _hint(entry)
        save = ui.button(icon="save", on_click=lambda: _save_field(contact_id, entry, field_input)).props(
            "flat round dense").classes("mt-1").mark(f"save-{entry.name}")
        save.tooltip(f"Save {entry.name}")
        field_input.on("keydown.enter", lambda: _save_field(contact_id, entry, field_input))


def _save_field(contact_id: int, entry: FieldEntry, field_input: ui.input) -> None:
    field_input.error = None
    try:
        with database().write_session() as session:
            saved = set_contact_field(session=session, contact_id=contact_id, field_id=entry.field_id,
                                      text=field_input.value or "")
    except (FieldValueError, LookupError) as error:
        field_input.error = str(error)
        ui.notify(f"Field '{entry.name}' was not saved.", type="warning")
        return
    field_input.value = _shown(saved.value, saved.type)
    ui.notify(f"Field '{entry.name}' {'cleared' if saved.value is None else 'saved'}.", type="positive")


def _referrals_card(contact_id: int) -> None:
    with database().session() as session:
        referrals = list_contact_referrals(session=session, contact_id=contact_id)
    with ui.card().classes("w-full gap-2").mark("contact-referrals"):
        ui.label("Referrals").classes("text-lg font-medium")
        for title, entries, total, other, mark in (
                ("They referred", referrals.made, referrals.made_total, "Person who joined", "referrals-made"),
                ("They were referred", referrals.received, referrals.received_total, "Referrer", "referrals-received")):
            shown = f" (newest {len(entries)} of {total:,})" if total > len(entries) else f" ({total})"
            ui.label(title + shown).classes("font-medium text-slate-700 mt-1")
            if entries:
                _referral_table(entries, other).mark(mark)
            else:
                ui.label("None.").classes("text-slate-500 text-sm").mark(mark)


def _referral_table(entries: list[ReferralEntry], other: str) -> ui.table:
    columns = [{"name": "when", "label": "When (UTC)", "field": "when", "align": "left"},
               {"name": "entry", "label": "Entry point", "field": "entry", "align": "left"},
               {"name": "other", "label": other, "field": "other", "align": "left"},
               {"name": "kind", "label": "Kind", "field": "kind", "align": "left"},
               {"name": "status", "label": "Status", "field": "status", "align": "left"}]
    rows = [{"key": index, "when": _when(e.created_at), "entry": e.entry_point, "other": e.other_name,
             "other_id": e.other_id, "kind": f"{e.kind} contact",
             "status": REFERRAL_STATUS_NAMES.get(e.status, e.status),
             "color": STATUS_COLORS.get(e.status, "grey")} for index, e in enumerate(entries)]
    table = ui.table(rows=rows, columns=columns, row_key="key").classes("w-full").props("flat dense bordered")
    table.add_slot("body-cell-other", """
        <q-td :props="props">
          <a v-if="props.row.other_id" :href="'/contacts/' + props.row.other_id"
             class="text-indigo-700 hover:underline">{{ props.value }}</a>
          <span v-else class="text-slate-500">{{ props.value }}</span>
        </q-td>""")
    table.add_slot("body-cell-status", """
        <q-td :props="props"><q-badge :color="props.row.color" :label="props.value" /></q-td>""")
    return table


def _tree_card(contact_id: int) -> None:
    with database().session() as session:
        tree = build_referral_tree(session=session, contact_id=contact_id)
    with ui.card().classes("w-full gap-2").mark("referral-tree"):
        ui.label("Referral tree").classes("text-lg font-medium")
        if tree is None or not tree.root.children:
            ui.label("Nobody has joined through this contact's links yet.").classes("text-slate-500")
            return
        levels = " · ".join(f"level {level}: {people:,}" for level, people in sorted(tree.per_level.items()))
        ui.label(f"{tree.shown:,} people brought in, {levels} (level 1 joined through this contact's own link)."
                 ).classes("text-sm text-slate-600").mark("tree-levels")
        if tree.capped:
            ui.label(f"Showing the first {tree.shown:,} people of a bigger tree.").classes("text-sm text-orange-700")
        ui.tree([_tree_node(tree.root, is_root=True)], on_select=lambda e: _open_contact(e.value, contact_id)
                ).expand().props("dense").classes("w-full").mark("tree")


def _open_contact(selected: str | None, current: int) -> None:
    if selected and selected != str(current):
        ui.navigate.to(f"/contacts/{selected}")


def _tree_node(node: TreeNode, *, is_root: bool = False) -> dict[str, Any]:
    who = f"{node.name} (this contact)" if is_root else node.name
    brought = f"brought in {node.brought_in:,}" if node.brought_in else "brought in nobody yet"
    return {"id": str(node.id), "label": f"{who} · {node.channel} · {brought}",
            "children": [_tree_node(child) for child in node.children]}


def _transcript_card(contact_id: int) -> None:
    transcript = ui.refreshable(_transcript)  # this page's own: a redraw here leaves other admins' pages alone
    with ui.card().classes("w-full gap-2").mark("transcript"):
        transcript(contact_id)
    seen = {"version": _transcript_version(contact_id)}

    def redraw_on_change() -> None:  # a live conversation goes on while the page is open
        if (version := _transcript_version(contact_id)) != seen["version"]:
            seen["version"] = version
            transcript.refresh()

    ui.timer(2.0, redraw_on_change, immediate=False)


def _transcript_version(contact_id: int) -> tuple:
    with database().session() as session:
        return transcript_version(session=session, contact_id=contact_id)


def _transcript(contact_id: int) -> None:
    with database().session() as session:
        messages, total = list_messages(session=session, contact_id=contact_id)
    ui.label("Conversation" + (f" (last {len(messages)} of {total:,} messages)" if total > len(messages) else "")
             ).classes("text-lg font-medium")
    if not messages:
        ui.label("No messages yet.").classes("text-slate-500")
        return
    with ui.scroll_area().classes("w-full h-96 bg-slate-50 rounded") as area:
        for message in messages:
            from_bot = message.direction == "out"
            with ui.chat_message(name="Bot" if from_bot else "Contact", stamp=_when(message.created_at),
                                 sent=from_bot).props(f"bg-color={'indigo-1' if from_bot else 'white'}").classes(
                    "self-end" if from_bot else "self-start"):
                ui.label(message.text).classes("whitespace-pre-line break-words")
                if message.buttons:
                    with ui.row().classes("gap-1 mt-1"):
                        for title in message.buttons:
                            ui.button(title).props("outline dense no-caps size=sm disable").classes("px-2")
                if message.delivery:
                    _delivery_line(message)
    ui.timer(0.2, lambda: area.scroll_to(percent=1), once=True)  # the newest messages first in view


def _delivery_line(message: TranscriptMessage) -> None:
    """Where a live message is: waiting for the channel, delivered, or refused (with the channel's words)."""
    tries = f"{message.attempts} attempt{'s' if message.attempts != 1 else ''}"
    if message.delivery == "sent":
        text, icon, color = "Delivered", "done_all", "text-emerald-700"
    elif message.delivery == "failed":
        text, icon, color = f"Not delivered: {message.error} ({tries})", "error", "text-red-700"
    elif message.attempts:
        text, icon, color = f"Pending, will retry: {message.error} ({tries})", "schedule", "text-amber-700"
    else:
        text, icon, color = "Pending delivery", "schedule", "text-slate-500"
    with ui.row().classes(f"items-center gap-1 mt-1 text-xs {color}").mark(f"delivery-{message.delivery}"):
        ui.icon(icon, size="xs")
        ui.label(text).classes("break-words")


# --- formatting -------------------------------------------------------------------------------------------------------

def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")


def _number(value: Any) -> str:
    if value is None:
        return "—"
    return f"{value:,}" if isinstance(value, int | float) and not isinstance(value, bool) else str(value)


def _shown(value: Any, field_type: str) -> str:
    """A stored value as the admin types it back."""
    if value is None:
        return ""
    if field_type == "boolean":
        return "yes" if value else "no"
    if field_type == "json" or not isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return value


def _hint(entry: FieldEntry) -> str:
    hints = {"number": "e.g. 3 or 2.5", "boolean": "yes or no", "date": "YYYY-MM-DD", "datetime": "YYYY-MM-DD HH:MM",
             "json": 'a JSON value, e.g. {"plan": "pro"}', "text": entry.description or "text"}
    return hints[entry.type]
