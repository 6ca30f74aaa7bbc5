"""What User-fixture tests do again and again: pick an option, read an input."""

from nicegui.testing import User
from nicegui.testing.user_interaction import UserInteraction


def choose(user: User, marker: str, label: str) -> None:
    """Open a select (or radio) and click one of its options, as a person would."""
    user.find(marker=marker).click()
    UserInteraction(user, user.find(marker=marker).elements, label).click()


def value_of(user: User, marker: str) -> object:
    return next(iter(user.find(marker=marker).elements)).value


def text_of(user: User, marker: str) -> str:
    return next(iter(user.find(marker=marker).elements)).text
