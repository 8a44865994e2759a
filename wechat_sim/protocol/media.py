"""Upload and media-send endpoints (web-protocol.md 8.3, 8.4): parse, call one world verb,
answer. The multipart parser lives here because only webwxuploadmedia needs one.
"""

from __future__ import annotations

import msgspec

from wechat_sim.errors import RET_PARAM, RET_SESSION_INVALID, SimError
from wechat_sim.media import THUMB_SIZE, encry_file_name, image_size
from wechat_sim.protocol import wire
from wechat_sim.protocol.auth import authenticate, client_id, decode, outgoing, pass_ticket_ok
from wechat_sim.protocol.http import Request, Response
from wechat_sim.world import World

# Upload answers carry this header on the real service (8.3).
CORS = ("access-control-allow-origin", "https://wx.qq.com")


class UploadMediaRequest(msgspec.Struct, rename="pascal"):
    upload_type: int | str = 2
    base_request: wire.BaseRequest | None = None
    client_media_id: int | str | float | None = None
    total_len: int | str | None = None
    start_pos: int | str = 0
    data_len: int | str | None = None
    media_type: int | str = 4
    from_user_name: str = ""
    to_user_name: str = ""
    file_md5: str = ""


class UploadResp(msgspec.Struct, rename="pascal"):
    base_response: wire.BaseResponse
    media_id: str = ""
    start_pos: int = 0
    c_d_n_thumb_img_height: int = msgspec.field(default=0, name="CDNThumbImgHeight")
    c_d_n_thumb_img_width: int = msgspec.field(default=0, name="CDNThumbImgWidth")
    encry_file_name: str = ""


class MediaMsg(msgspec.Struct, rename="pascal"):
    type: int | None = None
    media_id: str = ""
    content: str = ""
    from_user_name: str = ""
    to_user_name: str = ""
    local_i_d: int | str | float | None = msgspec.field(default=None, name="LocalID")
    client_msg_id: int | str | float | None = None
    emoji_flag: int | None = None
    emoticon_md5: str = msgspec.field(default="", name="EMoticonMd5")


class MediaSendReq(wire.Req):
    msg: MediaMsg | None = None
    scene: int = 0


# -- multipart/form-data ----------------------------------------------------------------


class Part(msgspec.Struct):
    name: str
    data: bytes
    filename: str | None = None
    content_type: str = ""


def _params(header: str) -> tuple[str, dict[str, str]]:
    """`form-data; name="x"; filename="a b.jpg"` -> ("form-data", {name:, filename:})."""
    head, _, rest = header.partition(";")
    params: dict[str, str] = {}
    while rest:
        rest = rest.lstrip(" ;")
        key, eq, rest = rest.partition("=")
        if not eq:
            break
        if rest.startswith('"'):
            end = 1
            while end < len(rest) and rest[end] != '"':
                end += 2 if rest[end] == "\\" else 1
            value, rest = rest[1:end].replace('\\"', '"'), rest[end + 1 :]
        else:
            value, _, rest = rest.partition(";")
            value = value.strip()
        params[key.strip().lower()] = value
    return head.strip().lower(), params


def parse_multipart(req: Request) -> dict[str, Part]:
    """The parts of a multipart/form-data body by field name (first wins)."""
    kind, params = _params(req.headers.get("content-type", ""))
    boundary = params.get("boundary", "")
    if kind != "multipart/form-data" or not boundary:
        raise SimError(RET_PARAM, "webwxuploadmedia needs a multipart/form-data body")
    delimiter = b"--" + boundary.encode("latin-1")
    parts: dict[str, Part] = {}
    for chunk in req.body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        head, sep, data = chunk.partition(b"\r\n\r\n")
        if not sep:
            continue
        if data.endswith(b"\r\n"):
            data = data[:-2]
        headers = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, colon, value = line.partition(":")
            if colon:
                headers[name.strip().lower()] = value.strip()
        _, disp = _params(headers.get("content-disposition", ""))
        if "name" in disp:
            parts.setdefault(
                disp["name"],
                Part(disp["name"], data, disp.get("filename"), headers.get("content-type", "")),
            )
    return parts


def _int(value: object, default: int) -> int:
    text = str(value).strip() if value is not None else ""
    return int(text) if text.isdigit() else default


# -- handlers -------------------------------------------------------------------------------


async def upload(world: World, req: Request) -> Response:
    """webwxuploadmedia?f=json on the file host: one chunk per call; MediaId on the last."""
    parts = parse_multipart(req)

    def text(name: str) -> str:
        part = parts.get(name)
        return part.data.decode("utf-8", "replace") if part else ""

    umr_part = parts.get("uploadmediarequest")
    if umr_part is None:
        raise SimError(RET_PARAM, "uploadmediarequest missing")
    try:
        umr = msgspec.json.decode(umr_part.data, type=UploadMediaRequest, strict=False)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise SimError(RET_PARAM, f"bad uploadmediarequest: {exc}") from None
    session = authenticate(world, req, umr.base_request)
    if not pass_ticket_ok(session, text("pass_ticket") or None):
        raise SimError(RET_SESSION_INVALID, "pass_ticket mismatch")
    ticket = text("webwx_data_ticket") or req.cookies.get("webwx_data_ticket", "")
    if ticket != session.data_ticket:
        raise SimError(RET_PARAM, "webwx_data_ticket does not match the cookie")
    file_part = parts.get("filename")
    if file_part is None:
        raise SimError(RET_PARAM, "the file part ('filename') is missing")
    total = _int(umr.total_len, -1)
    size = _int(text("size"), total)
    if size < 0 or (total >= 0 and total != size):
        raise SimError(RET_PARAM, "size and TotalLen disagree")
    name = text("name") or file_part.filename or "file"
    progress = world.upload_chunk(
        session,
        client_media_id=client_id(umr.client_media_id),
        data=file_part.data,
        size=size,
        chunks=_int(text("chunks"), 1),
        chunk=_int(text("chunk"), 0),
        name=name,
        mime=text("type") or file_part.content_type,
        mediatype=text("mediatype") or "doc",
        md5=umr.file_md5,
    )
    answer = UploadResp(wire.BaseResponse(), start_pos=progress.received)
    if progress.blob is not None:
        answer.media_id = progress.blob.media_id
        answer.encry_file_name = encry_file_name(progress.blob.name)
        width, height = image_size(progress.blob.data)
        if width and height:
            scale = min(THUMB_SIZE[0] / width, THUMB_SIZE[1] / height, 1.0)
            answer.c_d_n_thumb_img_width = max(1, round(width * scale))
            answer.c_d_n_thumb_img_height = max(1, round(height * scale))
    resp = Response.json(answer)
    resp.headers.append(CORS)
    return resp


def _parse_send(world: World, req: Request, expected: int | None):
    body = decode(req, MediaSendReq)
    session = authenticate(world, req, body.base_request)
    msg = body.msg
    client_msg_id = outgoing(world, session, msg)
    if expected is not None and msg.type not in (None, expected):
        raise SimError(RET_PARAM, f"this endpoint sends Type {expected}, not {msg.type}")
    return session, msg, client_msg_id


def _answer(message, msg: MediaMsg, client_msg_id: str) -> Response:
    return Response.json(
        wire.MsgIdResp(
            wire.BaseResponse(),
            msg_i_d=str(message.msg_id),
            local_i_d=client_id(msg.local_i_d) or client_msg_id,
        )  # fmt: skip
    )


async def send_image(world: World, req: Request) -> Response:
    session, msg, cid = _parse_send(world, req, 3)
    return _answer(world.send_image(session, msg.to_user_name, msg.media_id, cid), msg, cid)


async def send_video(world: World, req: Request) -> Response:
    session, msg, cid = _parse_send(world, req, 43)
    return _answer(world.send_video(session, msg.to_user_name, msg.media_id, cid), msg, cid)


async def send_emoticon(world: World, req: Request) -> Response:
    session, msg, cid = _parse_send(world, req, 47)
    message = world.send_emoticon(
        session, msg.to_user_name, cid, media_id=msg.media_id, md5=msg.emoticon_md5
    )
    return _answer(message, msg, cid)


async def send_appmsg(world: World, req: Request) -> Response:
    """Type is the AppMsgType (6 for a file), Content the appmsg XML (8.4)."""
    session, msg, cid = _parse_send(world, req, None)
    app_type = msg.type if msg.type is not None else 6
    message = world.send_appmsg(session, msg.to_user_name, app_type, msg.content, cid)
    return _answer(message, msg, cid)
