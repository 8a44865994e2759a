"""Sending: text, chunked media upload, image/video/emoticon/file sends, revoke (§8).

Protocol only.  Every send takes the ``client_msg_id`` from the caller, so a retry
of the same message can reuse it and the server de-duplicates (§8.1); pacing and
retries live in :mod:`openwx_worker.client_send`.  Each send returns WeChat's
server ``MsgID`` (needed for revoke).
"""

from __future__ import annotations

import hashlib
import math
import time
from email.utils import formatdate
from xml.sax.saxutils import escape

import msgspec

from openwx_worker.errors import ProtocolError

from .errors import translated
from .payloads import Pascal, Reply, SendReply, UploadReply, encode
from .session import BaseRequest, Session

CHUNK_SIZE = 512 * 1024
FILE_APP_ID = "wxeb7ec651dd0aefa9"


class _Msg(Pascal, omit_defaults=True):
    type: int
    from_user_name: str
    to_user_name: str
    local_id: str = msgspec.field(name="LocalID")
    client_msg_id: str
    content: str = ""
    media_id: str = ""
    emoji_flag: int = 0


class _SendBody(Pascal):
    base_request: BaseRequest
    msg: _Msg
    scene: int = 0


class _UploadRequest(Pascal):
    upload_type: int
    base_request: BaseRequest
    client_media_id: int
    total_len: int
    start_pos: int
    data_len: int
    media_type: int
    from_user_name: str
    to_user_name: str
    file_md5: str


class _RevokeBody(Pascal):
    base_request: BaseRequest
    client_msg_id: str
    svr_msg_id: str
    to_user_name: str


def _msg_id(reply: SendReply, what: str) -> str:
    msg_id = str(reply.msg_id or "")
    if not msg_id:
        raise ProtocolError(f"{what}: no MsgID in the answer")
    return msg_id


async def _send(session: Session, name: str, msg: _Msg, params: dict[str, str]) -> str:
    body = _SendBody(base_request=session.base_request(), msg=msg)
    reply = await session.post_json(name, body, SendReply, params=params)
    return _msg_id(reply, name)


def _msg(session: Session, type_: int, to: str, client_msg_id: str, **fields) -> _Msg:
    return _Msg(type=type_, from_user_name=session.user_name, to_user_name=to,
                local_id=client_msg_id, client_msg_id=client_msg_id, **fields)


async def send_text(session: Session, to: str, content: str, client_msg_id: str) -> str:
    """webwxsendmsg (Type 1); returns the server MsgID."""
    msg = _msg(session, 1, to, client_msg_id, content=content)
    return await _send(session, "webwxsendmsg", msg, {})


async def send_image(session: Session, to: str, media_id: str, client_msg_id: str) -> str:
    msg = _msg(session, 3, to, client_msg_id, media_id=media_id)
    return await _send(session, "webwxsendmsgimg", msg, {"fun": "async", "f": "json"})


async def send_video(session: Session, to: str, media_id: str, client_msg_id: str) -> str:
    msg = _msg(session, 43, to, client_msg_id, media_id=media_id)
    return await _send(session, "webwxsendvideomsg", msg, {"fun": "async", "f": "json"})


async def send_emoticon(session: Session, to: str, media_id: str, client_msg_id: str) -> str:
    msg = _msg(session, 47, to, client_msg_id, media_id=media_id, emoji_flag=2)
    return await _send(session, "webwxsendemoticon", msg, {"fun": "sys"})


def file_card(name: str, size: int, media_id: str, ext: str) -> str:
    """The appmsg XML that carries an uploaded file (§8.4)."""
    return (
        f"<appmsg appid='{FILE_APP_ID}' sdkver=''><title>{escape(name)}</title><des></des>"
        "<action></action><type>6</type><content></content><url></url><lowurl></lowurl>"
        f"<appattach><totallen>{size}</totallen><attachid>{escape(media_id)}</attachid>"
        f"<fileext>{escape(ext)}</fileext></appattach><extinfo></extinfo></appmsg>"
    )


async def send_file(
    session: Session, to: str, media_id: str, name: str, size: int, ext: str,
    client_msg_id: str,
) -> str:
    """webwxsendappmsg with Type 6 (the AppMsgType) and the file card."""
    msg = _msg(session, 6, to, client_msg_id, media_id=media_id,
               content=file_card(name, size, media_id, ext))
    return await _send(session, "webwxsendappmsg", msg, {"fun": "async", "f": "json"})


def upload_media_type(mime: str, name: str) -> str:
    """The upload form's ``mediatype``: pic, video or doc (§8.3)."""
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext in ("jpg", "jpeg", "png", "bmp"):
        return "pic"
    if ext == "mp4" or mime == "video/mp4":
        return "video"
    return "doc"


async def upload(
    session: Session, data: bytes, name: str, mime: str, to: str = "filehelper",
) -> str:
    """webwxuploadmedia on the file host, in 512 KiB chunks sent in order; the MediaId."""
    size = len(data)
    chunks = max(1, math.ceil(size / CHUNK_SIZE))
    request = _UploadRequest(
        upload_type=2, base_request=session.base_request(),
        client_media_id=int(session.next_client_msg_id()), total_len=size, start_pos=0, data_len=size,
        media_type=4, from_user_name=session.user_name, to_user_name=to,
        file_md5=hashlib.md5(data).hexdigest(),
    )
    request_json = encode(request).decode()
    pass_ticket = session.creds.pass_ticket
    url = session.hosts.url("file", "webwxuploadmedia")
    media_id = ""
    for index in range(chunks):
        form = {
            "id": "WU_FILE_0", "name": name, "type": mime,
            "lastModifiedDate": formatdate(time.time(), usegmt=True),
            "size": str(size),
        }
        if chunks > 1:
            form.update({"chunks": str(chunks), "chunk": str(index)})
        form.update({
            "mediatype": upload_media_type(mime, name), "uploadmediarequest": request_json,
            "webwx_data_ticket": session.data_ticket(), "pass_ticket": pass_ticket,
        })
        part = data[index * CHUNK_SIZE:(index + 1) * CHUNK_SIZE]
        with translated("uploadmedia"):
            response = await session.http.post(
                url, params={"f": "json"}, data=form,
                files={"filename": (name, part, mime or "application/octet-stream")},
            )
        reply = Session.check_reply(response, "webwxuploadmedia", UploadReply)
        media_id = reply.media_id or media_id
    if not media_id:
        raise ProtocolError("webwxuploadmedia: no MediaId in the answer")
    return media_id


async def revoke(session: Session, to: str, svr_msg_id: str, client_msg_id: str) -> None:
    """webwxrevokemsg for a message this session sent (§8.5)."""
    body = _RevokeBody(base_request=session.base_request(), client_msg_id=client_msg_id,
                       svr_msg_id=svr_msg_id, to_user_name=to)
    await session.post_json("webwxrevokemsg", body, Reply)

