"""Waiting for an app started in a subprocess (the browser suite, the channel tests over HTTP, the benchmarks)."""

import subprocess
import time
import urllib.request
from pathlib import Path

_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never through a proxy


def wait_until_up(url: str, process: subprocess.Popen, log: Path, timeout: float = 30) -> None:
    """Return once `url`/login answers; raise with the server's log when it exits or stays silent."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the app exited with {process.returncode}:\n{log.read_text()}")
        try:
            _DIRECT.open(f"{url}/login", timeout=1)
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the app did not answer within {timeout} s:\n{log.read_text()}")
