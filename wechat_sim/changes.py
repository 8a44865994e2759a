"""What the phone side does to an account: messages arriving, friend requests, contact and
group changes. Each verb changes the world and queues what the real service would sync
(AddMsgList, ModContactList with the full group, DelContactList, 10000 notices).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wechat_sim import blobs, ids
from wechat_sim import content as C
from wechat_sim.errors import BadRequest
from wechat_sim.model import Account, Friendship, Message, Person, Recommend, SyncItem

if TYPE_CHECKING:
    from wechat_sim.world import World

MESSAGE_KINDS = (
    "text", "image", "voice", "video", "emoji", "card", "link", "file", "app", "location",
    "system", "revoke", "microvideo", "transfer", "red_packet",
)  # fmt: skip


class ChangeVerbs:
    """Mixed into `World`."""

    def display(self: World, account: Account, wxid: str) -> str:
        """How the account names someone: remark, else nickname ("你" for itself)."""
        if wxid == account.wxid:
            return "你"
        friend = account.friends.get(wxid)
        if friend and friend.remark:
            return friend.remark
        return self.people[wxid].nickname if wxid in self.people else wxid

    def incoming(
        self: World,
        account_wxid: str,
        from_wxid: str,
        kind: str,
        text: str = "",
        *,
        group: str | None = None,
        to: str | None = None,
        data: bytes | None = None,
        file_name: str = "",
        url: str = "",
        title: str = "",
        app_type: int = 5,
        card: str | None = None,
        seconds: int = 3,
        revoke_msg_id: int | None = None,
        lat: float = 39.9,
        lng: float = 116.4,
        mentions: list[str] | None = None,
    ) -> Message:
        """A message arriving at the account (from a contact, a group member, or its own
        phone when `from_wxid` is the account itself and `to` names the chat). `mentions`
        (group text) prefixes `@<group name>` + U+2005 per member, as clients write them."""
        account = self.account(account_wxid)
        if kind not in MESSAGE_KINDS:
            raise BadRequest(f"unknown message type {kind!r}; one of {', '.join(MESSAGE_KINDS)}")
        self_sent = from_wxid == account.wxid
        sender: str | None = None
        if group is not None:
            g = self.group(group)
            if account.wxid not in g.members:
                raise BadRequest(f"{account.wxid} is not a member of {group}")
            if not self_sent and from_wxid not in g.members:
                raise BadRequest(f"{from_wxid} is not a member of {group}")
            frm, dest = (account.wxid, group) if self_sent else (group, account.wxid)
            sender = None if self_sent else from_wxid
        elif self_sent:
            if not to:
                raise BadRequest("a message from the account itself needs 'to'")
            if not self.is_contact_of(account, to) and to not in self.people:
                raise BadRequest(f"unknown chat {to!r}")
            frm, dest = account.wxid, to
        else:
            self.person(from_wxid)
            frm, dest = from_wxid, account.wxid
        if mentions:
            if group is None or kind != "text":
                raise BadRequest("mentions are for text messages in a group")
            text = self.mention_text(group, mentions) + text
        m = self.new_message(1, frm, dest, content="", sender=sender)
        self._fill(m, kind, text, data=data, file_name=file_name, url=url, title=title,
                   app_type=app_type, card=card, seconds=seconds, revoke_msg_id=revoke_msg_id,
                   account=account, lat=lat, lng=lng)  # fmt: skip
        return self.deliver(account.wxid, m)

    def mention_text(self: World, group: str, wxids: list[str]) -> str:
        g = self.group(group)
        out = []
        for w in wxids:
            if w not in g.members:
                raise BadRequest(f"{w} is not a member of {group}")
            out.append(f"@{g.display_names.get(w) or self.people[w].nickname}\u2005")
        return "".join(out)

    def group_message(
        self: World, group: str, from_wxid: str, kind: str, text: str = "", **kw
    ) -> Message:
        """Someone posts in a group: every member account receives it (the same MsgId)."""
        g = self.group(group)
        accounts = [m for m in g.members if m in self.accounts and m != from_wxid]
        if not accounts:
            raise BadRequest(f"no simulated account besides the sender is in {group}")
        first = self.incoming(accounts[0], from_wxid, kind, text, group=group, **kw)
        for other in accounts[1:]:
            copy = Message(**{**first.__dict__, "to_wxid": other, "status_notify_wxids": []})
            self.deliver(other, copy)
        return first

    def _fill(self: World, m: Message, kind: str, text: str, *, account: Account, **o) -> None:
        data: bytes | None = o["data"]
        if kind == "text":
            m.content = text
        elif kind == "image":
            m.msg_type, m.img_status = 3, 2
            m.media = data or blobs.jpeg(str(m.msg_id), (120, 90))
            m.media_mime = "image/jpeg"
            m.content, m.img_width, m.img_height = C.image_xml(m.media), 120, 90
        elif kind == "voice":
            m.msg_type = 34
            m.media, m.media_mime = data or blobs.mp3(), "audio/mpeg"
            m.voice_length = o["seconds"] * 1000
            m.content = C.voice_xml(m.media, m.voice_length)
        elif kind in ("video", "microvideo"):
            m.msg_type = 43 if kind == "video" else 62
            m.media, m.media_mime = data or blobs.mp4(), "video/mp4"
            m.play_length, m.img_width, m.img_height = o["seconds"], 320, 240
            m.content = C.video_xml(m.media, o["seconds"])
        elif kind == "emoji":
            m.msg_type, m.img_status = 47, 2
            m.media, m.media_mime = data or blobs.jpeg(str(m.msg_id)), "image/gif"
            m.content = C.emoji_xml(m.from_wxid, m.to_wxid, m.media)
        elif kind == "card":
            who = self.person(o["card"] or text)
            m.msg_type = 42
            m.recommend = Recommend(
                wxid=who.wxid, nickname=who.nickname, scene=17, sex=who.sex,
                province=who.province, city=who.city, alias=who.alias,
                verify_flag=who.verify_flag, ticket=ids.stranger_ticket(self.rng),
            )  # fmt: skip
            m.content = C.card_xml(m.recommend, stranger_id=f"v1_{who.wxid}@stranger")
        elif kind in ("link", "app"):
            m.msg_type = 49
            m.app_msg_type = 5 if kind == "link" else o["app_type"]
            m.file_name, m.url = o["title"] or text or o["url"], o["url"]
            m.content = C.app_xml(app_type=m.app_msg_type, title=m.file_name, des=text,
                                  url=o["url"], from_wxid=m.from_wxid)  # fmt: skip
        elif kind == "transfer":
            amount = text or "0.10"
            name = self.display(account, m.sender or m.from_wxid)
            m.msg_type, m.app_msg_type, m.file_name = 49, 2000, "微信转账"
            des = f"{name}向你转账{amount}元。如需收钱，请点此升级至最新版本"
            m.content = C.app_xml(app_type=2000, title="微信转账", des=des, from_wxid=m.from_wxid,
                                  extra=C.wcpayinfo(amount, str(m.msg_id), self.unix()))  # fmt: skip
        elif kind == "red_packet":  # the web gets a grey notice, not the packet (7.3)
            m.msg_type, m.content = 10000, "收到红包，请在手机上查看"
        elif kind == "file":
            m.msg_type, m.app_msg_type = 49, 6
            m.media = data if data is not None else text.encode()
            m.media_mime = "application/octet-stream"
            m.file_name = o["file_name"] or "file.txt"
            m.file_size = len(m.media)
            ext = m.file_name.rsplit(".", 1)[-1] if "." in m.file_name else ""
            m.media_id = ids.media_id(self.rng)
            m.content = C.app_xml(app_type=6, title=m.file_name, file_size=m.file_size,
                                  attach_id=m.media_id, file_ext=ext,
                                  from_wxid=m.from_wxid)  # fmt: skip
        elif kind == "location":
            m.sub_msg_type = 48
            label = text or "北京市东城区"
            m.url = f"http://apis.map.qq.com/uri/v1/geocoder?coord={o['lat']},{o['lng']}"
            m.ori_content = C.location_ori(o["lat"], o["lng"], label)
            m.content = (
                f"{label}:\n/cgi-bin/mmwebwx-bin/webwxgetpubliclinkimg?url=xxx"
                f"&msgid={m.msg_id}&pictype=location"
            )
        elif kind == "system":
            m.msg_type, m.sender, m.content = 10000, None, text
        elif kind == "revoke":
            old = account.messages.get(o["revoke_msg_id"] or 0)
            if old is None:
                raise BadRequest(f"no message {o['revoke_msg_id']} to revoke")
            chat = m.to_wxid if m.from_wxid == account.wxid else m.from_wxid
            name = self.display(account, m.sender or m.from_wxid)
            text = "你撤回了一条消息" if m.from_wxid == account.wxid else f'"{name}" 撤回了一条消息'
            m.msg_type, m.status = 10002, 4
            m.content = C.revoke_xml(chat, old.msg_id, text)

    def phone_status(self: World, account_wxid: str, code: int, chat: str) -> Message:
        """The phone reads (1), enters (2) or leaves (5) a chat: a MsgType 51 (7.4)."""
        account = self.account(account_wxid)
        if code not in (1, 2, 5):
            raise BadRequest("code must be 1, 2 or 5")
        if chat not in self.people and chat not in self.groups:
            raise BadRequest(f"unknown chat {chat!r}")
        m = self.new_message(51, account.wxid, chat, content="", status_notify_code=code,
                             status_notify_wxids=[chat])  # fmt: skip
        return self.deliver(account.wxid, m)

    def friend_request(
        self: World, account_wxid: str, person: Person, greeting: str = ""
    ) -> Message:
        """A stranger asks to be friends: MsgType 37 from `fmessage`."""
        account = self.account(account_wxid)
        if person.wxid not in self.people:
            self.add_person(person)
        person = self.people[person.wxid]
        r = Recommend(
            wxid=person.wxid, nickname=person.nickname, content=greeting,
            ticket=ids.stranger_ticket(self.rng), scene=14, sex=person.sex,
            province=person.province, city=person.city, alias=person.alias,
            signature=person.signature, verify_flag=person.verify_flag,
        )  # fmt: skip
        account.pending_requests[person.wxid] = r
        m = self.new_message(37, "fmessage", account.wxid, recommend=r,
                             content=C.friend_request_xml(r, stranger_id=f"v1_{person.wxid}@stranger"))  # fmt: skip
        m.status = 3
        return self.deliver(account.wxid, m)

    def add_friend(self: World, account_wxid: str, person: Person, *, notice: bool = True) -> None:
        """Someone becomes a friend (ModContactList + the 10000 '你已添加了X' notice)."""
        account = self.account(account_wxid)
        if person.wxid not in self.people:
            self.add_person(person)
        account.friends.setdefault(person.wxid, Friendship())
        account.pending_requests.pop(person.wxid, None)
        self.push(account.wxid, SyncItem("mod", wxid=person.wxid))
        if notice:
            text = f"你已添加了{self.display(account, person.wxid)}，现在可以开始聊天了。"
            self.deliver(
                account.wxid, self.new_message(10000, person.wxid, account.wxid, content=text)
            )

    def remove_friend(self: World, account_wxid: str, wxid: str) -> None:
        account = self.account(account_wxid)
        if account.friends.pop(wxid, None) is None:
            raise BadRequest(f"{wxid} is not a friend of {account_wxid}")
        self.push(account.wxid, SyncItem("del", wxid=wxid))

    def change_profile(
        self: World, account_wxid: str, *, nickname: str | None = None, signature: str | None = None
    ) -> None:
        """The account edits its own profile on the phone: `Profile` (BitFlag 190) in sync."""
        person = self.account(account_wxid).person
        if nickname is not None:
            person.nickname = nickname
        if signature is not None:
            person.signature = signature
        self.push(account_wxid, SyncItem("profile"))

    def rename_person(self: World, wxid: str, nickname: str) -> None:
        """A contact changes its nickname: every account that sees them gets a ModContact."""
        self.person(wxid).nickname = nickname
        for account in self.accounts.values():
            if wxid in account.friends:
                self.push(account.wxid, SyncItem("mod", wxid=wxid))
            for g in self.groups_of(account.wxid):
                if wxid in g.members:
                    self.push(account.wxid, SyncItem("mod", wxid=g.wxid))

    def _group_changed(self: World, group_wxid: str, notices: dict[str, str]) -> None:
        """ModContactList (full group) to every member account, plus its 10000 notice."""
        for member in self.groups[group_wxid].members:
            if member in self.accounts:
                self.push(member, SyncItem("mod", wxid=group_wxid))
                if member in notices:
                    m = self.new_message(10000, group_wxid, member, content=notices[member])
                    self.deliver(member, m)

    def join_group(
        self: World,
        group_wxid: str,
        wxids: list[str],
        inviter: str | None = None,
        *,
        via_qr: bool = False,
    ) -> None:
        """Members join; with an `inviter` every member account gets the 10000 notice in its
        own words (7.6): invited, invited you, or joined by scanning the inviter's QR."""
        g = self.group(group_wxid)
        for w in wxids:
            self.person(w)
        joined = [w for w in dict.fromkeys(wxids) if w not in g.members]
        if not joined:  # no change, and no "invited" notice naming people already there
            raise BadRequest(f"{', '.join(wxids) or 'nobody'}: already members of {group_wxid}")
        before = list(g.members)
        g.members.extend(joined)
        notices = {}
        if inviter is not None:
            for member in g.members:
                if member in self.accounts:
                    notices[member] = self._join_notice(member, joined, inviter, before, via_qr)
        self._group_changed(group_wxid, notices)

    def _join_notice(
        self: World, member: str, wxids: list[str], inviter: str, before: list[str], via_qr: bool
    ) -> str:
        acc = self.accounts[member]

        def names(ws: list[str]) -> str:
            return "、".join(self.display(acc, w) for w in ws)

        who = "你" if member == inviter else f'"{self.display(acc, inviter)}"'
        if via_qr:
            joined = "你" if wxids == [member] else f'"{names(wxids)}"'
            return f"{joined}通过扫描{who}分享的二维码加入群聊"
        if member == inviter:
            return f'你邀请"{names(wxids)}"加入了群聊'
        if member in wxids:
            fellows = [w for w in wxids if w != member]
            if fellows:
                return f'{who}邀请你和"{names(fellows)}"加入了群聊'
            others = [w for w in before if w not in (member, inviter)]
            if others:
                return f"{who}邀请你加入了群聊，群聊参与人还有：{names(others)}"
            return f"{who}邀请你加入了群聊"
        return f'{who}邀请"{names(wxids)}"加入了群聊'

    def leave_group(self: World, group_wxid: str, wxid: str, by: str | None = None) -> None:
        """A member leaves (no notice) or is removed by `by` (notice to the remover)."""
        g = self.group(group_wxid)
        if wxid not in g.members:
            raise BadRequest(f"{wxid} is not a member of {group_wxid}")
        g.members.remove(wxid)
        if wxid in self.accounts:
            self.push(wxid, SyncItem("del", wxid=group_wxid))
            if by is not None:
                text = f'你被"{self.display(self.accounts[wxid], by)}"移出群聊'
                self.deliver(wxid, self.new_message(10000, group_wxid, wxid, content=text))
        notices = {}
        if by is not None and by in self.accounts and by in g.members:
            notices[by] = f'你将"{self.display(self.accounts[by], wxid)}"移出了群聊'
        self._group_changed(group_wxid, notices)

    def rename_group(self: World, group_wxid: str, topic: str, by: str | None = None) -> None:
        g = self.group(group_wxid)
        g.topic = topic
        notices = {}
        if by is not None:
            for member in g.members:
                if member in self.accounts:
                    who = self.display(self.accounts[member], by)
                    notices[member] = (
                        f"你修改群名为“{topic}”" if member == by else f'"{who}"修改群名为“{topic}”'
                    )
        self._group_changed(group_wxid, notices)
