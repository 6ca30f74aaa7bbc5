"""The pasted-link preview is a dry run of the real open: it says what opening a link would do, stores nothing, sends
nothing, and what it says a link sets is what a real open then stores."""

import base64
import hashlib
import json
import re
import secrets
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.link_preview import LinkPreview, preview_link, show_value
from runtime.opening import Inbound
from runtime.service import Runtime
from storage.db import Database
from storage.fields_tags import FieldUpdate, update_field
from storage.workspace_io import import_workspace
from tests.storage.helpers import PAGE, define_workspace

FIXTURE = Path(__file__).parents[1] / "fixtures" / "referral_program.json"


def snapshot(database: Database) -> dict[str, list]:
    """Every row of every table, in a stable order."""
    with database.engine.connect() as connection:
        tables = sa.inspect(connection).get_table_names()
        return {table: sorted(map(repr, connection.execute(sa.text(f'SELECT * FROM "{table}"')).all()))
                for table in tables}


def file_digest(database: Database) -> str | None:
    """The SQLite file's bytes, WAL included (None on PostgreSQL)."""
    if database.is_postgres:
        return None
    path = Path(database.engine.url.database)
    return "".join(hashlib.sha256(part.read_bytes()).hexdigest() for part in (path, Path(f"{path}-wal"))
                   if part.exists())


def test_a_preview_writes_nothing_and_delivers_nothing(database: Database) -> None:
    with database.write_session() as session:
        import_workspace(session=session, document=json.loads(FIXTURE.read_text()))
    with Runtime(database, outbox=True) as runtime:
        ann = runtime.open_link(Inbound(PAGE + "giveaway2025", "messenger", "psid-ann", first_name="Ann")).contact_id
    rows, digest = snapshot(database), file_digest(database)

    preview = preview_link(database=database, text=f"{PAGE}giveaway2025-c{ann}--SPRING", first_name="Bob")

    assert preview.referrer_contact == f"Ann (contact #{ann} on messenger)" and preview.referrer_note is None
    assert preview.response == "Starts flow “Share”"
    assert any(message.startswith(f"To Ann (contact #{ann} on messenger): ") for message in preview.messages)
    assert snapshot(database) == rows  # no contact, no referral, no points, no event, no message, no outbox row
    assert file_digest(database) == digest
    with Runtime(database) as runtime:
        assert runtime.contact_data(ann)[0].get("referral_points") is None  # the trigger's point was rolled back


def test_a_preview_keeps_the_reason_a_referrer_is_not_credited(database: Database) -> None:
    define_workspace(database)
    rows = snapshot(database)
    unknown = preview_link(database=database, text=PAGE + "giveaway2025-c999999")
    off = preview_link(database=database, text=PAGE + "summer-c1--gold")
    assert (unknown.referrer_contact, unknown.referrer_note) == (
        None, "No contact has the contact ID '999999'; no referral was counted.")
    assert off.entry is not None and off.entry_note.startswith("This entry point is switched off")
    assert off.referrer_note == "The referrer '1' was ignored because the link's entry point is not known or is off."
    assert [landing.problem for landing in off.payload] == [
        "The payload was not saved because the link's entry point is not known or is off."]
    assert snapshot(database) == rows  # the referrer lookup created nobody


# --- the preview says what the real open does ---------------------------------------------------------------------

JSON = '{"plan":"pro","seats":"three","order":{"items":[{"sku":"A1"}]}}'
B64 = base64.urlsafe_b64encode(JSON.encode()).decode().rstrip("=")
WHO = "visitor"  # a new person; ann and bob below already exist

CASES = [  # (the link, the channel it is opened on, who opens it)
    ("giveaway2025--SPRING", "messenger", WHO),
    ("giveaway2025--SPRING--4--2--gold--true--seats--abc--color--red", "messenger", WHO),
    ("giveaway2025--referral_points--99--1--98--plan--gold", "messenger", WHO),  # a field links may not set
    ("giveaway2025-c999999--SPRING", "messenger", WHO),  # unknown referrer
    ("giveaway2025-c{ann}", "messenger", "psid-ann"),  # self-referral
    ("giveaway2025-c{ann}", "messenger", "psid-bob"),  # already counted: a duplicate
    ("giveaway-c{ann}--x", "messenger", "psid-bob"),  # counted on every open; no default field
    ("newsletter-c{ann}--x", "messenger", WHO),  # referrals off
    ("summer--gold", "messenger", WHO),  # switched off
    ("giveawy2025--gold", "messenger", WHO),  # unknown entry point, with a suggestion
    (f"giveaway2025jsondata--{JSON}", "messenger", WHO),
    (f"giveaway2025-c{{ann}}jsondata--{B64}", "messenger", WHO),
    ('giveawayjsondata--{"plan":"pro"}', "messenger", WHO),  # an entry point without a JSON mapping
    ("giveaway2025jsondata--{not json", "messenger", WHO),
    ("https://t.me/helper_bot?start=giveaway2025--SPRING--seats--3", "telegram", WHO),
    ("/start giveaway2025-c{ann}--gold--yes", "telegram", WHO),
    ("https://wa.me/15551234567?text=/giveaway2025--SPRING", "whatsapp", "15550003333"),
    ("You were recommended by +15550001111", "whatsapp", "15550004444"),  # the text pattern, referrer by phone
    ("https://ig.me/m/shop?ref=giveaway2025--SPRING", "instagram", WHO),
    ("viber://pa?chatURI=shop&context=giveaway2025--SPRING", "viber", WHO),
    ("https://chat.example.com/?p=acc?ref=giveaway2025–c{ann}—SPRING", "webchat", WHO),  # ? and dashes mistyped
    ("  giveaway2025--SPRING  ", "messenger", WHO),  # a bare ref
]


@pytest.fixture
def people(database: Database) -> dict[str, int]:
    define_workspace(database)
    with database.write_session() as session:
        update_field(session=session, field_id=1, data=FieldUpdate(name="referral_points", type="number",
                                                                   links_may_set=False))
    with Runtime(database) as runtime:
        ann = runtime.open_link(Inbound(PAGE + "giveaway2025", "messenger", "psid-ann", first_name="Ann",
                                        phone="+1 555 000 1111")).contact_id
        bob = runtime.open_link(Inbound(f"{PAGE}giveaway2025-c{ann}", "messenger", "psid-bob")).contact_id
    return {"ann": ann, "bob": bob}


@pytest.mark.parametrize(("link", "channel", "who"), CASES)
def test_what_the_preview_says_a_link_sets_is_what_the_open_stores(database: Database, people: dict[str, int],
                                                                   link: str, channel: str, who: str) -> None:
    text = link.replace("{ann}", str(people["ann"]))
    text = text if "://" in text or text.strip().startswith(("/", "You")) else PAGE + text
    existing = who.startswith("psid-")
    preview = preview_link(database=database, text=text, channel=channel,
                           channel_user_id=who if existing else None)
    with Runtime(database) as runtime:
        before = runtime.contact_data(people[who.removeprefix("psid-")])[0] if existing else {}
        opened = runtime.open_link(Inbound(text=text, channel=channel, channel_user_id=who))

    assert shown(opened.fields) == {**shown(before), **reported_changes(preview)}
    assert preview.fields == opened.fields
    assert without_ids(preview.warnings) == without_ids(opened.warnings)
    assert preview.referrer_note == opened.referral_problem
    assert preview.tags == tuple(opened.tags)


def without_ids(warnings) -> list[str]:
    """Warnings without contact ids: a new person's id in the preview is not the one the open then gives them on
    PostgreSQL, where the rolled-back insert used up a sequence number."""
    return [re.sub(r"contact \d+", "contact N", warning) for warning in warnings]


def shown(fields: dict) -> dict[str, str]:
    return {name: show_value(value) for name, value in fields.items()}


def reported_changes(preview: LinkPreview) -> dict[str, str]:
    """Field → value as stored, for every value the preview says is saved (a later value wins, as in the open)."""
    return {landing.field: landing.saved for landing in (*preview.payload, *preview.json_values)
            if landing.problem is None}


TOKENS = st.sampled_from(["SPRING", "4", "2", "1", "99", "gold", "true", "plan", "seats", "abc", "vip", "7",
                          "2026-02-30", "2026-01-05", "referral_points", "Plan", "x"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entry=st.sampled_from(["giveaway2025", "giveaway", "newsletter", "summer"]),
       referrer=st.sampled_from(["", "-c{ann}", "-c{bob}", "-c999"]), values=st.lists(TOKENS, max_size=7))
def test_any_payload_lands_where_the_preview_says(database: Database, people: dict[str, int], entry: str,
                                                  referrer: str, values: list[str]) -> None:
    ref = entry + referrer.format(**people) + "".join(f"--{value}" for value in values)
    preview = preview_link(database=database, text=PAGE + ref)
    with Runtime(database) as runtime:
        opened = runtime.open_link(Inbound(text=PAGE + ref, channel="messenger", channel_user_id=secrets.token_hex(8)))
    assert shown(opened.fields) == reported_changes(preview)
    assert without_ids(preview.warnings) == without_ids(opened.warnings)

