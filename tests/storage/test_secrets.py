"""Channel secrets at rest: sealed with a key kept outside the database, shown masked, refused when tampered with."""

import os

import pytest
from cryptography.fernet import Fernet

from storage import channel_connections
from storage.db import open_database
from storage.secrets import SecretKeyError, load_secret_box, mask


@pytest.fixture
def database(tmp_path):
    database = open_database(url=f"sqlite:///{tmp_path / 'referflow.db'}")
    yield database
    database.dispose()


def test_the_key_file_is_created_once_beside_the_database_readable_by_its_owner_only(database, tmp_path) -> None:
    box = load_secret_box(database_url=database.url, env={})
    key = tmp_path / "referflow.db.key"
    assert key.stat().st_mode & 0o777 == 0o600
    again = load_secret_box(database_url=database.url, env={})
    assert again.open(box.seal("123456:secret")) == "123456:secret"
    os.chmod(key, 0o644)
    with pytest.raises(SecretKeyError, match="can be read by others"):
        load_secret_box(database_url=database.url, env={})


def test_the_environment_key_wins_and_a_bad_one_is_explained(database, tmp_path) -> None:
    key = Fernet.generate_key().decode()
    box = load_secret_box(database_url=database.url, env={"REFERFLOW_SECRET_KEY": key})
    assert not (tmp_path / "referflow.db.key").exists()
    with pytest.raises(SecretKeyError, match="not a secret key"):
        load_secret_box(database_url=database.url, env={"REFERFLOW_SECRET_KEY": "hunter2"})
    other = load_secret_box(database_url=database.url, env={"REFERFLOW_SECRET_KEY": Fernet.generate_key().decode()})
    with pytest.raises(SecretKeyError, match="Connect the channel again"):
        other.open(box.seal("token"))


def test_saved_secrets_are_sealed_in_the_file_and_shown_masked(database, tmp_path) -> None:
    box = load_secret_box(database_url=database.url, env={})
    saved = channel_connections.save_connection(
        database=database, box=box, channel="viber", bot_id="pa:1", settings={"name": "Shop"},
        secrets={"auth_token": "4453b6ac-e02c5f12-daec9c51f"}, verify_token="verify-me-please-1234")
    assert saved.masked() == {"auth_token": "••••c51f", "verify_token": "••••1234"}
    assert "4453b6ac" not in repr(saved)
    database.dispose()
    raw = b"".join(path.read_bytes() for path in tmp_path.glob("referflow.db*") if path.suffix != ".key")
    assert b"4453b6ac" not in raw and b"verify-me-please" not in raw and b"Shop" in raw
    found = channel_connections.get_connection(database=database, box=box, channel="viber")
    assert found is not None and found.secrets == {"auth_token": "4453b6ac-e02c5f12-daec9c51f"}


@pytest.mark.parametrize(("secret", "shown"), [("", ""), ("abc", "••••"), ("abcdefgh", "••••gh"),
                                                ("123456789:AAE-abcdefghijklmnop", "••••mnop")])
def test_masking_never_shows_more_than_the_last_four(secret: str, shown: str) -> None:
    assert mask(secret) == shown


def test_an_event_is_taken_once_per_channel_and_bot(database) -> None:
    assert channel_connections.claim_hook_event(database=database, channel="telegram", bot="1", event_id="7")
    assert not channel_connections.claim_hook_event(database=database, channel="telegram", bot="1", event_id="7")
    assert channel_connections.claim_hook_event(database=database, channel="telegram", bot="2", event_id="7")
    channel_connections.release_hook_event(database=database, channel="telegram", bot="1", event_id="7")
    assert channel_connections.claim_hook_event(database=database, channel="telegram", bot="1", event_id="7")
