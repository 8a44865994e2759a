"""The simulated service's backend: who exists, who is logged in, what each session will sync.

Like moto's `models.py`: verbs that change the world, no HTTP, no JSON. Login verbs live in
`logins.py`, sync and send verbs in `events.py`, phone-side changes in `changes.py`; this module holds the state,
the look-ups and the fan-out of events into the per-session logs.
"""

from __future__ import annotations

import collections
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import trio

from wechat_sim import ids
from wechat_sim.changes import ChangeVerbs
from wechat_sim.errors import RET_SESSION_INVALID, NotFound, SessionEnded, SimError
from wechat_sim.events import EventVerbs
from wechat_sim.faults import Faults
from wechat_sim.logins import LoginVerbs
from wechat_sim.media import MediaStore, MediaVerbs
from wechat_sim.model import (
    Account,
    Friendship,
    Group,
    Login,
    Notifier,
    Person,
    SeenRequest,
    Session,
    SyncItem,
)
from wechat_sim.ops import OpsState, OpsVerbs
from wechat_sim.replay import ReplayVerbs
from wechat_sim.timers import Timers


@dataclass
class SimConfig:
    """Knobs of the simulated service (seconds are trio time, so tests can autojump)."""

    login_hold: float = 25.0  # QR login long-poll
    synccheck_hold: float = 25.0
    qr_lifetime: float = 300.0  # a uuid answers 400 after this
    auto_confirm: bool = False
    auto_delay: float = 0.5  # auto-confirm: delay before the scan, then before the confirm
    echo_sent: bool = False  # web-protocol.md 12.2: unknown for the real service; default no echo
    contact_page: int = 500  # webwxgetcontact page size (Seq paging)
    sync_page: int = 100  # AddMsgList items per webwxsync before ContinueFlag
    revoke_window: float = 120.0
    strict_verify_ticket: bool = False  # webwxverifyuser Opcode 3 without a ticket -> Ret 1
    replay_on_login: int = 0  # webwxinit queues the account's last N received messages again
    replay_unacked: bool = False  # a new login gets what the last session never acknowledged


class World(LoginVerbs, EventVerbs, ChangeVerbs, MediaVerbs, OpsVerbs, ReplayVerbs):
    """Accounts (phones), people, groups, pending logins and live sessions."""

    def __init__(
        self,
        config: SimConfig | None = None,
        *,
        seed: int | None = None,
        unix: Callable[[], float] = time.time,
    ) -> None:
        self.config = config or SimConfig()
        self.rng = random.Random(seed)
        self._unix = unix
        self.people: dict[str, Person] = {}
        self.accounts: dict[str, Account] = {}
        self.groups: dict[str, Group] = {}
        self.logins: dict[str, Login] = {}
        self.sessions: list[Session] = []
        self.logins_changed = Notifier()
        self.last_login_by_uin: dict[int, str] = {}
        self.media = MediaStore()  # uploads, media blobs, avatars (media.py)
        self.ops_state = OpsState()  # web friend requests, pinned groups, revokes (ops.py)
        self.faults = Faults()  # pending fault injections (faults.py)
        self.timers = Timers()  # fired by timers.run_timers in the server's nursery
        self.requests: collections.deque[SeenRequest] = collections.deque(maxlen=2000)
        self._next_msg_id = 1_000_000_000_000_000_000 + self.rng.randrange(10**17)

    # -- time -----------------------------------------------------------------------
    def now(self) -> float:
        """Monotonic trio time: deadlines and long-polls (a MockClock in tests)."""
        return trio.current_time()

    def unix(self) -> int:
        """Wall-clock seconds for CreateTime and friends."""
        return int(self._unix())

    # -- building the world -----------------------------------------------------------
    def add_person(self, person: Person) -> Person:
        self.people[person.wxid] = person
        return person

    def add_account(
        self,
        person: Person,
        *,
        uin: int | None = None,
        main_host: str = "wx.qq.com",
        friends: dict[str, Friendship] | None = None,
    ) -> Account:
        self.add_person(person)
        account = Account(
            person=person,
            uin=uin if uin is not None else ids.uin(self.rng),
            main_host=main_host,
            friends=friends or {},
        )
        self.accounts[person.wxid] = account
        return account

    def add_group(self, group: Group) -> Group:
        self.groups[group.wxid] = group
        return group

    # -- look-ups ---------------------------------------------------------------------
    def account(self, wxid: str) -> Account:
        try:
            return self.accounts[wxid]
        except KeyError:
            raise NotFound(f"no account {wxid!r}") from None

    def person(self, wxid: str) -> Person:
        try:
            return self.people[wxid]
        except KeyError:
            raise NotFound(f"no person {wxid!r}") from None

    def group(self, wxid: str) -> Group:
        try:
            return self.groups[wxid]
        except KeyError:
            raise NotFound(f"no group {wxid!r}") from None

    def account_by_uin(self, uin: int) -> Account | None:
        for account in self.accounts.values():
            if account.uin == uin:
                return account
        return None

    def groups_of(self, wxid: str) -> list[Group]:
        return [g for g in self.groups.values() if wxid in g.members]

    def logged_in(self, wxid: str) -> bool:
        return any(s.alive and s.account == wxid for s in self.sessions)

    def live_sessions(self, wxid: str) -> list[Session]:
        return [s for s in self.sessions if s.alive and s.account == wxid]

    def find_session(self, uin: int, sid: str) -> Session:
        """The session named by (uin, sid); raises SessionEnded with its retcode if dead."""
        for session in reversed(self.sessions):
            if session.uin == uin and session.sid == sid:
                if not session.alive:
                    raise SessionEnded(session.ended, "session ended")
                return session
        raise SessionEnded(RET_SESSION_INVALID, "no such session")

    # -- per-session names --------------------------------------------------------------
    def username(self, session: Session, wxid: str) -> str:
        """The session-scoped UserName of an internal id, made on first use."""
        name = session.names.get(wxid)
        if name is None:
            if wxid in self.people and self.people[wxid].is_special:
                name = wxid
            elif wxid == session.account:
                name = ids.self_username(self.rng)
            elif wxid in self.groups:
                name = ids.group_username(self.rng)
            else:
                name = ids.username(self.rng)
            session.names[wxid] = name
            session.wxids[name] = wxid
        return name

    def resolve(self, session: Session, username: str) -> str:
        """The internal id behind a UserName of this session (SimError ret 1 if unknown)."""
        wxid = session.wxids.get(username)
        if wxid is None:
            if username in self.people and self.people[username].is_special:
                return username
            raise SimError(1, f"unknown UserName {username!r}")
        return wxid

    def is_contact_of(self, account: Account, wxid: str) -> bool:
        return (
            wxid in account.friends
            or wxid == account.wxid
            or any(wxid == g.wxid for g in self.groups_of(account.wxid))
        )

    # -- event fan-out ----------------------------------------------------------------
    def push(self, account_wxid: str, item: SyncItem) -> None:
        """Append an event to every live session of the account and wake its synccheck."""
        for session in self.live_sessions(account_wxid):
            session.log.append(item)
            session.changed.notify()

    def end_sessions(self, account_wxid: str, retcode: int) -> int:
        """The service ends every live session of the account (forced logout)."""
        count = 0
        for session in self.live_sessions(account_wxid):
            self.end_session(session, retcode)
            count += 1
        return count

    def end_session(self, session: Session, retcode: int) -> None:
        session.ended = retcode
        session.changed.notify()

    def next_msg_id(self) -> int:
        self._next_msg_id += self.rng.randrange(1, 5000)
        return self._next_msg_id
