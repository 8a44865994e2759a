"""Media to send: what a file is (bytes, name, mime, code), and where it comes from.

``MediaFile`` is media not yet uploaded; ``UploadedMedia`` is a WeChat MediaId
that can be sent again (``media_id`` in the API is ``"<MediaId>:<code>"``).
:func:`load_media` turns an API ``media_path`` (an http(s) URL, or a local path
confined to the configured folders) into a ``MediaFile``, always with a clear
error instead of a hang (reference H.3).  Codes and mime rules follow
reference A.6: gif → 47 emoticon, mp4/mpeg video → 43, other images → 3,
anything else → 6 file.
"""

from __future__ import annotations

import mimetypes
import os
import random
import time
from pathlib import Path

import httpx
import msgspec
import trio

from openwx_worker.config import WorkerConfig
from openwx_worker.errors import InvalidArgument

# The media kinds by media code (= the MsgType; 6 is a file attachment): the API's
# media_type, and the label a report's content starts with (reference C.2).
MEDIA_TYPES = {3: "image", 47: "emoticon", 43: "video", 62: "microvideo", 34: "voice", 6: "file"}
MEDIA_LABELS = {3: "[图片]", 47: "[表情]", 43: "[视频]", 62: "[小视频]", 34: "[语音]", 6: "[文件]"}
_EXT_MIME = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif", "bmp": "image/bmp",
             "png": "image/png", "mp3": "audio/mp3", "mp4": "video/mp4"}
_MIME_EXT = {"image/jpeg": "jpg", "image/jpg": "jpg", "image/gif": "gif", "image/bmp": "bmp",
             "image/png": "png", "audio/mp3": "mp3", "audio/mpeg": "mp3", "video/mp4": "mp4",
             "text/plain": "txt", "text/html": "html", "application/json": "json"}


class MediaFile(msgspec.Struct, kw_only=True):
    """Media bytes ready to upload."""

    data: bytes
    name: str
    mime: str = "application/octet-stream"
    ext: str = "dat"
    path: str = ""  # where it came from (local path or URL), for reports
    mtime: int = 0
    code: int | None = None  # forced media code (API media_type); None = from the mime

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def media_code(self) -> int:
        return self.code if self.code is not None else media_code_for(self.mime)


class UploadedMedia(msgspec.Struct, kw_only=True):
    """An uploaded file WeChat knows by ``media_id``; reusable for later sends."""

    media_id: str
    media_code: int
    name: str = ""
    size: int = 0
    ext: str = ""
    mime: str = ""
    path: str = ""
    mtime: int = 0

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES.get(self.media_code, "file")

    @property
    def api_id(self) -> str:
        """The API's ``media_id``: ``"<MediaId>:<code>"``."""
        return f"{self.media_id}:{self.media_code}"


def media_code_for(mime: str) -> int:
    """Reference A.6: image/gif 47, video/mp4|mpeg 43, image/* 3, else 6."""
    mime = mime.lower()
    if mime == "image/gif":
        return 47
    if mime in ("video/mp4", "video/mpeg"):
        return 43
    if mime.startswith("image/"):
        return 3
    return 6


def mime_for_name(name: str) -> str:
    ext = name.rsplit(".", 1)[-1] if "." in name else ""
    return _EXT_MIME.get(ext) or _EXT_MIME.get(ext.lower()) or "application/octet-stream"


def ext_for_mime(mime: str, default: str = "dat") -> str:
    """The usual file extension of a MIME type WeChat serves, else ``default``."""
    return _MIME_EXT.get(mime, default)


def ext_for(name: str, mime: str) -> str:
    if "." in name:
        return name.rsplit(".", 1)[-1]
    return _MIME_EXT.get(mime, "") or (mimetypes.guess_extension(mime) or ".dat").lstrip(".")


def parse_media_id(value: str, default_code: int = 6) -> tuple[str, int]:
    """``"<MediaId>:<code>"`` → (MediaId, code); a bare id gets ``default_code``."""
    media_id, sep, code = value.partition(":")
    if sep and code.isdigit():
        return media_id, int(code)
    return value, default_code


def from_data(data: bytes, *, name: str = "", mime: str = "", ext: str = "") -> MediaFile:
    """Media given as bytes (API media_data): defaults as reference A.6."""
    ext = ext or (name.rsplit(".", 1)[-1] if "." in name else "") or "dat"
    name = name or f"{int(time.time() * 1000)}{random.randrange(10000):04d}.{ext}"
    return MediaFile(data=data, name=name, mime=mime or "application/octet-stream", ext=ext,
                     path=name, mtime=int(time.time()))


def _check_size(size: int, config: WorkerConfig) -> None:
    limit = config.media_size_max
    if size > limit:
        raise InvalidArgument(f"media size exceed, maximum size is {limit} bytes")


async def load_media(spec: str, config: WorkerConfig, *,
                     http: httpx.AsyncClient | None = None) -> MediaFile:
    """A ``media_path``: http(s) URL (downloaded) or a local file in an allowed folder."""
    if spec.startswith(("http://", "https://")):
        return await _fetch(spec, config, http)
    return await trio.to_thread.run_sync(_read_local, spec, config)


async def _fetch(url: str, config: WorkerConfig, http: httpx.AsyncClient | None) -> MediaFile:
    timeout = config.media_fetch_timeout
    own = http is None
    client = http or httpx.AsyncClient(follow_redirects=True, max_redirects=7)
    try:
        with trio.move_on_after(timeout) as scope:
            async with client.stream("GET", url) as response:
                if not response.is_success:
                    raise InvalidArgument(f"media download failed: HTTP {response.status_code}")
                chunks, total = [], 0
                async for chunk in response.aiter_bytes():
                    total += len(chunk)
                    _check_size(total, config)
                    chunks.append(chunk)
                headers = response.headers
        if scope.cancelled_caught:
            raise InvalidArgument(f"media download timed out after {timeout:g}s")
    except httpx.HTTPError as exc:
        raise InvalidArgument(f"media download failed: {exc}") from exc
    finally:
        if own:
            await client.aclose()
    data = b"".join(chunks)
    mime = headers.get("content-type", "application/octet-stream").split(";")[0].strip()
    name = url.rsplit("/", 1)[-1] or "media"
    return MediaFile(data=data, name=name, mime=mime, ext=ext_for(name, mime), path=url,
                     mtime=int(time.time()))


def _read_local(spec: str, config: WorkerConfig) -> MediaFile:
    path = Path(spec).expanduser()
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError):
        raise InvalidArgument("invaild media_path") from None  # sic: the Openwx wording
    allowed = [Path(d).resolve() for d in config.allowed_media_dirs if d]
    if not any(real.is_relative_to(d) for d in allowed):
        raise InvalidArgument("media_path is outside the allowed folders (media_allowed_dirs)")
    if not real.is_file():
        raise InvalidArgument("invaild media_path")
    _check_size(real.stat().st_size, config)
    try:
        data = real.read_bytes()
    except OSError as exc:
        raise InvalidArgument(f"media file read error: {exc}") from exc
    name = os.path.basename(spec)
    mime = mime_for_name(name)
    return MediaFile(data=data, name=name, mime=mime, ext=ext_for(name, mime) or "dat",
                     path=str(path), mtime=int(real.stat().st_mtime))
