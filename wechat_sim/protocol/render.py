"""World records rendered for one session: UserNames, contact records, AddMsgList entries.

This is where internal ids become session-scoped `@...` names (web-protocol.md 5.5, 7.1).
"""

from __future__ import annotations

import zlib
from urllib.parse import quote

from wechat_sim import ids
from wechat_sim.model import Account, Group, Message, Session
from wechat_sim.protocol import wire
from wechat_sim.world import World


def escape(text: str) -> str:
    """Content escaping: HTML entities and `<br/>` for newlines (12.4)."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("\r\n", "\n").replace("\n", "<br/>")


def _is_emoji(ch: str) -> bool:
    cp = ord(ch)
    return 0x1F000 <= cp <= 0x1FAFF or 0x2600 <= cp <= 0x27BF


def emoji_spans(text: str) -> str:
    """Emoji as the web client gets them: `<span class="emoji emoji1f604"></span>` (5.5, 7.1)."""
    if not any(_is_emoji(c) for c in text):
        return text
    out = []
    for ch in text:
        if _is_emoji(ch):
            out.append(f'<span class="emoji emoji{ord(ch):x}"></span>')
        elif ch != "\ufe0f":  # the variation selector has no span of its own
            out.append(ch)
    return "".join(out)


def _py(name: str) -> tuple[str, str]:
    """A rough PYInitial / PYQuanPin: ASCII letters only (Chinese gives empty strings)."""
    words = "".join(c if c.isascii() and c.isalnum() else " " for c in name).split()
    return "".join(w[0] for w in words).upper(), "".join(words).lower()


def _seq(wxid: str) -> int:
    return zlib.crc32(wxid.encode()) % 900_000_000 + 600_000_000


def head_img_url(world: World, session: Session, wxid: str) -> str:
    user = world.username(session, wxid)
    endpoint = "webwxgetheadimg" if wxid in world.groups else "webwxgeticon"
    return f"/cgi-bin/mmwebwx-bin/{endpoint}?seq={_seq(wxid)}&username={user}&skey={session.skey}"


def encry_chatroom_id(world: World, session: Session, group: str) -> str:
    key = "#encry:" + group
    value = session.names.get(key)
    if value is None:
        value = session.names[key] = ids.encry_chatroom_id(world.rng)
    return value


def member(
    world: World, session: Session, account: Account, group: Group, wxid: str
) -> wire.Member:
    person = world.people[wxid]
    friend = account.friends.get(wxid)
    nick = friend.remark if friend and friend.remark else person.nickname  # remark shows (5.5)
    ini, full = _py(nick)
    return wire.Member(
        user_name=world.username(session, wxid),
        nick_name=emoji_spans(nick),
        attr_status=0,
        py_initial=ini,
        py_quan_pin=full,
        display_name=group.display_names.get(wxid, ""),
        key_word=wxid[:3],
    )


def contact(world: World, session: Session, wxid: str, *, members: bool = True) -> wire.Contact:
    """A contact record; groups carry their MemberList unless `members` is False."""
    account = world.account(session.account)
    if wxid in world.groups:
        g = world.groups[wxid]
        ini, full = _py(g.topic)
        member_list = [member(world, session, account, g, m) for m in g.members] if members else []
        return wire.Contact(
            user_name=world.username(session, wxid),
            nick_name=emoji_spans(g.topic),
            head_img_url=head_img_url(world, session, wxid),
            contact_flag=3 | (2048 if (account.wxid, wxid) in world.ops_state.pinned_groups else 0),
            member_count=len(member_list),
            member_list=member_list,
            py_initial=ini,
            py_quan_pin=full,
            statues=1,
            key_word=wxid[:3] if not wxid[0].isdigit() else "",
            encry_chat_room_id=encry_chatroom_id(world, session, wxid),
            is_owner=1 if g.owner == account.wxid else 0,
            chat_room_owner=world.username(session, g.owner),
        )
    person = world.people[wxid]
    friend = account.friends.get(wxid)
    flag = 0
    remark = ""
    if friend is not None:
        flag = 3 | (64 if friend.starred else 0) | (2048 if friend.pinned else 0)
        remark = friend.remark
    ini, full = _py(person.nickname)
    rini, rfull = _py(remark)
    return wire.Contact(
        user_name=world.username(session, wxid),
        nick_name=emoji_spans(person.nickname),
        head_img_url=head_img_url(world, session, wxid),
        contact_flag=flag,
        remark_name=remark,
        sex=person.sex,
        signature=person.signature,
        verify_flag=person.verify_flag,
        py_initial=ini,
        py_quan_pin=full,
        remark_py_initial=rini,
        remark_py_quan_pin=rfull,
        star_friend=1 if friend and friend.starred else 0,
        attr_status=0 if person.verify_flag or person.is_special else 233765,
        province=person.province,
        city=person.city,
        alias=person.alias,
        key_word=wxid[:3],
    )


def user(world: World, session: Session) -> wire.User:
    account = world.account(session.account)
    p = account.person
    ini, full = _py(p.nickname)
    return wire.User(
        uin=account.uin,
        user_name=world.username(session, p.wxid),
        nick_name=emoji_spans(p.nickname),
        head_img_url=head_img_url(world, session, p.wxid),
        py_initial=ini,
        py_quan_pin=full,
        sex=p.sex,
        signature=p.signature,
    )


def message(world: World, session: Session, m: Message) -> wire.Msg:
    """One AddMsgList entry; group messages from others get the `@sender:<br/>` prefix."""
    content = escape(m.content)
    if m.msg_type == 1:
        content = emoji_spans(content)
    if m.sender is not None and m.msg_type not in (10000, 10002, 51):
        content = f"{world.username(session, m.sender)}:<br/>{content}"
    recommend = wire.RecommendInfo()
    if m.recommend is not None:
        r = m.recommend
        recommend = wire.RecommendInfo(
            user_name=world.username(session, r.wxid),
            nick_name=r.nickname,
            province=r.province,
            city=r.city,
            content=r.content,
            signature=r.signature,
            alias=r.alias,
            scene=r.scene,
            verify_flag=r.verify_flag,
            sex=r.sex,
            ticket=r.ticket,
            op_code=2 if m.msg_type == 37 else 0,
        )
    encry = quote(m.file_name, safe="").replace(".", "%2E") if m.file_name else ""
    return wire.Msg(
        msg_id=str(m.msg_id),
        from_user_name=world.username(session, m.from_wxid),
        to_user_name=world.username(session, m.to_wxid),
        msg_type=m.msg_type,
        content=content,
        status=m.status,
        img_status=m.img_status,
        create_time=m.create_time,
        voice_length=m.voice_length,
        play_length=m.play_length,
        file_name=m.file_name,
        file_size=str(m.file_size) if m.file_size else "",
        media_id=m.media_id,
        url=m.url,
        app_msg_type=m.app_msg_type,
        status_notify_code=m.status_notify_code,
        status_notify_user_name=",".join(world.username(session, w) for w in m.status_notify_wxids),
        recommend_info=recommend,
        img_height=m.img_height,
        img_width=m.img_width,
        sub_msg_type=m.sub_msg_type,
        new_msg_id=m.msg_id,
        ori_content=m.ori_content,
        encry_file_name=encry,
    )


def profile(world: World, session: Session) -> wire.Profile:
    """The own-profile block of webwxsync; BitFlag 190 means changed (6.2)."""
    p = world.account(session.account).person
    return wire.Profile(
        bit_flag=190,
        user_name=wire.Buff(world.username(session, p.wxid)),
        nick_name=wire.Buff(emoji_spans(p.nickname)),
        sex=p.sex,
        alias=p.alias,
        head_img_update_flag=1,
        head_img_url=head_img_url(world, session, p.wxid),
        signature=p.signature,
    )
