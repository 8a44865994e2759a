"""The sync loop: synccheck + webwxsync, and what arrives → models and events.

:func:`run_sync` returns only by raising :class:`SessionEnded` (1100/1101/1102:
the caller logs in again) or by cancellation.  Everything else is survived:

* Ret / retcode 1205 (too frequent) → back off;
* HTTP errors, timeouts, dropped connections, the garbage status line or body →
  capped exponential backoff with jitter (:class:`~.client_retry.Backoff`), then a webwxsync to
  catch up on anything the failed synccheck hid;
* other non-zero retcodes → back off; more than :data:`MAX_ODD_RETCODES` in a row
  is treated as a dead session (as Mojo::Weixin does);
* a synccheck answered at once with nothing new is paced, so a misbehaving
  server cannot make the loop spin.

Every AddMsgList record becomes one published message (deduplicated by MsgId
with ``EventLog.seen_msg_id``, so the replay after a re-login reports nothing
twice), MsgType 37 becomes ``friend_request``, ModContactList/DelContactList
become the ContactBook's change events.  Senders the book does not know are
fetched first (webwxbatchgetcontact), so reports carry names.
"""

from __future__ import annotations

import logging
import os
import random
import time
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec
import trio

from openwx_worker import convert, text
from openwx_worker.errors import (
    ClientError,
    SessionEnded,
    TooFrequent,
    TransportError,
    WeChatError,
    wechat_error,
)
from openwx_worker.files import atomic_write
from openwx_worker.media import ext_for_mime
from openwx_worker.models import Message, is_group_id
from openwx_worker.webwx import contacts as wx_contacts
from openwx_worker.webwx import media as wx_media
from openwx_worker.webwx import sync as wx_sync
from openwx_worker.webwx.payloads import AddMsg, Contact, SyncReply

from .client_retry import Backoff

if TYPE_CHECKING:
    from openwx_worker.client import WeixinClient

log = logging.getLogger(__name__)

MAX_ODD_RETCODES = 10
REFETCH_AFTER = 600.0  # seconds before an unresolved unknown id is looked up again
IDLE_PACE = 1.0  # seconds between synchecks answered at once with selector 0


async def run_sync(client: WeixinClient) -> None:
    """Receive until the session ends (raises SessionEnded) or the task is cancelled."""
    session = client.session
    backoff = Backoff()  # synccheck failures
    sync_backoff = Backoff()  # webwxsync failures (synccheck may succeed meanwhile)
    odd = 0
    while True:
        started = trio.current_time()
        try:
            selector = await wx_sync.synccheck(session)
        except SessionEnded:
            raise
        except TooFrequent as exc:
            delay = await backoff.sleep()
            log.warning("synccheck: %s; backed off %.1fs", exc, delay)
            continue
        except WeChatError as exc:
            odd += 1
            if odd > MAX_ODD_RETCODES:
                raise wechat_error(1101, f"{odd} odd synccheck answers in a row") from exc
            delay = await backoff.sleep()
            log.warning("synccheck: %s; backed off %.1fs", exc, delay)
            continue
        except TransportError as exc:
            delay = await backoff.sleep()
            log.warning("synccheck failed (%s); backed off %.1fs", exc, delay)
            selector = 2  # catch up: the failure may have hidden new messages
        else:
            backoff.reset()
            odd = 0
        if selector == 0:
            if trio.current_time() - started < IDLE_PACE / 2:
                await trio.sleep(IDLE_PACE)  # answered at once with nothing: pace
            continue
        got = await sync_once(client, sync_backoff)
        if got:
            await let_woken_tasks_run()
        elif trio.current_time() - started < IDLE_PACE / 2:
            await trio.sleep(IDLE_PACE)  # "something new" at once, then nothing: pace


async def let_woken_tasks_run() -> None:
    """Let the tasks that publishing woke (post_api delivery, long polls of the API) run
    before this one spends ~0.5 ms of CPU building the next synccheck: the report is
    what the user waits for, the synccheck is not.

    Two checkpoints, because trio runs each batch of runnable tasks forwards or
    backwards at random: after the first, a woken task may still be behind this one in
    the batch; after the second, it has run up to its own first blocking point (for
    delivery, once its POST is written).
    """
    await trio.lowlevel.checkpoint()
    await trio.lowlevel.checkpoint()


async def sync_once(client: WeixinClient, backoff: Backoff) -> int:
    """webwxsync until ContinueFlag is 0; errors other than SessionEnded back off.

    Returns how many records (messages, contact changes) arrived.
    """
    got = 0
    while True:
        try:
            reply = await wx_sync.webwxsync(client.session)
        except SessionEnded:
            raise
        except (TooFrequent, TransportError) as exc:
            delay = await backoff.sleep()
            log.warning("webwxsync failed (%s); backed off %.1fs", exc, delay)
            return got
        except WeChatError as exc:
            log.warning("webwxsync: %s (ignored)", exc)
            await backoff.sleep()
            return got
        backoff.reset()
        got += len(reply.add_msg_list) + len(reply.mod_contact_list) + len(
            reply.del_contact_list) + (1 if reply.profile.bit_flag else 0)
        await handle_sync(client, reply)
        if not reply.continue_flag:
            return got


# ------------------------------------------------------------------ sync reply → events


async def handle_sync(client: WeixinClient, reply: SyncReply) -> None:
    """Contacts first (so messages from new contacts have names), then messages."""
    emoji = client.config.emoji_to_text
    book = client.contacts
    await _apply_contacts(client, reply.mod_contact_list)
    for d in reply.del_contact_list:
        gone = book.remove_group(d.user_name) if is_group_id(d.user_name) \
            else book.remove_friend(d.user_name)
        for item in gone:
            client.publish(item)
    if reply.profile.bit_flag and book.self_id:
        await _refresh_self(client)
    await _fetch_unknown(client, reply.add_msg_list)
    for msg in reply.add_msg_list:
        msg_id = str(msg.msg_id)
        if msg.from_user_name == book.self_id:
            await client.sender.settle(msg.to_user_name)  # a web send's report first
        if msg_id and client.events.seen_msg_id(msg_id):
            continue
        try:
            await _handle_message(client, msg, emoji)
        except SessionEnded:
            raise
        except Exception:  # noqa: BLE001 - one bad message must not stop the account
            log.exception("could not handle message %s (MsgType %s)", msg_id, msg.msg_type)


async def _apply_contacts(client: WeixinClient, contacts: list[Contact]) -> None:
    """Apply contact records one by one; one that fails is logged and skipped, so the
    rest of the batch (and the messages after it) are still handled."""
    for c in contacts:
        try:
            await _contact_changed(client, c)
        except SessionEnded:
            raise
        except Exception:  # noqa: BLE001 - see the docstring
            log.exception("contact change of %s not applied", c.user_name)


async def _contact_changed(client: WeixinClient, c: Contact) -> None:
    emoji = client.config.emoji_to_text
    book = client.contacts
    if c.user_name == book.self_id:
        events = book.update_user(convert.user_from(c, emoji_to_text=emoji))
    elif c.is_group:
        if not c.member_list and book.group(c.user_name) is None:
            fetched = await wx_contacts.batch_get(
                client.session, [wx_contacts.BatchItem(user_name=c.user_name)])
            c = next((f for f in fetched if f.user_name == c.user_name), c)
        group = convert.group_from(c, self_id=book.self_id, emoji_to_text=emoji)
        if not c.member_list and book.group(c.user_name) is not None:
            group = msgspec.structs.replace(group, member=msgspec.UNSET)
        events = book.update_group(group)
    else:
        events = book.update_friend(convert.friend_from(c, emoji_to_text=emoji))
    for item in events:
        client.publish(item)


async def _refresh_self(client: WeixinClient) -> None:
    """The own profile changed (Profile.BitFlag != 0): fetch it, report the changes."""
    try:
        fetched = await wx_contacts.batch_get(
            client.session, [wx_contacts.BatchItem(user_name=client.contacts.self_id)])
    except SessionEnded:
        raise
    except ClientError as exc:
        log.warning("could not fetch the changed own profile: %s", exc)
        return
    await _apply_contacts(client, fetched)


async def _fetch_unknown(client: WeixinClient, msgs: list[AddMsg]) -> None:
    """Fetch chats and group members the book does not know (one batch call).

    A look-up WeChat did not resolve is not repeated for REFETCH_AFTER seconds (keyed
    by chat, or by group and member), so an unresolvable sender costs one call, not
    one per message.
    """
    book = client.contacts
    wanted: dict[str, list[str]] = {}  # name to fetch -> keys of what it should resolve

    def want(name: str, key: str) -> None:
        wanted.setdefault(name, []).append(key)

    for msg in msgs:
        if msg.msg_type == 37:
            continue
        if msg.msg_type == 51:  # the phone's chat list / entered chat: learn unknown chats
            for name in msg.status_notify_user_name.split(","):
                if name.startswith("@") and name != book.self_id and (
                        book.group(name) if is_group_id(name) else book.friend(name)) is None:
                    want(name, name)
            continue
        for name in (msg.from_user_name, msg.to_user_name):
            if not name or name == book.self_id:
                continue
            if is_group_id(name):
                member, _ = convert.split_group_content(msg.content)
                if book.group(name) is None:
                    want(name, name)
                elif member and msg.from_user_name == name and book.member(name, member) is None:
                    want(name, f"{name}/{member}")
            elif name.startswith("@") and book.friend(name) is None:
                want(name, name)
    now = trio.current_time()
    tried = client.fetch_tried
    names = [n for n, keys in wanted.items()
             if any(now - tried.get(k, -REFETCH_AFTER) >= REFETCH_AFTER for k in keys)]
    if not names:
        return
    if len(tried) > 10_000:
        tried.clear()
    for n in names:
        tried.update(dict.fromkeys(wanted[n], now))
    try:
        fetched = await wx_contacts.batch_get(
            client.session, [wx_contacts.BatchItem(user_name=n) for n in names])
    except SessionEnded:
        raise
    except ClientError as exc:
        log.warning("could not fetch %d unknown contacts: %s", len(names), exc)
        return
    await _apply_contacts(client, fetched)


async def _handle_message(client: WeixinClient, msg: AddMsg, emoji: bool) -> None:
    msg_id = str(msg.msg_id)
    if msg.msg_type == 37:
        info = msg.recommend_info
        name = text.clean(info.nick_name, emoji_to_text=emoji)
        greeting = text.clean(info.content, emoji_to_text=emoji)
        client.publish_event("friend_request", info.user_name, name, greeting, info.ticket,
                             msg_id=msg_id)
        log.info("friend request from %s: %s", name, greeting)
        return
    message = convert.message_from(msg, client.contacts, emoji_to_text=emoji)
    if message is None:
        return
    if message.format == "media" and client.config.download_media:
        await _download(client, msg, message)
    client.publish(message, msg_id=msg_id)
    log.info("%s", convert.log_line(message))


async def _download(client: WeixinClient, msg: AddMsg, message: Message) -> None:
    """Fetch the media into media_dir and fill the media_* fields (failure is reported,
    not dropped: reference H.7)."""
    label = str(message.content)
    try:
        data, mime = await wx_media.download_message_media(client.session, msg)
    except ClientError as exc:  # session errors too: the message is reported anyway
        log.warning("media of message %s not downloaded: %s", msg.msg_id, exc)
        return
    if not data:
        message.media_path = "non-exist-path"
        message.content = ("[表情](获取数据为空，可能需要手机查看)" if msg.msg_type == 47
                           else f"{label}(non-exist-path)")
        return
    if data[:4] == b"GIF8":
        mime = "image/gif"
    ext = ext_for_mime(mime)
    folder = Path(client.config.media_dir or ".")
    if msg.msg_type == 49:
        name = os.path.basename(text.clean(msg.file_name)) or f"file_{msg.msg_id}"
        ext = name.rsplit(".", 1)[-1] if "." in name else ext
    else:
        stamp = time.strftime("%Y%m%d%H%M%S")
        name = f"mojo_weixin_media_{stamp}_{random.randrange(10000):04d}.{ext}"
    path = await trio.to_thread.run_sync(_store, folder, name, data)
    message.media_path = str(path)
    message.media_mime = mime
    message.media_size = len(data)
    message.media_ext = ext
    message.media_mtime = int(time.time())
    message.content = f"{label}({path})"


def _store(folder: Path, name: str, data: bytes) -> Path:
    """Write into ``folder`` without overwriting: ``name``, ``name(1)``, ``name(2)``…"""
    folder.mkdir(parents=True, exist_ok=True)
    stem, dot, ext = name.rpartition(".") if "." in name else (name, "", "")
    path = folder / name
    n = 0
    while path.exists():
        n += 1
        path = folder / (f"{stem}({n}){dot}{ext}" if dot else f"{name}({n})")
    atomic_write(path, data, durable=False)
    return path
