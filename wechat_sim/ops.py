"""Operation verbs of the world: groups, remarks, pins, friend requests, revoke (web-protocol.md
8.5, 9). No HTTP: the protocol layer is `wechat_sim.protocol.ops`.

Each verb checks what the reference's strict list (9, 11, 14) says a real server checks,
then changes the world through the same fan-out as the phone-side changes (`ChangeVerbs`),
so a web-made change shows up in sync exactly like one made on the phone: ModContactList
with the full group, DelContactList, the 10000 notices, a 10002 for revokes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from wechat_sim import content as C
from wechat_sim import ids
from wechat_sim.errors import RET_GROUP_GONE, RET_PARAM, RET_SYS, SimError
from wechat_sim.model import Group, Message, Session, SyncItem

if TYPE_CHECKING:
    from wechat_sim.world import World

INVITE_START_COUNT = 40  # webwxinit's InviteStartCount: above it, addmember is refused
ACCEPTED_TEXT = "我通过了你的朋友验证请求，现在我们可以开始聊天了"


@dataclass
class OutgoingRequest:
    """A friend request an account sent from the web (webwxverifyuser Opcode 2)."""

    wxid: str
    greeting: str
    time: int


@dataclass
class OpsState:
    """World state the operations need beyond the core records."""

    outgoing: dict[str, dict[str, OutgoingRequest]] = field(default_factory=dict)  # by account
    pinned_groups: set[tuple[str, str]] = field(default_factory=set)  # (account, group)
    revoked: set[int] = field(default_factory=set)  # msg ids already revoked


class OpsVerbs:
    """Mixed into `World`."""

    ops_state: OpsState

    # -- groups --------------------------------------------------------------------------
    def _friends_of_session(self: World, session: Session, usernames: list[str]) -> list[str]:
        account = self.account(session.account)
        wxids = []
        for name in usernames:
            wxid = self.resolve(session, name)
            if wxid not in account.friends or wxid in self.groups:
                raise SimError(RET_PARAM, f"{name} is not a friend of this account")
            person = self.people[wxid]
            if person.is_special or person.verify_flag & 8:
                raise SimError(RET_PARAM, f"{name} is not a person and cannot join a group")
            if wxid != account.wxid and wxid not in wxids:
                wxids.append(wxid)
        return wxids

    def _session_group(self: World, session: Session, username: str) -> Group:
        """The group a UserName names, of which the account is still a member (else 1201)."""
        try:
            wxid = self.resolve(session, username)
        except SimError:
            raise SimError(RET_GROUP_GONE, f"no group {username}") from None
        group = self.groups.get(wxid)
        if group is None or session.account not in group.members:
            raise SimError(RET_GROUP_GONE, "the group is gone or the account left it")
        return group

    def create_chatroom(self: World, session: Session, usernames: list[str], topic: str) -> Group:
        """webwxcreatechatroom: a new group owned by the account, with its friends in it."""
        members = self._friends_of_session(session, usernames)
        if not members:
            raise SimError(RET_PARAM, "a group needs at least one other member")
        gid = ids.chatroom(self.rng)
        while gid in self.groups:
            gid = ids.chatroom(self.rng)
        group = self.add_group(Group(gid, topic, session.account, [session.account]))
        self.join_group(gid, members, inviter=session.account)
        return group

    def add_members(
        self: World, session: Session, group_name: str, usernames: list[str], *, invite: bool
    ) -> list[str]:
        """fun=addmember (small groups only) or fun=invitemember; returns the new members.

        Invited people join at once (the simulated phones accept every invitation).
        """
        group = self._session_group(session, group_name)
        if not invite and len(group.members) > INVITE_START_COUNT:
            raise SimError(RET_PARAM, f"more than {INVITE_START_COUNT} members: use invitemember")
        new = [w for w in self._friends_of_session(session, usernames) if w not in group.members]
        if new:
            self.join_group(group.wxid, new, inviter=session.account)
        return new

    def del_members(self: World, session: Session, group_name: str, usernames: list[str]) -> None:
        """fun=delmember: owner only; each removed member gets DelContactList + a notice."""
        group = self._session_group(session, group_name)
        if group.owner != session.account:
            raise SimError(RET_PARAM, "only the owner may remove members")
        wxids = [self.resolve(session, name) for name in usernames]
        for wxid in wxids:
            if wxid not in group.members or wxid == session.account:
                raise SimError(RET_PARAM, f"{wxid} cannot be removed from {group.wxid}")
        for wxid in wxids:
            self.leave_group(group.wxid, wxid, by=session.account)

    def mod_topic(self: World, session: Session, group_name: str, topic: str) -> None:
        """fun=modtopic: owner only (strict 9); every member sees the rename notice."""
        group = self._session_group(session, group_name)
        if group.owner != session.account:
            raise SimError(RET_PARAM, "only the owner may rename the group")
        if not topic.strip():
            raise SimError(RET_PARAM, "NewTopic is empty")
        self.rename_group(group.wxid, topic, by=session.account)

    # -- oplog ---------------------------------------------------------------------------
    def set_remark(self: World, session: Session, username: str, remark: str) -> None:
        """CmdId 2: only friends have remarks; the change syncs as ModContactList."""
        account = self.account(session.account)
        wxid = self.resolve(session, username)
        friendship = account.friends.get(wxid)
        if friendship is None:
            raise SimError(RET_PARAM, "remarks can only be set on friends")
        friendship.remark = remark
        self.push(account.wxid, SyncItem("mod", wxid=wxid))

    def stick(self: World, session: Session, username: str, on: bool) -> None:
        """CmdId 3: pin or unpin a chat (a friend's ContactFlag 2048, or a group)."""
        account = self.account(session.account)
        wxid = self.resolve(session, username)
        if wxid in self.groups:
            self._session_group(session, username)
            key = (account.wxid, wxid)
            if on:
                self.ops_state.pinned_groups.add(key)
            else:
                self.ops_state.pinned_groups.discard(key)
        elif wxid in account.friends:
            account.friends[wxid].pinned = on
        else:
            raise SimError(RET_PARAM, "only friends and groups can be pinned")
        self.push(account.wxid, SyncItem("mod", wxid=wxid))

    # -- friends ---------------------------------------------------------------------------
    def verify_user(
        self: World, session: Session, opcode: int, entries: list[tuple[str, str]], greeting: str
    ) -> None:
        """webwxverifyuser: 1 add directly, 2 send a request, 3 accept a pending request."""
        if opcode not in (1, 2, 3) or not entries:
            raise SimError(RET_PARAM, f"unsupported Opcode {opcode} or empty VerifyUserList")
        account = self.account(session.account)
        targets = [(self.resolve(session, name), ticket) for name, ticket in entries]
        for wxid, ticket in targets:
            if wxid in self.groups or wxid == account.wxid:
                raise SimError(RET_PARAM, f"{wxid} cannot be added as a friend")
            if opcode == 3:
                pending = account.pending_requests.get(wxid)
                if pending is None:
                    raise SimError(RET_PARAM, "no pending friend request from this user")
                if ticket and ticket != pending.ticket:
                    raise SimError(RET_PARAM, "VerifyUserTicket does not match the request")
                if not ticket and self.config.strict_verify_ticket:
                    raise SimError(RET_PARAM, "VerifyUserTicket missing")
        for wxid, _ in targets:
            if opcode == 2:
                self._request_friend(account.wxid, wxid, greeting)
            else:
                self.add_friend(account.wxid, self.people[wxid])
                if opcode == 3 and wxid in self.accounts:
                    self._accepted_by(wxid, account.wxid)

    def _request_friend(self: World, account_wxid: str, wxid: str, greeting: str) -> None:
        account = self.account(account_wxid)
        if wxid in account.friends:
            return
        requests = self.ops_state.outgoing.setdefault(account_wxid, {})
        requests[wxid] = OutgoingRequest(wxid, greeting, self.unix())
        if wxid in self.accounts:  # another simulated phone receives a real request (37)
            self.friend_request(wxid, account.person, greeting)

    def _accepted_by(self: World, requester: str, accepter: str) -> None:
        """`accepter` took `requester`'s request: the requester gets the friend and a hello."""
        self.ops_state.outgoing.get(requester, {}).pop(accepter, None)
        self.add_friend(requester, self.people[accepter], notice=False)
        self.incoming(requester, accepter, "text", ACCEPTED_TEXT)

    def accept_outgoing(self: World, account_wxid: str, wxid: str) -> None:
        """Control API: the person the account asked from the web accepts the request."""
        if wxid not in self.ops_state.outgoing.get(account_wxid, {}):
            raise SimError(RET_PARAM, f"{account_wxid} has no pending request to {wxid}")
        self._accepted_by(account_wxid, wxid)

    # -- revoke ------------------------------------------------------------------------------
    def revoke(self: World, session: Session, svr_msg_id: str, to_username: str) -> None:
        """webwxrevokemsg: the account's own web-sent message, within `revoke_window` seconds
        of trio time, else Ret -1 (8.5). The peers (and the account's own sessions, when
        sends are echoed) get a 10002."""
        account = self.account(session.account)
        message = account.messages.get(int(svr_msg_id)) if svr_msg_id.isdigit() else None
        if message is None or message.from_wxid != account.wxid or message.sent_at is None:
            raise SimError(RET_SYS, "not a message this account sent from the web")
        if self.resolve(session, to_username) != message.to_wxid:
            raise SimError(RET_SYS, "ToUserName is not the chat of this message")
        if self.now() - message.sent_at > self.config.revoke_window:
            raise SimError(RET_SYS, "the message is older than 2 minutes")
        if message.msg_id in self.ops_state.revoked:
            return
        self.ops_state.revoked.add(message.msg_id)
        chat = message.to_wxid
        if self.config.echo_sent:
            notice = self._revoke_notice(account.wxid, chat, chat, message, "你撤回了一条消息")
            self.push(account.wxid, SyncItem("msg", message=notice))
        for other in self.accounts.values():
            copy = self._copy_of(other.wxid, message) if other.wxid != account.wxid else None
            if copy is None:
                continue
            text = f'"{self.display(other, account.wxid)}" 撤回了一条消息'
            if chat in self.groups:
                notice = self._revoke_notice(chat, other.wxid, chat, copy, text, account.wxid)
            else:
                notice = self._revoke_notice(account.wxid, other.wxid, account.wxid, copy, text)
            self.deliver(other.wxid, notice)

    def _copy_of(self: World, account_wxid: str, original: Message) -> Message | None:
        """The copy `EventVerbs.send` forwarded to another simulated account, if any."""
        for m in reversed(self.accounts[account_wxid].messages.values()):
            if (
                m.sent_at == original.sent_at
                and m.client_msg_id == original.client_msg_id
                and m.content == original.content
                and original.from_wxid in (m.from_wxid, m.sender)
            ):
                return m
        return None

    def _revoke_notice(
        self: World,
        frm: str,
        to: str,
        chat: str,
        revoked: Message,
        text: str,
        sender: str | None = None,
    ) -> Message:
        """A 10002 (Status 4) naming the revoked message as the receiving account knows it."""
        message = self.new_message(
            10002, frm, to, content=C.revoke_xml(chat, revoked.msg_id, text), sender=sender
        )
        message.status = 4
        return message
