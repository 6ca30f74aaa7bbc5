"""What several test packages share: the real app in a subprocess (a clean environment, a free port, waiting until it
answers), the workspace fixtures under tests/fixtures/, the coupon shop, and reading QR codes back. Helpers of one
package stay in that package."""

import json
import os
import re
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import png
import qrcode
import qrcode.constants

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


# ------------------------------------------------------------------------------------------------ coupons


def coupon_flow(name: str, nodes: list[dict], edges: list[tuple[str, str, str]], flow_id: int) -> dict:
    document = {"schema": 1, "nodes": [{"id": n["id"], "type": n["type"], "data": n.get("data", {})} for n in nodes],
                "edges": [{"id": f"e{i}", "source": s, "source_handle": h, "target": t}
                          for i, (s, h, t) in enumerate(edges)]}
    return {"id": flow_id, "name": name, "draft": document, "published": document}


REWARD = coupon_flow("Reward", [
    {"id": "start", "type": "start"},
    {"id": "give", "type": "give_coupon", "data": {"pool_id": 1, "field_id": 1}},
    {"id": "yes", "type": "send_message", "data": {"text": "Your code: {{coupon}}"}},
    {"id": "no", "type": "send_message", "data": {"text": "Sorry, all codes are gone."}},
], [("start", "next", "give"), ("give", "next", "yes"), ("give", "none_left", "no")], 1)


def coupon_workspace(*, second_level: bool = False, triggers: list[dict] | None = None) -> dict:
    """A shop whose Reward flow gives a code from coupon pool 1, and a Friends entry point that credits referrers."""
    return {
        "format": "referflow-workspace", "version": 1,
        "settings": {"page_id": "1234567890"},
        "fields": [{"id": 1, "name": "coupon", "type": "text"}, {"id": 2, "name": "points", "type": "number"}],
        "flows": [REWARD],
        "entry_points": [
            {"id": 1, "name": "Shop", "ref": "shop", "response_type": "flow", "response_flow_id": 1},
            {"id": 2, "name": "Friends", "ref": "friends", "response_message": "Welcome!",
             "second_level_credit": second_level},
        ],
        "triggers": triggers or [],
    }


# ------------------------------------------------------------------------------------------------ reading QR codes


def encode(link: str) -> list[list[bool]]:
    """The link's modules, encoded here independently of runtime.qr (error correction M, 4-module quiet zone)."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    code.add_data(link)
    code.make(fit=True)
    return code.get_matrix()


def read_png(data: bytes) -> list[list[bool]]:
    """Dark modules of a PNG QR code, sampled at each module's centre (the quiet zone gives the module size)."""
    width, height, rows, _ = png.Reader(bytes=data).asRGBA8()
    pixels = [list(row) for row in rows]
    assert width == height
    modules = _count_modules(pixels, width)
    size = width / modules
    return [[_is_dark(pixels, int((x + 0.5) * size), int((y + 0.5) * size)) for x in range(modules)]
            for y in range(modules)]


def _count_modules(pixels: list[list[int]], width: int) -> int:
    first_dark = next(x for x in range(width) if _is_dark(pixels, x, x))  # the finder pattern's corner, on the diagonal
    assert first_dark % 4 == 0, "the quiet zone is four whole modules"
    module = first_dark // 4
    assert width % module == 0
    return width // module


def _is_dark(pixels: list[list[int]], x: int, y: int) -> bool:
    r, g, b, a = pixels[y][4 * x: 4 * x + 4]
    return a > 127 and (r + g + b) / 3 < 128


def read_svg(data: bytes) -> list[list[bool]]:
    """Dark modules of an SVG QR code: the viewBox counts modules, the path draws one unit square per dark module."""
    root = ET.fromstring(data)
    _, _, width, height = (float(n) for n in root.attrib["viewBox"].split())
    assert width == height == int(width)
    grid = [[False] * int(width) for _ in range(int(height))]
    path = root.find("{http://www.w3.org/2000/svg}path").attrib["d"]
    for x1, y1, x2, y2, x3 in re.findall(r"M([\d.]+),([\d.]+)H([\d.]+)V([\d.]+)H([\d.]+)z", path):
        left, top, right, bottom = float(x1), float(y1), float(x2), float(y2)
        assert float(x3) == left and right - left == 1 and bottom - top == 1
        grid[int(top)][int(left)] = True
    assert sum(map(sum, grid)) == path.count("M"), "every square of the path was read"
    return grid
