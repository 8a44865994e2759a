"""Protocol records → Openwx models: contacts, and messages as the API reports them.

Pure functions, no I/O: the client fetches what is missing (unknown senders,
media bytes) before and after calling them.  Every name and every text content
goes through :func:`openwx_worker.text.clean` here, once, as it enters the worker.

Message shapes follow reference C.2: ``type`` friend_message / group_message /
group_notice, ``format`` text / media / app / revoke / card / payment, ``class``
recv / send (messages the phone sent are ``send`` with ``source: outer``), the
real sender of a group message from its ``@member:<br/>`` prefix, and the
expanded party fields (sender, receiver, group) from the ContactBook.
"""

from __future__ import annotations

import html
import re
import time
import xml.etree.ElementTree as ET
from typing import Any

from openwx_worker import text
from openwx_worker.contacts import ContactBook
from openwx_worker.media import MEDIA_LABELS
from openwx_worker.media import MEDIA_TYPES as MEDIA_NAMES
from openwx_worker.models import (
    UNKNOWN_NICKNAME,
    UNSET,
    Friend,
    Group,
    GroupMember,
    Message,
    ReceiveMessage,
    SendMessage,
    User,
    is_group_id,
    make_friend,
    make_group,
    make_member,
    make_user,
    sex_name,
)
from openwx_worker.webwx.payloads import AddMsg, Contact, Member

#: MsgType → (media_type, media_code, content label)
MEDIA_TYPES: dict[int, tuple[str, int, str]] = {
    t: (MEDIA_NAMES[t], t, MEDIA_LABELS[t]) for t in (3, 47, 34, 43, 62)}
FILE_MEDIA = (MEDIA_NAMES[6], 6, MEDIA_LABELS[6])
#: MsgTypes that are not user messages (handled elsewhere or ignored).
NOT_MESSAGES = frozenset({37, 40, 50, 51, 52, 53})
SELF_REVOKE_TEXT = "你撤回了一条消息"
OUTER_SEND_INFO = "来自其他设备"
_GROUP_PREFIX = re.compile(r"^(@[^:<]+):<br/>(.*)$", re.DOTALL)


# ------------------------------------------------------------------ contacts


def user_from(c: Contact, *, emoji_to_text: bool) -> User:
    return make_user(
        id=c.user_name, uid=c.uin or "", name=text.clean(c.nick_name, emoji_to_text=emoji_to_text),
        account=c.alias, province=c.province, city=c.city,
        signature=text.clean(c.signature, emoji_to_text=emoji_to_text), sex=c.sex,
        markname=text.clean(c.remark_name, emoji_to_text=emoji_to_text),
    )


def friend_from(c: Contact, *, emoji_to_text: bool) -> Friend:
    return make_friend(
        id=c.user_name, name=text.clean(c.nick_name, emoji_to_text=emoji_to_text),
        markname=text.clean(c.remark_name, emoji_to_text=emoji_to_text), account=c.alias,
        province=c.province, city=c.city,
        signature=text.clean(c.signature, emoji_to_text=emoji_to_text), sex=c.sex,
        verify_flag=c.verify_flag,
    )


def member_from(m: Member | Contact, *, emoji_to_text: bool) -> GroupMember:
    """A member from a MemberList record (brief) or a full contact record."""
    full = isinstance(m, Contact)
    return make_member(
        id=m.user_name, nickname=text.clean(m.nick_name, emoji_to_text=emoji_to_text),
        display=text.clean(m.display_name, emoji_to_text=emoji_to_text),
        account=m.alias if full else UNSET, sex=m.sex if full else UNSET,
        province=m.province if full else "", city=m.city if full else "",
        signature=text.clean(m.signature, emoji_to_text=emoji_to_text) if full else "",
    )


def group_from(c: Contact, *, self_id: str, emoji_to_text: bool) -> Group:
    return make_group(
        id=c.user_name, name=text.clean(c.nick_name, emoji_to_text=emoji_to_text),
        members=[member_from(m, emoji_to_text=emoji_to_text) for m in c.member_list],
        owner_uid=c.owner_uin, self_id=self_id,
    )


# ------------------------------------------------------------------ message helpers


def split_group_content(content: str) -> tuple[str, str]:
    """``@member:<br/>text`` → (``@member``, ``text``); ("", content) without a prefix."""
    match = _GROUP_PREFIX.match(content)
    if match is None:
        return "", content
    return match.group(1), match.group(2)


def parse_xml(content: str) -> ET.Element | None:
    """The XML of an escaped Content (app messages, cards, revokes), or None."""
    raw = html.unescape(content).replace("<br/>", "").strip()
    start = raw.find("<")
    if start < 0:
        return None
    try:
        return ET.fromstring(raw[start:])
    except ET.ParseError:
        return None


def _find_text(root: ET.Element | None, path: str) -> str:
    if root is None:
        return ""
    node = root.find(path)
    return (node.text or "").strip() if node is not None else ""


def media_kind(msg: AddMsg) -> tuple[str, int, str] | None:
    """(media_type, media_code, label) when the message carries downloadable media."""
    if msg.msg_type in MEDIA_TYPES:
        return MEDIA_TYPES[msg.msg_type]
    if msg.msg_type == 49 and msg.app_msg_type == 6:
        return FILE_MEDIA
    return None


def person_fields(prefix: str, who: User | Friend | GroupMember | None) -> dict[str, Any]:
    if who is None:
        return {prefix: UNKNOWN_NICKNAME}
    fields: dict[str, Any] = {
        prefix: who.displayname,
        f"{prefix}_account": getattr(who, "account", UNSET),
        f"{prefix}_uid": getattr(who, "uid", ""),
        f"{prefix}_name": getattr(who, "name", UNSET),
        f"{prefix}_markname": getattr(who, "markname", UNSET),
    }
    if isinstance(who, Friend) and prefix == "sender":
        fields["sender_category"] = who.category
    return fields


def group_fields(group: Group | None, group_id: str) -> dict[str, Any]:
    if group is None:
        return {"group_id": group_id, "group": "群名未知", "group_uid": "", "group_name": ""}
    return {"group_id": group_id, "group": group.displayname, "group_uid": group.uid,
            "group_name": group.name}


# ------------------------------------------------------------------ messages


def message_from(msg: AddMsg, book: ContactBook, *, emoji_to_text: bool) -> Message | None:
    """The Openwx message for one AddMsgList record, or None if it is not a message.

    Media fields other than media_type/code/id (path, mime, size...) are filled
    by the client after the download.
    """
    if msg.msg_type in NOT_MESSAGES:
        return None
    self_id = book.self_id
    outgoing = msg.from_user_name == self_id
    chat = msg.to_user_name if outgoing else msg.from_user_name
    in_group = is_group_id(chat)
    content = msg.content
    member_id = ""
    if in_group and not outgoing:
        member_id, content = split_group_content(content)
    fields = _format_fields(msg, content, emoji_to_text=emoji_to_text)
    if fields is None:
        return None

    fields["id"] = str(msg.msg_id)
    fields["time"] = msg.create_time
    if fields.get("format") == "revoke" and SELF_REVOKE_TEXT in str(fields.get("content", "")):
        outgoing = True  # your own revoke from another device: report it as sent (C.2)
    if in_group:
        group = book.group(chat)
        fields.update(group_fields(group, chat))
        me = book.member(chat, self_id) or book.user
        if msg.msg_type == 10000 and not outgoing:
            fields.update(type="group_notice", receiver_id=self_id, **person_fields("receiver", me))
            return ReceiveMessage(msg_class="recv", **fields)
        fields["type"] = "group_message"
        if outgoing:
            fields.update(sender_id=self_id, receiver_id="", source="outer", code=0,
                          msg="发送成功", info=OUTER_SEND_INFO, **person_fields("sender", me))
            return SendMessage(msg_class="send", **fields)
        sender = book.member(chat, member_id) if member_id else None
        fields.update(sender_id=member_id, receiver_id=self_id, **person_fields("sender", sender),
                      **person_fields("receiver", me))
        return ReceiveMessage(msg_class="recv", **fields)

    fields["type"] = "friend_message"
    friend = book.friend(chat)
    if outgoing:
        fields.update(sender_id=self_id, receiver_id=chat, group_id="", source="outer", code=0,
                      msg="发送成功", info=OUTER_SEND_INFO, **person_fields("sender", book.user),
                      **person_fields("receiver", friend))
        return SendMessage(msg_class="send", **fields)
    fields.update(sender_id=chat, receiver_id=self_id, **person_fields("sender", friend),
                  **person_fields("receiver", book.user))
    return ReceiveMessage(msg_class="recv", **fields)


def _format_fields(msg: AddMsg, content: str, *, emoji_to_text: bool) -> dict[str, Any] | None:
    """format, content and the per-format extras (reference C.2)."""
    t = msg.msg_type
    kind = media_kind(msg)
    if kind is not None:
        media_type, code, label = kind
        media_id = f"{msg.media_id}:6" if code == 6 else f"{msg.msg_id}:{code}"
        fields: dict[str, Any] = {"format": "media", "content": label, "media_type": media_type,
                                  "media_code": code, "media_id": media_id}
        if code == 6:
            fields["media_name"] = text.clean(msg.file_name)
        return fields
    if t in (1, 10000, 9999):
        return {"format": "text", "content": text.clean(content, emoji_to_text=emoji_to_text)}
    if t == 10002:
        root = parse_xml(content)
        replace = _find_text(root, ".//replacemsg")
        return {"format": "revoke", "revoke_id": _find_text(root, ".//msgid"),
                "content": f"[撤回消息]({replace})"}
    if t == 42:
        return _card_fields(msg, content, emoji_to_text=emoji_to_text)
    if t == 49:
        return _app_fields(msg, content)
    return None


def _card_fields(msg: AddMsg, content: str, *, emoji_to_text: bool) -> dict[str, Any]:
    info = msg.recommend_info
    root = parse_xml(content)
    avatar = root.get("bigheadimgurl", "") if root is not None else ""
    sex = sex_name(info.sex)
    name = text.clean(info.nick_name, emoji_to_text=emoji_to_text)
    lines = [f"[名片]昵称：{name}", f"[名片]性别：{sex or '未知'}",
             f"[名片]位置：{info.province} {info.city}", f"[名片]头像：{avatar}"]
    return {"format": "card", "content": "\n".join(lines), "card_name": name,
            "card_id": info.user_name, "card_province": info.province, "card_city": info.city,
            "card_account": info.alias, "card_sex": sex, "card_avatar": avatar}


def _app_fields(msg: AddMsg, content: str) -> dict[str, Any]:
    root = parse_xml(content)
    title = _find_text(root, ".//appmsg/title") or text.clean(msg.file_name) or "未知"
    url = _find_text(root, ".//appmsg/url") or msg.url or "未知"
    desc = _find_text(root, ".//appmsg/des")
    if msg.app_msg_type == 2000:
        return {"format": "payment", "content": f"[转账]({desc or title})"}
    if msg.app_msg_type == 5 and root is not None:
        name = _find_text(root, ".//appinfo/appname")
        lines = [f"[应用分享]标题：{title}", f"[应用分享]描述：{desc or '未知'}",
                 f"[应用分享]应用：{name or '未知'}", f"[应用分享]链接：{url}"]
        return {"format": "app", "content": "\n".join(lines), "app_title": title,
                "app_url": url, "app_id": msg.app_info.app_id, "app_name": name,
                "app_desc": desc}
    return {"format": "app", "content": f"[应用分享]标题：{title}\n[应用分享]链接：{url}",
            "app_title": title, "app_url": url, "app_id": msg.app_info.app_id}


def log_line(message: Message) -> str:
    """One line per message for the log, like Mojo::Weixin's ShowMsg: the message's
    time, then ``[好友消息] Carol -> Alice : hi``, ``[群消息] Carol @ 测试群 : hi`` or
    ``[群提示] 测试群 : …``; line breaks in the content are shown as ``\\n``."""

    def shown(value: object) -> str:
        return "" if value is UNSET else str(value)

    stamp = time.strftime("%H:%M:%S", time.localtime(int(message.time or 0) or None))
    body = str(message.content).replace("\r", "").replace("\n", "\\n")
    if message.type == "friend_message":
        line = f"[好友消息] {shown(message.sender)} -> {shown(message.receiver)} : {body}"
    elif message.type == "group_notice":
        line = f"[群提示] {shown(message.group)} : {body}"
    else:
        line = f"[群消息] {shown(message.sender)} @ {shown(message.group)} : {body}"
    return f"{stamp} {line}"
