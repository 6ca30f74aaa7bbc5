"""`make run` follows the README: its own HOST/PORT/DB win, else the REFERFLOW_* environment the app reads itself.

Read with `make -n`, which prints the commands without running them."""

import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

import app

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def serve_command(*make_args: str, **env: str) -> tuple[dict[str, str], list[str]]:
    """The environment assignments and arguments of the `app.py serve` line `make run` would run."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("REFERFLOW_") and k not in ("HOST", "PORT")}
    printed = subprocess.run(["make", "-n", "run", *make_args], cwd=ROOT, env=clean | env, capture_output=True,
                             text=True, check=True).stdout
    [line] = [line for line in printed.splitlines() if "app.py serve" in line]
    words = shlex.split(line)
    assignments = dict(word.split("=", 1) for word in words[:words.index(next(w for w in words if "=" not in w))])
    return assignments, words[words.index("serve") + 1:]


def served_on(monkeypatch: pytest.MonkeyPatch, assignments: dict, arguments: list[str], env: dict) -> tuple:
    for key in [k for k in os.environ if k.startswith("REFERFLOW_")]:
        monkeypatch.delenv(key)
    for key, value in (env | assignments).items():
        monkeypatch.setenv(key, value)
    config = app.load_config(app._build_parser().parse_args(["serve", *arguments]))
    return config.host, config.port, config.database_url


def test_the_environment_chooses_the_port_and_host(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"REFERFLOW_PORT": "9000", "REFERFLOW_HOST": "0.0.0.0", "PORT": "1234"}  # a stray PORT is not make's
    assignments, arguments = serve_command(**env)
    assert "--port" not in arguments and "--host" not in arguments
    host, port, _ = served_on(monkeypatch, assignments, arguments, env)
    assert (host, port) == ("0.0.0.0", 9000)


def test_make_variables_on_the_command_line_win(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"REFERFLOW_PORT": "9000"}
    assignments, arguments = serve_command("PORT=9001", "HOST=127.0.0.2", **env)
    assert served_on(monkeypatch, assignments, arguments, env)[:2] == ("127.0.0.2", 9001)


def test_without_settings_the_defaults_of_the_readme_apply(monkeypatch: pytest.MonkeyPatch) -> None:
    assignments, arguments = serve_command()
    host, port, url = served_on(monkeypatch, assignments, arguments, {})
    assert (host, port) == ("127.0.0.1", 8080) and url.endswith("data/referflow.db")


def test_the_database_file_comes_from_the_environment_too(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env = {"REFERFLOW_DB": str(tmp_path / "mine.db")}
    assignments, arguments = serve_command(**env)
    assert served_on(monkeypatch, assignments, arguments, env)[2].endswith(f"{tmp_path}/mine.db")
