"""Downloads: received media (image, voice, video, attachment) and avatars (§7.7).

Protocol only; each function returns ``(bytes, content_type)``.  Which endpoint
and host serve which message type is decided here, in one table-like function
(:func:`download_message_media`), so the client only passes the message record.
"""

from __future__ import annotations

from .errors import check_status, translated
from .payloads import AddMsg
from .session import Session


async def _get(session: Session, url: str, what: str, params: dict, headers: dict | None = None,
               ) -> tuple[bytes, str]:
    with translated(what):
        response = await session.http.get(url, params=params, headers=headers or {})
    check_status(response, what)
    mime = response.headers.get("content-type", "application/octet-stream").split(";")[0]
    return response.content, mime.strip()


async def download_message_media(session: Session, msg: AddMsg) -> tuple[bytes, str]:
    """The media of a received message: image/emoticon, voice, video or file."""
    c = session.creds
    msg_id = str(msg.msg_id)
    if msg.msg_type in (3, 47):
        params = {"MsgID": msg_id, "skey": c.skey}
        if msg.msg_type == 47:
            params["type"] = "big"
        return await _get(session, session.hosts.url("main", "webwxgetmsgimg"), "getmsgimg", params)
    if msg.msg_type == 34:
        return await _get(session, session.hosts.url("main", "webwxgetvoice"), "getvoice",
                          {"msgid": msg_id, "skey": c.skey})
    if msg.msg_type in (43, 62):
        return await _get(session, session.hosts.url("main", "webwxgetvideo"), "getvideo",
                          {"msgid": msg_id, "skey": c.skey}, {"Range": "bytes=0-"})
    params = {
        "sender": msg.from_user_name, "mediaid": msg.media_id, "filename": msg.file_name,
        "encryfilename": msg.encry_file_name, "fromuser": c.uin,
        "pass_ticket": c.pass_ticket, "webwx_data_ticket": session.data_ticket(),
    }
    return await _get(session, session.hosts.url("file", "webwxgetmedia"), "getmedia", params)


async def download_avatar(session: Session, user_name: str, *, group: bool = False,
                          chatroom_id: str = "") -> tuple[bytes, str]:
    """An avatar: webwxgetheadimg for a group, webwxgeticon for a person (with
    ``chatroomid`` for a group member who is not a friend)."""
    name = "webwxgetheadimg" if group else "webwxgeticon"
    params = {"seq": "0", "username": user_name, "skey": session.creds.skey}
    if chatroom_id:
        params["chatroomid"] = chatroom_id
    return await _get(session, session.hosts.url("main", name), "avatar", params)
