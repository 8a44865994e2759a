"""WeixinClient: one account's life on web WeChat, in one trio nursery.

``async with open_client(config, machine, events) as client`` starts the life
task: log in (resume the saved session → push login → QR), load the contacts,
run the sync loop, and log in again when the session ends — without restarting
the process.  It stops when asked (:meth:`WeixinClient.request_stop`), when the
QR code expired ``qrcode_count_max`` times, or with ``stop_with_mobile`` when the
phone ends the session.  Stopping sets state ``stop``, publishes the ``stop``
event and keeps the cookie file (the next start resumes); the pid file is the
runtime's (``StateMachine.close``).

The work is split by job:

* :mod:`.client_login` — login, initialisation, re-login; :mod:`.client_qrcode` the QR code;
* :mod:`.client_sync` — the sync loop, messages and contact changes → events;
* :mod:`.client_retry` — the one backoff policy every retry uses;
* :mod:`.client_send` — the paced send queue and the operations the API calls;
* :mod:`.convert` — protocol records → models (pure).

Status (who did what; keep this list current so work is not duplicated):

* done (protocol client engineer), each with tests against wechat_sim in
  tests/worker/test_client_*.py / test_webwx_*.py / test_runtime.py: hosts and the
  --wechat-base transport; typed errors; session + cookie file (JSON); QR login (file,
  terminal, input_qrcode, expiry loop, give-up), UOS variant, 1203 reported then stop,
  push login, resume from the cookie file; init + contact paging + group batches;
  sync loop with re-login on 1100/1101/1102, backoff on 1205 / HTTP errors / drops /
  delays / garbage line; every message kind → models, phone's own sends, friend
  requests, revokes, media download; contact and group diffs → events; own profile
  refresh; paced send queue (text, chunked upload, image/video/emoticon/file) with
  idempotent retries; revoke; group/remark/stick/friend operations; avatars; stop.
  MsgType 51 (the phone's chat list) fetches chats the book does not know.
  Every message, received or sent, is one log line (``convert.log_line``: time, chat,
  sender, content), like Mojo::Weixin's ShowMsg.
* audited against issue 4, every point with a test; added then: the QR in
  the terminal, batches of ≤50 with several in flight and the progress lines
  (test_client_init.py), unknown senders, own profile changes, both emoji settings in
  every name (test_client_text.py), a lost send answer retried once with the same
  ClientMsgId (test_client_send_retry.py), the SIGTERM/SIGINT exit of the real process
  within 3 s (test_worker_process_stop.py), push → QR fallback, both ticket-exchange
  answers (test_webwx_login.py), the synccheck key.
* not done: Mojo::Weixin's fix_media_loop slow-down; the GET / MMCgi login probe (resume
  uses webwxinit with the saved credentials instead, which proves more).  ``emoji_to_text``
  writes Unicode character names (``[grinning face]``), not Mojo::Weixin's Chinese ones.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import trio

from openwx_worker.config import WorkerConfig
from openwx_worker.contacts import ContactBook
from openwx_worker.errors import NotRunning
from openwx_worker.events import EventLog
from openwx_worker.models import Event, Message, User, event
from openwx_worker.state import ClientState, StateMachine
from openwx_worker.webwx.session import Session, open_http

log = logging.getLogger(__name__)

STOP_GRACE = 2.0  # seconds the final clean-up may take (exit within 3 s overall)


class WeixinClient:
    """The account's client; see the module docstring.  Built by :func:`open_client`."""

    def __init__(self, config: WorkerConfig, machine: StateMachine, events: EventLog,
                 http: httpx.AsyncClient):
        from openwx_worker.client_send import Sender

        self.config = config
        self.machine = machine
        self.events = events
        self.session = Session(http, uos=config.login_variant == "uos")
        self.contacts = ContactBook()
        self.sender = Sender(self)
        self.login_count = 0  # successful logins in this process
        self.remembered_uin = ""  # uin of the last session, for push login after it ends
        self.pending_events: list[Event] = []  # made while loading, published once running
        self.fetch_tried: dict[str, float] = {}  # unknown ids looked up (client_sync)
        self._life_scope = trio.CancelScope()
        self._stop_requested = False
        self._stopped = trio.Event()

    # ------------------------------------------------------------ reading

    @property
    def state(self) -> ClientState:
        return self.machine.state

    @property
    def user(self) -> User | None:
        return self.contacts.user

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    def require_running(self) -> None:
        """Raise :class:`NotRunning` unless the account is logged in and serving."""
        if self.state is not ClientState.running:
            raise NotRunning(self.state)

    async def wait_running(self) -> None:
        await self.machine.wait_state(ClientState.running)

    async def wait_stopped(self) -> None:
        await self._stopped.wait()

    # ------------------------------------------------------------ publishing

    def publish(self, item: Message | Event, *, msg_id: str | None = None) -> int:
        """Put a message or event on the account's log (gives it its event_id)."""
        return self.events.publish(item, msg_id=msg_id)

    def publish_event(self, name: str, *params: object, msg_id: str | None = None) -> int:
        return self.publish(event(name, *params), msg_id=msg_id)

    def _on_state(self, old: ClientState, new: ClientState) -> None:
        self.publish_event("state_change", old.value, new.value)

    async def set_state(self, new: ClientState) -> None:
        await self.machine.set_state(new)

    # ------------------------------------------------------------ operations (client_send)

    async def send_text(self, chat_id: str, content: str, **kw):
        return await self.sender.send_text(chat_id, content, **kw)

    async def upload_media(self, media):
        return await self.sender.upload_media(media)

    async def send_media(self, chat_id: str, media, **kw):
        return await self.sender.send_media(chat_id, media, **kw)

    async def revoke(self, msg_id: str, chat_id: str) -> None:
        await self.sender.revoke(msg_id, chat_id)

    async def create_group(self, member_ids: list[str], topic: str | None = None):
        return await self.sender.create_group(member_ids, topic)

    async def invite_members(self, group_id: str, member_ids: list[str]) -> None:
        await self.sender.invite_members(group_id, member_ids)

    async def kick_members(self, group_id: str, member_ids: list[str]) -> None:
        await self.sender.kick_members(group_id, member_ids)

    async def rename_group(self, group_id: str, name: str) -> None:
        await self.sender.rename_group(group_id, name)

    async def set_remark(self, contact_id: str, remark: str) -> None:
        await self.sender.set_remark(contact_id, remark)

    async def stick(self, chat_id: str, on: bool) -> None:
        await self.sender.stick(chat_id, on)

    async def add_friend(self, user_id: str, verify_content: str = "") -> None:
        await self.sender.add_friend(user_id, verify_content)

    async def accept_friend_request(self, user_id: str, ticket: str) -> None:
        await self.sender.accept_friend_request(user_id, ticket)

    async def get_avatar(self, contact_id: str, *, group_id: str | None = None,
                         ) -> tuple[bytes, str]:
        """(image bytes, content type) of a friend, group, or (with group_id) member."""
        return await self.sender.get_avatar(contact_id, group_id=group_id)

    # ------------------------------------------------------------ life

    def request_stop(self) -> None:
        """Ask the client to stop (idempotent, returns at once)."""
        if not self._stop_requested:
            log.info("stop requested")
        self._stop_requested = True
        self._life_scope.cancel()

    async def stop(self) -> None:
        """Stop and wait until the clean-up is done."""
        self.request_stop()
        await self._stopped.wait()

    async def _life(self) -> None:
        from openwx_worker import client_login

        try:
            with self._life_scope:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self.sender.run)
                    await client_login.live(self)
                    nursery.cancel_scope.cancel()
        finally:
            with trio.CancelScope(shield=True):
                await self._finish()

    async def _finish(self) -> None:
        """Clean-up on every exit: cookie saved, QR file gone, state stop, stop event.

        The file work is bounded by STOP_GRACE; the state change and the event are
        synchronous, so they happen whatever the file work did.
        """
        from openwx_worker import client_login

        try:
            with trio.move_on_after(STOP_GRACE):
                await client_login.save_session(self)
                await trio.to_thread.run_sync(self.machine.files.remove_qrcode)
        except Exception:  # noqa: BLE001 - stopping must finish whatever failed
            log.exception("error while saving the session at stop")
        try:
            self.machine.set_state_nowait(ClientState.stop)
            self.publish_event("stop")
        except Exception:  # noqa: BLE001
            log.exception("error while stopping")
        finally:
            self._stopped.set()


@asynccontextmanager
async def run_client(client: WeixinClient) -> AsyncIterator[WeixinClient]:
    """Run an already built client for the duration of the block; leaving it stops
    the client gracefully (state ``stop``, ``stop`` event)."""
    remove_listener = client.machine.add_listener(client._on_state)
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(client._life)
            try:
                yield client
            finally:
                client.request_stop()
    finally:
        remove_listener()


@asynccontextmanager
async def open_client(
    config: WorkerConfig, machine: StateMachine, events: EventLog,
    *, http: httpx.AsyncClient | None = None,
) -> AsyncIterator[WeixinClient]:
    """Build and run one account's client for the duration of the block.

    ``http`` replaces the WeChat HTTP client (tests); it is then not closed here.
    """
    own_http = http is None
    http = http or open_http(config.wechat_base)
    try:
        async with run_client(WeixinClient(config, machine, events, http)) as client:
            yield client
    finally:
        if own_http:
            with trio.CancelScope(shield=True):
                await http.aclose()
