"""The media a request names, turned into what the client sends.

Precedence, as reference A.6: ``media_id`` (no upload at all), then a file part of
a multipart body (an addition), then ``media_data``, then ``media_path`` (an
http(s) URL, downloaded within ``media_fetch_timeout`` and ``media_size_max``, or a
local file inside ``allowed_media_dirs``). Loading a path is the protocol client's
``openwx_worker.media.load_media``; this module adds what only the API knows:
distinct answers for a refused path (410) and unavailable media (411), the
``media_name`` / ``media_mime`` / ``media_ext`` / ``media_type`` overrides, mime
inference that does not depend on the extension's case or on a short table, and
the upload cache that makes a reused file media_id work.
"""

from __future__ import annotations

import mimetypes
import os
import time
from pathlib import Path
from typing import Any

import msgspec

from openwx_worker import media as wx_media
from openwx_worker.errors import InvalidArgument
from openwx_worker.media import MediaFile, UploadedMedia

from . import codes
from .codes import ApiError
from .endpoint import Context
from .params import has_media

TYPE_CODES = {"image": 3, "emoticon": 47, "video": 43, "microvideo": 62, "voice": 34, "file": 6}
OCTET = "application/octet-stream"
_MAGIC = [
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF8", "image/gif"),
    (b"BM", "image/bmp"),
]


def infer_mime(name: str, data: bytes, declared: str = "") -> str:
    """A declared type if it says something, else from the name, else from the bytes."""
    declared = declared.split(";", 1)[0].strip().lower()
    if declared and declared != OCTET:
        return declared
    by_name = wx_media.mime_for_name(name.lower())
    if by_name == OCTET:
        by_name = mimetypes.guess_type(name.lower())[0] or OCTET
    if by_name != OCTET:
        return by_name
    for magic, mime in _MAGIC:
        if data.startswith(magic):
            return mime
    return OCTET


def wants_media(ctx: Context, p: Any) -> bool:
    """Whether a request names media: media_id, media_path, media_data or a file part."""
    return has_media(p) or bool(ctx.files)


def _type_code(media_type: str | None) -> int | None:
    if not media_type:
        return None
    code = TYPE_CODES.get(media_type)
    if code is None:
        raise ApiError(codes.BAD_PARAMETER,
                       f"invalid parameter media_type: one of {', '.join(TYPE_CODES)}")  # fmt: skip
    return code


def _int(value: str | None, name: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise ApiError(codes.BAD_PARAMETER, f"invalid parameter {name}: not an integer") from None


def _reuse(ctx: Context, p: Any) -> UploadedMedia:
    """A media_id from an earlier send or upload: nothing is uploaded again."""
    known = ctx.app.media.get(p.media_id)
    forced = _type_code(p.media_type)
    if isinstance(known, UploadedMedia):
        media = known if forced is None else msgspec.structs.replace(known, media_code=forced)
    else:
        bare, code = wx_media.parse_media_id(p.media_id, forced or 6)
        if not bare:
            raise ApiError(codes.BAD_PARAMETER, "invalid parameter media_id: empty")
        name = p.media_name or ""
        media = UploadedMedia(
            media_id=bare, media_code=forced or code, name=name,
            size=_int(p.media_size, "media_size") or 0,
            ext=p.media_ext or (name.rsplit(".", 1)[-1] if "." in name else ""),
            mime=p.media_mime or "", mtime=_int(p.media_mtime, "media_mtime") or 0,
        )  # fmt: skip
    if media.media_code == 6 and not (media.name and media.size):
        raise ApiError(codes.BAD_PARAMETER,
                       "reusing a file media_id needs media_name and media_size "
                       "(or a media_id this worker uploaded)")  # fmt: skip
    return media


def _check_path(ctx: Context, spec: str) -> None:
    """Refuse (410) what may never be read: other URL schemes, paths outside the folders."""
    if "://" in spec[:12]:
        if not spec.lower().startswith(("http://", "https://")):
            raise ApiError(codes.MEDIA_REFUSED, "media_path: only http(s) URLs are fetched")
        return
    allowed = [os.path.realpath(d) for d in ctx.config.allowed_media_dirs if d]
    real = os.path.realpath(os.path.expanduser(spec))
    if not any(Path(real).is_relative_to(d) for d in allowed):
        raise ApiError(
            codes.MEDIA_REFUSED,
            "media_path refused: local files are read only from "
            + ", ".join(allowed) + " (config media_allowed_dirs)",
        )


async def _load(ctx: Context, p: Any) -> MediaFile:
    size_max = ctx.config.media_size_max
    if ctx.files:
        part = next((f for f in ctx.files if f.field in ("media", "media_data", "file")),
                    ctx.files[0])  # fmt: skip
        if len(part.data) > size_max:
            raise ApiError(codes.MEDIA_UNAVAILABLE,
                           f"media size exceed, maximum size is {size_max} bytes")  # fmt: skip
        name = os.path.basename(part.filename or p.media_name or "")
        mime = infer_mime(name, part.data, "" if part.content_type == "text/plain" and not name
                          else part.content_type)  # fmt: skip
        if not name:
            name = f"{int(time.time() * 1000)}.{wx_media.ext_for('', mime) or 'dat'}"
        media = MediaFile(data=part.data, name=name, mime=mime, path=name,
                          mtime=int(time.time()))  # fmt: skip
    elif p.media_data:
        data = p.media_data.encode("utf-8", "surrogateescape")
        media = wx_media.from_data(data, name=p.media_name or "", mime=p.media_mime or "",
                                   ext=p.media_ext or "")  # fmt: skip
    else:
        spec = p.media_path.strip()
        _check_path(ctx, spec)
        try:
            media = await wx_media.load_media(spec, ctx.config)
        except InvalidArgument as exc:
            raise ApiError(codes.MEDIA_UNAVAILABLE, str(exc)) from exc
        media.mime = infer_mime(media.name, media.data, media.mime)
    return media


async def resolve_media(ctx: Context, p: Any) -> MediaFile | UploadedMedia:
    """The media of a send or upload request (``has_media(p)`` must be true)."""
    if p.media_id:
        return _reuse(ctx, p)
    media = await _load(ctx, p)
    if p.media_name:
        media.name = p.media_name
    if p.media_mime:
        media.mime = p.media_mime
    media.ext = p.media_ext or wx_media.ext_for(media.name, media.mime) or "dat"
    media.code = _type_code(p.media_type)
    mtime = _int(p.media_mtime, "media_mtime")
    if mtime is not None:
        media.mtime = mtime
    return media


def remember_upload(ctx: Context, media: UploadedMedia) -> None:
    """Keep an upload for reuse by its API id and by its bare MediaId."""
    ctx.app.media.remember(media.api_id, media)
    ctx.app.media.remember(media.media_id, media)
