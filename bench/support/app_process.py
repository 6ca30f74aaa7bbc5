"""What the benchmarks that drive the real app share: `app.py` (or another page) in a subprocess on a free loopback
port with a clean environment, and latency percentiles. The tests have their own in tests/helpers.py: benchmarks
never import tests."""

import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def serving_app(*, db: Path, env: dict[str, str], log_path: Path, probe: str = "/login"
                ) -> AbstractContextManager[str]:
    """`app.py serve` on a free loopback port with the database `db`; yields its URL once `probe` answers."""
    return serving(lambda port: [sys.executable, str(ROOT / "app.py"), "serve", "--host", "127.0.0.1", "--port",
                                 str(port), "--db", str(db)], env=env, log_path=log_path, probe=probe)


@contextmanager
def serving(command: Callable[[int], list[str]], *, env: dict[str, str], log_path: Path,
            probe: str = "/") -> Iterator[str]:
    """A web server started by `command(port)` on a free loopback port; yields its URL once `probe` answers, and
    stops it (killed if it hangs) on leaving."""
    port = _free_port()
    with log_path.open("w") as log:
        process = subprocess.Popen(command(port), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_until_up(f"{url}{probe}", process, log_path)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def subprocess_env(*, drop: Iterable[str] = (), **settings: str) -> dict[str, str]:
    """This environment without pytest's variables (NiceGUI would enter its test mode), proxy settings (loopback
    traffic must not leave through a proxy), a database URL of the developer's own, or `drop`; with `settings`."""
    dropped = {"REFERFLOW_DATABASE_URL", *drop}
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("PYTEST") and not name.lower().endswith("_proxy") and name not in dropped}
    return {**env, **settings}


def run_cli(*args: str, db: Path, env: dict[str, str]) -> None:
    """One `app.py` command against `db` (import, channels connect...); raises if it fails."""
    subprocess.run([sys.executable, str(ROOT / "app.py"), "--db", str(db), *args], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)


def describe_latency(values: list[float]) -> str:
    """'p50 … ms   p99 … ms   max … ms' for latencies in seconds."""
    return (f"p50 {percentile_ms(values, 50):7.1f} ms   p99 {percentile_ms(values, 99):7.1f} ms   "
            f"max {max(values) * 1000:7.1f} ms")


def percentile_ms(values: list[float], percentile: int) -> float:
    """The `percentile`th percentile of latencies in seconds, in milliseconds (a single value is its own)."""
    if len(values) == 1:
        return values[0] * 1000
    return statistics.quantiles(values, n=100, method="inclusive")[percentile - 1] * 1000


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_up(url: str, process: subprocess.Popen, log_path: Path, timeout: float = 30) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through a proxy
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the app exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            opener.open(url, timeout=1)
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the app did not answer within {timeout} s:\n{log_path.read_text()}")
