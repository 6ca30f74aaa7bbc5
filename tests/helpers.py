"""What several test packages share: the real app in a subprocess (a clean environment, a free port, waiting until it
answers) and the workspace fixtures under tests/fixtures/. Helpers of one package stay in that package."""

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from storage.db import Database
from storage.workspace_io import import_workspace

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
DEMO_WORKSPACE = FIXTURES / "referral_program.json"
ADMIN_PASSWORD = "correct-horse-battery"  # what every test app is started with


@dataclass
class AppProcess:
    url: str
    process: subprocess.Popen
    log_path: Path


@contextmanager
def running_app(*, env: dict[str, str], log_path: Path, db: Path | None = None,
                timeout: float = 30) -> Iterator[AppProcess]:
    """`app.py serve` on a free loopback port, as an admin starts it; stopped (killed if it hangs) on leaving."""
    port = free_port()
    command = [sys.executable, str(ROOT / "app.py"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    with log_path.open("w") as log:
        process = subprocess.Popen([*command, *(["--db", str(db)] if db else [])], cwd=ROOT, env=env, stdout=log,
                                   stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_until_up(url, process, log_path, timeout)
            yield AppProcess(url, process, log_path)
        finally:
            stop(process)


def subprocess_env(*, drop: Iterable[str] = (), **settings: str) -> dict[str, str]:
    """This process's environment for an app subprocess: without pytest's variables (NiceGUI would enter its test
    mode) and proxy settings (a request to 127.0.0.1 must never leave through a proxy), without `drop`, with
    `settings`."""
    dropped = {"REFERFLOW_DATABASE_URL", *drop}
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("PYTEST") and not name.lower().endswith("_proxy") and name not in dropped}
    return {**env, **settings}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, log_path: Path, timeout: float = 30,
                  probe: str = "/login") -> None:
    """Return once the app answers `probe` (its login page unless told); raise with the app's log if it exits or
    stays silent. Never through a proxy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the app exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            httpx.get(f"{url}{probe}", trust_env=False, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"the app did not answer within {timeout} s:\n{log_path.read_text()}")


def stop(process: subprocess.Popen, timeout: float = 15) -> None:
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def import_fixture(database: Database, path: Path = DEMO_WORKSPACE) -> None:
    """Import a workspace file from tests/fixtures/ (the demo referral program unless told), as an admin would."""
    with database.write_session() as session:
        import_workspace(session=session, document=json.loads(path.read_text()))
