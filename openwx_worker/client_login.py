"""The account's login cycle: resume → push login → QR, initialisation, re-login.

:func:`live` is the client's whole life: it logs in, loads the contacts, runs the
sync loop, and when WeChat ends the session (1100/1101/1102) logs in again in
the same process.  Order of attempts (openwx-reference.md G, web-protocol.md §3):

1. at start, the saved session from the cookie file: init with its credentials;
   success is ``login[0]`` (ids unchanged);
2. push login when a uin is known (the phone confirms, no QR code);
3. the QR code: saved as the qrcode file, shown in the terminal, announced as
   ``input_qrcode``; a new code after each expiry, up to ``qrcode_count_max``
   expirations for this login (the counter restarts for each login, fixing
   reference H.10), then the client stops with a clear log line and
   ``login[-1, reason]``.

A successful push or QR login is ``login[1]`` (every id has changed).  A login
WeChat refuses (1203: web login barred for the account) is reported as
``login[-1, WeChat's message]`` and stops the client: another QR code would be
refused too (Mojo::Weixin looped forever, reference H.10).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import trio

from openwx_worker import convert
from openwx_worker.errors import (
    ClientError,
    Refused,
    SessionEnded,
    SessionInvalid,
    TransportError,
    WeChatError,
)
from openwx_worker.models import Friend, Group, is_group_id
from openwx_worker.state import ClientState
from openwx_worker.webwx import contacts as wx_contacts
from openwx_worker.webwx import login as wx_login
from openwx_worker.webwx.payloads import Contact
from openwx_worker.webwx.session import SavedCookie, SavedSession

from .client_qrcode import show_qrcode
from .client_retry import Backoff, retrying
from .client_sync import run_sync

if TYPE_CHECKING:
    from openwx_worker.client import WeixinClient

log = logging.getLogger(__name__)

QR_LIFETIME = 150.0  # seconds a QR code is polled before it counts as expired (M: 5×408)
PUSH_LIFETIME = 120.0  # seconds to wait for the phone to confirm a push login
FAST_ANSWER = 1.0  # a poll answered faster than this (no long-poll hold) is paced
S = ClientState


class GiveUp(Exception):
    """The client cannot log in and must stop (reason in the message)."""


class LoginFailed(Exception):
    """This attempt failed; try the next way of logging in."""


async def live(client: WeixinClient) -> None:
    """Log in, run, and log in again until stopped or given up.

    An unexpected error (a WeChat answer we did not foresee, a bug) never ends the
    account: it is logged, and after a backoff the login or the sync loop starts over.
    """
    first = True
    backoff = Backoff(base=2.0, cap=300.0)
    while True:
        try:
            how = await log_in(client, first)
        except GiveUp as exc:
            log.error("giving up login: %s", exc)
            client.publish_event("login", -1, str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - see the docstring
            delay = backoff.next_delay()
            log.exception("login failed unexpectedly (%s); trying again in %.0fs", exc, delay)
            await trio.sleep(delay)
            forget_login(client)
            first = False
            continue
        first = False
        client.login_count += 1
        await save_session(client)
        client.publish_event("login", how)
        await client.set_state(S.running)
        # Contact events of the load (new_friend filehelper, or the differences after a
        # resume) and the update_* events come after running, as Mojo::Weixin's did.
        for item in client.pending_events:
            client.publish(item)
        client.pending_events = []
        _publish_updates(client)
        try:
            await _sync_until_session_ends(client, backoff)
        except SessionEnded as exc:
            if client.config.stop_with_mobile and isinstance(exc, SessionInvalid):
                log.warning("WeChat ended the session (%s); stop_with_mobile is set: stopping",
                            exc)
                return
            log.warning("WeChat ended the session (%s): logging in again", exc)
            forget_login(client)
            await save_session(client)


async def _sync_until_session_ends(client: WeixinClient, backoff: Backoff) -> None:
    """run_sync, restarted after a backoff if it fails for any reason but SessionEnded."""
    while True:
        started = trio.current_time()
        try:
            await run_sync(client)
        except SessionEnded:
            raise
        except Exception as exc:  # noqa: BLE001 - the account must keep running
            if trio.current_time() - started > 600:
                backoff.reset()
            delay = backoff.next_delay()
            log.exception("sync loop failed unexpectedly (%s); restarting in %.0fs", exc, delay)
            await trio.sleep(delay)


def forget_login(client: WeixinClient) -> None:
    """Drop the dead session's credentials and keys; keep cookies and uin for push login."""
    s = client.session
    uin = s.credentials.uin if s.credentials else ""
    s.credentials = None
    s.sync_key = type(s.sync_key)()
    s.check_key = type(s.check_key)()
    client.remembered_uin = uin or client.remembered_uin


async def save_session(client: WeixinClient) -> None:
    """Write the cookie file (when keep_cookie is on)."""
    if not client.config.keep_cookie:
        return
    saved = client.session.save()
    if saved.credentials is None and not saved.cookies:
        return
    uin = client.remembered_uin
    if saved.credentials is None and uin and not any(c.name == "wxuin" for c in saved.cookies):
        saved.cookies.append(SavedCookie(name="wxuin", value=uin, domain=saved.main_host))
    data = saved.to_bytes()
    try:
        await trio.to_thread.run_sync(client.machine.files.write_cookie, data)
    except OSError:
        log.exception("cannot write the cookie file")


async def _read_saved(client: WeixinClient) -> SavedSession | None:
    if not client.config.keep_cookie:
        return None
    data = await trio.to_thread.run_sync(client.machine.files.read_cookie)
    return SavedSession.from_bytes(data) if data else None


async def log_in(client: WeixinClient, first: bool) -> int:
    """One full login; returns the login event's param (0 resumed, 1 new session)."""
    session = client.session
    await client.set_state(S.loading)
    if first:
        saved = await _read_saved(client)
        if saved is not None:
            session.restore(saved)
            client.remembered_uin = saved.uin
            if saved.credentials is not None:
                log.info("resuming the saved session of uin %s", saved.uin)
                try:
                    await load(client, keep_keys=True)
                    return 0
                except SessionEnded as exc:
                    log.info("saved session is no longer valid (%s)", exc)
                    forget_login(client)
                    await client.set_state(S.loading)
    uin = client.remembered_uin
    if uin:
        try:
            await push_login(client, uin)
            await load(client)
            return 1
        except (LoginFailed, SessionEnded) as exc:
            log.info("push login did not work (%s); using a QR code", exc)
            forget_login(client)
    while True:
        await qr_login(client)
        try:
            await load(client)
            return 1
        except SessionEnded as exc:
            log.warning("session ended while loading contacts (%s); new QR code", exc)
            forget_login(client)


async def push_login(client: WeixinClient, uin: str) -> None:
    """Ask the phone to confirm (no QR); returns with credentials, or LoginFailed."""
    session = client.session
    try:
        uuid = await wx_login.push_login(session, uin)
    except ClientError as exc:
        raise LoginFailed(f"push login request failed: {exc}") from exc
    if not uuid:
        raise LoginFailed("WeChat refused the push login")
    log.info("push login sent to the phone; waiting for confirmation")
    await client.set_state(S.confirming)
    result = await _poll(client, uuid, PUSH_LIFETIME, tip=1)
    if result is None:
        raise LoginFailed("the phone did not confirm in time")
    await _exchange(client, result)


async def _exchange(client: WeixinClient, redirect_uri: str) -> None:
    try:
        await retrying("ticket exchange", wx_login.exchange_ticket, client.session,
                        redirect_uri)
    except WeChatError as exc:
        raise LoginFailed(str(exc)) from exc


async def _poll(client: WeixinClient, uuid: str, lifetime: float, tip: int) -> str | None:
    """Poll one uuid until confirmed (the redirect_uri) or expired (None)."""
    deadline = trio.current_time() + lifetime
    backoff = Backoff()
    while trio.current_time() < deadline:
        started = trio.current_time()
        try:
            result = await wx_login.poll_login(client.session, uuid, tip)
        except TransportError as exc:
            delay = backoff.next_delay()
            log.warning("login poll failed (%s); retrying in %.1fs", exc, delay)
            await trio.sleep(delay)
            continue
        backoff.reset()
        if result.code == wx_login.PollCode.CONFIRMED and result.redirect_uri:
            if client.state is S.scaning:  # scan and confirm seen in one poll: keep the
                await client.set_state(S.confirming)  # documented state sequence
            return result.redirect_uri
        if result.code == wx_login.PollCode.SCANNED:
            if client.state is not S.confirming:
                log.info("QR code scanned; waiting for confirmation on the phone")
                await client.set_state(S.confirming)
            tip = 0
        elif result.code in (wx_login.PollCode.EXPIRED, wx_login.PollCode.ERROR):
            return None
        if trio.current_time() - started < FAST_ANSWER:
            await trio.sleep(FAST_ANSWER)  # the server did not hold the poll: pace it
    return None


async def qr_login(client: WeixinClient) -> None:
    """QR codes until one is confirmed and exchanged, or GiveUp after too many."""
    expired = 0
    limit = client.config.qrcode_count_max
    while True:
        if expired >= limit:
            await trio.to_thread.run_sync(client.machine.files.remove_qrcode)
            raise GiveUp(f"the QR code expired {expired} times without a login "
                         f"(qrcode_count_max={limit})")
        session = client.session
        uuid = await retrying("jslogin", wx_login.get_uuid, session)
        await show_qrcode(client, uuid)
        if client.state is not S.scaning:
            await client.set_state(S.scaning)
        redirect_uri = await _poll(client, uuid, QR_LIFETIME, tip=1)
        if redirect_uri is None:
            expired += 1
            log.warning("QR code expired (%d of %d)", expired, limit)
            continue
        try:
            await _exchange(client, redirect_uri)
        except LoginFailed as exc:
            await trio.to_thread.run_sync(client.machine.files.remove_qrcode)
            cause = exc.__cause__
            if isinstance(cause, Refused):
                # 1203: the account may not use this login at all; another QR code would
                # be refused too (Mojo::Weixin looped forever, reference H.10).
                hint = "" if session.uos else " (login_variant=uos may be accepted)"
                log.error("WeChat refuses web login for this account: %s%s",
                          cause.message, hint)
                raise GiveUp(cause.message or str(cause)) from exc
            expired += 1
            log.error("the login failed: %s; new QR code", exc)
            client.publish_event("login", -1, str(exc))
            continue
        await trio.to_thread.run_sync(client.machine.files.remove_qrcode)
        return


# ------------------------------------------------------------------ initialisation


async def load(client: WeixinClient, *, keep_keys: bool = False) -> None:
    """State ``updating``: webwxinit, statusnotify, every contact, every group's members.

    ``keep_keys`` (resuming a saved session): continue from the saved sync keys rather
    than init's, so messages that arrived while the worker was down are delivered
    (the ones already reported before are recognised by their MsgId).
    """
    await client.set_state(S.updating)
    session = client.session
    started = trio.current_time()
    saved_keys = (session.sync_key, session.check_key)
    init = await retrying("webwxinit", wx_contacts.init, session)
    if keep_keys and saved_keys[0].items:
        session.set_keys(*saved_keys)
    try:
        await wx_contacts.status_notify(session)
    except SessionEnded:
        raise
    except ClientError as exc:
        log.warning("statusnotify failed: %s", exc)

    logged = 0  # thousands of contacts already announced

    def pages(n: int) -> None:  # one line per 1,000 contacts, whatever the page size
        nonlocal logged
        if n // 1000 > logged:
            logged = n // 1000
            log.info("loading contacts: %d so far", n)

    listed = await retrying("webwxgetcontact", wx_contacts.get_all_contacts, session,
                             pages)
    by_name: dict[str, Contact] = {}
    for c in [*init.contact_list, *listed]:
        if c.user_name and c.user_name != session.user_name:
            by_name[c.user_name] = c
    group_ids = [n for n in by_name if is_group_id(n)]
    group_ids += [n for n in dict.fromkeys(init.chat_set.split(","))
                  if n and is_group_id(n) and n not in by_name]

    def batches(done: int, total: int) -> None:
        if total > 4 and (done % 10 == 0 or done == total):
            log.info("loading groups: batch %d of %d", done, total)

    emoji = client.config.emoji_to_text
    user = convert.user_from(init.user, emoji_to_text=emoji)

    def to_groups(contacts: list[Contact]) -> list[Group]:
        return [convert.group_from(c, self_id=user.id, emoji_to_text=emoji) for c in contacts]

    fetched: dict[str, Group] = {g.id: g for g in await retrying(
        "webwxbatchgetcontact", wx_contacts.batch_get, session,
        [wx_contacts.BatchItem(user_name=g) for g in group_ids], batches, to_groups,
    )}
    friends: list[Friend] = []
    groups: list[Group] = []
    for name, c in by_name.items():
        if is_group_id(name):
            groups.append(fetched.pop(name, None) or to_groups([c])[0])
        else:
            friends.append(convert.friend_from(c, emoji_to_text=emoji))
    groups.extend(fetched.values())  # groups only the ChatSet named
    del by_name, listed, init
    book = client.contacts
    same_session = book.user is not None and book.user.id == user.id
    client.pending_events = (book.refresh if same_session else book.replace_all)(
        user, friends, groups)
    log.info("logged in as %s: %d friends, %d groups loaded in %.2fs", user.displayname,
             len(book.friends), len(book.groups), trio.current_time() - started)


def _publish_updates(client: WeixinClient) -> None:
    """update_user / update_friend / update_group, only when someone listens for them
    (they carry the whole contact list, too big to log for nothing)."""
    config = client.config
    wanted = set(config.post_event_list) if config.post_event else set()
    book = client.contacts
    if "update_user" in wanted and book.user is not None:
        client.publish_event("update_user", book.user)
    if "update_friend" in wanted:
        client.publish_event("update_friend", *book.friends)
    if "update_group" in wanted:
        client.publish_event("update_group", *book.groups)
