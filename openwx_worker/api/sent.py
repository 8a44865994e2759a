"""What the app remembers about its own sends: chats for revoke_message, uploads for reuse.

A send answers ``msg_id`` (WeChat's MsgID) and, as Mojo::Weixin did, ``id`` =
``"<MsgID>:<chat id>"``. Revoking needs both parts, so when a client passes the
bare ``msg_id`` we look the chat up in :class:`SentMessages`. Reusing a *file*
media_id needs its name, size and extension, which :class:`KnownMedia` keeps.
Both are bounded (WeChat refuses a revoke after two minutes anyway, web-protocol.md
8.5), oldest entries forgotten first, and owned by the app.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

V = TypeVar("V")


class _Recent(Generic[V]):
    """A bounded key -> value map; the oldest remembered key is forgotten first."""

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self._items: OrderedDict[str, V] = OrderedDict()

    def remember(self, key: str, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.max_size:
            self._items.popitem(last=False)

    def get(self, key: str) -> V | None:
        return self._items.get(key)


class SentMessages(_Recent[str]):
    """msg_id -> chat id of the messages sent through the API."""

    def __init__(self, max_size: int = 10_000) -> None:
        super().__init__(max_size)

    def resolve(self, given: str) -> tuple[str, str] | None:
        """``(msg_id, chat_id)`` for a bare msg_id we sent or a ``msgid:chat`` id."""
        chat = self.get(given)
        if chat is not None:
            return given, chat
        msg_id, sep, chat = given.partition(":")
        if sep and msg_id and chat:
            return msg_id, chat
        return None


class KnownMedia(_Recent[object]):
    """Media uploaded through this worker, by API ``media_id``, for reuse without re-upload.

    Reusing a *file* media_id needs its name, size and extension (they go into the
    file card), which a client rarely passes back (reference A.6); remembering the
    upload fills them in.
    """

    def __init__(self, max_size: int = 1000) -> None:
        super().__init__(max_size)
