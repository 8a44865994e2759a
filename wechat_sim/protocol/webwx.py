"""Session endpoints (web-protocol.md 5, 6, 8.2): init, status notify, contacts, synccheck,
sync and text sending. Each parses, calls one world verb, and renders for the session.
"""

from __future__ import annotations

import trio

from wechat_sim.errors import RET_PARAM, SimError
from wechat_sim.protocol import render, wire
from wechat_sim.protocol.auth import authenticate, client_id, decode, outgoing
from wechat_sim.protocol.http import Request, Response
from wechat_sim.protocol.login import cookie_domains, set_cookie
from wechat_sim.world import World

BATCH_LIMIT = 50


async def init(world: World, req: Request) -> Response:
    body = decode(req, wire.Req)
    session = authenticate(world, req, body.base_request)
    world.replay_on_init(session)  # recent messages again, with `replay_on_login` (replay.py)
    account = world.account(session.account)
    chats = world.recent_chats(account)
    contacts = [render.contact(world, session, w) for w in chats if w != account.wxid]
    for c in contacts:  # init carries a partial MemberList with empty nicknames (5.1)
        for m in c.member_list:
            m.nick_name = ""
    chat_set = ",".join(world.username(session, w) for w in chats) + ","
    return Response.json(
        wire.InitResp(
            base_response=wire.BaseResponse(),
            count=len(contacts),
            contact_list=contacts,
            sync_key=wire.sync_key(world.init_key(session)),
            user=render.user(world, session),
            chat_set=chat_set,
            s_key=session.skey,
            system_time=world.unix(),
            mp_subscribe_msg_count=len(articles := _mp_articles(world, session)),
            mp_subscribe_msg_list=articles,
        )
    )


def _mp_articles(world: World, session) -> list[wire.MPSubscribeMsg]:
    """One article push per official account the account follows (5.1)."""
    account = world.account(session.account)
    out = []
    for wxid in account.friends:
        person = world.people[wxid]
        if person.verify_flag & 8 and not person.is_special:
            article = wire.MPArticle(
                title=f"{person.nickname} 今日推送",
                digest=person.signature or person.nickname,
                cover=f"http://mmbiz.qpic.cn/mmbiz_jpg/{wxid}/0?wx_fmt=jpeg",
                url=f"http://mp.weixin.qq.com/s?__biz={wxid}&mid=1&idx=1",
            )
            out.append(
                wire.MPSubscribeMsg(
                    user_name=world.username(session, wxid),
                    m_p_article_count=1,
                    m_p_article_list=[article],
                    time=world.unix(),
                    nick_name=person.nickname,
                )
            )
    return out


async def statusnotify(world: World, req: Request) -> Response:
    body = decode(req, wire.StatusNotifyReq)
    session = authenticate(world, req, body.base_request)
    if body.to_user_name and body.to_user_name != world.username(session, session.account):
        world.resolve(session, body.to_user_name)  # an unknown chat is refused (strict 8)
    msg_id = world.status_notify(session, body.code, body.to_user_name)
    return Response.json(wire.MsgIdResp(wire.BaseResponse(), msg_i_d=str(msg_id)))


def _contact_list(world: World, session) -> list[str]:
    account = world.account(session.account)
    friends = [w for w in account.friends if w != account.wxid]
    groups = [g.wxid for g in world.groups_of(account.wxid)]
    return friends + groups


async def getcontact(world: World, req: Request) -> Response:
    """All contacts, paged: `seq` is the offset of the page, the reply's Seq 0 ends it."""
    session = authenticate(world, req)
    everyone = _contact_list(world, session)
    seq = req.query.get("seq", "0")
    start = int(seq) if seq.isdigit() else 0
    page = everyone[start : start + world.config.contact_page]
    end = start + len(page)
    records = [render.contact(world, session, w, members=False) for w in page]
    return Response.json(
        wire.ContactResp(
            wire.BaseResponse(), len(records), records, end if end < len(everyone) else 0
        )
    )


async def batchgetcontact(world: World, req: Request) -> Response:
    """Details by UserName; groups with their full MemberList; unknown names are omitted."""
    body = decode(req, wire.BatchReq)
    session = authenticate(world, req, body.base_request)
    if len(body.list_) > BATCH_LIMIT:
        raise SimError(RET_PARAM, f"at most {BATCH_LIMIT} names per call")
    records = []
    for item in body.list_:
        wxid = session.wxids.get(item.user_name)
        if (
            wxid is None
            and item.user_name in world.people
            and world.people[item.user_name].is_special
        ):
            wxid = item.user_name
        if wxid is None or not _known(world, wxid):
            continue
        records.append(render.contact(world, session, wxid))
    return Response.json(wire.BatchResp(wire.BaseResponse(), len(records), records))


def _parse_synckey(text: str) -> tuple[tuple[int, int], ...]:
    pairs = []
    for part in text.split("|"):
        k, _, v = part.partition("_")
        if k.strip().isdigit() and v.strip().isdigit():
            pairs.append((int(k), int(v)))
    return tuple(pairs)


async def synccheck(world: World, req: Request) -> Response:
    """Long-poll on the push host: at once when events are pending, else selector 0 later."""

    def answer(retcode: int, selector: int = 0) -> Response:
        return Response.js(f'window.synccheck={{retcode:"{retcode}",selector:"{selector}"}}')

    try:
        session = authenticate(world, req)
    except SimError as exc:
        return answer(exc.ret)
    position = world.position_for_check(session, _parse_synckey(req.query.get("synckey", "")))
    with trio.move_on_after(world.config.synccheck_hold):
        while session.alive and not world.selector(session, position):
            await session.changed.wait()
    if not session.alive:
        return answer(session.ended)
    return answer(0, world.selector(session, position))


async def sync(world: World, req: Request) -> Response:
    body = decode(req, wire.SyncReq)
    session = authenticate(world, req, body.base_request)
    if body.sync_key is None:
        raise SimError(RET_PARAM, "SyncKey missing")
    result = world.sync(session, wire.pairs(body.sync_key))
    msgs = [render.message(world, session, m) for m in result.messages]
    mods = [render.contact(world, session, w) for w in result.modified if _known(world, w)]
    dels = [wire.DelContact(world.username(session, w), 0) for w in result.deleted]
    return Response.json(
        wire.SyncResp(
            base_response=wire.BaseResponse(),
            add_msg_count=len(msgs),
            add_msg_list=msgs,
            mod_contact_count=len(mods),
            mod_contact_list=mods,
            del_contact_count=len(dels),
            del_contact_list=dels,
            profile=render.profile(world, session) if result.profile_changed else wire.Profile(),
            continue_flag=result.continue_flag,
            sync_key=wire.sync_key(result.sync_key),
            sync_check_key=wire.sync_key(result.check_key),
        ),
    ).with_headers(_sync_cookies(world, req, result.sync_key))


def _sync_cookies(world: World, req: Request, key) -> list[tuple[str, str]]:
    """webwxsync's cookie side effects (6.2): wxloadtime expired, wxpluginkey = Key 1000."""
    main, _ = cookie_domains(req)
    plugin = dict(key).get(1000, 0)
    return [
        set_cookie(world, "wxloadtime", f"{world.unix()}_expired", main, 86400),
        set_cookie(world, "wxpluginkey", str(plugin), main, 86400),
    ]


def _known(world: World, wxid: str) -> bool:
    return wxid in world.groups or wxid in world.people


async def sendmsg(world: World, req: Request) -> Response:
    """webwxsendmsg: text (1) or location forward (48); idempotent per ClientMsgId."""
    body = decode(req, wire.SendReq)
    session = authenticate(world, req, body.base_request)
    msg = body.msg
    client_msg_id = outgoing(world, session, msg)
    if msg.type not in (1, 48):
        raise SimError(RET_PARAM, f"webwxsendmsg cannot send Type {msg.type}")
    message = world.send(
        session, msg.to_user_name, 1, msg.content, client_msg_id,
        kind="text" if msg.type == 1 else "location",
        sub_msg_type=48 if msg.type == 48 else 0,
    )  # fmt: skip
    return Response.json(
        wire.MsgIdResp(
            wire.BaseResponse(),
            msg_i_d=str(message.msg_id),
            local_i_d=client_id(msg.local_i_d) or client_msg_id,
        )
    )
