"""Two Referflow instances on two ports sharing one PostgreSQL database and Redis, as behind a load balancer: the admin
signs in on one and works on the other, one open delivered to both counts once, and an entry point saved on one is
what the other answers with at its next open. Skipped, with the reason, when PostgreSQL or Redis does not answer."""

import json
import os
import re
import secrets
from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import pytest
import redis
import sqlalchemy as sa
from cryptography.fernet import Fernet
from playwright.sync_api import Page, expect
from websockets.sync.client import connect

from runtime.definitions import load_definitions
from storage.db import open_database
from tests.e2e.helpers import screenshot, visit
from tests.helpers import ADMIN_PASSWORD, running_app, subprocess_env
from tests.postgres import PostgresServer


@pytest.fixture(scope="module")
def redis_url() -> str:
    url = os.environ.get("REFERFLOW_TEST_REDIS_URL", "").strip() or "redis://127.0.0.1:6379"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        pytest.skip(f"no Redis answers at {url} (set REFERFLOW_TEST_REDIS_URL): {error}")
    return url


@pytest.fixture(scope="module")
def instances(postgres_server: PostgresServer, redis_url: str,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    """Instance A (it seeds the demo workspace on first start) and instance B, then the database URL."""
    folder = tmp_path_factory.mktemp("two-instances")
    prefix = f"referflow-test-{secrets.token_hex(4)}:"
    secret_key = Fernet.generate_key().decode()
    with postgres_server.fresh_database() as database_url, ExitStack() as instances:
        env = subprocess_env(drop=["REFERFLOW_DB"], REFERFLOW_DATABASE_URL=database_url,
                      REFERFLOW_ADMIN_PASSWORD=ADMIN_PASSWORD,
                      REFERFLOW_SECRET_KEY=secret_key,  # every instance shares it (README "Scaling out")
                      REFERFLOW_SEED_DEMO="1", NICEGUI_REDIS_URL=redis_url, NICEGUI_REDIS_KEY_PREFIX=prefix)
        try:
            a, b = (instances.enter_context(running_app(env=env, log_path=folder / f"{name}.log", timeout=60))
                    for name in ("a", "b"))  # one after the other, as instances added to a running deployment
            yield a.url, b.url, database_url
        finally:
            instances.close()
            client = redis.Redis.from_url(redis_url)
            for key in client.scan_iter(f"{prefix}*"):
                client.delete(key)


def test_two_instances_share_one_workspace(page: Page, instances: tuple[str, str, str]) -> None:
    a, b, database_url = instances

    # signed in on A, the admin works on B (the session is a row in the shared database)
    visit(page, f"{a}/login")
    page.get_by_label("Admin password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Log out").wait_for()
    visit(page, f"{b}/entry-points/new")
    expect(page.get_by_label("Ref", exact=True)).to_be_visible()

    # an entry point saved on B ...
    page.get_by_label("Name").fill("Spring sale")
    page.get_by_label("Ref", exact=True).fill("spring")
    page.get_by_text("Send a message").click()
    page.get_by_label("Message", exact=True).fill("Spring is here, {{first_name}}!")
    page.get_by_role("button", name="Save entry point").click()
    page.wait_for_url(re.compile(r".*/entry-points/\d+$"))  # saved: the editor now shows the stored entry point
    expect(page.get_by_label("Ref", exact=True)).to_have_value("spring")

    # ... is what A answers with at its next open, without a restart
    link = _webchat_link(database_url, "spring")
    visitor = secrets.token_urlsafe(32)
    with connect(a.replace("http", "ws") + "/webchat/ws") as chat:
        chat.send(json.dumps({"type": "hello", "visitor": visitor}))
        json.loads(chat.recv(timeout=10))
        answer = _open(a, visitor, "Ann", link, event="click-0001")
        assert answer.status_code == 200, answer.text
        message = json.loads(chat.recv(timeout=10))
    assert message["message"]["text"] == "Spring is here, Ann!"

    # one open delivered to both instances (a retried request reaching the other one) counts once
    giveaway = _webchat_link(database_url, "giveaway2025")
    referrer = _contact_id(database_url, visitor)
    friend = secrets.token_urlsafe(32)
    for instance in (a, b):
        assert _open(instance, friend, "Bob", f"{giveaway}-c{referrer}", event="click-0002").status_code == 200
    database = open_database(url=database_url)
    try:
        with database.engine.connect() as connection:
            counted = connection.execute(sa.text(
                "SELECT count(*) FROM referral WHERE referrer_id = :id AND status = 'counted'"),
                {"id": referrer}).scalar()
            opens = connection.execute(sa.text(
                "SELECT count(*) FROM link_open o JOIN contact c ON c.id = o.contact_id"
                " WHERE c.first_name = 'Bob'")).scalar()
    finally:
        database.dispose()
    assert (counted, opens) == (1, 1)

    visit(page, f"{a}/contacts")  # and both people are there for the admin, on either instance
    expect(page.get_by_role("link", name="Ann", exact=True).first).to_be_visible()
    expect(page.get_by_role("link", name="Bob", exact=True).first).to_be_visible()
    screenshot(page, "two-instances-contacts")


def _open(instance: str, visitor: str, name: str, address: str, event: str) -> httpx.Response:
    return httpx.post(f"{instance}/webchat/api/open", trust_env=False, timeout=30,
                      json={"visitor": visitor, "name": name, "address": address, "event": event})


def _webchat_link(database_url: str, ref: str) -> str:
    database = open_database(url=database_url)
    try:
        with database.raw_connection() as connection:
            return f"{load_definitions(connection).identities.link_prefix('webchat')}{ref}"
    finally:
        database.dispose()


def _contact_id(database_url: str, visitor: str) -> int:
    from channels.webchat.guard import visitor_user_id

    database = open_database(url=database_url)
    try:
        with database.engine.connect() as connection:
            return connection.execute(sa.text("SELECT id FROM contact WHERE channel_user_id = :user"),
                                      {"user": visitor_user_id(visitor)}).scalar_one()
    finally:
        database.dispose()
