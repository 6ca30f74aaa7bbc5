"""What browser tests share besides fixtures: the app they run against, opening a page, taking a picture."""

from pathlib import Path

from playwright.sync_api import Page, Response

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "screenshots"  # not under test-results/, which pytest-playwright empties at every start


class LiveApp:
    def __init__(self, url: str, data_dir: Path) -> None:
        self.url = url
        self.data_dir = data_dir
        self.db_path = data_dir / "referflow.db"


def visit(page: Page, url: str) -> Response | None:
    """Open an admin page and wait until its live connection to the server is up.

    What is typed or pressed before then waits in the browser, and each waiting event polls for the connection on a
    clock of its own, so a click can reach the server before a value typed earlier: the test then sees the page act on
    what it showed at load. People are not that quick; a test is."""
    response = page.goto(url)
    page.wait_for_function("window.did_handshake === true")
    return response


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.evaluate("window.scrollTo(0, 0)")  # a full-page picture of a scrolled page draws the header mid-way
    page.screenshot(path=str(path), full_page=True)
    return path
