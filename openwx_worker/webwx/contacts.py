"""Initialisation and contact fetching: webwxinit, statusnotify, getcontact, batchgetcontact.

Protocol only (web-protocol.md §5).  :func:`batch_get` splits look-ups into calls
of at most 50 names and keeps a few in flight at once, because a large account
has hundreds of groups to expand and one call per group would take minutes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import msgspec
import trio

from openwx_worker.errors import ClientError

from .payloads import (
    BatchContactReply,
    Contact,
    ContactPage,
    InitReply,
    Pascal,
    SendReply,
)
from .session import BaseRequest, Session, now_ms

BATCH_SIZE = 50
BATCH_IN_FLIGHT = 4
MAX_CONTACT_PAGES = 1000  # a server that never ends paging must not hang the login


class _InitBody(Pascal):
    base_request: BaseRequest


class _StatusNotifyBody(Pascal):
    base_request: BaseRequest
    code: int
    from_user_name: str
    to_user_name: str
    client_msg_id: str


class BatchItem(Pascal):
    user_name: str
    encry_chat_room_id: str = ""


class _BatchBody(Pascal):
    base_request: BaseRequest
    count: int
    list: list[BatchItem] = msgspec.field(name="List")


async def init(session: Session) -> InitReply:
    """webwxinit: self, the first SyncKey, recent chats (§5.1).

    Stores the self UserName, a non-empty SKey and both sync keys in the session.
    """
    reply = await session.post_json(
        "webwxinit", _InitBody(base_request=session.base_request()), InitReply,
        params={"r": ~now_ms() & 0xFFFFFFFF},
    )
    session.user_name = reply.user.user_name
    session.invite_start_count = reply.invite_start_count or 40
    if reply.skey and session.credentials is not None:
        session.credentials.skey = reply.skey
    session.set_keys(reply.sync_key, reply.sync_key)
    return reply


async def status_notify(session: Session, code: int = 3, to_user: str | None = None) -> None:
    """webwxstatusnotify; Code 3 (inited) right after init, to self (§5.2)."""
    body = _StatusNotifyBody(
        base_request=session.base_request(), code=code, from_user_name=session.user_name,
        to_user_name=to_user or session.user_name, client_msg_id=session.next_client_msg_id(),
    )
    await session.post_json("webwxstatusnotify", body, SendReply)


async def get_all_contacts(
    session: Session, progress: Callable[[int], None] | None = None
) -> list[Contact]:
    """Every page of webwxgetcontact (paged by Seq until it is 0), §5.3."""
    contacts: list[Contact] = []
    seq = 0
    for _ in range(MAX_CONTACT_PAGES):
        skey = session.creds.skey
        page = await session.get_json(
            "webwxgetcontact", ContactPage, params={"r": now_ms(), "seq": seq, "skey": skey}
        )
        contacts.extend(page.member_list)
        if progress is not None:
            progress(len(contacts))
        if not page.seq or page.seq == seq:
            break
        seq = page.seq
    return contacts


async def batch_get(
    session: Session, items: Sequence[BatchItem],
    progress: Callable[[int, int], None] | None = None,
    transform: Callable[[list[Contact]], list[Any]] | None = None,
) -> list[Any]:
    """webwxbatchgetcontact in chunks of ≤50, a few chunks in flight (§5.4).

    Unknown names are simply missing from the result; results keep chunk order.
    ``transform`` is applied to each chunk's contacts as it arrives (e.g. into
    models), so a large account never holds every protocol record at once.
    """
    chunks = [items[i:i + BATCH_SIZE] for i in range(0, len(items), BATCH_SIZE)]
    results: list[list[Any]] = [[] for _ in chunks]
    limiter = trio.CapacityLimiter(BATCH_IN_FLIGHT)
    done = 0
    failure: ClientError | None = None

    async def fetch(index: int, cancel: trio.CancelScope | None) -> None:
        # The first failure cancels the others and is raised as itself (not as a group).
        nonlocal done, failure
        async with limiter:
            chunk = list(chunks[index])
            body = _BatchBody(base_request=session.base_request(), count=len(chunk), list=chunk)
            try:
                reply = await session.post_json(
                    "webwxbatchgetcontact", body, BatchContactReply,
                    params={"type": "ex", "r": now_ms()},
                )
            except ClientError as exc:
                if cancel is None:
                    raise
                failure = failure or exc
                cancel.cancel()
                return
            contacts = reply.contact_list
            results[index] = transform(contacts) if transform is not None else contacts
        done += 1
        if progress is not None:
            progress(done, len(chunks))

    if len(chunks) == 1:
        await fetch(0, None)
    elif chunks:
        async with trio.open_nursery() as nursery:
            for index in range(len(chunks)):
                nursery.start_soon(fetch, index, nursery.cancel_scope)
        if failure is not None:
            raise failure
    return [c for chunk in results for c in chunk]

