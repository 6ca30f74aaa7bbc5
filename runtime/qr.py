"""QR codes for entry links: PNG and SVG bytes, drawn by `qrcode` in pure Python (no Pillow).

Error correction M (15 % of the code can be damaged) suits printed posters and screens alike; the quiet zone is the
standard four modules, so the code scans wherever it is placed.
"""

import io

import qrcode
import qrcode.constants
from qrcode.image.pure import PyPNGImage
from qrcode.image.svg import SvgPathImage

ERROR_CORRECTION = qrcode.constants.ERROR_CORRECT_M
BORDER = 4
PNG_MODULE_PIXELS = 10


def qr_png(link: str, *, module_pixels: int = PNG_MODULE_PIXELS) -> bytes:
    """A black-on-white PNG, `module_pixels` pixels per module."""
    image = _code(link, box_size=module_pixels).make_image(image_factory=PyPNGImage)
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue()


def qr_svg(link: str) -> bytes:
    """A scalable SVG with one path; the viewBox counts one unit per module, quiet zone included."""
    return _code(link, box_size=10).make_image(image_factory=SvgPathImage).to_string(encoding="utf-8")


def qr_modules(link: str) -> list[list[bool]]:
    """The code's dark (True) and light modules, row by row, quiet zone included."""
    return _code(link, box_size=1).get_matrix()


def _code(link: str, *, box_size: int) -> qrcode.QRCode:
    code = qrcode.QRCode(error_correction=ERROR_CORRECTION, box_size=box_size, border=BORDER)
    code.add_data(link)
    code.make(fit=True)
    return code
