"""QR codes for entry links: the PNG and SVG files hold exactly the modules of the link's code."""

import re
import sys
import xml.etree.ElementTree as ET

import png
import pytest
import qrcode
import qrcode.constants

from runtime.qr import qr_modules, qr_png, qr_svg

LINKS = [
    "https://m.me/1234567890?ref=giveaway2025",
    "https://t.me/giveaway_helper_bot?start=giveaway2025-c{{user_id}}",
    "https://wa.me/15551234567?text=/giveaway2025--%C3%A9t%C3%A9--gold",
    "https://chat.example.com/webchat/?p=acc-123&ref=giveaway2025jsondata--%7B%22plan%22%3A%22pro%22%2C%22seats%22%3A3%7D",
    "viber://pa?chatURI=giveawaybot&context=" + "x" * 300,
]


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
