"""Outgoing messages through one paced queue, and the operations the API calls.

Every send (text or media) is a job on one queue served by :meth:`Sender.run`:
dispatches are at least ``send_interval`` apart (Mojo::Weixin's global gap, 3 s by
default; 0 for the simulator).  A job keeps one ``ClientMsgId`` for all its tries,
so when a try fails in transit and is retried the server de-duplicates it and the
peer never gets two copies.  Transport errors and 1205 are retried (up to
:data:`SEND_TRIES`, backing off); other WeChat errors fail at once with the Ret.
Each send publishes its ``send_message`` report and returns a :class:`SendResult`
with the server MsgID; a failure raises the typed error (its ``local_id``
attribute is the job's ClientMsgId) after publishing a failed report.

The operations (groups, remarks, stick, friends, avatars) are not messages: they
run directly, each checking that the account is running.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import msgspec
import trio

from openwx_worker import convert
from openwx_worker.errors import (
    ClientError,
    InvalidArgument,
    NotFound,
    SessionEnded,
    Stopped,
    TooFrequent,
    TransportError,
)
from openwx_worker.media import MEDIA_LABELS, MediaFile, UploadedMedia
from openwx_worker.models import Group, SendMessage, is_group_id, make_group
from openwx_worker.webwx import contacts as wx_contacts
from openwx_worker.webwx import media as wx_media
from openwx_worker.webwx import ops as wx_ops
from openwx_worker.webwx import send as wx_send

from .client_retry import Backoff

if TYPE_CHECKING:
    from openwx_worker.client import WeixinClient

log = logging.getLogger(__name__)

SEND_TRIES = 5
QUEUE_SIZE = 1000
SENT_KEPT = 1000  # recent MsgIDs remembered for revoke


class SendResult(msgspec.Struct, kw_only=True):
    """A delivered message: ``id`` is ``"<MsgID>:<chat id>"`` (what revoke takes)."""

    id: str
    msg_id: str
    local_id: str
    chat_id: str
    media: UploadedMedia | None = None
    report: SendMessage | None = None


class _Job:
    def __init__(self, local_id: str, chat_id: str, run: Callable[[str], Awaitable[str]],
                 content: str, origin: str, media: UploadedMedia | None = None):
        self.chat_id = chat_id
        self.run = run
        self.content = content
        self.origin = origin
        self.media = media
        self.report: SendMessage | None = None
        self.local_id = local_id
        self.done = trio.Event()
        self.msg_id: str | None = None
        self.error: BaseException | None = None
        self.abandoned = False


class Sender:
    def __init__(self, client: WeixinClient):
        self.client = client
        self._send, self._receive = trio.open_memory_channel[_Job](QUEUE_SIZE)
        self._last = -float("inf")
        self.sent: dict[str, str] = {}  # MsgID -> ClientMsgId of recent sends, for revoke
        self._current: _Job | None = None  # the job whose webwxsendmsg may have arrived

    async def settle(self, chat_id: str) -> None:
        """Wait until the send in flight to ``chat_id`` (if any) has published its report.

        The sync loop calls this before handling a message the account itself sent to
        that chat: WeChat may echo a web-sent message in a sync that arrives before the
        send's answer, and the send's report (published with the echo's MsgID) must come
        first so the echo is recognised as already seen.  Unbounded on purpose: a job
        always ends (SEND_TRIES tries, each with its HTTP timeout), and a bounded wait
        would let a slow answer turn the echo into a second, "outer" report.  Messages
        to other chats are not held.
        """
        job = self._current
        if job is not None and job.chat_id == chat_id:
            await job.done.wait()

    # ------------------------------------------------------------ the queue

    async def run(self) -> None:
        """Serve the queue for the client's life; jobs left at the end fail with Stopped."""
        try:
            async for job in self._receive:
                if job.abandoned:
                    continue
                await self._dispatch(job)
        finally:
            while True:
                try:
                    job = self._receive.receive_nowait()
                except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                    break
                job.error = Stopped("the client stopped before the message was sent")
                job.done.set()

    async def _dispatch(self, job: _Job) -> None:
        try:
            await self._dispatch_paced(job)
        finally:
            if not job.abandoned or job.msg_id is not None:
                self._publish(job)
            self._current = None
            job.done.set()

    async def _dispatch_paced(self, job: _Job) -> None:
        interval = self.client.config.send_interval
        wait = self._last + interval - trio.current_time()
        if wait > 0:
            await trio.sleep(wait)
        self._current = job  # from now on WeChat may echo it (see settle)
        backoff = Backoff()
        try:
            for attempt in range(1, SEND_TRIES + 1):
                try:
                    self.client.require_running()
                    job.msg_id = await job.run(job.local_id)
                    self.sent[job.msg_id] = job.local_id
                    if len(self.sent) > SENT_KEPT:  # revoke only works for 2 minutes anyway
                        del self.sent[next(iter(self.sent))]
                    return
                except (TransportError, TooFrequent) as exc:
                    job.error = exc
                    if attempt == SEND_TRIES:
                        return
                    delay = backoff.next_delay()
                    log.warning("send to %s failed (%s), try %d; again in %.1fs",
                                job.chat_id, exc, attempt, delay)
                    await trio.sleep(delay)
                except Exception as exc:  # noqa: BLE001 - the queue must keep serving
                    job.error = exc
                    return
        finally:
            self._last = trio.current_time()
            if job.msg_id is not None:
                job.error = None

    def _publish(self, job: _Job) -> None:
        """The send_message report, published before anyone can see the echo."""
        try:
            job.report = self._report(job)
            self.client.publish(job.report, msg_id=job.msg_id)
            log.info("%s", convert.log_line(job.report))
        except Exception:  # noqa: BLE001 - a report problem must not lose the result
            log.exception("could not publish the report of message %s", job.local_id)

    async def _submit(self, job: _Job) -> _Job:
        self.client.require_running()
        try:
            self._send.send_nowait(job)
        except trio.WouldBlock:
            raise TooFrequent(1205, "send queue full") from None
        try:
            await job.done.wait()
        except trio.Cancelled:
            job.abandoned = True
            raise
        return job

    # ------------------------------------------------------------ sends

    def _chat(self, chat_id: str) -> None:
        if self.client.contacts.contact(chat_id) is None:
            raise NotFound(f"no friend or group with id {chat_id}")

    async def send_text(self, chat_id: str, content: str, *, origin: str = "api") -> SendResult:
        """Send a text; ``origin`` is the report's ``from`` (api, or code for replies)."""
        if not content:
            raise InvalidArgument("empty content")
        self._chat(chat_id)
        session = self.client.session
        job = await self._submit(_Job(
            session.next_client_msg_id(), chat_id, lambda local_id: wx_send.send_text(session, chat_id, content, local_id),
            content, origin))
        return self._finish(job)

    async def upload_media(self, media: MediaFile, to: str = "filehelper") -> UploadedMedia:
        self.client.require_running()
        media_id = await wx_send.upload(self.client.session, media.data, media.name, media.mime,
                                        to=to)
        return UploadedMedia(media_id=media_id, media_code=media.media_code, name=media.name,
                             size=media.size, ext=media.ext, mime=media.mime, path=media.path,
                             mtime=media.mtime)

    async def send_media(self, chat_id: str, media: MediaFile | UploadedMedia, *,
                         origin: str = "api") -> SendResult:
        self._chat(chat_id)
        uploaded = media if isinstance(media, UploadedMedia) else \
            await self.upload_media(media, to=chat_id)
        session = self.client.session
        code = uploaded.media_code

        async def run(local_id: str) -> str:
            mid = uploaded.media_id
            if code == 3:
                return await wx_send.send_image(session, chat_id, mid, local_id)
            if code == 47:
                return await wx_send.send_emoticon(session, chat_id, mid, local_id)
            if code in (43, 62):
                return await wx_send.send_video(session, chat_id, mid, local_id)
            return await wx_send.send_file(session, chat_id, mid, uploaded.name, uploaded.size,
                                           uploaded.ext, local_id)

        label = MEDIA_LABELS.get(code, MEDIA_LABELS[6]) + f"({uploaded.path or uploaded.api_id})"
        job = await self._submit(_Job(session.next_client_msg_id(), chat_id, run, label, origin,
                                      uploaded))
        result = self._finish(job)
        result.media = uploaded
        return result

    def _finish(self, job: _Job) -> SendResult:
        """The result of a finished job; raises its error when it failed."""
        msg_id = job.msg_id
        if msg_id is None:
            error = job.error or ClientError("send failed")
            error.local_id = job.local_id  # type: ignore[attr-defined]
            raise error
        return SendResult(id=f"{msg_id}:{job.chat_id}", msg_id=msg_id, local_id=job.local_id,
                          chat_id=job.chat_id, report=job.report)

    def _report(self, job: _Job) -> SendMessage:
        content, origin, media = job.content, job.origin, job.media
        book = self.client.contacts
        chat = job.chat_id
        ok = job.msg_id is not None
        error = job.error
        fields: dict = {
            "id": f"{job.msg_id}:{chat}" if ok else job.local_id, "uid": job.local_id,
            "time": int(time.time()), "content": content, "source": "local", "from_": origin,
            "ttl": SEND_TRIES, "code": 0 if ok else getattr(error, "ret", -1),
            "msg": "发送成功" if ok else "发送失败",
            "info": "success" if ok else (getattr(error, "message", "") or str(error)),
            "sender_id": book.self_id, "format": "text" if media is None else "media",
        }
        if media is not None:
            fields.update(media_id=media.api_id, media_code=media.media_code,
                          media_type=media.media_type, media_name=media.name,
                          media_size=media.size, media_ext=media.ext, media_mime=media.mime,
                          media_path=media.path or msgspec.UNSET)
        if is_group_id(chat):
            group = book.group(chat)
            me = book.member(chat, book.self_id) or book.user
            fields.update(type="group_message", receiver_id="",
                          **convert.group_fields(group, chat), **convert.person_fields("sender", me))
        else:
            fields.update(type="friend_message", group_id="", receiver_id=chat,
                          **convert.person_fields("sender", book.user),
                          **convert.person_fields("receiver", book.friend(chat)))
        return SendMessage(msg_class="send", **fields)

    async def revoke(self, msg_id: str, chat_id: str) -> None:
        """Revoke a message this session sent (``msg_id`` may be ``"<MsgID>:<chat>"``)."""
        self.client.require_running()
        server_id, _, rest = msg_id.partition(":")
        chat = chat_id or rest
        if not chat:
            raise InvalidArgument("revoke needs the chat id")
        local = self.sent.get(server_id) or self.client.session.next_client_msg_id()
        await wx_send.revoke(self.client.session, chat, server_id, local)

    # ------------------------------------------------------------ operations

    def _running(self):
        self.client.require_running()
        return self.client.session

    async def create_group(self, member_ids: list[str], topic: str | None = None) -> Group:
        session = self._running()
        if not member_ids:
            raise InvalidArgument("a group needs members")
        reply = await wx_ops.create_chatroom(session, member_ids, topic or "")
        try:
            fetched = await wx_contacts.batch_get(
                session, [wx_contacts.BatchItem(user_name=reply.chat_room_name)])
        except SessionEnded:
            raise
        except ClientError:
            fetched = []
        book = self.client.contacts
        emoji = self.client.config.emoji_to_text
        if fetched:
            group = convert.group_from(fetched[0], self_id=book.self_id, emoji_to_text=emoji)
        else:
            members = [convert.member_from(m, emoji_to_text=emoji) for m in reply.member_list]
            group = make_group(id=reply.chat_room_name, name=topic or reply.topic,
                               members=members, self_id=book.self_id)
        for item in book.update_group(group):
            self.client.publish(item)
        return book.group(group.id) or group

    def _group(self, group_id: str) -> Group:
        group = self.client.contacts.group(group_id)
        if group is None:
            raise NotFound(f"no group with id {group_id}")
        return group

    async def invite_members(self, group_id: str, member_ids: list[str]) -> None:
        session = self._running()
        group = self._group(group_id)
        count = len(group.member) if group.member else 0
        invite = count + len(member_ids) >= session.invite_start_count
        await wx_ops.add_members(session, group_id, member_ids, invite=invite)

    async def kick_members(self, group_id: str, member_ids: list[str]) -> None:
        session = self._running()
        self._group(group_id)
        await wx_ops.del_members(session, group_id, member_ids)

    async def rename_group(self, group_id: str, name: str) -> None:
        session = self._running()
        if not name:
            raise InvalidArgument("the new group name is empty")
        self._group(group_id)
        await wx_ops.mod_topic(session, group_id, name)

    async def set_remark(self, contact_id: str, remark: str) -> None:
        await wx_ops.set_remark(self._running(), contact_id, remark)

    async def stick(self, chat_id: str, on: bool) -> None:
        await wx_ops.stick(self._running(), chat_id, on)

    async def add_friend(self, user_id: str, verify_content: str = "") -> None:
        await wx_ops.verify_user(self._running(), user_id, opcode=2, content=verify_content)

    async def accept_friend_request(self, user_id: str, ticket: str) -> None:
        await wx_ops.verify_user(self._running(), user_id, opcode=3, ticket=ticket)

    async def get_avatar(self, contact_id: str, *, group_id: str | None = None,
                         ) -> tuple[bytes, str]:
        session = self._running()
        return await wx_media.download_avatar(
            session, contact_id, group=is_group_id(contact_id), chatroom_id=group_id or "")
