"""What User-fixture tests do again and again: seed the demo program, pick an option, read an input or a figure."""

from pathlib import Path

from nicegui import ui
from nicegui.testing import User
from nicegui.testing.user_interaction import UserInteraction
from sqlmodel import SQLModel

from storage.db import open_database
from storage.models import Contact
from tests.helpers import import_fixture


def seed_demo(db_path: Path, *rows: SQLModel) -> None:
    """The demo referral program in the database at `db_path`, two Telegram contacts (ids 1 and 2), then `rows`."""
    database = open_database(url=f"sqlite:///{db_path}")
    import_fixture(database)
    with database.write_session() as session:
        session.add_all([Contact(id=1, channel="telegram", channel_user_id="1"),
                         Contact(id=2, channel="telegram", channel_user_id="2")])
        session.flush()
        session.add_all(rows)
    database.dispose()


def choose(user: User, marker: str, label: str) -> None:
    """Open a select (or radio) and click one of its options, as a person would."""
    user.find(marker=marker).click()
    UserInteraction(user, user.find(marker=marker).elements, label).click()


def value_of(user: User, marker: str) -> object:
    return next(iter(user.find(marker=marker).elements)).value


def text_of(user: User, marker: str) -> str:
    return next(iter(user.find(marker=marker).elements)).text


def element(user: User, marker: str):
    return next(iter(user.find(marker=marker).elements))


def figure(user: User, name: str) -> str:
    card = user.find(marker=f"figure-{name}").elements.pop()
    return next(element.text for element in card.descendants() if isinstance(element, ui.label))
