"""What the benchmarks that drive the real app share: `app.py` (or another page) in a subprocess on a free loopback
port with a clean environment (started, awaited and stopped with the tests' own helpers, tests/helpers.py), and
latency percentiles."""

import statistics
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from tests.helpers import free_port, stop, wait_until_up

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
    port = free_port()
    with log_path.open("w") as log:
        process = subprocess.Popen(command(port), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_until_up(url, process, log_path, probe=probe)
            yield url
        finally:
            stop(process)


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


