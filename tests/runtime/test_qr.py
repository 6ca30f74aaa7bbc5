"""QR codes for entry links: the PNG and SVG files hold exactly the modules of the link's code."""

import sys

import png
import pytest

from runtime.qr import qr_modules, qr_png, qr_svg
from tests.helpers import encode, read_png, read_svg

LINKS = [
    "https://m.me/1234567890?ref=giveaway2025",
    "https://t.me/giveaway_helper_bot?start=giveaway2025-c{{user_id}}",
    "https://wa.me/15551234567?text=/giveaway2025--%C3%A9t%C3%A9--gold",
    "https://chat.example.com/webchat/?p=acc-123&ref=giveaway2025jsondata--%7B%22plan%22%3A%22pro%22%2C%22seats%22%3A3%7D",
    "viber://pa?chatURI=giveawaybot&context=" + "x" * 300,
]


@pytest.mark.parametrize("link", LINKS)
def test_png_holds_the_links_modules(link: str) -> None:
    data = qr_png(link)
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert read_png(data) == encode(link)


@pytest.mark.parametrize("link", LINKS)
def test_svg_holds_the_links_modules(link: str) -> None:
    data = qr_svg(link)
    assert data.startswith(b"<svg") or data.startswith(b"<?xml")
    assert read_svg(data) == encode(link)


def test_each_link_gets_its_own_code() -> None:
    assert read_png(qr_png(LINKS[0])) != encode(LINKS[0] + "-c1")
    assert read_svg(qr_svg(LINKS[0])) != encode(LINKS[0] + "-c1")


def test_module_pixels_scale_the_png_and_the_matrix_is_the_same() -> None:
    small, large = qr_png(LINKS[0], module_pixels=3), qr_png(LINKS[0], module_pixels=12)
    assert png.Reader(bytes=large).read()[0] == 4 * png.Reader(bytes=small).read()[0]
    assert read_png(small) == read_png(large) == qr_modules(LINKS[0]) == encode(LINKS[0])


def test_no_pillow_is_needed() -> None:
    qr_png(LINKS[1])
    qr_svg(LINKS[1])
    assert "PIL" not in sys.modules
