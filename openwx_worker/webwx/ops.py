"""Contact and group operations (web-protocol.md §9): protocol only, no policy.

createchatroom, updatechatroom (addmember / invitemember / delmember / modtopic),
oplog (remark, stick) and verifyuser (add a friend, accept a request).  Whether to
*add* or *invite* members is the caller's decision (:func:`add_members` takes
``invite``); the session knows the server's InviteStartCount.
"""

from __future__ import annotations

import msgspec

from openwx_worker.errors import ProtocolError

from .payloads import CreateChatroomReply, Pascal, Reply
from .session import BaseRequest, Session, now_ms


class _NameItem(Pascal):
    user_name: str


class _CreateBody(Pascal):
    base_request: BaseRequest
    member_count: int
    member_list: list[_NameItem]
    topic: str = ""


class _UpdateBody(Pascal, omit_defaults=True):
    base_request: BaseRequest
    chat_room_name: str
    add_member_list: str = ""
    invite_member_list: str = ""
    del_member_list: str = ""
    new_topic: str = ""


class _OplogBody(Pascal, omit_defaults=True):
    base_request: BaseRequest
    cmd_id: int
    user_name: str
    remark_name: str | None = None
    op: int | None = msgspec.field(default=None, name="OP")


class _VerifyItem(Pascal):
    value: str
    verify_user_ticket: str = ""


class _VerifyBody(Pascal):
    base_request: BaseRequest
    opcode: int
    verify_user_list_size: int
    verify_user_list: list[_VerifyItem]
    verify_content: str
    scene_list_count: int
    scene_list: list[int]
    skey: str = msgspec.field(name="skey")


async def create_chatroom(session: Session, members: list[str], topic: str = "") -> CreateChatroomReply:
    """webwxcreatechatroom; the reply's ChatRoomName is the new group's UserName."""
    body = _CreateBody(
        base_request=session.base_request(), member_count=len(members),
        member_list=[_NameItem(user_name=m) for m in members], topic=topic,
    )
    reply = await session.post_json("webwxcreatechatroom", body, CreateChatroomReply,
                                     params={"r": now_ms()})
    if not reply.chat_room_name:
        raise ProtocolError("webwxcreatechatroom: no ChatRoomName in the answer")
    return reply


async def _update(session: Session, fun: str, body: _UpdateBody) -> None:
    await session.post_json("webwxupdatechatroom", body, Reply, params={"fun": fun})


async def add_members(session: Session, group: str, members: list[str], *, invite: bool) -> None:
    """updatechatroom fun=addmember, or fun=invitemember for large groups."""
    joined = ",".join(members)
    base = session.base_request()
    if invite:
        body = _UpdateBody(base_request=base, chat_room_name=group, invite_member_list=joined)
        await _update(session, "invitemember", body)
    else:
        body = _UpdateBody(base_request=base, chat_room_name=group, add_member_list=joined)
        await _update(session, "addmember", body)


async def del_members(session: Session, group: str, members: list[str]) -> None:
    body = _UpdateBody(base_request=session.base_request(), chat_room_name=group,
                       del_member_list=",".join(members))
    await _update(session, "delmember", body)


async def mod_topic(session: Session, group: str, topic: str) -> None:
    body = _UpdateBody(base_request=session.base_request(), chat_room_name=group,
                       new_topic=topic)
    await _update(session, "modtopic", body)


async def set_remark(session: Session, user: str, remark: str) -> None:
    """webwxoplog CmdId 2."""
    body = _OplogBody(base_request=session.base_request(), cmd_id=2, user_name=user,
                      remark_name=remark)
    await session.post_json("webwxoplog", body, Reply)


async def stick(session: Session, user: str, on: bool) -> None:
    """webwxoplog CmdId 3 (pin / unpin a chat)."""
    body = _OplogBody(base_request=session.base_request(), cmd_id=3, user_name=user,
                      op=1 if on else 0)
    await session.post_json("webwxoplog", body, Reply)


async def verify_user(
    session: Session, user: str, *, opcode: int, ticket: str = "", content: str = "",
) -> None:
    """webwxverifyuser: opcode 2 sends a friend request, 3 accepts one (§9.4)."""
    body = _VerifyBody(
        base_request=session.base_request(), opcode=opcode, verify_user_list_size=1,
        verify_user_list=[_VerifyItem(value=user, verify_user_ticket=ticket)],
        verify_content=content, scene_list_count=1, scene_list=[33], skey=session.creds.skey,
    )
    await session.post_json("webwxverifyuser", body, Reply, params={"r": now_ms()})
