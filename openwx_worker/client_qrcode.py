"""The login QR code: saved as the qrcode file, printed in the terminal, announced.

The image is WeChat's own JPEG of the code (``/qrcode/<uuid>``); if it cannot be
fetched, our own rendering of the same text (segno + Pillow) is used, so the file
named ``.jpg`` is always a real JPEG.  ``input_qrcode`` carries the file's path and
its MIME-wrapped base64 (76 columns, as Mojo::Weixin did).
"""

from __future__ import annotations

import base64
import io
import logging
import sys
from typing import TYPE_CHECKING

import segno
import trio

from openwx_worker.client_retry import retrying
from openwx_worker.errors import ClientError
from openwx_worker.webwx import login as wx_login

if TYPE_CHECKING:
    from openwx_worker.client import WeixinClient

log = logging.getLogger(__name__)


async def show_qrcode(client: WeixinClient, uuid: str) -> None:
    """Save the QR image, print it in the terminal, publish ``input_qrcode``."""
    files = client.machine.files
    try:
        image = await retrying("QR image", wx_login.get_qr_image, client.session, uuid, tries=3)
    except ClientError as exc:
        log.warning("QR image not fetched (%s); rendering it here", exc)
        image = b""
    if not image:
        image = await trio.to_thread.run_sync(render_qr_jpeg, wx_login.qr_text(uuid))
    await trio.to_thread.run_sync(files.write_qrcode, image)
    log.info("QR code saved to %s; scan it with the WeChat app", files.qrcode_path)
    if client.config.qrcode_terminal:
        try:
            segno.make(wx_login.qr_text(uuid), error="l").terminal(out=sys.stderr, compact=True)
        except (OSError, ValueError):
            pass
    client.publish_event("input_qrcode", str(files.qrcode_path),
                         base64.encodebytes(image).decode("ascii"))


def render_qr_jpeg(text: str) -> bytes:
    """Our own JPEG of the QR code, for when the server's image cannot be fetched."""
    from PIL import Image  # only needed on this fallback path

    png = io.BytesIO()
    segno.make(text, error="l").save(png, kind="png", scale=8)
    png.seek(0)
    out = io.BytesIO()
    Image.open(png).convert("RGB").save(out, format="JPEG")
    return out.getvalue()
