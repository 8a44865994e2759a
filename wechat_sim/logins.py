"""Login verbs of the world: QR uuids, scan/confirm, push login, ticket exchange.

A uuid moves waiting -> scanned -> confirmed -> done, or expires (web-protocol.md 12.2).
Time drives two things lazily, when a login is looked at: expiry and, with auto-confirm,
the simulated phone's scan and confirm. `next_change_at` tells long-polls when to look again,
so no background task is needed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wechat_sim import ids
from wechat_sim.errors import RET_BARRED, RET_SESSION_INVALID, SimError
from wechat_sim.model import Login, LoginState, Session

if TYPE_CHECKING:
    from wechat_sim.world import World

BARRED_TEXT = (
    "为了你的帐号安全，此微信号已不允许登录网页微信。你可以使用Windows微信或Mac微信在电脑端登录。"
)


class LoginVerbs:
    """Mixed into `World`."""

    def new_login(self: World, *, desktop: bool = False, cookie_uin: int | None = None) -> Login:
        """A fresh uuid for a QR login (jslogin)."""
        now = self.now()
        login = Login(
            uuid=self._fresh_uuid(),
            created_at=now,
            expires_at=now + self.config.qr_lifetime,
            desktop=desktop,
        )
        if cookie_uin is not None:
            login.preferred = self.last_login_by_uin.get(cookie_uin)
        return self._register_login(login)

    def push_login(self: World, uin: int, *, desktop: bool = False) -> Login:
        """webwxpushloginurl: a uuid already bound to the account, waiting for its confirm."""
        account = self.account_by_uin(uin)
        if account is None or not account.auth_ticket:
            raise SimError(1, "push login refused")
        now = self.now()
        login = Login(
            uuid=self._fresh_uuid(),
            created_at=now,
            expires_at=now + self.config.qr_lifetime,
            desktop=desktop,
            push=True,
            state=LoginState.SCANNED,
            account=account.wxid,
            scan_time=self.unix(),
        )
        return self._register_login(login)

    def _register_login(self: World, login: Login) -> Login:
        """Make a new login visible (and schedule its auto-confirm when that is on)."""
        if self.config.auto_confirm:
            login.auto_at = login.created_at + self.config.auto_delay
        self.logins[login.uuid] = login
        self.logins_changed.notify()
        return login

    def _fresh_uuid(self: World) -> str:
        while True:
            uuid = ids.uuid(self.rng)
            if uuid not in self.logins:
                return uuid

    def get_login(self: World, uuid: str) -> Login | None:
        """The login with expiry and auto-confirm steps applied up to now."""
        login = self.logins.get(uuid)
        if login is None:
            return None
        now = self.now()
        if login.state in (LoginState.WAITING, LoginState.SCANNED) and now >= login.expires_at:
            login.state = LoginState.EXPIRED
            login.auto_at = None
        while login.auto_at is not None and now >= login.auto_at:
            if login.state is LoginState.WAITING:
                self._do_scan(login, self._auto_account(login))
                login.auto_at = login.auto_at + self.config.auto_delay
            elif login.state is LoginState.SCANNED:
                self._do_confirm(login)
                login.auto_at = None
            else:
                login.auto_at = None
        return login

    def next_change_at(self: World, login: Login) -> float | None:
        """When time alone will next change this login (expiry or an auto step)."""
        times = (
            [login.expires_at] if login.state in (LoginState.WAITING, LoginState.SCANNED) else []
        )
        if login.auto_at is not None:
            times.append(login.auto_at)
        return min(times) if times else None

    def _auto_account(self: World, login: Login) -> str:
        if login.preferred in self.accounts:
            return login.preferred
        claimed = {
            other.account
            for other in self.logins.values()
            if other.account and other.state in (LoginState.SCANNED, LoginState.CONFIRMED)
        }
        for wxid in self.accounts:
            if not self.logged_in(wxid) and wxid not in claimed:
                return wxid
        for wxid in self.accounts:
            if not self.logged_in(wxid):
                return wxid
        return next(iter(self.accounts))

    def _live_login(self: World, uuid: str) -> Login:
        login = self.get_login(uuid)
        if login is None:
            raise SimError(1, f"unknown uuid {uuid!r}")
        return login

    def scan(self: World, uuid: str, wxid: str) -> Login:
        """The phone of `wxid` scans the QR (the next poll answers 201)."""
        login = self._live_login(uuid)
        self.account(wxid)
        if login.state is not LoginState.WAITING:
            raise SimError(1, f"login {uuid} is {login.state.value}, not waiting")
        self._do_scan(login, wxid)
        login.auto_at = None
        return login

    def confirm(self: World, uuid: str) -> Login:
        """The phone confirms (the next poll answers 200 with redirect_uri)."""
        login = self._live_login(uuid)
        if login.state is not LoginState.SCANNED:
            raise SimError(1, f"login {uuid} is {login.state.value}, not scanned")
        self._do_confirm(login)
        login.auto_at = None
        return login

    def cancel(self: World, uuid: str) -> Login:
        """Cancel on the phone: back to waiting, the same QR stays usable."""
        login = self._live_login(uuid)
        if login.state is LoginState.SCANNED and not login.push:
            login.state = LoginState.WAITING
            login.account = None
            login.scan_reported = False
            self.logins_changed.notify()
        return login

    def expire(self: World, uuid: str) -> Login:
        login = self._live_login(uuid)
        if login.state in (LoginState.WAITING, LoginState.SCANNED):
            login.state = LoginState.EXPIRED
            login.auto_at = None
            self.logins_changed.notify()
        return login

    def _do_scan(self: World, login: Login, wxid: str) -> None:
        login.state = LoginState.SCANNED
        login.account = wxid
        login.scan_time = self.unix()
        self.logins_changed.notify()

    def _do_confirm(self: World, login: Login) -> None:
        login.state = LoginState.CONFIRMED
        login.ticket = ids.ticket(self.rng)
        self.logins_changed.notify()

    def exchange_ticket(
        self: World, uuid: str, ticket: str, *, desktop_headers: bool = False
    ) -> Session:
        """webwxnewloginpage: a single-use ticket becomes a session (older ones end: 1101;
        with `replay_unacked` their unacknowledged messages are queued for it)."""
        login = self.get_login(uuid)
        if login is None or login.state is not LoginState.CONFIRMED or login.ticket != ticket:
            raise SimError(1, "ticket invalid or already used")
        assert login.account is not None
        account = self.account(login.account)
        if login.desktop and not desktop_headers:
            raise SimError(RET_BARRED, BARRED_TEXT)
        if account.web_barred and not login.desktop:
            raise SimError(RET_BARRED, BARRED_TEXT)
        login.state = LoginState.DONE
        self.logins_changed.notify()
        previous = self.latest_session(account.wxid)
        self.end_sessions(account.wxid, RET_SESSION_INVALID)
        if not account.auth_ticket:
            account.auth_ticket = ids.auth_ticket(self.rng)
            account.uvid = ids.uvid(self.rng)
        session = Session(
            account=account.wxid,
            uin=account.uin,
            sid=ids.sid(self.rng),
            skey=ids.skey(self.rng),
            pass_ticket=ids.pass_ticket(self.rng),
            data_ticket=ids.data_ticket(self.rng),
            main_host=account.main_host,
            created_at=self.now(),
            desktop=login.desktop,
            key_base=self.rng.randrange(600_000_000, 700_000_000),
        )
        self.sessions.append(session)
        self.username(session, account.wxid)
        self.carry_unacked(previous, session)  # replay.py; off unless `replay_unacked`
        self.last_login_by_uin[account.uin] = account.wxid
        return session

    def logout(self: World, session: Session) -> None:
        """webwxlogout: the session answers 1101 from now on."""
        if session.alive:
            self.end_session(session, RET_SESSION_INVALID)
