"""Real media bytes for simulated messages and QR codes: JPEG images, MP3-ish, MP4-ish.

Images are real JPEGs (Pillow) so clients that sniff magic bytes or decode them work.
"""

from __future__ import annotations

import io
import struct
import zlib

import segno
from PIL import Image


def jpeg(seed: str, size: tuple[int, int] = (64, 64)) -> bytes:
    """A small solid-colour JPEG whose colour depends on `seed`."""
    h = zlib.crc32(seed.encode())
    color = (h & 0xFF, (h >> 8) & 0xFF, (h >> 16) & 0xFF)
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="JPEG", quality=80)
    return buf.getvalue()


def qr_jpeg(text: str) -> bytes:
    """The QR code of `text` as a JPEG: the segno matrix as a 1-pixel-per-module image,
    scaled up with NEAREST (fast enough to run inline, well under a millisecond)."""
    qr = segno.make(text, error="m")
    scale, border = 6, 4
    rows = [bytes(0 if dark else 255 for dark in row) for row in qr.matrix]
    n = len(rows)
    small = Image.new("L", (n + 2 * border, n + 2 * border), 255)
    small.paste(Image.frombytes("L", (n, n), b"".join(rows)), (border, border))
    img = small.resize((small.width * scale, small.height * scale), Image.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def mp3(length: int = 2048) -> bytes:
    """An ID3-tagged byte string that sniffers take for MP3."""
    header = b"ID3\x03\x00\x00\x00\x00\x00\x00"
    frame = b"\xff\xfb\x90\x64" + b"\x00" * 413
    body = (frame * (length // len(frame) + 1))[: max(0, length - len(header))]
    return header + body


def mp4(length: int = 4096) -> bytes:
    """An ISO-BMFF `ftyp` box followed by padding: `video/mp4` to a sniffer."""
    ftyp = b"ftypisom" + b"\x00\x00\x02\x00" + b"isomiso2avc1mp41"
    box = struct.pack(">I", len(ftyp) + 4) + ftyp
    pad = max(0, length - len(box) - 8)
    return box + struct.pack(">I", pad + 8) + b"mdat" + b"\x00" * pad
