"""The real app (`app.py serve` in a subprocess) with its platform API addresses pointed at a stand-in server on
127.0.0.1 (pytest-httpserver) that checks every request as the platform's documentation describes it."""

import json
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.helpers import ADMIN_PASSWORD, ROOT, running_app, subprocess_env


@dataclass
class StandIn:
    """What the stand-in API received; `script` decides answers (per test), `problems` lists requests that do not
    follow the documentation (every test asserts it stays empty)."""

    calls: list[tuple[str, dict, dict]] = field(default_factory=list)  # (method, json body, headers)
    problems: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    script: dict[str, Callable[[dict], Any]] = field(default_factory=dict)  # key -> handler returning an answer

    def record(self, method: str, body: dict, headers: dict) -> None:
        with self.lock:
            self.calls.append((method, body, headers))

    def sent(self, method: str, **match: Any) -> list[dict]:
        with self.lock:
            return [body for name, body, _ in self.calls if name == method
                    and all(body.get(key) == value for key, value in match.items())]

    def wait_for(self, method: str, count: int = 1, timeout: float = 15.0, **match: Any) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.sent(method, **match)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"{method} {match} reached the stand-in {len(self.sent(method, **match))} times, "
                             f"not {count}; problems: {self.problems}")


@dataclass
class RunningApp:
    url: str
    db_path: Path
    env: dict[str, str]
    log_path: Path

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(ROOT / "app.py"), "--db", str(self.db_path), *args], cwd=ROOT,
                              env=self.env, input=stdin, capture_output=True, text=True, timeout=60)

    def query(self, sql: str, *params: Any) -> list[tuple]:
        with sqlite3.connect(self.db_path, timeout=10) as connection:
            return connection.execute(sql, params).fetchall()

    def counts(self) -> tuple[int, ...]:
        """What a webhook delivery may change: contacts, opens, referrals, messages, outbox rows, events taken."""
        return tuple(self.query(f"SELECT count(*) FROM {table}")[0][0] for table in (
            "contact", "link_open", "referral", "message", "outbox_message", "hook_event", "processed_event"))


@contextmanager
def running_hooks_app(folder: Path, api_env: dict[str, str]) -> Iterator[RunningApp]:
    """The app with the demo workspace, its platform API addresses in `api_env`; stopped on leaving."""
    env = subprocess_env(drop=["REFERFLOW_SECRET_KEY", "REFERFLOW_PUBLIC_URL"],
                  REFERFLOW_ADMIN_PASSWORD=ADMIN_PASSWORD, REFERFLOW_STORAGE_SECRET="test",
                  REFERFLOW_SEED_DEMO="1", REFERFLOW_API_TIMEOUT="1", **api_env)
    db_path = folder / "referflow.db"
    with running_app(env=env, log_path=folder / "server.log", db=db_path) as app:
        yield RunningApp(app.url, db_path, env, app.log_path)


def json_of(request) -> dict:
    try:
        value = json.loads(request.get_data() or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def wait_until(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.05)
    raise AssertionError("the app did not get there in time")
