"""Download endpoints (web-protocol.md 7.7): message images, voice, video (with Range),
attachments on the file host, and avatars. Answers are raw bytes with the type a client
sniffs; errors are the usual JSON `BaseResponse` (what a client gets for a bad id).
"""

from __future__ import annotations

import re
from urllib.parse import quote

from wechat_sim.errors import RET_PARAM, SessionEnded, SimError
from wechat_sim.media import VIDEO_TYPES
from wechat_sim.model import Session
from wechat_sim.protocol.auth import authenticate
from wechat_sim.protocol.http import Request, Response
from wechat_sim.world import World

AVATAR_CACHE = ("cache-control", "max-age=604800")
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def _msgid(req: Request) -> str:
    """MsgID / msgid (query names are case-folded by Request.query, 12.3)."""
    return req.query.get("msgid", "").strip()


async def msgimg(world: World, req: Request) -> Response:
    """webwxgetmsgimg?MsgID=&skey=[&type=slave|big]: image, thumbnail, sticker, video cover."""
    session = authenticate(world, req)
    data, mime = world.message_image(session, _msgid(req), req.query.get("type", ""))
    return Response(200, data, mime)


async def voice(world: World, req: Request) -> Response:
    session = authenticate(world, req)
    m = world.message_media(session, _msgid(req), (34,))
    return Response(200, m.media or b"", "audio/mpeg")


def byte_range(header: str, size: int) -> tuple[int, int] | None:
    """The first range of a `Range: bytes=...` header as (first, last), None if unsatisfiable."""
    m = _RANGE.match(header.split(",")[0].strip())
    if m is None:
        return (0, size - 1) if size else None
    first, last = m.groups()
    if not first:  # suffix range: the last N bytes
        if not last or int(last) == 0 or size == 0:
            return None
        return max(0, size - int(last)), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        return None
    return start, end


async def video(world: World, req: Request) -> Response:
    """webwxgetvideo: 206 + Content-Range for a Range request (all clients send one)."""
    session = authenticate(world, req)
    m = world.message_media(session, _msgid(req), VIDEO_TYPES)
    data = m.media or b""
    header = req.headers.get("range")
    if header is None:
        return Response(200, data, "video/mp4", [("accept-ranges", "bytes")])
    span = byte_range(header, len(data))
    if span is None:
        return Response(416, b"", "video/mp4", [("content-range", f"bytes */{len(data)}")])
    first, last = span
    headers = [("accept-ranges", "bytes"), ("content-range", f"bytes {first}-{last}/{len(data)}")]
    return Response(206, data[first : last + 1], "video/mp4", headers)


def _file_session(world: World, req: Request) -> Session:
    """The session of a file-host download: the cookies, or (a client without a cookie jar)
    the `webwx_data_ticket` parameter with `fromuser` = wxuin."""
    ticket = req.query.get("webwx_data_ticket", "")
    try:
        session = authenticate(world, req)
    except SessionEnded:
        fromuser = req.query.get("fromuser", "")
        for candidate in reversed(world.sessions):
            if candidate.alive and ticket and candidate.data_ticket == ticket:
                if not fromuser.isdigit() or int(fromuser) == candidate.uin:
                    return candidate
        raise
    if ticket and ticket != session.data_ticket:
        raise SimError(RET_PARAM, "webwx_data_ticket does not match the session")
    return session


async def media(world: World, req: Request) -> Response:
    """webwxgetmedia on the file host: an attachment by MediaId, named in Content-Disposition."""
    session = _file_session(world, req)
    m = world.attachment(session, req.query.get("mediaid", ""))
    name = m.file_name or "file"
    disposition = f"attachment; filename*=UTF-8''{quote(name, safe='')}"
    if name.isascii() and '"' not in name:
        disposition = f'attachment; filename="{name}"'
    return Response(
        200, m.media or b"", "application/octet-stream", [("content-disposition", disposition)]
    )


async def icon(world: World, req: Request) -> Response:
    """webwxgeticon (contacts, group members) and webwxgetheadimg (groups): a JPEG."""
    session = authenticate(world, req)
    username = req.query.get("username", "")
    if not username:
        raise SimError(RET_PARAM, "username missing")
    data = world.avatar(session, username, big=req.query.get("type") == "big")
    return Response(200, data, "image/jpeg", [AVATAR_CACHE])
