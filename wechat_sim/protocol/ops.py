"""Operation endpoints (web-protocol.md 8.5, 9): create/update chatroom, oplog, verifyuser,
revoke. Each decodes its body leniently, calls one world verb and answers every documented key.
"""

from __future__ import annotations

import msgspec

from wechat_sim.errors import RET_PARAM, SimError
from wechat_sim.protocol import render, wire
from wechat_sim.protocol.auth import authenticate, decode
from wechat_sim.protocol.http import Request, Response
from wechat_sim.world import World

REVOKE_INTRO = "你可以撤回2分钟内发送的消息（部分旧版本微信不支持这个功能）。"
REVOKE_WORDING = "已撤回"


class NameItem(msgspec.Struct, rename="pascal"):
    user_name: str = ""


class CreateReq(wire.Req):
    member_count: int = 0
    member_list: list[NameItem] = []
    topic: str = ""


class CreateResp(msgspec.Struct, rename="pascal"):
    base_response: wire.BaseResponse
    topic: str
    py_initial: str = msgspec.field(name="PYInitial")
    quan_pin: str
    member_count: int
    member_list: list[wire.Member]
    chat_room_name: str
    black_list: str = ""


class UpdateReq(wire.Req):
    chat_room_name: str = ""
    add_member_list: str = ""
    invite_member_list: str = ""
    del_member_list: str = ""
    new_topic: str = ""


class UpdateResp(msgspec.Struct, rename="pascal"):
    base_response: wire.BaseResponse
    member_count: int = 0
    member_list: list[wire.Member] = []


class OplogReq(wire.Req):
    cmd_id: int = 0
    user_name: str = ""
    remark_name: str | None = None
    o_p: int | str = msgspec.field(default=1, name="OP")


class VerifyItem(msgspec.Struct, rename="pascal"):
    value: str = ""
    verify_user_ticket: str = ""


class VerifyReq(wire.Req):
    opcode: int = 0
    verify_user_list_size: int = 0
    verify_user_list: list[VerifyItem] = []
    verify_content: str = ""
    scene_list_count: int = 0
    scene_list: list[int] = []


class RevokeReq(wire.Req):
    client_msg_id: int | str | float | None = None
    svr_msg_id: int | str | None = None
    to_user_name: str = ""


class RevokeResp(msgspec.Struct, rename="pascal"):
    base_response: wire.BaseResponse
    introduction: str = ""
    sys_wording: str = ""


def _names(text: str) -> list[str]:
    """`"@a,@b"` -> ["@a", "@b"] (the update lists are comma-joined strings, 9.2)."""
    return [n.strip() for n in text.split(",") if n.strip()]


def _members(world: World, session, group, wxids: list[str]) -> list[wire.Member]:
    account = world.account(session.account)
    return [render.member(world, session, account, group, w) for w in wxids]


async def createchatroom(world: World, req: Request) -> Response:
    body = decode(req, CreateReq)
    session = authenticate(world, req, body.base_request)
    group = world.create_chatroom(session, [m.user_name for m in body.member_list], body.topic)
    ini, full = render._py(group.topic)
    members = _members(world, session, group, group.members)
    return Response.json(
        CreateResp(
            base_response=wire.BaseResponse(0, "Everything is OK"),
            topic=group.topic,
            py_initial=ini,
            quan_pin=full,
            member_count=len(members),
            member_list=members,
            chat_room_name=world.username(session, group.wxid),
        )
    )


async def updatechatroom(world: World, req: Request) -> Response:
    """?fun=addmember|invitemember|delmember|modtopic (9.2)."""
    body = decode(req, UpdateReq)
    session = authenticate(world, req, body.base_request)
    fun = req.query.get("fun", "")
    added: list[str] = []
    if fun in ("addmember", "invitemember"):
        names = _names(body.add_member_list if fun == "addmember" else body.invite_member_list)
        if not names:
            raise SimError(RET_PARAM, f"{fun} without members")
        added = world.add_members(session, body.chat_room_name, names, invite=fun == "invitemember")
    elif fun == "delmember":
        names = _names(body.del_member_list)
        if not names:
            raise SimError(RET_PARAM, "delmember without members")
        world.del_members(session, body.chat_room_name, names)
    elif fun == "modtopic":
        world.mod_topic(session, body.chat_room_name, body.new_topic)
    else:
        raise SimError(RET_PARAM, f"unknown fun {fun!r}")
    members = []
    if fun == "addmember" and added:
        members = _members(
            world, session, world.groups[world.resolve(session, body.chat_room_name)], added
        )
    return Response.json(UpdateResp(wire.BaseResponse(), len(members), members))


async def oplog(world: World, req: Request) -> Response:
    """CmdId 2 sets a remark, CmdId 3 pins (OP 1) or unpins (OP 0) a chat (9.3)."""
    body = decode(req, OplogReq)
    session = authenticate(world, req, body.base_request)
    if not body.user_name:
        raise SimError(RET_PARAM, "UserName missing")
    if body.cmd_id == 2:
        world.set_remark(session, body.user_name, body.remark_name or "")
    elif body.cmd_id == 3:
        world.stick(session, body.user_name, str(body.o_p).strip() not in ("0", ""))
    else:
        raise SimError(RET_PARAM, f"unsupported CmdId {body.cmd_id}")
    return Response.json(wire.PlainResp(wire.BaseResponse()))


async def verifyuser(world: World, req: Request) -> Response:
    body = decode(req, VerifyReq)
    session = authenticate(world, req, body.base_request)
    entries = [(i.value, i.verify_user_ticket) for i in body.verify_user_list]
    world.verify_user(session, body.opcode, entries, body.verify_content)
    return Response.json(wire.PlainResp(wire.BaseResponse()))


async def revokemsg(world: World, req: Request) -> Response:
    """Ret 0 with the two texts, or Ret -1 with both empty (8.5)."""
    body = decode(req, RevokeReq)
    session = authenticate(world, req, body.base_request)
    svr = str(body.svr_msg_id or "").strip()
    try:
        world.revoke(session, svr, body.to_user_name)
    except SimError as exc:
        return Response.json(RevokeResp(wire.BaseResponse(exc.ret, exc.message)))
    return Response.json(RevokeResp(wire.BaseResponse(), REVOKE_INTRO, REVOKE_WORDING))
