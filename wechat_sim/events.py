"""Sync and message verbs of the world: sync keys, delivering, sending, status notify.

Each session keeps an append-only log; a sync key names a position in it. SyncKey (for
webwxsync) and SyncCheckKey (for synccheck) are issued as different key lists for the same
position and recorded per session. webwxsync accepts any key issued to this session (strict 7:
unknown or forged keys are refused), a SyncCheckKey included: itchat 1.3.10 sends the
SyncCheckKey to webwxsync and worked against the real service, whose two lists are "usually
identical" (6.2), so refusing it would be stricter than the real server (12.3).
Re-sending an old SyncKey re-delivers the same events, as the real service does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from wechat_sim import content as C
from wechat_sim.errors import RET_GROUP_GONE, RET_PARAM, SimError
from wechat_sim.model import Account, Message, Session, SyncItem

if TYPE_CHECKING:
    from wechat_sim.world import World

Pairs = tuple[tuple[int, int], ...]


@dataclass
class SyncResult:
    messages: list[Message]
    modified: list[str]  # wxids (contacts or groups) to send in ModContactList
    deleted: list[str]
    profile_changed: bool
    continue_flag: int
    sync_key: Pairs
    check_key: Pairs


class EventVerbs:
    """Mixed into `World`."""

    # -- keys --------------------------------------------------------------------------
    def _issue(self: World, session: Session, kind: str, position: int) -> Pairs:
        base = session.key_base + position
        t0 = int(session.created_at) + 1_500_000_000
        if kind == "init":
            pairs: Pairs = ((1, base), (2, base + 1000), (3, base + 500), (1000, t0))
        else:
            extra = 1 if kind == "sync" else 2
            pairs = (
                (1, base),
                (2, base + 1000),
                (3, base + 500),
                (11, base + 200),
                (201, self.unix()),
                (1000, t0),
                (1001, t0 + position * 3 + extra),
            )
        session.issued_keys[pairs] = (kind, position)
        return pairs

    def init_key(self: World, session: Session) -> Pairs:
        """The key webwxinit returns: the position the client last acknowledged."""
        return self._issue(session, "init", session.acked)

    def position_for_check(self: World, session: Session, pairs: Pairs) -> int:
        """synccheck: any key issued to this session; an unknown key counts as 'behind'."""
        found = session.issued_keys.get(pairs)
        return found[1] if found else 0

    def selector(self: World, session: Session, position: int) -> int:
        """0 nothing pending; 2 messages; 6 contact changes; 4 own profile; 7 only 51s."""
        pending = session.log[position:]
        if not pending:
            return 0
        if any(i.kind == "msg" and i.message and i.message.msg_type != 51 for i in pending):
            return 2
        if any(i.kind in ("mod", "del") for i in pending):
            return 6
        if any(i.kind == "profile" for i in pending):
            return 4
        return 7

    def sync(self: World, session: Session, pairs: Pairs) -> SyncResult:
        """webwxsync: the events after the client's SyncKey, and the two next keys."""
        found = session.issued_keys.get(pairs)
        if found is None:
            raise SimError(RET_PARAM, "SyncKey was not issued to this session")
        position = found[1]
        session.acked = max(session.acked, position)
        items = session.log[position : position + self.config.sync_page]
        new_position = position + len(items)
        result = SyncResult(
            messages=[i.message for i in items if i.kind == "msg" and i.message],
            modified=[i.wxid for i in items if i.kind == "mod"],
            deleted=[i.wxid for i in items if i.kind == "del"],
            profile_changed=any(i.kind == "profile" for i in items),
            continue_flag=1 if new_position < len(session.log) else 0,
            sync_key=self._issue(session, "sync", new_position),
            check_key=self._issue(session, "check", new_position),
        )
        return result

    # -- messages ----------------------------------------------------------------------
    def deliver(self: World, account_wxid: str, message: Message) -> Message:
        """Store a message in the account's history and put it in its sessions' logs."""
        account = self.account(account_wxid)
        account.messages[message.msg_id] = message
        self.push(account_wxid, SyncItem("msg", message=message))
        return message

    def new_message(self: World, msg_type: int, from_wxid: str, to_wxid: str, **kw) -> Message:
        return Message(
            msg_id=self.next_msg_id(),
            msg_type=msg_type,
            from_wxid=from_wxid,
            to_wxid=to_wxid,
            create_time=self.unix(),
            **kw,
        )

    def send(
        self: World,
        session: Session,
        to_username: str,
        msg_type: int,
        content: str,
        client_msg_id: str,
        *,
        kind: str = "text",
        **fields,
    ) -> Message:
        """A message sent through a web session (webwxsendmsg and the media sends).

        Idempotent per ClientMsgId (strict 12); recorded in the account's `sent`; echoed to
        the account's own sessions as a message from self when `echo_sent`; delivered to
        any other simulated account it is addressed to (a friend or a shared group).
        """
        if client_msg_id and client_msg_id in session.client_msg_ids:
            return self.account(session.account).messages[session.client_msg_ids[client_msg_id]]
        account = self.account(session.account)
        try:
            to_wxid = self.resolve(session, to_username)
        except SimError:
            if to_username.startswith("@@"):
                raise SimError(RET_GROUP_GONE, "no such group") from None
            raise
        if to_wxid in self.groups and account.wxid not in self.groups[to_wxid].members:
            raise SimError(RET_GROUP_GONE, "not a member of this group")
        message = self.new_message(
            msg_type, account.wxid, to_wxid, content=content, client_msg_id=client_msg_id,
            sent_at=self.now(), **fields,
        )  # fmt: skip
        if client_msg_id:
            session.client_msg_ids[client_msg_id] = message.msg_id
        account.messages[message.msg_id] = message
        account.sent.append(
            C.sent_record(message, kind, self.unix()),
        )
        if self.config.echo_sent:
            self.push(account.wxid, SyncItem("msg", message=message))
        self._forward_to_accounts(account, message)
        self._auto_reply(account, message)
        return message

    def _auto_reply(self: World, account: Account, message: Message) -> None:
        rule = account.auto_replies.get(message.to_wxid)
        if rule is None or message.msg_type != 1:
            return
        text = rule.reply if rule.reply is not None else message.content
        group = message.to_wxid if message.to_wxid in self.groups else None
        sender = rule.member if group else message.to_wxid
        if sender is None:
            return

        def answer() -> None:
            self.incoming(account.wxid, sender, "text", text, group=group)

        self.timers.call_at(self.now() + rule.delay, answer)

    def _forward_to_accounts(self: World, sender: Account, message: Message) -> None:
        """Other simulated accounts receive what one account sends them."""
        to = message.to_wxid
        if to in self.groups:
            for member in self.groups[to].members:
                if member != sender.wxid and member in self.accounts:
                    copy = self._copy_for(message, from_wxid=to, to_wxid=member)
                    copy.sender = sender.wxid
                    self.deliver(member, copy)
        elif to in self.accounts and sender.wxid in self.accounts[to].friends:
            self.deliver(to, self._copy_for(message, from_wxid=sender.wxid, to_wxid=to))

    def _copy_for(self: World, message: Message, *, from_wxid: str, to_wxid: str) -> Message:
        fields = dict(message.__dict__)
        fields.update(msg_id=self.next_msg_id(), from_wxid=from_wxid, to_wxid=to_wxid)
        fields["status_notify_wxids"] = list(message.status_notify_wxids)
        return Message(**fields)

    def status_notify(self: World, session: Session, code: int, to_username: str) -> int:
        """webwxstatusnotify; Code 3 (inited) queues the 51/4 recent-chat list."""
        msg_id = self.next_msg_id()
        if code == 3:
            account = self.account(session.account)
            chats = self.recent_chats(account)
            message = self.new_message(
                51,
                account.wxid,
                account.wxid,
                content=C.conversation_sync(chats, self.unix()),
                status_notify_code=4,
                status_notify_wxids=chats,
            )
            session.log.append(SyncItem("msg", message=message))
            session.changed.notify()
        return msg_id

    def recent_chats(self: World, account: Account) -> list[str]:
        """Internal ids of the account's recent chats (filehelper, pinned, a few others)."""
        chats = ["filehelper"] if "filehelper" in self.people else []
        pinned = [w for w, f in account.friends.items() if f.pinned and w != "filehelper"]
        others = [w for w in account.friends if w not in pinned and w != "filehelper"][:3]
        groups = [g.wxid for g in self.groups_of(account.wxid)][:3]
        return chats + pinned + groups + others
