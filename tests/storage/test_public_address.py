"""The public address and Referflow's own web chat: links work with no set-up, and an admin can still override."""

import pytest

from app import Config, load_config
from runtime.service import Runtime
from storage.db import Database
from storage.settings import (
    PublicUrlUpdate,
    SettingsUpdate,
    check_public_url,
    own_webchat_account,
    record_start,
    save_public_url,
    save_settings,
)


def webchat_prefix(database: Database) -> str | None:
    with Runtime(database) as runtime:
        return runtime.definitions().identities.link_prefix("webchat")


def test_a_served_workspace_links_to_its_own_web_chat(database: Database) -> None:
    assert webchat_prefix(database) is None  # never served: no address to build links with
    with database.write_session() as session:
        account = record_start(session=session, served_url="http://127.0.0.1:8080").webchat_own_account
    assert len(account) >= 16 and account.isascii()
    assert webchat_prefix(database) == f"http://127.0.0.1:8080/webchat/?p={account}&ref="

    with database.write_session() as session:  # the next start, on another port: the account id stays
        assert record_start(session=session, served_url="http://127.0.0.1:9000").webchat_own_account == account
        assert own_webchat_account(session=session) == account
    assert webchat_prefix(database) == f"http://127.0.0.1:9000/webchat/?p={account}&ref="


def test_the_settings_address_and_the_admins_web_chat_win(database: Database) -> None:
    with database.write_session() as session:
        account = record_start(session=session, served_url="http://127.0.0.1:8080").webchat_own_account
        save_public_url(session=session, update=PublicUrlUpdate(public_url="https://bot.example.com/"))
    assert webchat_prefix(database) == f"https://bot.example.com/webchat/?p={account}&ref="

    with database.write_session() as session:
        save_settings(session=session, update=SettingsUpdate(webchat_account_id="acme"))
        assert own_webchat_account(session=session) == "acme"  # Referflow's chat, the admin's account id
    assert webchat_prefix(database) == "https://bot.example.com/webchat/?p=acme&ref="

    with database.write_session() as session:
        save_settings(session=session, update=SettingsUpdate(webchat_base_url="https://chat.example.net",
                                                             webchat_account_id="acme"))
        assert own_webchat_account(session=session) == account  # the links lead elsewhere; ours keeps its own id
    assert webchat_prefix(database) == "https://chat.example.net/?p=acme&ref="


@pytest.mark.parametrize("address", ["ftp://bot.example.com", "bot.example.com", "https://bot example.com",
                                     "https://bot.example.com/?x=1", "https://bot.example.com/#top"])
def test_a_public_address_that_is_no_web_address_is_refused(address: str) -> None:
    with pytest.raises(ValueError, match=r"must look like https://bot\.example\.com"):
        check_public_url(address)


def test_a_public_address_loses_its_trailing_slash() -> None:
    assert check_public_url("https://bot.example.com/referflow/") == "https://bot.example.com/referflow"
    assert check_public_url("http://10.0.0.5:8080") == "http://10.0.0.5:8080"


@pytest.mark.parametrize(("host", "served"), [("127.0.0.1", "http://127.0.0.1:8080"),
                                               ("0.0.0.0", "http://127.0.0.1:8080"),
                                               ("::", "http://[::1]:8080"), ("::1", "http://[::1]:8080"),
                                               ("bot.internal", "http://bot.internal:8080")])
def test_the_default_public_address_is_where_the_app_listens(host: str, served: str) -> None:
    assert Config(database_url="sqlite:///x.db", host=host, port=8080).served_url == served
    assert Config(database_url="sqlite:///x.db", host=host, public_url="https://bot.example.com").served_url == \
        "https://bot.example.com"


def test_a_bad_public_url_in_the_environment_stops_the_start_with_a_reason(monkeypatch) -> None:
    monkeypatch.setenv("REFERFLOW_PUBLIC_URL", "bot.example.com")
    with pytest.raises(ValueError, match=r"REFERFLOW_PUBLIC_URL='bot\.example\.com': The public address must look"):
        load_config()
