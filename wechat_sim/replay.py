"""Replay verbs of the world: the service delivering messages a second time.

The real service re-delivers messages it cannot be sure a client has: those an ended session
had not acknowledged (the client never sent a SyncKey past them) go to the account's next
login, and a client that initialises (a new login, or a restarted client resuming its
cookies) may get the account's recent unread messages again. They come back with their
ORIGINAL MsgIds, which is how a client can recognise them (Mojo::Weixin did not, and posted
them twice). Off by default, so other tests see each message once:

* `SimConfig.replay_unacked`: at a new login, the newest earlier session's unacknowledged
  messages are queued into the new session;
* `SimConfig.replay_on_login` = N: at every `webwxinit`, the account's last N received
  messages are queued into that session;
* `replay_recent` (control API `POST /sim/accounts/{wxid}/replay`): the last N received
  messages into every live session, now.

Replayed messages are the same `Message` records appended to the session's log again, so
they render with that session's UserNames, after whatever the log already held.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wechat_sim.model import Message, Session, SyncItem

if TYPE_CHECKING:
    from wechat_sim.world import World

STATUS_NOTIFY = 51  # per-session bookkeeping (the Code 3 chat list), never replayed


class ReplayVerbs:
    """Mixed into `World`."""

    def received_messages(self: World, account_wxid: str, count: int) -> list[Message]:
        """The account's last `count` messages from others (oldest first), as stored."""
        if count <= 0:
            return []
        account = self.account(account_wxid)
        received = [
            m for m in account.messages.values()
            if m.from_wxid != account.wxid and m.msg_type != STATUS_NOTIFY
        ]  # fmt: skip
        return received[-count:]

    def replay(self: World, session: Session, messages: list[Message]) -> None:
        """Queue `messages` again into one session's log (original MsgIds) and wake it."""
        if not messages:
            return
        session.log.extend(SyncItem("msg", message=m) for m in messages)
        session.changed.notify()

    def replay_recent(self: World, account_wxid: str, count: int) -> tuple[list[Message], int]:
        """The last `count` received messages again into every live session of the account.

        Returns the messages and how many live sessions there were (0 when nobody is logged
        in: nothing is kept for later, `replay_on_login` is for that).
        """
        messages = self.received_messages(account_wxid, count)
        sessions = self.live_sessions(account_wxid)
        for session in sessions:
            self.replay(session, messages)
        return messages, len(sessions)

    def replay_on_init(self: World, session: Session) -> None:
        """webwxinit: with `replay_on_login`, the recent received messages come again."""
        self.replay(session, self.received_messages(session.account, self.config.replay_on_login))

    def carry_unacked(self: World, previous: Session | None, session: Session) -> None:
        """A new login: with `replay_unacked`, what the previous session's client never
        acknowledged (messages after its last SyncKey) is queued for the new session."""
        if previous is None or not self.config.replay_unacked:
            return
        pending = [
            i.message for i in previous.log[previous.acked :]
            if i.kind == "msg" and i.message and i.message.msg_type != STATUS_NOTIFY
        ]  # fmt: skip
        self.replay(session, pending)

    def latest_session(self: World, account_wxid: str) -> Session | None:
        """The account's newest session, alive or ended."""
        for session in reversed(self.sessions):
            if session.account == account_wxid:
                return session
        return None
