"""A fake camera that films a ticket: Chromium plays a Y4M file as the camera
(``--use-file-for-fake-video-capture``). The file is made here from the ticket's
``qr_text``: the QR code (the ``qrcode`` package) centred on a white 640x480 frame,
converted to YUV 4:2:0 with Pillow (full-range BT.601, which is what ``C420jpeg`` means).
"""

from __future__ import annotations

from pathlib import Path

import qrcode
from PIL import Image

WIDTH, HEIGHT = 640, 480
HEADER = b"YUV4MPEG2 W640 H480 F10:1 Ip A1:1 C420jpeg\n"


def qr_frame(text: str) -> Image.Image:
    """The ticket as the attendee shows it: a QR code with its quiet zone, about 300
    pixels wide, in the middle of a white frame."""
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    qr.add_data(text)
    qr.make(fit=True)
    modules = qr.modules_count + 2 * qr.border
    code = qr.make_image(fill_color="black", back_color="white").get_image().convert("L")
    side = (320 // modules) * modules  # whole pixels per module: sharp edges
    code = code.resize((side, side), Image.Resampling.NEAREST)
    frame = Image.new("L", (WIDTH, HEIGHT), 255)
    frame.paste(code, ((WIDTH - side) // 2, (HEIGHT - side) // 2))
    return frame.convert("RGB")


def y4m_bytes(image: Image.Image, frames: int = 10) -> bytes:
    y, cb, cr = image.convert("YCbCr").split()
    half = (WIDTH // 2, HEIGHT // 2)
    planes = (
        y.tobytes()
        + cb.resize(half, Image.Resampling.BILINEAR).tobytes()
        + cr.resize(half, Image.Resampling.BILINEAR).tobytes()
    )
    return HEADER + (b"FRAME\n" + planes) * frames


def write_ticket_video(text: str, path: Path, frames: int = 10) -> Path:
    path.write_bytes(y4m_bytes(qr_frame(text), frames))
    return path
